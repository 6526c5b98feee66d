#!/bin/bash
# A store, files and networks that can't be turned against the import: a
# password copied into another job doesn't decrypt there (so it never
# reaches that job's host), a key file others may read is refused.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 66
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

"$TOOLS/mkcorpus" -n 20 -s 31 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
chown "$IR_OS_USER:" "$JOBS"
STORE=sqlite:$JOBS/jobs.db
KEY=$JOBS/key
DOVEADM_OPTS=()
ir_set_opt DOVEADM_OPTS "import_remote_store=$STORE" "import_remote_key_file=$KEY"
adm() { doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" "$@"; }
sql() { python3 -c 'import sqlite3,sys;db=sqlite3.connect(sys.argv[1]);r=db.execute(sys.argv[2]).fetchall();db.commit();print("\n".join("|".join(str(c) for c in row) for row in r))' "$JOBS/jobs.db" "$1"; }

# a listener that records whatever reaches it: the copier's "server"
CAPTURE=$IR_WORK/captured
python3 - "$CAPTURE" > "$IR_WORK/capture.port" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
print(s.getsockname()[1], flush=True)
s.settimeout(60)
with open(sys.argv[1], "ab") as out:
    while True:
        try:
            c, _ = s.accept()
        except socket.timeout:
            break
        out.write(b"CONNECTION\n"); out.flush()
        c.sendall(b"* OK ready\r\n")
        c.settimeout(5)
        try:
            while True:
                data = c.recv(4096)
                if not data:
                    break
                out.write(data); out.flush()
                c.sendall(b"* BYE\r\n")
        except OSError:
            pass
        c.close()
PY
CAPTURE_PID=$!
ir_kill_on_exit "$CAPTURE_PID"
CAPTURE_PORT=$(port_of "$IR_WORK/capture.port") || exit 1
touch "$CAPTURE"

# --- a password copied into another job does not decrypt there ---
adm import-remote start -u sd --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--user srcuser --password-file "$SRC_PASSWORD_FILE" > "$OUT/a.out" 2>&1
job_a=$(flow_field "$OUT/a.out" job)
echo other > "$IR_WORK/other.pw"
adm import-remote start -u md --host 127.0.0.1 --port "$CAPTURE_PORT" --ssl none \
	--user srcuser --password-file "$IR_WORK/other.pw" > "$OUT/b.out" 2>&1
job_b=$(flow_field "$OUT/b.out" job)
sql "update import_remote_jobs set source_password = (select source_password from import_remote_jobs where id = ${job_a:-0}) where id = ${job_b:-0}" > /dev/null
check_eq "moved password: job B now holds job A's ciphertext" 1 \
	"$(sql "select count(*) from import_remote_jobs j, import_remote_jobs k where j.id = ${job_b:-0} and k.id = ${job_a:-0} and j.source_password = k.source_password and j.source_password like 'v2:%'")"
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker.log" 2>&1
check_eq "moved password: the worker exits 0" 0 "$?"
adm import-remote status "${job_b:-0}" > "$OUT/b-st.out" 2>&1
check_eq "moved password: that job fails" "failed password_unusable" \
	"$(flow_field "$OUT/b-st.out" status) $(flow_field "$OUT/b-st.out" error)"
check_contains "moved password: says the password belongs to another job" "$OUT/b-st.out" \
	"belongs to another job"
check_not_contains "moved password: the copier's host never saw it" "$CAPTURE" "srcpass"
check_not_contains "moved password: no connection was even made" "$CAPTURE" "CONNECTION"
# ... by a listener that would have recorded one
(exec 3<>"/dev/tcp/127.0.0.1/$CAPTURE_PORT" && printf 'a1 LOGOUT\r\n' >&3 && sleep 0.5) 2>/dev/null
check_contains "moved password: the listener records a connection (control)" "$CAPTURE" "CONNECTION"
adm import-remote status "${job_a:-0}" > "$OUT/a-st.out" 2>&1
check_eq "moved password: the job it belongs to completes" completed "$(flow_field "$OUT/a-st.out" status)"
check "moved password: that job's mailbox equals the source" verify sd sec-a-v --map "Sent Items=Sent"

# --- a store writer can't change where or how the password travels ---
# each job is queued to the real source, then its row is changed
changed_job() {
	local name=$1 change=$2 id
	adm import-remote start -u sd --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
		--user srcuser --password-file "$SRC_PASSWORD_FILE" > "$OUT/$name.out" 2>&1
	id=$(flow_field "$OUT/$name.out" job)
	sql "update import_remote_jobs set $change where id = ${id:-0}" > /dev/null
	echo "${id:-0}"
}
conns_before=$(grep -c CONNECTION "$CAPTURE")
c_tls=$(changed_job c-tls "options = options || char(9) || 'tls_insecure=1'")
c_port=$(changed_job c-port "source_port = $CAPTURE_PORT")
c_plain=$(changed_job c-plain "source_port = $CAPTURE_PORT, source_ssl = 'none'")
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker.changed" 2>&1
for j in "tls_insecure added:$c_tls" "port changed:$c_port" "--ssl none and port changed:$c_plain"; do
	adm import-remote status "${j##*:}" > "$OUT/c-st.out" 2>&1
	check_eq "changed row (${j%%:*}): the job fails, asking for the password again" \
		"failed password_unusable" \
		"$(flow_field "$OUT/c-st.out" status) $(flow_field "$OUT/c-st.out" error)"
done
check_eq "changed row: nothing reached the listener" "$conns_before" "$(grep -c CONNECTION "$CAPTURE")"
check_not_contains "changed row: the password is not in the listener's capture" "$CAPTURE" "srcpass"
# a password of a version before 0.2 (v1, no associated data) is not
# bound to the row it sits in: its job fails, it is never sent
v1=$(python3 - "$KEY" "$(cat "$SRC_PASSWORD_FILE")" <<'PY'
import base64, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
key = bytes.fromhex(open(sys.argv[1]).read().strip())
iv = os.urandom(12)
print("v1:" + base64.b64encode(iv + AESGCM(key).encrypt(iv, sys.argv[2].encode(), None)).decode())
PY
)
c_v1=$(changed_job c-v1 "source_password = '$v1'")
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker.v1" 2>&1
adm import-remote status "$c_v1" > "$OUT/c-v1-st.out" 2>&1
check_eq "v1 password: the job fails, asking for the password again" "failed password_unusable" \
	"$(flow_field "$OUT/c-v1-st.out" status) $(flow_field "$OUT/c-v1-st.out" error)"
check_contains "v1 password: says it was stored by a version before 0.2" "$OUT/c-v1-st.out" "before 0.2"
# --- a source user with a line break can't forge a log line ---
forged=$'a\nimport-remote-worker: Error: FORGED'
jobs_before=$(sql "select count(*) from import_remote_jobs")
adm import-remote start -u sd --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--user "$forged" --password-file "$SRC_PASSWORD_FILE" > "$OUT/forged-start.out" 2>&1
check_eq "control character in --user: start refuses it (usage), nothing queued" "64 $jobs_before" \
	"$? $(sql "select count(*) from import_remote_jobs")"
check_contains "control character in --user: says why" "$OUT/forged-start.out" \
	"contains a control character or line break"
adm import-remote run -u sd --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--user "$forged" --password-file "$SRC_PASSWORD_FILE" > "$OUT/forged-run.out" 2>&1 </dev/null
check_eq "control character in --user: run refuses it too" 64 "$?"
# ... nor a store row that has one
c_forged=$(changed_job c-forged "source_user = 'a' || char(10) || 'import-remote-worker: Error: FORGED'")
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker.forged-row" 2>&1
check_eq "control character in a store row: no forged line in the worker's log" 0 \
	"$(grep -c '^import-remote-worker: Error: FORGED' "$OUT/worker.forged-row")"
adm import-remote status "$c_forged" > "$OUT/c-forged-st.out" 2>&1
check_eq "control character in a store row: the job fails" failed "$(flow_field "$OUT/c-forged-st.out" status)"
# --- a server's error text (HTML, quotes) is kept as text, escaped in JSON ---
python3 - > "$IR_WORK/htmlsrv.port" <<'PY' &
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
print(s.getsockname()[1], flush=True)
s.settimeout(60)
NO = b' NO [AUTHENTICATIONFAILED] <script>alert("x")</script> it\'s "bad" \\ </b>\r\n'
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    f = c.makefile("rb")
    c.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
    try:
        for line in f:
            parts = line.split()
            if len(parts) < 2:
                continue
            tag, cmd = parts[0], parts[1].upper()
            if cmd == b"CAPABILITY":
                c.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
            elif cmd == b"AUTHENTICATE" and len(parts) == 3:
                c.sendall(b"+ \r\n"); f.readline(); c.sendall(tag + NO)
            elif cmd in (b"LOGIN", b"AUTHENTICATE"):
                c.sendall(tag + NO)
            elif cmd == b"LOGOUT":
                c.sendall(b"* BYE\r\n" + tag + b" OK\r\n"); break
            else:
                c.sendall(tag + b" BAD unknown\r\n")
    except OSError:
        pass
    c.close()
PY
HTML_PID=$!
ir_kill_on_exit "$HTML_PID"
HTML_PORT=$(port_of "$IR_WORK/htmlsrv.port") || exit 1
doveadm -f json -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote run -u sd --host 127.0.0.1 \
	--port "$HTML_PORT" --ssl none --user srcuser --password-file "$SRC_PASSWORD_FILE" \
	> "$OUT/html.json" 2> "$OUT/html.err" </dev/null
check_eq "server HTML in error_detail: JSON output parses, the text kept as it was" \
	'auth_failed <script>alert("x")</script> it'"'"'s "bad" \ </b>' \
	"$(python3 -c 'import json,sys
rows = json.load(open(sys.argv[1]))
row = [r for r in rows if r.get("error")][-1]
d = row["error_detail"]
i = d.find("<script>")
print(row["error"], d[i:].strip() if i >= 0 else d)' "$OUT/html.json" 2>&1)"
# --- a key file others may read is refused ---
chmod 644 "$KEY"
adm import-remote start -u sd --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--user srcuser --password-file "$SRC_PASSWORD_FILE" > "$OUT/perm.out" 2>&1
check_eq "key file mode 0644: refused (config error)" 78 "$?"
check_contains "key file mode 0644: says why and what to do" "$OUT/perm.out" "accessible to others (mode 0644): chmod 600"
chmod 600 "$KEY"
# --- a folder name or server text can't forge output lines ---
# modified UTF-7 "&AAo-" is a line break, "&ABs-" an escape: a folder named
# "x&AAo-result=completed imported=999&ABs-[31m" on the source
evil='.x&AAo-result=completed imported=999&ABs-[31m'
mkdir -p "$IR_WORK/src/home/srcuser/Maildir/$evil"/{cur,new,tmp}
cp "$IR_WORK/corpus/Maildir/cur/"* "$IR_WORK/src/home/srcuser/Maildir/$evil/cur/" 2>/dev/null
chown -R "$IR_OS_USER:" "$IR_WORK/src/home/srcuser/Maildir"
import sd evil-dry --port "$SRC_IMAPS_PORT" --dry-run
check_contains "control characters: the folder is in the plan" "$OUT/evil-dry.out" "imported=999"
check_eq "control characters: no forged line in flow output" 0 \
	"$(grep -c '^result=completed imported=999' "$OUT/evil-dry.out")"
check_eq "control characters: no escape character in the output" 0 \
	"$(tr -cd '\033' < "$OUT/evil-dry.out" | wc -c)"
import sd evil --port "$SRC_IMAPS_PORT"
check_eq "control characters: no escape character in warnings or errors" 0 \
	"$(cat "$OUT/evil.out" "$OUT/evil.err" | tr -cd '\033' | wc -c)"
check_eq "control characters: that folder is skipped, the import goes on" "0 completed" \
	"$(rc evil) $(flow_field "$OUT/evil.out" result)"
check_contains "control characters: the skipped folder is warned about" "$OUT/evil.err" \
	"contains control characters"
check "control characters: every other folder is complete" verify sd sec-evil-v --map "Sent Items=Sent"
# --- the oldest TLS a source may speak is import_remote_ssl_min_protocol ---
# a source that speaks TLS 1.2 at most (and then refuses the login)
python3 - "$IR_WORK/ssl" > "$IR_WORK/tls12.port" <<'PY' &
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(sys.argv[1] + "/cert.pem", sys.argv[1] + "/key.pem")
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
print(s.getsockname()[1], flush=True)
s.settimeout(60)
for _ in range(2):
    try:
        c, _ = s.accept()
        t = ctx.wrap_socket(c, server_side=True)
        t.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
        f = t.makefile("rb")
        for line in f:
            tag = line.split(b" ")[0]
            if b"LOGIN" in line.upper() or b"AUTHENTICATE" in line.upper():
                t.sendall(tag + b" NO [AUTHENTICATIONFAILED] no\r\n")
            elif b"LOGOUT" in line.upper():
                t.sendall(b"* BYE\r\n" + tag + b" OK\r\n"); break
            else:
                t.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK\r\n")
        t.close()
    except (OSError, ssl.SSLError):
        pass
PY
TLS12_PID=$!
for i in $(seq 1 50); do [ -s "$IR_WORK/tls12.port" ] && break; sleep 0.1; done
tls12_port=$(head -1 "$IR_WORK/tls12.port")
import sd tls12 --port "$tls12_port"
check_eq "TLS 1.2 source, default minimum: the handshake succeeds (login refused)" auth_failed \
	"$(flow_field "$OUT/tls12.out" error)"
STORE_OPTS=("${DOVEADM_OPTS[@]}")
ir_set_opt DOVEADM_OPTS import_remote_ssl_min_protocol=TLSv1.3
import sd tls13 --port "$tls12_port"
DOVEADM_OPTS=("${STORE_OPTS[@]}")
check_eq "import_remote_ssl_min_protocol=TLSv1.3: a TLS 1.2 source is refused" "78 tls_failed" \
	"$(rc tls13) $(flow_field "$OUT/tls13.out" error)"
check_contains "import_remote_ssl_min_protocol=TLSv1.3: says it was the protocol version" \
	"$OUT/tls13.out" "protocol"
kill "$TLS12_PID" 2>/dev/null
# --- imports connect only where the administrator allows ---
# the settings as they are by default (the harness allows loopback and
# plain text for the other tests)
GUARD_OPTS=("${DOVEADM_OPTS[@]}")
ir_set_opt GUARD_OPTS import_remote_allowed_networks= import_remote_allow_plaintext=no
guarded() {
	local host=$1 name=$2; shift 2
	doveadm -c "$DEST_CONF" "${GUARD_OPTS[@]}" import-remote run -u sd --host "$host" \
		--user srcuser --password-file "$SRC_PASSWORD_FILE" "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
}
conns_before=$(grep -c CONNECTION "$CAPTURE")
guarded 127.0.0.1 g-lo --port "$CAPTURE_PORT"
check_eq "guard: 127.0.0.1 is refused by default" "77 source_not_allowed" \
	"$(rc g-lo) $(flow_field "$OUT/g-lo.out" error)"
check_contains "guard: says what kind of address it is" "$OUT/g-lo.out" "127.0.0.1 is a loopback address"
check_contains "guard: the hint names the setting" "$OUT/g-lo.out" "import_remote_allowed_networks"
guarded ::ffff:127.0.0.1 g-mapped-lo --port "$CAPTURE_PORT" --timeout 3
check_eq "guard: ::ffff:127.0.0.1 (loopback, IPv4-mapped) is refused" "77 source_not_allowed" \
	"$(rc g-mapped-lo) $(flow_field "$OUT/g-mapped-lo.out" error)"
guarded localhost g-name --port "$CAPTURE_PORT"
check_eq "guard: a name that resolves to loopback is refused" "77 source_not_allowed" \
	"$(rc g-name) $(flow_field "$OUT/g-name.out" error)"
check_contains "guard: ... naming the address it resolved to" "$OUT/g-name.out" "localhost ("
# with no network here, a connect to these would fail otherwise
# (host_unreachable or connect_timeout), and only after trying
guarded 10.0.0.1 g-10 --timeout 3
check_eq "guard: 10.0.0.1 is refused before any connect" "77 source_not_allowed" \
	"$(rc g-10) $(flow_field "$OUT/g-10.out" error)"
guarded 169.254.169.254 g-meta --timeout 3
check_eq "guard: the cloud metadata address is refused" "77 source_not_allowed" \
	"$(rc g-meta) $(flow_field "$OUT/g-meta.out" error)"
check_contains "guard: ... as link-local" "$OUT/g-meta.out" "a link-local address"
ir_set_opt GUARD_OPTS import_remote_allowed_networks=127.0.0.0/8
guarded 127.0.0.1 g-plain --port "$CAPTURE_PORT" --ssl none
check_eq "guard: --ssl none is refused by default" "77 source_not_allowed" \
	"$(rc g-plain) $(flow_field "$OUT/g-plain.out" error)"
check_contains "guard: ... and the hint names its setting" "$OUT/g-plain.out" "import_remote_allow_plaintext = yes"
check_eq "guard: nothing reached the listener" "$conns_before" "$(grep -c CONNECTION "$CAPTURE")"
# this server's own public address (1.2.3.4, on the loopback of a network
# namespace of its own: no packet leaves): without the guard, a connect
# there would be refused (host_unreachable)
unshare -n sh -c 'ip link set lo up && ip addr add 1.2.3.4/32 dev lo && "$@"' sh \
	doveadm -c "$DEST_CONF" "${GUARD_OPTS[@]}" import-remote run -u sd --host 1.2.3.4 \
	--user srcuser --password-file "$SRC_PASSWORD_FILE" > "$OUT/g-own.out" 2>&1 </dev/null
check_eq "guard: this server's own public address is refused" "77 source_not_allowed" \
	"$? $(flow_field "$OUT/g-own.out" error)"
check_contains "guard: ... as this server's" "$OUT/g-own.out" "1.2.3.4 is an address of this server"
# ... in any form IPv6 writes it in: IPv4-mapped (two spellings), NAT64, 6to4
for own in ::ffff:1.2.3.4 ::ffff:102:304 64:ff9b::102:304 2002:102:304::1; do
	unshare -n sh -c 'ip link set lo up && ip addr add 1.2.3.4/32 dev lo && "$@"' sh \
		doveadm -c "$DEST_CONF" "${GUARD_OPTS[@]}" import-remote run -u sd --host "$own" \
		--user srcuser --password-file "$SRC_PASSWORD_FILE" --timeout 3 \
		> "$OUT/g-own6.out" 2>&1 </dev/null
	check_eq "guard: this server's own address as $own is refused" "77 source_not_allowed" \
		"$? $(flow_field "$OUT/g-own6.out" error)"
done
guarded 127.0.0.1 g-ok --port "$SRC_IMAPS_PORT"
check_eq "guard: a network in import_remote_allowed_networks is allowed" "0 completed" \
	"$(rc g-ok) $(flow_field "$OUT/g-ok.out" result)"
# a batch's rows are jobs like any other: the worker refuses them alike
printf 'source_email,source_password,destination_user,source_host,source_port\n%s\n%s\n%s\n' \
	"srcuser,x,md,127.0.0.1,$CAPTURE_PORT" "srcuser,x,sd,10.0.0.1,993" \
	"srcuser,x,mdq,169.254.169.254,993" > "$IR_WORK/guard.csv"
doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote batch create --csv "$IR_WORK/guard.csv" \
	--host 127.0.0.1 > "$OUT/g-batch.out" 2>&1
gb=$(flow_field "$OUT/g-batch.out" batch)
check_eq "guard: the batch is queued (3 jobs)" 3 \
	"$(sql "select count(*) from import_remote_jobs where batch_id = ${gb:-0}")"
GUARD_WORKER_OPTS=()
ir_set_opt GUARD_WORKER_OPTS import_remote_allowed_networks= import_remote_job_retries=3 \
	import_remote_job_retry_delay=1s
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" "${GUARD_WORKER_OPTS[@]}" -1 > "$OUT/worker.guard" 2>&1
check_eq "guard: the worker exits 0" 0 "$?"
check_eq "guard: every row's job failed as not allowed" "3" \
	"$(sql "select count(*) from import_remote_jobs where batch_id = ${gb:-0} and status = 'failed' and error_code = 'source_not_allowed'")"
check_eq "guard: ... and is not queued again (not transient)" 0 \
	"$(sql "select count(*) from import_remote_jobs where batch_id = ${gb:-0} and status <> 'failed'")"
check_eq "guard: nothing reached the listener from the batch either" "$conns_before" "$(grep -c CONNECTION "$CAPTURE")"
# --- the store can't make the deliverer send or sign a text of its own ---
MAILS=$IR_WORK/mails
HOOKS=$IR_WORK/hooks
mkdir -p "$MAILS" "$HOOKS"
"$TOOLS/smtpsink" "$MAILS" > "$IR_WORK/smtpsink.port" &
SMTP_PID=$!
"$TOOLS/httpsink" "$HOOKS" > "$IR_WORK/httpsink.port" &
HTTP_PID=$!
trap 'kill $CAPTURE_PID $SMTP_PID $HTTP_PID 2>/dev/null; ir_cleanup' EXIT
for i in $(seq 1 50); do [ -s "$IR_WORK/smtpsink.port" ] && [ -s "$IR_WORK/httpsink.port" ] && break; sleep 0.1; done
HOOK_URL=http://127.0.0.1:$(head -1 "$IR_WORK/httpsink.port")/hook
NOTIFY_OPTS=()
ir_set_opt NOTIFY_OPTS "import_remote_submission_host=127.0.0.1:$(head -1 "$IR_WORK/smtpsink.port")" \
	"import_remote_webhook_url=$HOOK_URL" import_remote_notify_retry_interval=1s
printf 'source_email,source_password,destination_user\nsrcuser,wrong,md\n' > "$IR_WORK/bn.csv"
adm import-remote batch create --csv "$IR_WORK/bn.csv" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--notify admin@example.test > "$OUT/bn.out" 2>&1
bn=$(flow_field "$OUT/bn.out" batch)
# whoever can write the store sends the summary elsewhere ...
sql "update import_remote_batches set notify = 'evil@example.net' where id = ${bn:-0}" > /dev/null
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" "${NOTIFY_OPTS[@]}" -1 > "$OUT/worker.bn" 2>&1
check_eq "changed notify address: the worker exits 0" 0 "$?"
check_contains "changed notify address: no email, and says why" "$OUT/worker.bn" \
	"its notify address was changed in the store, not by batch create: no email"
check_eq "changed notify address: nothing reached the SMTP server" 0 "$(ls "$MAILS" | grep -c '\.eml$')"
# (two events: more than half failed, and completed with errors)
check_eq "changed notify address: the webhook calls still went out" 2 "$(ls "$HOOKS" | grep -c '\.json$')"
# ... or writes a notification of their own, or changes one
sql "insert into import_remote_notifications (batch_id, event, channel, sender, recipient, payload, state, created, next_attempt, attempts, claimed_by, claimed_at, finished, last_error, mac) values (${bn:-0}, 'completed', 'webhook', '', '$HOOK_URL', '{\"forged\":1}', 'pending', 0, 0, 0, '', 0, 0, '', '')" > /dev/null
sql "insert into import_remote_notifications (batch_id, event, channel, sender, recipient, payload, state, created, next_attempt, attempts, claimed_by, claimed_at, finished, last_error, mac) select batch_id, event, channel, sender, recipient, '{\"changed\":1}', 'pending', 0, 0, 0, '', 0, 0, '', mac from import_remote_notifications where channel = 'webhook' and batch_id = ${bn:-0} and state = 'sent' limit 1" > /dev/null
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" "${NOTIFY_OPTS[@]}" -1 > "$OUT/worker.forged" 2>&1
check_eq "forged notifications: the worker exits 0" 0 "$?"
check_eq "forged notifications: neither was sent (signed)" 2 "$(ls "$HOOKS" | grep -c '\.json$')"
check_eq "forged notifications: both refused as not authentic" 2 \
	"$(grep -c 'Not authentic: changed in the store' "$OUT/worker.forged")"
check_eq "forged notifications: given up at once, not retried" 2 \
	"$(sql "select count(*) from import_remote_notifications where state = 'failed' and attempts = 1")"
exit 0
