#!/bin/bash
# Bulk imports: doveadm import-remote batch create (CSV validation), status,
# list, pause, resume, cancel, retry-failed; the worker pausing a batch when
# the storage its users share (a --storage-limit, or a per-domain quota root
# of the real quota plugin) reaches 90%, a user's own full quota failing
# only that user's job; email notifications received by a real SMTP
# listener on loopback, each exactly once.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/pgsql.sh"
plan 147
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

"$TOOLS/mkcorpus" -n 40 -s 5 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json

# the SMTP listener that receives the notifications
MAILS=$IR_WORK/mails
mkdir -p "$MAILS"
"$TOOLS/smtpsink" "$MAILS" > "$IR_WORK/smtpsink.port" &
SMTP_PID=$!
ir_kill_on_exit "$SMTP_PID"
SMTP_PORT=$(port_of "$IR_WORK/smtpsink.port") || exit 1
# ... and the HTTP listener for the webhook; its first call fails
HOOKS=$IR_WORK/hooks
"$TOOLS/httpsink" "$HOOKS" --fail-first 1 > "$IR_WORK/httpsink.port" &
HTTP_PID=$!
ir_kill_on_exit "$HTTP_PID"
HTTP_PORT=$(port_of "$IR_WORK/httpsink.port") || exit 1

JOBS=$IR_WORK/jobs
mkdir -p "$JOBS" "$IR_WORK/domainquota"
# doveadm's HTTP API, as a control panel drives it
API_PORT=$(ir_free_port)
# a per-domain quota root next to each user's own: the storage a domain's
# users share (Dovecot 2.3's dict quota; 2.4 has none: there a batch's shared
# storage is its --storage-limit, tested below on both)
listen=address
ir_dovecot_24 && listen=listen
IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = sqlite:$JOBS/jobs.db" \
	"import_remote_key_file = $JOBS/key" \
	"import_remote_submission_host = 127.0.0.1:$SMTP_PORT" \
	"import_remote_notify_from = imports@example.test" \
	"import_remote_webhook_url = http://127.0.0.1:$HTTP_PORT/hooks/import" \
	"import_remote_webhook_secret = hook-s3cret" \
	"import_remote_notify_retry_interval = 1s" \
	"import_remote_shared_quota_root = Domain quota")
doveadm_api_key = api-s3cret
service doveadm {
  inet_listener http {
    $listen = 127.0.0.1
    port = $API_PORT
  }
}"
ir_dovecot_24 || IR_DEST_EXTRA_CONF="$IR_DEST_EXTRA_CONF
plugin {
  quota2 = dict:Domain quota:%d:file:$IR_WORK/domainquota/%d.quota
}"
export IR_DEST_EXTRA_CONF
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start
chown "$IR_OS_USER:" "$JOBS" "$IR_WORK/domainquota"
total=$(manifest_count)

# add_dest_user USER [EXTRA userdb fields]
add_dest_user() {
	local h=$IR_WORK/dst/home/$1
	mkdir -p "$h"; chown "$IR_OS_USER:" "$h"
	echo "$1:{PLAIN}destpass:$IR_UID:$IR_GID::$h::$(ir_userdb_mail sdbox '~/sdbox') ${2:-}" >> "$IR_WORK/dst/passwd"
}
adm() { doveadm -c "$DEST_CONF" "$@"; }
# api JSON: a doveadm HTTP API request, its answer on stdout
api() {
	curl -s -H "Authorization: X-Dovecot-API $(printf api-s3cret | base64)" \
		-H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$API_PORT/doveadm/v1"
}
# auth re-reads a changed passwd-file at most once a second: restart
restart_dest() {
	ir_stop_instance "$IR_WORK/dst"
	ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
	ir_wait_port "$DEST_IMAP_PORT"
}
# worker NAME [options]: one worker through the queue (-1), its log in
# $OUT/worker.NAME; a check that it exited 0
worker() {
	local name=$1
	shift
	"$WORKER" -c "$DEST_CONF" -1 "$@" > "$OUT/worker.$name" 2>&1
	check_eq "worker ($name): exits 0" 0 "$?"
}
# worker_bg NAME: the same in the background; $wpid is the worker itself
worker_bg() {
	"$WORKER" -c "$DEST_CONF" -1 > "$OUT/worker.$1" 2>&1 &
	wpid=$!
}
# batch_field OUT JOB_DESTINATION KEY: a job row's value in -f json status
job_field() {
	python3 -c 'import json,sys
for r in json.load(open(sys.argv[1])):
    if r["destination"] == sys.argv[2]: print(r[sys.argv[3]])' "$OUT/$1" "$2" "$3"
}
bstatus() { adm -f json import-remote batch status "$1" > "$OUT/$2" 2>"$OUT/$2.err"; }
bfield() { python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))[0][sys.argv[2]])' "$OUT/$1" "$2"; }
# mails_about BATCH SUBJECT: how many notifications have this subject;
# prints nothing while the SMTP listener is not alive (a count of 0 must
# mean that none came)
mails_about() {
	kill -0 "$SMTP_PID" 2>/dev/null || { echo "mails_about: smtpsink is gone" >&2; return 1; }
	grep -l -x -F "Subject: Import batch $1: $2"$'\r' "$MAILS"/*.eml 2>/dev/null | wc -l
}
mails_of() {
	kill -0 "$SMTP_PID" 2>/dev/null || { echo "mails_of: smtpsink is gone" >&2; return 1; }
	grep -l -F "Subject: Import batch $1:" "$MAILS"/*.eml 2>/dev/null | wc -l
}
# used_bytes USER: the user's own quota usage
used_bytes() {
	adm -f tab quota get -u "$1" | awk -F'\t' '$1=="User quota" && $2=="STORAGE"{print $3*1024}'
}

for u in a1 a2 a3 a4 h1 h2 h3 h4 h5 h6 p1 p2 c1 q2 m1 m2 gone g1 g2; do
	add_dest_user "$u@a.test"
done
for u in s1 s2 s3; do
	add_dest_user "$u@s.test"
done
# users without the quota plugin
for u in n1 n2; do
	add_dest_user "$u@n.test" "userdb_mail_plugins=notify"
done
add_dest_user q1@a.test "$(ir_userdb_quota 20k)"

# --- the whole file is validated first; nothing is queued from a bad one ---
cat > "$IR_WORK/bad.csv" <<'CSV'
source_email,source_password,destination_user,source_host,source_port,source_security
srcuser,Secret1,a1@a.test,127.0.0.1,99999,ssl
srcuser,Secret2,nobody@a.test,127.0.0.1,993,ssl
srcuser,,a2@a.test,127.0.0.1,993,ssl
srcuser,Secret3,a1@a.test,127.0.0.1,993,smtp
CSV
adm import-remote batch create --csv "$IR_WORK/bad.csv" --remove-csv > "$OUT/bad.out" 2> "$OUT/bad.err"
check_eq "create: an invalid CSV exits 65" 65 "$?"
check "create --remove-csv: a file with problems is kept, to be fixed" test -e "$IR_WORK/bad.csv"
check_contains "create: bad port, with line and column" "$OUT/bad.out" "line 2, column 5 (source_port): invalid port '99999'"
check_contains "create: unknown destination user" "$OUT/bad.out" "line 3, column 3 (destination_user): unknown destination user 'nobody@a.test'"
check_contains "create: missing password" "$OUT/bad.out" "line 4, column 2 (source_password): missing password"
check_contains "create: duplicate destination" "$OUT/bad.out" "line 5, column 3 (destination_user): duplicate destination user 'a1@a.test' (also on line 2)"
check_contains "create: bad security value" "$OUT/bad.out" "line 5, column 6 (source_security): invalid security 'smtp'"
check_contains "create: says nothing was queued" "$OUT/bad.err" "5 errors; nothing was queued"
check_not_contains "create: no password in the output" "$OUT/bad.out" Secret
check_not_contains "create: no password in the errors" "$OUT/bad.err" Secret
adm -f json import-remote batch create --csv "$IR_WORK/bad.csv" --dry-run > "$OUT/bad-dry.json" 2> "$OUT/bad-dry.err"
check_eq "create --dry-run: an invalid CSV's problems as rows, exit 0" "0 error 2 5 source_port" \
	"$? $(python3 -c 'import json,sys;r=json.load(open(sys.argv[1]))[0];print(r["result"],r["line"],r["column"],r["field"])' "$OUT/bad-dry.json")"
check_eq "create --dry-run: the problems in line order (the unknown user among them)" "2:5 3:3 4:2 5:3 5:6" \
	"$(python3 -c 'import json,sys;print(" ".join("%s:%s" % (r["line"], r["column"]) for r in json.load(open(sys.argv[1]))))' "$OUT/bad-dry.json")"
# over the HTTP API --csv is the file's content, never a path on the server
json_of() { python3 -c 'import json,sys;print(json.dumps(open(sys.argv[1]).read()))' "$1"; }
api '[["importRemoteBatchCreate",{"csv":'"$(json_of "$IR_WORK/bad.csv")"',"dryRun":true},"t1"]]' > "$OUT/api-bad.json"
check_eq "HTTP API: a dry run returns every problem" "5 unknown destination user 'nobody@a.test'" \
	"$(python3 -c 'import json,sys;r=json.load(open(sys.argv[1]))[0][1];print(len(r),[e["error"] for e in r if e["line"]==3][0].split(": ",1)[1])' "$OUT/api-bad.json")"
check_not_contains "HTTP API: no password in the answer" "$OUT/api-bad.json" "Secret"
api '[["importRemoteBatchCreate",{"csv":"'"$IR_WORK/bad.csv"'"},"t2"]]' > "$OUT/api-bad2.json"
check_contains "HTTP API: create of an invalid CSV fails with 65" "$OUT/api-bad2.json" '"exitCode":65'
# a file only root may read, named where the content belongs: never read
ROOTONLY=$IR_WORK/root-only.csv
printf 'source_email,source_password,destination_user\nsrcuser,TOPSECRET,a1@a.test\n' > "$ROOTONLY"
chmod 600 "$ROOTONLY"
api '[["importRemoteBatchCreate",{"csv":"'"$ROOTONLY"'","dryRun":true},"t4"]]' > "$OUT/api-path.json"
# (the path as a header row: the error shows it cut short when it is long)
rootonly_lc=$(echo "$ROOTONLY" | tr '[:upper:]' '[:lower:]')
check_contains "HTTP API: a path given as --csv is taken as content, not read" "$OUT/api-path.json" \
	"unknown column '${rootonly_lc:0:30}"
check_not_contains "HTTP API: the root-only file's content is not in the answer" "$OUT/api-path.json" "TOPSECRET"
api '[["importRemoteBatchCreate",{"csv":'"$(json_of "$IR_WORK/bad.csv")"',"removeCsv":true},"t5"]]' > "$OUT/api-rm.json"
check_contains "HTTP API: --remove-csv is refused (no file there)" "$OUT/api-rm.json" '"exitCode":64'
printf 'srcpass\n' > "$IR_WORK/root-only.pw"
chmod 600 "$IR_WORK/root-only.pw"
api '[["importRemoteRun",{"destUser":"a1@a.test","host":"127.0.0.1","port":'"$SRC_IMAPS_PORT"',"user":"srcuser","passwordFile":"'"$IR_WORK/root-only.pw"'"},"t6"]]' > "$OUT/api-pw.json"
check_contains "HTTP API: a path given as --password-file is the password, the file isn't read" \
	"$OUT/api-pw.json" '"exitCode":77'
api '[["importRemoteRun",{"destUser":"a1@a.test","host":"127.0.0.1","port":'"$SRC_IMAPS_PORT"',"user":"srcuser","passwordFile":"srcpass\n","dryRun":true},"t7"]]' > "$OUT/api-pw2.json"
check_contains "HTTP API: the password's content is what it takes" "$OUT/api-pw2.json" '"destination":"INBOX"'
adm -f json import-remote batch list > "$OUT/list0.out" 2>&1
check_eq "create: no batch stored from an invalid file" "[]" "$(tr -d ' \n' < "$OUT/list0.out")"
adm import-remote batch create > /dev/null 2>&1
check_eq "create: without --csv exits 64" 64 "$?"
adm import-remote batch create --csv "$IR_WORK/bad.csv" --notify 'a@b>,c' > /dev/null 2>&1
check_eq "create: an invalid --notify address exits 64" 64 "$?"

# --- a batch with one failing user: Completed with errors, one email ---
cat > "$IR_WORK/b1.csv" <<'CSV'
source_email,source_password,destination_user
srcuser,srcpass,a1@a.test
"srcuser","srcpass",a2@a.test
srcuser,srcpass,a3@a.test
srcuser2,Pw2secret,a4@a.test
CSV
adm -f json import-remote batch create --csv "$IR_WORK/b1.csv" --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --dry-run > "$OUT/b1-dry.json" 2> "$OUT/b1-dry.err"
check_eq "create --dry-run: a row per job it would queue" "ok 2 a1@a.test srcuser@127.0.0.1:$SRC_IMAPS_PORT/imaps 4" \
	"$(python3 -c 'import json,sys;d=json.load(open(sys.argv[1]));r=d[0];print(r["result"],r["line"],r["destination"],r["source"],len(d))' "$OUT/b1-dry.json")"
adm -f json import-remote batch list > "$OUT/list0b.out" 2>&1
check_eq "create --dry-run: queues nothing" "[]" "$(tr -d ' \n' < "$OUT/list0b.out")"
cp "$IR_WORK/b1.csv" "$IR_WORK/b1-copy.csv"
adm import-remote batch create --csv "$IR_WORK/b1-copy.csv" --remove-csv --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --notify admin@example.test > "$OUT/b1.out" 2>&1
check_eq "create: exit code 0" 0 "$?"
check "create --remove-csv: the plain text passwords are gone with the file" test ! -e "$IR_WORK/b1-copy.csv"
b1=$(flow_field "$OUT/b1.out" batch)
check_eq "create: prints the batch, in progress, 4 jobs" "in_progress 4" "$(flow_field "$OUT/b1.out" status) $(flow_field "$OUT/b1.out" jobs)"
check_not_contains "create: passwords are not stored in plain text" "$JOBS/jobs.db" Pw2secret
# doveadm ran as root; the workers run as the mail user
check_eq "create: the store and key it made are the mail user's" "$IR_OS_USER $IR_OS_USER" \
	"$(stat -c %U "$JOBS/jobs.db") $(stat -c %U "$JOBS/key")"
bstatus "$b1" b1-st0
check_eq "status: In Progress before a worker runs" "In Progress" "$(bfield b1-st0 batch_status_title)"
check_eq "status: a row per job, queued" "queued queued queued queued" "$(python3 -c 'import json,sys;print(" ".join(r["status"] for r in json.load(open(sys.argv[1]))))' "$OUT/b1-st0")"
worker b1
bstatus "$b1" b1-st1
check_eq "status: Completed with errors when one job failed" "completed_with_errors" "$(bfield b1-st1 batch_status)"
check_eq "status: the others completed" "completed completed completed" "$(for u in a1 a2 a3; do job_field b1-st1 $u@a.test status; done | tr '\n' ' ' | sed 's/ $//')"
check_eq "status: the failed job's error" "auth_failed" "$(job_field b1-st1 a4@a.test error)"
check_eq "status: the failed job's title" "Authentication failed" "$(job_field b1-st1 a4@a.test error_title)"
check "a batch job's mailbox equals the source" verify a2@a.test b1-v --map "Sent Items=Sent"
adm import-remote status -u a2@a.test > "$OUT/a2-status.out" 2>&1
check_eq "a user's own status shows the batch the job is part of" "completed $b1" \
	"$(flow_field "$OUT/a2-status.out" status) $(flow_field "$OUT/a2-status.out" batch)"
check_eq "notify: one email when the batch completed with errors" 1 "$(mails_about "$b1" "Completed with errors")"
mail1=$(grep -l -F "Subject: Import batch $b1:" "$MAILS"/*.eml | head -1)
check_contains "notify: addressed to --notify" "${mail1%.eml}.env" "RCPT TO:<admin@example.test>"
check_contains "notify: from import_remote_notify_from" "${mail1%.eml}.env" "MAIL FROM:<imports@example.test>"
check_contains "notify: counts per status" "$mail1" "completed: 3"
check_contains "notify: the failed user with its error title" "$mail1" "a4@a.test (srcuser2 at 127.0.0.1): Authentication failed"
check_contains "notify: says how to retry" "$mail1" "doveadm import-remote batch retry-failed $b1"
check_not_contains "notify: no password" "$mail1" "Pw2secret"

# the webhook: the same event as signed JSON; its first call failed (500)
check_contains "webhook: the worker saw the first call fail, to be retried" "$OUT/worker.b1" \
	"completed notification: POST http://127.0.0.1:$HTTP_PORT/hooks/import: HTTP status 500 (will retry)"
check_eq "webhook: the event" "completed $b1 completed_with_errors" \
	"$(python3 -c 'import json,sys;d=json.load(open(sys.argv[1]));print(d["event"],d["batch"],d["status"])' "$HOOKS/1.json")"
check_eq "webhook: the failed user with its error" "a4@a.test auth_failed Authentication failed" \
	"$(python3 -c 'import json,sys;f=json.load(open(sys.argv[1]))["failed"][0];print(f["destination"],f["error"],f["error_title"])' "$HOOKS/1.json")"
check "webhook: signed with HMAC-SHA256 of the body" python3 -c '
import hmac,hashlib,sys
body=open(sys.argv[1]+".json","rb").read()
sig=[l.split(": ",1)[1].strip() for l in open(sys.argv[1]+".headers") if l.lower().startswith("x-import-remote-signature:")][0]
assert sig=="sha256="+hmac.new(b"hook-s3cret",body,hashlib.sha256).hexdigest(), sig' "$HOOKS/1"
check_not_contains "webhook: no password" "$HOOKS/1.json" "Pw2secret"

# --- retry-failed: the failed job only, then Completed and a new email ---
echo "srcuser2:{PLAIN}Pw2secret:$IR_UID:$IR_GID::$IR_WORK/src/home/srcuser::" >> "$IR_WORK/src/passwd"
# the source's auth looks at a changed passwd-file at most once a second
# (db-passwd-file.c: last_sync_time): not in the second of the last lookup
sleep 1.1
adm import-remote batch retry-failed "$b1" > "$OUT/b1-retry.out" 2> "$OUT/b1-retry.err"
check_eq "retry-failed: exit code 0" 0 "$?"
check_contains "retry-failed: says how many" "$OUT/b1-retry.err" "1 failed job queued again"
check_eq "retry-failed: batch in progress again" in_progress "$(flow_field "$OUT/b1-retry.out" status)"
bstatus "$b1" b1-st2
check_eq "retry-failed: only the failed job is queued" "queued" "$(job_field b1-st2 a4@a.test status)"
check_eq "retry-failed: still 4 jobs" 4 "$(python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1]))))' "$OUT/b1-st2")"
worker b1r
bstatus "$b1" b1-st3
check_eq "retry-failed: the batch completes" "Completed" "$(bfield b1-st3 batch_status_title)"
check "retry-failed: the mailbox equals the source" verify a4@a.test b1r-v --map "Sent Items=Sent"
check_eq "notify: the new completion is told once more" 1 "$(mails_about "$b1" "Completed")"
check_eq "notify: two emails for this batch in all" 2 "$(mails_of "$b1")"
# the failed call was retried (after 1 s, by the next worker): same delivery
hook_status() { python3 - "$HOOKS" "$@" <<'PY'
import glob, json, os, sys
d = sys.argv[1]
rows = []
for h in sorted(glob.glob(d + "/*.headers"), key=lambda p: int(os.path.basename(p).split(".")[0])):
    hd = dict(l.rstrip("\n").split(": ", 1) for l in open(h) if ": " in l)
    body = json.load(open(h[:-len(".headers")] + ".json"))
    # every call names its delivery: a missing id is an error, not a match
    rows.append((hd["X-Import-Remote-Delivery"], hd["Status"], body["batch"], body["event"]))
what = sys.argv[2]
if what == "retried":
    first = rows[0]
    print("yes" if any(r[0] == first[0] and r[1] == "204" for r in rows[1:]) else "no")
elif what == "accepted":
    ok = [r for r in rows if r[1] == "204"]
    ids = [r[0] for r in ok]
    print("unique" if len(ids) == len(set(ids)) else "repeated")
else:
    print(sum(1 for r in rows if r[1] == "204" and str(r[2]) == what and r[3] == sys.argv[3]))
PY
}
check_eq "webhook: the failed call was delivered again, same delivery id" yes "$(hook_status retried)"
check_eq "webhook: the completions of this batch, once each" 2 "$(hook_status "$b1" completed)"
api '[["importRemoteBatchStatus",{"batch":'"$b1"'},"t3"]]' > "$OUT/api-st.json"
check_eq "HTTP API: batch status" "Completed 4" \
	"$(python3 -c 'import json,sys;r=json.load(open(sys.argv[1]))[0][1];print(r[0]["batch_status_title"],len(r))' "$OUT/api-st.json")"
adm -f json import-remote batch list > "$OUT/list-b1.json" 2>&1
check_eq "list: the batch's notifications, all delivered" "4 0 0" "$(python3 -c 'import json,sys
b=[b for b in json.load(open(sys.argv[1])) if b["batch"]==sys.argv[2]][0]
print(b["notifications_sent"],b["notifications_pending"],b["notifications_failed"])' "$OUT/list-b1.json" "$b1")"

# --- more than half failed: told once, besides the completion ---
cat > "$IR_WORK/b2.csv" <<CSV
source_email,source_password,destination_user,source_host,source_port,source_security
srcuser,srcpass,h1@a.test,127.0.0.1,$SRC_IMAP_PORT,starttls
srcuser,wrong,h2@a.test,127.0.0.1,$SRC_IMAP_PORT,starttls
srcuser,wrong,h3@a.test,127.0.0.1,$SRC_IMAPS_PORT,tls
CSV
adm import-remote batch create --csv "$IR_WORK/b2.csv" --notify admin@example.test > "$OUT/b2.out" 2>&1
b2=$(flow_field "$OUT/b2.out" batch)
worker b2
bstatus "$b2" b2-st
check_eq "six columns: STARTTLS on the row's port completes" completed "$(job_field b2-st h1@a.test status)"
check_eq "half failed: batch completed with errors" completed_with_errors "$(bfield b2-st batch_status)"
check_eq "notify: more than half failed, told once" 1 "$(mails_about "$b2" "More than half of its jobs failed")"
check_eq "notify: and the completion, once" 1 "$(mails_about "$b2" "Completed with errors")"
worker b2again
check_eq "notify: nothing told twice" 2 "$(mails_of "$b2")"
check_eq "webhook: more than half failed, once" 1 "$(hook_status "$b2" half_failed)"

# --- pause holds queued jobs; resume continues; cancel ends ---
printf 'source_email,source_password,destination_user\nsrcuser,srcpass,p1@a.test\nsrcuser,srcpass,p2@a.test\n' > "$IR_WORK/b3.csv"
adm import-remote batch create --csv "$IR_WORK/b3.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" > "$OUT/b3.out" 2>&1
b3=$(flow_field "$OUT/b3.out" batch)
adm import-remote batch pause "$b3" > "$OUT/b3-pause.out" 2>&1
check_eq "pause: the batch is paused" "paused admin" "$(flow_field "$OUT/b3-pause.out" status) $(flow_field "$OUT/b3-pause.out" pause_reason)"
worker b3
bstatus "$b3" b3-st1
check_eq "pause: the worker leaves its jobs queued" "queued queued" "$(job_field b3-st1 p1@a.test status) $(job_field b3-st1 p2@a.test status)"
check_eq "pause: batch status Paused" Paused "$(bfield b3-st1 batch_status_title)"
adm import-remote batch resume "$b3" > "$OUT/b3-resume.out" 2>&1
check_eq "resume: in progress again" in_progress "$(flow_field "$OUT/b3-resume.out" status)"
worker b3r
bstatus "$b3" b3-st2
check_eq "resume: the batch completes" completed "$(bfield b3-st2 batch_status)"
check_eq "no --notify: no email" 0 "$(mails_of "$b3")"
printf 'source_email,source_password,destination_user\nsrcuser,srcpass,c1@a.test\n' > "$IR_WORK/b4.csv"
adm import-remote batch create --csv "$IR_WORK/b4.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" > "$OUT/b4.out" 2>&1
b4=$(flow_field "$OUT/b4.out" batch)
adm import-remote batch cancel "$b4" > "$OUT/b4-cancel.out" 2>&1
check_eq "cancel: the batch is cancelled" cancelled "$(flow_field "$OUT/b4-cancel.out" status)"
worker b4
bstatus "$b4" b4-st
check_eq "cancel: its queued job is cancelled, not run" cancelled "$(job_field b4-st c1@a.test status)"
adm import-remote batch resume "$b4" > /dev/null 2>&1
check_eq "resume: a cancelled batch can't be (65)" 65 "$?"
# slow_batch NAME USER CONNS: a batch of one job from a scripted server
# that lists 20 messages one at a time, 0.25 s each (a job of 5 s or
# more); a worker runs it in the background ($wpid) and this returns once
# the job is running and has committed two messages. Sets $batch, $fake_pid.
echo fakepass > "$IR_WORK/fake.pw"
slow_batch() {
	local name=$1 u=$2 i done_msgs
	"$TOOLS/fakeimapd" --scenario slow-list --count 20 --max-conns "$3" --timeout 90 \
		--report "$OUT/$name.report" > "$OUT/$name.port" &
	fake_pid=$!
	ir_kill_on_exit "$fake_pid"
	printf 'source_email,source_password,destination_user,source_host,source_port,source_security\nfake,fakepass,%s,127.0.0.1,%s,none\n' \
		"$u" "$(port_of "$OUT/$name.port")" > "$IR_WORK/$name.csv"
	adm import-remote batch create --csv "$IR_WORK/$name.csv" --fetch-chunk 1 > "$OUT/$name.out" 2>&1
	batch=$(flow_field "$OUT/$name.out" batch)
	worker_bg "$name"
	for i in $(seq 1 100); do
		bstatus "$batch" "$name-live"
		done_msgs=$(job_field "$name-live" "$u" messages)
		[ "$(job_field "$name-live" "$u" status)" = running ] && [ "${done_msgs%/*}" -ge 2 ] && break
		sleep 0.1
	done
}

# --- pause stops a running job at a safe point; resume finishes it ---
slow_batch b8 m1@a.test 2
b8=$batch
adm import-remote batch pause "$b8" > /dev/null 2>&1
wait "$wpid"
check_eq "pause: the worker running the job exits 0" 0 "$?"
bstatus "$b8" b8-st1
kept=$(adm -f tab mailbox status -u m1@a.test messages INBOX | tail -1 | cut -f2)
check_eq "pause: the running job went back to the queue" queued "$(job_field b8-st1 m1@a.test status)"
check "pause: it stopped part way, keeping what it committed ($kept of 20)" test "${kept:-0}" -gt 0 -a "${kept:-0}" -lt 20
check_eq "pause: the batch is paused by the admin" "paused admin" "$(bfield b8-st1 batch_status) $(bfield b8-st1 pause_reason)"
adm import-remote batch resume "$b8" > /dev/null 2>&1
worker b8r
wait "$fake_pid"
bstatus "$b8" b8-st2
check_eq "resume: the job completes" completed "$(job_field b8-st2 m1@a.test status)"
check_eq "resume: every message once" 20 "$(adm -f tab mailbox status -u m1@a.test messages INBOX | tail -1 | cut -f2)"
check_eq "resume: the job counts what both runs imported" "imported 20 skipped 0" \
	"imported $(job_field b8-st2 m1@a.test imported) skipped $(job_field b8-st2 m1@a.test skipped)"

# --- cancel stops a running job at a safe point ---
slow_batch b9 m2@a.test 1
b9=$batch
adm import-remote batch cancel "$b9" > /dev/null 2>&1
wait "$wpid"
check_eq "cancel: the worker running the job exits 0" 0 "$?"
wait "$fake_pid"
bstatus "$b9" b9-st
kept=$(adm -f tab mailbox status -u m2@a.test messages INBOX | tail -1 | cut -f2)
check_eq "cancel: the running job ends Cancelled" "cancelled cancelled" "$(job_field b9-st m2@a.test status) $(bfield b9-st batch_status)"
check "cancel: it stopped part way, keeping what it committed ($kept of 20)" test "${kept:-0}" -gt 0 -a "${kept:-0}" -lt 20

# --- a destination user gone before its job ran: failed, and told ---
printf 'source_email,source_password,destination_user\nsrcuser,srcpass,gone@a.test\n' > "$IR_WORK/b10.csv"
adm import-remote batch create --csv "$IR_WORK/b10.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--notify admin@example.test > "$OUT/b10.out" 2>&1
b10=$(flow_field "$OUT/b10.out" batch)
sed -i '/^gone@a.test:/d' "$IR_WORK/dst/passwd"
restart_dest
worker b10
bstatus "$b10" b10-st
check_eq "vanished user: the job fails" "failed dest_error" "$(job_field b10-st gone@a.test status) $(job_field b10-st gone@a.test error)"
check_eq "vanished user: the batch's end is still told" 1 "$(mails_about "$b10" "Completed with errors")"

adm import-remote batch status 99999 > /dev/null 2>&1
check_eq "status: unknown batch exits 68" 68 "$?"
adm -f json import-remote batch list > "$OUT/list.json" 2>&1
check_eq "list: every batch, with its status" \
	"$b1 completed $b2 completed_with_errors $b3 completed $b4 cancelled $b8 completed $b9 cancelled $b10 completed_with_errors" \
	"$(python3 -c 'import json,sys
print(" ".join("%s %s" % (b["batch"], b["status"]) for b in sorted(json.load(open(sys.argv[1])), key=lambda b: int(b["batch"]))))' "$OUT/list.json")"

# --- --storage-limit: the batch pauses at 90% of the plan, resumes higher ---
S=$(used_bytes a1@a.test)
check "one mailbox's size is known ($S bytes)" test "${S:-0}" -gt 10000
printf 'source_email,source_password,destination_user\nsrcuser,srcpass,s1@s.test\nsrcuser,srcpass,s2@s.test\nsrcuser,srcpass,s3@s.test\n' > "$IR_WORK/b5.csv"
adm import-remote batch create --csv "$IR_WORK/b5.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--storage-limit "$S" --notify admin@example.test > "$OUT/b5.out" 2>&1
b5=$(flow_field "$OUT/b5.out" batch)
worker b5
bstatus "$b5" b5-st1
check_eq "storage limit: the batch pauses for storage" "Paused storage limit" "$(bfield b5-st1 batch_status_title) $(bfield b5-st1 pause_reason)"
check_eq "storage limit: the first user completed, the rest wait" "completed queued queued" \
	"$(for u in s1 s2 s3; do job_field b5-st1 $u@s.test status; done | tr '\n' ' ' | sed 's/ $//')"
check_eq "notify: paused for storage, told once" 1 "$(mails_about "$b5" "Paused: storage limit (90% reached)")"
mail5=$(grep -l -F "Subject: Import batch $b5: Paused" "$MAILS"/*.eml | head -1)
check_contains "notify: says how to resume" "$mail5" "doveadm import-remote batch resume $b5"
check_contains "worker: logs why it paused" "$OUT/worker.b5" "--storage-limit $S bytes"
adm import-remote batch resume --storage-limit $((S * 10)) "$b5" > "$OUT/b5-resume.out" 2>&1
check_eq "resume --storage-limit: the new limit" $((S * 10)) "$(flow_field "$OUT/b5-resume.out" storage_limit)"
worker b5r
bstatus "$b5" b5-st2
check_eq "storage limit: completes after the limit was raised" completed "$(bfield b5-st2 batch_status)"
check "storage limit: the last mailbox equals the source" verify s3@s.test b5-v --map "Sent Items=Sent"
check_eq "notify: paused once, completed once" "1 1" "$(mails_about "$b5" "Paused: storage limit (90% reached)") $(mails_about "$b5" "Completed")"

# --- users without a quota: --storage-limit counts what their jobs imported ---
printf 'source_email,source_password,destination_user\nsrcuser,srcpass,n1@n.test\nsrcuser,srcpass,n2@n.test\n' > "$IR_WORK/bnq.csv"
adm import-remote batch create --csv "$IR_WORK/bnq.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--storage-limit "$S" > "$OUT/bnq.out" 2>&1
bnq=$(flow_field "$OUT/bnq.out" batch)
worker bnq
bstatus "$bnq" bnq-st
adm quota get -u n1@n.test > "$OUT/n1-quota" 2>&1
check_contains "no quota plugin: the user really has none" "$OUT/n1-quota" "Quota not enabled"
check_eq "no quota plugin: the imported bytes count against --storage-limit" "paused storage limit completed queued" \
	"$(bfield bnq-st batch_status) $(bfield bnq-st pause_reason) $(job_field bnq-st n1@n.test status) $(job_field bnq-st n2@n.test status)"
adm import-remote batch cancel "$bnq" > /dev/null 2>&1

# --- a per-domain quota root: full at 90% pauses the batch mid-import ---
if ir_dovecot_24; then
	# no such root on 2.4: the setting must not be ignored silently
	printf 'source_email,source_password,destination_user\nsrcuser,srcpass,d1@d.test\n' > "$IR_WORK/b6.csv"
	add_dest_user d1@d.test
	restart_dest
	adm import-remote batch create --csv "$IR_WORK/b6.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" > "$OUT/b6.out" 2>&1
	b6=$(flow_field "$OUT/b6.out" batch)
	worker b6
	check_contains "2.4, no per-domain quota root: the worker says the shared root isn't there" \
		"$OUT/worker.b6" "import_remote_shared_quota_root: No quota root named 'Domain quota'"
	bstatus "$b6" b6-st2
	check_eq "2.4, no per-domain quota root: the batch still completes" completed "$(bfield b6-st2 batch_status)"
	skip 6 "the checks of a per-domain quota root (none on Dovecot 2.4)"
else
	# the domain's users share 1.5 mailboxes' worth: the second fills it
	dlimit=$(( S * 3 / 2 / 1024 ))
	for u in d1 d2 d3; do
		add_dest_user "$u@d.test" "$(ir_userdb_quota "${dlimit}k" "Domain quota")"
	done
	restart_dest
	printf 'source_email,source_password,destination_user\nsrcuser,srcpass,d1@d.test\nsrcuser,srcpass,d2@d.test\nsrcuser,srcpass,d3@d.test\n' > "$IR_WORK/b6.csv"
	adm import-remote batch create --csv "$IR_WORK/b6.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
		--notify admin@example.test > "$OUT/b6.out" 2>&1
	b6=$(flow_field "$OUT/b6.out" batch)
	worker b6
	bstatus "$b6" b6-st1
	check_eq "domain quota: the batch pauses for storage" "paused storage limit" "$(bfield b6-st1 batch_status) $(bfield b6-st1 pause_reason)"
	check_eq "domain quota: the user that filled it is queued again, not failed" "completed queued queued" \
		"$(for u in d1 d2 d3; do job_field b6-st1 $u@d.test status; done | tr '\n' ' ' | sed 's/ $//')"
	check_contains "worker: logs the shared quota root" "$OUT/worker.b6" "quota root Domain quota"
	check_eq "notify: paused for storage, once" 1 "$(mails_about "$b6" "Paused: storage limit (90% reached)")"
	sed -i "/@d.test:/s/storage=${dlimit}k/storage=$((dlimit * 10))k/" "$IR_WORK/dst/passwd"
	restart_dest
	adm import-remote batch resume "$b6" > /dev/null 2>&1
	worker b6r
	bstatus "$b6" b6-st2
	check_eq "domain quota: completes once the limit was raised" completed "$(bfield b6-st2 batch_status)"
	check "domain quota: the paused user's mailbox is complete, nothing twice" verify d2@d.test b6-v --map "Sent Items=Sent"
	# the mailbox holds every message once: imported all but the copies of
	# the same bytes in one folder, which are skipped
	dups=$(manifest_count dup-same-folder)
	check_eq "domain quota: the resumed job counts all it imported (both runs)" \
		"imported $((total - dups)) skipped $dups" \
		"imported $(job_field b6-st2 d2@d.test imported) skipped $(job_field b6-st2 d2@d.test skipped)"
fi

# --- a user's own quota: that job fails, the batch goes on ---
printf 'source_email,source_password,destination_user\nsrcuser,srcpass,q1@a.test\nsrcuser,srcpass,q2@a.test\n' > "$IR_WORK/b7.csv"
adm import-remote batch create --csv "$IR_WORK/b7.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" > "$OUT/b7.out" 2>&1
b7=$(flow_field "$OUT/b7.out" batch)
worker b7
bstatus "$b7" b7-st
check_eq "own quota: that user's job fails quota_exceeded" "failed quota_exceeded" "$(job_field b7-st q1@a.test status) $(job_field b7-st q1@a.test error)"
check_eq "own quota: the other user completes" completed "$(job_field b7-st q2@a.test status)"
check_eq "own quota: Completed with errors, not paused" completed_with_errors "$(bfield b7-st batch_status)"
# (on 2.4 batch b6 had no shared root to fill: it never paused)
b6_paused=1
ir_dovecot_24 && b6_paused=0
check_eq "webhook: paused for storage, once per pause" "1 $b6_paused" "$(hook_status "$b5" paused_for_storage) $(hook_status "$b6" paused_for_storage)"
check_eq "webhook: no delivery accepted twice" unique "$(hook_status accepted)"

# --- a slow webhook holds up no import: the next job starts at once ---
# hook_call BATCH EVENT: the listener's number for the first call with it
hook_call() { python3 - "$HOOKS" "$1" "$2" <<'PY'
import glob, json, os, sys
for p in sorted(glob.glob(sys.argv[1] + "/*.json"), key=lambda p: int(os.path.basename(p).split(".")[0])):
    b = json.load(open(p))
    if str(b["batch"]) == sys.argv[2] and b["event"] == sys.argv[3]:
        print(os.path.basename(p).split(".")[0])
        break
PY
}
# the listener holds every answer until the test has seen the last job end
touch "$HOOKS/hold"
cat > "$IR_WORK/b11.csv" <<CSV
source_email,source_password,destination_user
srcuser,wrong,h4@a.test
srcuser,wrong,h5@a.test
srcuser,srcpass,h6@a.test
CSV
adm import-remote batch create --csv "$IR_WORK/b11.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" > "$OUT/b11.out" 2>&1
b11=$(flow_field "$OUT/b11.out" batch)
worker_bg b11
h6=
for i in $(seq 1 300); do
	h6=$(sqlite_value "$JOBS/jobs.db" 'select status from import_remote_jobs where batch_id=? and username=?' "$b11" h6@a.test)
	[ "$h6" = completed ] && break
	kill -0 "$wpid" 2>/dev/null || break
	sleep 0.1
done
call=$(hook_call "$b11" half_failed)
check "slow webhook: the half-failed call was made" test -n "$call"
# a worker that waited for the answer would run the last job only after
# the call was answered, or given up (curl's timeout)
check "slow webhook: the last job completed while that call waited for its answer" \
	test "$h6" = completed -a -n "$call" -a -e "$HOOKS/$call.json" \
	-a ! -e "$HOOKS/$call.answered" -a ! -e "$HOOKS/$call.dropped"
rm -f "$HOOKS/hold"
wait "$wpid"
check_eq "slow webhook: the worker exits 0" 0 "$?"
check_eq "slow webhook: the events came after it, delivered by the same run" "1 1" \
	"$(hook_status "$b11" half_failed) $(hook_status "$b11" completed)"
# --- without import_remote_submission_host, mail goes to sendmail ---
# (run as the worker runs: the mail user, who can write in $JOBS)
cat > "$IR_WORK/sendmail" <<SH
#!/bin/sh
echo "\$@" > "$JOBS/sendmail.args"
cat > "$JOBS/sendmail.msg"
SH
chmod 755 "$IR_WORK/sendmail"
printf 'source_email,source_password,destination_user\nsrcuser,wrong,h4@a.test\n' > "$IR_WORK/bsm.csv"
adm import-remote batch create --csv "$IR_WORK/bsm.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--notify sm@example.test > "$OUT/bsm.out" 2>&1
bsm=$(flow_field "$OUT/bsm.out" batch)
SM=()
ir_set_opt SM import_remote_submission_host= "import_remote_sendmail_path=$IR_WORK/sendmail"
worker bsm "${SM[@]}"
check_eq "sendmail: called with the envelope" "-i -f imports@example.test -- sm@example.test" "$(cat "$JOBS/sendmail.args")"
check_contains "sendmail: gets the notification" "$JOBS/sendmail.msg" "Subject: Import batch $bsm: Completed with errors"
# ... and with no sendmail there either: said, naming the setting to set
# (not "execvp(...) failed" from the child that would exec it)
printf 'source_email,source_password,destination_user\nsrcuser,wrong,h5@a.test\n' > "$IR_WORK/bnm.csv"
SM=()
ir_set_opt SM import_remote_submission_host= "import_remote_sendmail_path=$IR_WORK/no-sendmail"
adm "${SM[@]}" import-remote batch create --csv "$IR_WORK/bnm.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--notify sm@example.test > "$OUT/bnm.out" 2> "$OUT/bnm.err"
check_contains "no MTA: batch create warns, naming import_remote_submission_host" "$OUT/bnm.err" \
	"the emails to --notify can't be sent: No way to send email: import_remote_submission_host is not set"
worker bnm "${SM[@]}"
check_contains "no MTA: the worker says so, naming import_remote_submission_host" "$OUT/worker.bnm" \
	"notification: No way to send email: import_remote_submission_host is not set and there is no MTA to hand mail to: access($IR_WORK/no-sendmail) failed"
check_not_contains "no MTA: no execvp failure from a child" "$OUT/worker.bnm" "execvp"

# --- the same on a PostgreSQL store: batch, worker, notifications ---
pgdir=$IR_WORK/pgsql
if ir_pgsql_start "$pgdir"; then
	PG=()
	ir_set_opt PG "import_remote_store=pgsql:$PGSQL_CONNECT"
	printf 'source_email,source_password,destination_user\nsrcuser,srcpass,g1@a.test\nsrcuser,wrong,g2@a.test\n' > "$IR_WORK/bpg.csv"
	adm "${PG[@]}" import-remote batch create --csv "$IR_WORK/bpg.csv" --host 127.0.0.1 \
		--port "$SRC_IMAPS_PORT" --notify pg@example.test > "$OUT/bpg.out" 2>&1
	bpg=$(flow_field "$OUT/bpg.out" batch)
	worker bpg "${PG[@]}"
	adm "${PG[@]}" -f json import-remote batch status "$bpg" > "$OUT/bpg-st" 2>&1
	check_eq "pgsql store: the batch completes with errors" "completed_with_errors completed failed" \
		"$(bfield bpg-st batch_status) $(job_field bpg-st g1@a.test status) $(job_field bpg-st g2@a.test status)"
	check "pgsql store: the mailbox equals the source" verify g1@a.test bpg-v --map "Sent Items=Sent"
	check_eq "pgsql store: the end told once by email" 1 \
		"$(grep -l -F 'To: pg@example.test' "$MAILS"/*.eml | xargs grep -l -F "Subject: Import batch $bpg: Completed with errors" | wc -l)"
	check_not_contains "pgsql store: the deliverer had no trouble" "$OUT/worker.bpg" "Error"
	ir_pgsql_stop "$pgdir"
else
	fail "pgsql store: PostgreSQL could not be started"
fi
exit 0
