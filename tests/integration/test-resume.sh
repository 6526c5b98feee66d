#!/bin/bash
# Imports finish by themselves: a real Dovecot source behind a link that
# breaks connections on purpose (tests/tools/faultproxy): cut in the middle
# of a body (reset and close), 5 cuts at random offsets, a cut every 3 MB,
# a cut during the TLS handshake; every time the destination is checked
# message by message. Also: a message the destination refuses (too large)
# is recorded and skipped, for run and for a queued job (report); a
# killed import's temporary files are gone after the next run.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 61
script_timeout 900
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

# about 11 MB in 14 folders
"$TOOLS/mkcorpus" -n 800 -s 31 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start
total=$(manifest_count)

# proxy NAME OPTIONS...: a faultproxy in front of the source's IMAPS port;
# its port in $pport, its report in $OUT/NAME.proxy
proxy() {
	local name=$1
	shift
	"$TOOLS/faultproxy" --target "127.0.0.1:$SRC_IMAPS_PORT" \
		--report "$OUT/$name.proxy" "$@" > "$OUT/$name.pport" &
	ppid_=$!
	ir_kill_on_exit "$ppid_"
	pport=$(port_of "$OUT/$name.pport")
}
proxy_end() { kill "$ppid_"; wait "$ppid_" 2>/dev/null; }
preport() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$OUT/$1.proxy" "$2"; }
cuts() { python3 -c "import json,sys;print(len(json.load(open(sys.argv[1]))['cuts']))" "$OUT/$1.proxy"; }
field() { flow_field "$OUT/$1.out" "$2"; }
# dest_bytes USER: the size of every message the user has (RFC822.SIZE,
# as the source counts it); nothing when doveadm fails or finds none
dest_bytes() {
	local out
	out=$(doveadm -c "$DEST_CONF" -f tab fetch -u "$1" size.virtual all) || return 1
	echo "$out" | awk 'NR > 1 { n += $1; m++ } END { if (m > 0) print n }'
}

# through NAME PROXY-OPTIONS... -- IMPORT-OPTIONS...: an import into an
# empty sd through a proxy that breaks as told
through() {
	local name=$1 popts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do popts+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	proxy "$name" "${popts[@]}"
	ir_dest_reset_user sd
	import sd "$name" --port "$pport" "$@"
	proxy_end
}

through rst --cut-after 1500k --rst
check_eq "cut mid-body (reset): the link cut once" 1 "$(cuts rst)"
check_eq "cut mid-body (reset): exit code 0" 0 "$(rc rst)"
check_eq "cut mid-body (reset): reconnected once" 1 "$(field rst reconnects)"
check_contains "cut mid-body (reset): the cause" "$OUT/rst.out" "Connection reset by peer"
check "cut mid-body (reset): every message there once, byte for byte" verify sd rst-v --map "Sent Items=Sent"
check_eq "cut mid-body (reset): imported + skipped = all" "$total" $(( $(field rst imported) + $(field rst skipped_duplicates) ))

# (2800 kB of TLS: inside INBOX's 550 kB message, UID 239, whatever the
# TLS records; at 2500 kB, among messages of 1-2 kB, the cut fell now and
# then on the lines between two bodies)
through fin --cut-after 2800k
check_eq "cut mid-body (close): exit code 0" 0 "$(rc fin)"
check_eq "cut mid-body (close): reconnected once" 1 "$(field fin reconnects)"
check_contains "cut mid-body (close): says a message broke off" "$OUT/fin.err" "in the middle of message UID"
check "cut mid-body (close): every message there once, byte for byte" verify sd fin-v --map "Sent Items=Sent"

# each connection cut after 1-2 MB: more than the corpus's biggest message
# (550 kB) and what comes before it, so that the message a new connection
# starts with is never the one it breaks on again (three breaks on one
# message fail it on purpose: FOLDER_IMPORT_MAX_LOSSES). One connection
# (the default is 4, each carrying less): each of its 5 cuts comes, and
# each is one reconnect (cuts over several connections: test-connections)
through five --cuts 5 --cut-random 1M 2M --rst --seed 7 -- --connections 1
check_eq "5 cuts at random offsets: the link cut 5 times" 5 "$(cuts five)"
check_eq "5 cuts at random offsets: exit code 0" 0 "$(rc five)"
check_eq "5 cuts at random offsets: reconnected 5 times" 5 "$(field five reconnects)"
check "5 cuts at random offsets: every message there once, byte for byte" verify sd five-v --map "Sent Items=Sent"
check_eq "5 cuts at random offsets: nothing failed" 0 "$(field five failed)"

# one connection (the default is 4): it carries the whole corpus, so a cut
# every 3 MB comes at least 3 times
through every3 --cut-every 3M -- --connections 1
check_eq "a cut every 3 MB: the link cut at least 3 times" True "$(python3 -c "print($(cuts every3) >= 3)")"
check_eq "a cut every 3 MB: exit code 0 (the import finishes)" 0 "$(rc every3)"
check "a cut every 3 MB: every message there once, byte for byte" verify sd every3-v --map "Sent Items=Sent"
# (the destination's own count, of mail verify found byte for byte the
# source's: not another import's, which would be wrong the same way)
check_eq "a cut every 3 MB: bytes = what the destination holds" "$(dest_bytes sd)" "$(field every3 bytes)"

# the TLS handshake cut before the server's certificate came
through tls --cut-after 0 --rst
check_eq "cut in the TLS handshake: exit code 0" 0 "$(rc tls)"
check_contains "cut in the TLS handshake: seen as a lost connection" "$OUT/tls.out" "connection lost during the TLS handshake, before any certificate was seen"
check "cut in the TLS handshake: every message there, byte for byte" verify sd tls-v --map "Sent Items=Sent"
through tls0 --cut-after 0 -- --reconnects 0
check_eq "cut in the TLS handshake, --reconnects 0: error connection_lost, not tls_failed" connection_lost "$(field tls0 error)"
check_not_contains "cut in the TLS handshake, --reconnects 0: no certificate hint" "$OUT/tls0.out" "ssl_client_ca_file"
check_eq "cut in the TLS handshake, --reconnects 0: exit code 75" 75 "$(rc tls0)"

# --- a killed import leaves temporary files; the next run removes them ---
# the link stalls after 3 MB: the import waits with saved, uncommitted mail
proxy stall --pause-after 3M
ir_dest_reset_user sd
doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --port "$pport" \
	--user srcuser --password-file "$SRC_PASSWORD_FILE" --quiet \
	>"$OUT/killed.out" 2>"$OUT/killed.err" </dev/null &
kpid=$!
ir_kill_on_exit "$kpid"
tempfiles() { find "$IR_WORK/dst/home/sd" -name '.temp.*' -type f | wc -l; }
for i in $(seq 1 200); do
	[ "$(preport stall paused 2>/dev/null)" = True ] && [ "$(tempfiles)" -gt 0 ] && break
	sleep 0.1
done
killed_mark=$(ls "$IR_WORK/dst/home/sd/.dovecot-import-remote/running")
kill -9 "$kpid"
wait "$kpid" 2>/dev/null
proxy_end
left=$(tempfiles)
check_eq "kill -9: the import had uncommitted messages on disk" True "$(python3 -c "print($left > 0)")"
import sd afterkill --port "$SRC_IMAPS_PORT"
check_eq "after kill -9: the next run exits 0" 0 "$(rc afterkill)"
check_eq "after kill -9: the next run deleted the killed import's temporary files" 0 "$(tempfiles)"
check_contains "after kill -9: and said so" "$OUT/afterkill.err" "Deleted $left temporary files"
check "after kill -9: every message there once, byte for byte" verify sd afterkill-v --map "Sent Items=Sent"
check_empty "after kill -9: no mark of a running import is left" \
	ls "$IR_WORK/dst/home/sd/.dovecot-import-remote/running"

# a commit killed half-way: sdbox names a message's file u.N, then writes
# the index. Made here: the last INBOX message expunged, its file put back
# as the next UID's, the checkpoint gone, the killed import's mark back
inbox_dir=$(dirname "$(find "$IR_WORK/dst/home/sd" -path '*/INBOX/dbox-Mails/u.*' | head -1)")
last=$(ls "$inbox_dir" | sed -n 's/^u\.\([0-9]*\)$/\1/p' | sort -n | tail -1)
cp -p "$inbox_dir/u.$last" "$IR_WORK/orphan"
doveadm -c "$DEST_CONF" expunge -u sd mailbox INBOX uid "$last"
mv "$IR_WORK/orphan" "$inbox_dir/u.$((last + 1))"
rm -f "$IR_WORK/dst/home/sd/.dovecot-import-remote/"*.checkpoint
running_dir=$IR_WORK/dst/home/sd/.dovecot-import-remote/running
touch "$running_dir/$killed_mark"
chown --reference="$running_dir" "$running_dir/$killed_mark"
import sd orphan --port "$SRC_IMAPS_PORT"
check_eq "a commit killed half-way: the next run exits 0" 0 "$(rc orphan)"
# (made mail by a rebuild it would lack the flags, keywords and date that
# only the lost index transaction had)
check_contains "a commit killed half-way: the uncommitted file is deleted, and said so" "$OUT/orphan.err" \
	"deleted 1 mail file(s) a killed import had not committed"
check_eq "a commit killed half-way: that message is copied again, whole" 1 "$(field orphan imported)"
check "a commit killed half-way: every message there once, byte for byte, with its flags" verify sd orphan-v --map "Sent Items=Sent"

# --- a message the destination refuses: recorded and skipped ---
"$TOOLS/mkcorpus" -n 40 -s 32 --big-mb 3 -o "$IR_WORK/big" >/dev/null || { fail "mkcorpus --big-mb"; exit 1; }
ir_source_replace "$IR_WORK/big/Maildir"
MANIFEST=$IR_WORK/big/small.json
python3 - "$IR_WORK/big/manifest.json" "$MANIFEST" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["folders"] = {f: [e for e in v if e["size"] < 2 * 1024 * 1024]
                for f, v in m["folders"].items()}
json.dump(m, open(sys.argv[2], "w"))
PY
big_folder=$(python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))
print([f for f, v in m["folders"].items() if any(e["size"] >= 2*1024*1024 for e in v)][0])' "$IR_WORK/big/manifest.json")
if ir_dovecot_24; then
	MAXSIZE_OPT=(-o quota_mail_size=2M)
else
	MAXSIZE_OPT=(-o plugin/quota_max_mail_size=2M)
fi
DOVEADM_OPTS=("${MAXSIZE_OPT[@]}")
ir_dest_reset_user sd
import sd big --port "$SRC_IMAPS_PORT" --ssl imaps --list-failed
DOVEADM_OPTS=()
check_eq "too large for the destination: exit code 0 (one bad message)" 0 "$(rc big)"
check_eq "too large for the destination: failed=1" 1 "$(field big failed)"
grep '^result=message_failed ' "$OUT/big.out" > "$OUT/big.row"
check_contains "too large for the destination: its row names the folder" "$OUT/big.row" "folder=$big_folder"
check_contains "too large for the destination: ... and why" "$OUT/big.row" "reason=Saving to mailbox"
check "too large for the destination: everything else there, byte for byte" \
	verify sd big-v --map "Sent Items=Sent"

# the same as a queued job: the failed message is stored with the job
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
chown "$IR_OS_USER:" "$JOBS"
DOVEADM_OPTS=()
ir_set_opt DOVEADM_OPTS "import_remote_store=sqlite:$JOBS/jobs.db" "import_remote_key_file=$JOBS/key"
ir_dest_reset_user sd
doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote start -u sd --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --password-file "$SRC_PASSWORD_FILE" \
	>"$OUT/start.out" 2>"$OUT/start.err" </dev/null
job=$(field start job)
"$WORKER" -c "$DEST_CONF" -s "sqlite:$JOBS/jobs.db" -K "$JOBS/key" -1 "${MAXSIZE_OPT[@]}" \
	>"$OUT/worker.log" 2>&1
check_eq "queued job with a refused message: the worker exits 0" 0 "$?"
doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote status -u sd "$job" >"$OUT/jstatus.out" 2>&1
check_eq "queued job with a refused message: Completed" completed "$(field jstatus status)"
check_eq "queued job with a refused message: failed=1 in status" 1 "$(field jstatus failed)"
doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" -f json import-remote report -u sd "$job" >"$OUT/report.json" 2>"$OUT/report.err"
check_eq "report: exit code 0" 0 "$?"
check "report -f json: one row, the refused message, with its reason" python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 1, rows
r = rows[0]
assert r["job"] == sys.argv[2] and r["folder"] == sys.argv[3], r
assert int(r["size"]) >= 2 * 1024 * 1024 and r["reason"].startswith("Saving to mailbox"), r
assert r["message_id"] != "" and r["received"].endswith("Z"), r' "$OUT/report.json" "$job" "$big_folder"
doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote report "$job" >"$OUT/report-admin.out" 2>&1
check_contains "report without -u (the admin's form): the same row" "$OUT/report-admin.out" "$big_folder"
check_exit "report of another user's job: not found" 68 \
	doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote report -u md "$job"
check "queued job: everything else there, byte for byte" verify sd job-v --map "Sent Items=Sent"
DOVEADM_OPTS=()

# --- a message bigger than what one connection survives ---
# every connection cut after a random 1-2 MB, the corpus's 3 MB message
# among the rest: each cut message is resumed from where it stopped
MANIFEST=$IR_WORK/big/manifest.json
through bigcut --cut-random 1M 2M --rst --seed 11 -- --reconnects 20
check_eq "3 MB message, a cut every 1-2 MB: the link cut at least twice" True "$(python3 -c "print($(cuts bigcut) >= 2)")"
check_eq "3 MB message, a cut every 1-2 MB: exit code 0" 0 "$(rc bigcut)"
check_eq "3 MB message, a cut every 1-2 MB: completed" completed "$(field bigcut result)"
check_eq "3 MB message, a cut every 1-2 MB: nothing failed" 0 "$(field bigcut failed)"
check "3 MB message, a cut every 1-2 MB: every message there once, byte for byte" verify sd bigcut-v --map "Sent Items=Sent"

# the issue's link: every connection cut after a random 2-8 MB, a 9 MB
# message (more than any connection carries)
"$TOOLS/mkcorpus" -n 20 -s 36 --big-mb 9 --layout inbox-only -o "$IR_WORK/big9" >/dev/null || { fail "mkcorpus --big-mb 9"; exit 1; }
ir_source_replace "$IR_WORK/big9/Maildir"
MANIFEST=$IR_WORK/big9/manifest.json
through big9 --cut-random 2M 8M --rst --seed 5 -- --reconnects 20
check_eq "9 MB message, a cut every 2-8 MB: the link cut at least once" True "$(python3 -c "print($(cuts big9) >= 1)")"
check_eq "9 MB message, a cut every 2-8 MB: completed, nothing failed" "completed 0" "$(field big9 result) $(field big9 failed)"
check "9 MB message, a cut every 2-8 MB: every message there once, byte for byte" verify sd big9-v --map "Sent Items=Sent"

# --- a slow link: what arrived is committed every few seconds ---
"$TOOLS/mkcorpus" -n 300 -s 35 --layout inbox-only -o "$IR_WORK/slow" >/dev/null || { fail "mkcorpus --layout inbox-only"; exit 1; }
ir_source_replace "$IR_WORK/slow/Maildir"
MANIFEST=$IR_WORK/slow/manifest.json
proxy slow --rate 256k
ir_dest_reset_user sd
# (--dedup off: only the checkpoint keeps the re-run from copying twice)
doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --port "$pport" \
	--user srcuser --password-file "$SRC_PASSWORD_FILE" --dedup off --quiet \
	>"$OUT/slow.out" 2>"$OUT/slow.err" </dev/null &
kpid=$!
ir_kill_on_exit "$kpid"
sleep 9
kill -9 "$kpid"
wait "$kpid" 2>/dev/null
proxy_end
kept=$(doveadm -c "$DEST_CONF" mailbox status -u sd messages INBOX 2>/dev/null | sed 's/.*=//')
check_eq "slow link, killed after 9 s: it was still running (the link is slow enough)" 0 "$(grep -c '^result=' "$OUT/slow.out")"
check_eq "slow link, killed after 9 s: messages were committed (${kept:-0} kept)" True "$(python3 -c "print(${kept:-0} > 0)")"
# (the same port: the checkpoint is the source's, host and port)
proxy slow2 --port "$pport"
import sd slowrerun --port "$pport" --dedup off
proxy_end
check_eq "slow link, re-run after kill -9: exit code 0" 0 "$(rc slowrerun)"
check_eq "slow link, re-run after kill -9: what was kept is not fetched again" "${kept:-0}" "$(field slowrerun skipped_duplicates)"
VERIFY_DEDUP=off
check "slow link, re-run after kill -9: every message there once, byte for byte" verify sd slow-v --map "Sent Items=Sent"
VERIFY_DEDUP=folder
exit 0
