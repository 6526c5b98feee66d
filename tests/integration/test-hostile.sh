#!/bin/bash
# A hostile IMAP server (tests/tools/fakeimapd's hostile modes) exhausts
# neither memory, time, disk nor quota: a literal of 2^64-1 bytes or far
# bigger than its message, one bigger than the quota left, a 2 GB header,
# a flood of unsolicited FETCH replies, EXISTS 2^32-1, a line of nested
# parentheses, too many folders and too long a name, a server that drips a
# byte at a time (the run's deadline), a stalled server and SIGTERM, and
# control characters in its words. Each ends in a classified failure or is
# ignored, with doveadm's peak RSS flat and nothing lost, half-written or
# doubled (imapverify). The same at full size, with figures:
# bench/run-hostile.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 83
# sdq: a 1 MB quota
ir_dest_start 1M
echo fakepass > "$IR_WORK/fake.pw"
# the goal: memory flat whatever the server sends
RSS_MAX_KB=$((48 * 1024))

# hostile NAME SCENARIO [import options...]: fake (tests/lib/integration.sh)
# with a server that waits longer; its peak RSS is in $OUT/NAME.rss, and an
# import killed after 120 s fails the check on its exit code
FAKE_TIMEOUT=150
hostile() { fake "$@"; }
report() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$OUT/$1.report" "$2"; }
commands() {
	python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['commands'].get(sys.argv[2], 0))" "$OUT/$1.report" "$2"
}
inbox_count() {
	doveadm -c "$DEST_CONF" mailbox status -u "$FAKE_USER" messages INBOX 2>/dev/null | sed 's/.*=//'
}
fake_verify() {
	MANIFEST=$OUT/$1.manifest verify "$FAKE_USER" "$1"
}
row() {
	grep "^result=$2 " "$OUT/$1.out" > "$OUT/$1.$2.row"
	flow_field "$OUT/$1.$2.row" "$3"
}
# check_rss NAME CASE: its peak RSS within the goal
check_rss() {
	local kb
	kb=$(tail -1 "$OUT/$2.rss" 2>/dev/null)
	# (tests/run-sanitize: the sanitizer's shadow memory and quarantine
	# are not the plugin's)
	if [ "${IR_SANITIZE:-0}" = 1 ]; then
		skip 1 "$1: peak RSS ${kb:-?} kB is the sanitizer's"
		return
	fi
	check "$1: peak RSS ${kb:-?} kB, at most $RSS_MAX_KB" test "${kb:-999999999}" -le "$RSS_MAX_KB"
}
# at most this much of an endless literal may have been taken (the server
# tries 256 MB; socket buffers take a few)
JUNK_MAX=$((16 * 1024 * 1024))

# --- a literal of 2^64-1 bytes: refused unread, the message failed ---
FAKE_OPTS=(--max-conns 2)
hostile huge huge-literal --list-failed
check_eq "literal of 2^64-1 bytes: exit code 0" 0 "$(cat "$OUT/huge.rc")"
check_eq "literal of 2^64-1 bytes: failed=1" 1 "$(flow_field "$OUT/huge.out" failed)"
check_eq "literal of 2^64-1 bytes: message UID 3 recorded as failed" 3 "$(row huge message_failed uid)"
check_contains "literal of 2^64-1 bytes: why" "$OUT/huge.message_failed.row" "18446744073709551615-byte body"
check_contains "literal of 2^64-1 bytes: ... refused unread" "$OUT/huge.message_failed.row" "refused unread"
check "literal of 2^64-1 bytes: not read (server sent $(report huge junk_sent) bytes)" \
	test "$(report huge junk_sent)" -lt "$JUNK_MAX"
check "literal of 2^64-1 bytes: the other 19 there once, byte for byte" fake_verify huge
check_rss "literal of 2^64-1 bytes" huge

# far above the message's RFC822.SIZE (4.4 kB): the same
FAKE_OPTS=(--max-conns 2 --literal-size 100000000)
hostile big huge-literal
check_eq "literal of 100 MB for a 4 kB message: exit code 0" 0 "$(cat "$OUT/big.rc")"
check_contains "literal of 100 MB for a 4 kB message: refused unread" "$OUT/big.out" "100000000-byte body for it (RFC822.SIZE 4"
check "literal of 100 MB for a 4 kB message: not read" test "$(report big junk_sent)" -lt "$JUNK_MAX"
check "literal of 100 MB for a 4 kB message: the other 19 there once" fake_verify big

# --- bigger than the quota left: not downloaded at all ---
FAKE_OPTS=(--big-kb 65536)
FAKE_USER=sdq
hostile quota big-message
check_eq "message beyond the quota: error quota_exceeded" quota_exceeded "$(flow_field "$OUT/quota.out" error)"
check_eq "message beyond the quota: exit code 73" 73 "$(cat "$OUT/quota.rc")"
check_contains "message beyond the quota: refused before it is downloaded" "$OUT/quota.out" "does not fit in the"
check_eq "message beyond the quota: the four before it are kept" 4 "$(inbox_count)"
check_rss "message beyond the quota" quota
FAKE_USER=sd

# --- a 2 GB BODY[HEADER] literal: not read, the message failed ---
FAKE_OPTS=(--max-conns 2)
# (--dedup account: the header is fetched even into an empty folder)
hostile header huge-header --list-failed --dedup account
check_eq "2 GB header: exit code 0" 0 "$(cat "$OUT/header.rc")"
check_eq "2 GB header: message UID 3 recorded as failed" 3 "$(row header message_failed uid)"
check_contains "2 GB header: why" "$OUT/header.message_failed.row" "2147483648-byte header"
check "2 GB header: not read (server sent $(report header junk_sent) bytes)" \
	test "$(report header junk_sent)" -lt "$JUNK_MAX"
check "2 GB header: the other 19 there once, byte for byte" fake_verify header

# --- 300,000 unsolicited FETCH replies: nothing of them kept ---
FAKE_OPTS=(--flood 300000)
hostile flood flood --fetch-chunk 10
check_eq "unsolicited FETCH flood: the server sent them" 300001 "$(report flood flooded)"
check_eq "unsolicited FETCH flood: exit code 0" 0 "$(cat "$OUT/flood.rc")"
check_eq "unsolicited FETCH flood: none taken for a message (failed=0)" 0 "$(flow_field "$OUT/flood.out" failed)"
check_eq "unsolicited FETCH flood: imported=20" 20 "$(flow_field "$OUT/flood.out" imported)"
check "unsolicited FETCH flood: every message there once, byte for byte" fake_verify flood
check_rss "unsolicited FETCH flood" flood

# --- EXISTS 4294967295: no wrap, no endless listing ---
FAKE_OPTS=()
hostile exists exists-huge
check_eq "EXISTS 2^32-1: exit code 0 (not killed after 120 s)" 0 "$(cat "$OUT/exists.rc")"
check_eq "EXISTS 2^32-1: imported=20" 20 "$(flow_field "$OUT/exists.out" imported)"
check_contains "EXISTS 2^32-1: says the count was wrong" "$OUT/exists.err" "said it holds 4294967295 messages but listed none from 21 on"
check_eq "EXISTS 2^32-1: one message list asked for" 1 "$(commands exists FETCH)"
check "EXISTS 2^32-1: every message there once, byte for byte" fake_verify exists
check_rss "EXISTS 2^32-1" exists
hostile existsnext exists-huge-uidnext
check_eq "EXISTS 2^32-1 with UIDNEXT 21: error source_error" source_error "$(flow_field "$OUT/existsnext.out" error)"
check_contains "EXISTS 2^32-1 with UIDNEXT 21: why" "$OUT/existsnext.out" "leaves room for at most 20"

# --- a line of 1,000,000 nested parentheses ---
FAKE_OPTS=(--max-conns 2)
hostile nested nested-parens --reconnects 1
check_eq "nested parentheses: sent on both connections" 2 "$(report nested nested)"
check_eq "nested parentheses: error source_error" source_error "$(flow_field "$OUT/nested.out" error)"
check_contains "nested parentheses: an invalid reply" "$OUT/nested.out" "invalid reply from server"
check_rss "nested parentheses" nested

# --- a line without arguments: an invalid reply, never an abort ---
# argless NAME WHAT LINE AT [import options...]: LINE (empty, star: "*",
# tag: "a1") before the reply to the AT'th command (0: before the greeting)
argless() {
	local name=$1 what=$2 line=$3 at=$4
	shift 4
	FAKE_OPTS=(--max-conns 2 --argless "$line" --argless-at "$at" "${ARGLESS_OPTS[@]}")
	hostile "$name" argless --reconnects 1 "$@"
	check_eq "$what: error source_error" source_error "$(flow_field "$OUT/$name.out" error)"
	check_eq "$what: exit code 75, not an abort" 75 "$(cat "$OUT/$name.rc")"
}
ARGLESS_OPTS=()
argless argempty "empty line before the greeting" empty 0
check_contains "empty line before the greeting: says so" "$OUT/argempty.out" "invalid reply from server: an empty line"
argless argstar "'*' after the greeting" star 1
check_contains "'*' after the greeting: says so" "$OUT/argstar.out" "a line with nothing but '*'"
argless argtag "bare tag after the login" tag 2
ARGLESS_OPTS=(--starttls "$IR_WORK/ssl/cert.pem" "$IR_WORK/ssl/key.pem")
argless argplain "'*' for STARTTLS (plain text)" star 1 --ssl starttls
argless argtlstag "bare tag after STARTTLS" tag 2 --ssl starttls
check_eq "bare tag after STARTTLS: TLS was started on both connections" 2 "$(report argtlstag starttls)"
argless argtlsempty "empty line after STARTTLS" empty 2 --ssl starttls
DOVEADM_OPTS=()
FAKE_OPTS=()

# --- folders: how many, how long a name ---
FAKE_OPTS=(--folders 150)
DOVEADM_OPTS=()
ir_set_opt DOVEADM_OPTS import_remote_max_folders=100
hostile folders many-folders
DOVEADM_OPTS=()
check_eq "151 folders, import_remote_max_folders=100: error source_error" source_error "$(flow_field "$OUT/folders.out" error)"
check_contains "151 folders, import_remote_max_folders=100: says so" "$OUT/folders.out" "more than 100 folders (import_remote_max_folders)"
check_eq "151 folders, import_remote_max_folders=100: no folder opened" 0 "$(commands folders EXAMINE)"
FAKE_OPTS=()
hostile longname long-folder-name
check_eq "a 5000-byte folder name: exit code 0" 0 "$(cat "$OUT/longname.rc")"
check_contains "a 5000-byte folder name: skipped, and why" "$OUT/longname.err" "its name is longer than 1024 bytes"
check_eq "a 5000-byte folder name: INBOX imported" 20 "$(flow_field "$OUT/longname.out" imported)"

# --- a byte every 0.2 s: import_remote_run_timeout ends it ---
FAKE_OPTS=()
ir_set_opt DOVEADM_OPTS import_remote_run_timeout=3s
hostile drip slow-drip
DOVEADM_OPTS=()
check_eq "dripping server, run timeout 3s: error run_timeout" run_timeout "$(flow_field "$OUT/drip.out" error)"
check_eq "dripping server, run timeout 3s: exit code 75" 75 "$(cat "$OUT/drip.rc")"
check "dripping server, run timeout 3s: stopped while it dripped ($(report drip dripped) bytes)" \
	test "$(report drip dripped)" -lt 500
check_contains "dripping server, run timeout 3s: the hint says a re-run continues" "$OUT/drip.out" "continues where it stopped"

# --- SIGTERM while waiting on a stalled server ---
"$TOOLS/fakeimapd" --scenario stall-fetch --count 20 --timeout 150 \
	--stall-file "$OUT/term.stalled" --report "$OUT/term.report" \
	--manifest "$OUT/term.manifest" > "$OUT/term.port" &
fpid=$!
ir_kill_on_exit "$fpid"
ir_dest_reset_user sd
term_port=$(port_of "$OUT/term.port")
doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 \
	--port "$term_port" --ssl none --user fake \
	--password-file "$IR_WORK/fake.pw" --timeout 5 \
	>"$OUT/term.out" 2>"$OUT/term.err" </dev/null &
dpid=$!
ir_kill_on_exit "$dpid"
wait_for_file "$OUT/term.stalled"
check "SIGTERM: the server stalled" test -e "$OUT/term.stalled"
term_and_wait "$dpid"
check "SIGTERM while waiting on the network: doveadm ended within 10 s" sh -c "! kill -0 $dpid 2>/dev/null"
# (still there only if the check failed: not yet reaped, its pid is its)
kill -0 "$dpid" 2>/dev/null && kill -KILL "$dpid"
wait "$dpid"
echo $? > "$OUT/term.rc"
kill "$fpid" 2>/dev/null
wait "$fpid"
check_eq "SIGTERM: error interrupted" interrupted "$(flow_field "$OUT/term.out" error)"
check_eq "SIGTERM: exit code 75" 75 "$(cat "$OUT/term.rc")"
# (the two bodies before the stall, as far as it read them before the
# signal)
term_kept=$(inbox_count)
check "SIGTERM: what was received whole is kept ($term_kept of the 2 sent)" \
	test "${term_kept:-9}" -le 2
# a re-run (the same server, now well) continues: nothing twice
"$TOOLS/fakeimapd" --scenario ok --count 20 --timeout 150 --port "$term_port" \
	--report "$OUT/term2.report" --manifest "$OUT/term2.manifest" > "$OUT/term2.port" &
fpid=$!
ir_kill_on_exit "$fpid"
port_of "$OUT/term2.port" >/dev/null
doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 \
	--port "$term_port" --ssl none --user fake \
	--password-file "$IR_WORK/fake.pw" --timeout 5 \
	>"$OUT/term2.out" 2>"$OUT/term2.err" </dev/null
echo $? > "$OUT/term2.rc"
kill "$fpid" 2>/dev/null
wait "$fpid"
check_eq "SIGTERM, re-run: completes" 0 "$(cat "$OUT/term2.rc")"
check_eq "SIGTERM, re-run: copies the rest" "$((20 - term_kept))" "$(flow_field "$OUT/term2.out" imported)"
check "SIGTERM, re-run: every message there once, byte for byte" fake_verify term2

# --- the worker: SIGTERM while its job waits on a stalled server ---
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
chown "$IR_OS_USER:" "$JOBS"
JOBS_OPTS=()
ir_set_opt JOBS_OPTS "import_remote_store=sqlite:$JOBS/jobs.db" \
	"import_remote_key_file=$JOBS/key"
rm -f "$OUT/wterm.stalled"
"$TOOLS/fakeimapd" --scenario stall-fetch --count 20 --timeout 150 \
	--stall-file "$OUT/wterm.stalled" --report "$OUT/wterm.report" \
	--manifest "$OUT/wterm.manifest" > "$OUT/wterm.port" &
fpid=$!
ir_kill_on_exit "$fpid"
ir_dest_reset_user sd
wterm_port=$(port_of "$OUT/wterm.port")
doveadm -c "$DEST_CONF" "${JOBS_OPTS[@]}" import-remote start -u sd \
	--host 127.0.0.1 --port "$wterm_port" --ssl none --user fake \
	--password-file "$IR_WORK/fake.pw" --timeout 5 \
	> "$OUT/wterm-start.out" 2>&1 </dev/null
wjob=$(flow_field "$OUT/wterm-start.out" job)
"$WORKER" -c "$DEST_CONF" -s "sqlite:$JOBS/jobs.db" -K "$JOBS/key" -1 \
	> "$OUT/worker-term.log" 2>&1 &
wpid=$!
ir_kill_on_exit "$wpid"
wait_for_file "$OUT/wterm.stalled"
check "worker SIGTERM: the server stalled" test -e "$OUT/wterm.stalled"
term_and_wait "$wpid"
check "worker SIGTERM while its job waits on the network: ended within 10 s" \
	sh -c "! kill -0 $wpid 2>/dev/null"
kill -0 "$wpid" 2>/dev/null && kill -KILL "$wpid"
wait "$wpid"
kill "$fpid" 2>/dev/null
wait "$fpid"
doveadm -c "$DEST_CONF" "${JOBS_OPTS[@]}" import-remote status -u sd "$wjob" \
	> "$OUT/wterm-st1.out" 2>&1
check_eq "worker SIGTERM: the job is queued again, not failed" queued \
	"$(flow_field "$OUT/wterm-st1.out" status)"
check_eq "worker SIGTERM: ... without using a retry" 0 \
	"$(flow_field "$OUT/wterm-st1.out" retry)"
# the next worker (the server well again) finishes it: nothing twice
"$TOOLS/fakeimapd" --scenario ok --count 20 --timeout 150 --port "$wterm_port" \
	--report "$OUT/wterm2.report" --manifest "$OUT/wterm2.manifest" > "$OUT/wterm2.port" &
fpid=$!
ir_kill_on_exit "$fpid"
port_of "$OUT/wterm2.port" >/dev/null
"$WORKER" -c "$DEST_CONF" -s "sqlite:$JOBS/jobs.db" -K "$JOBS/key" -1 \
	> "$OUT/worker-term2.log" 2>&1
kill "$fpid" 2>/dev/null
wait "$fpid"
doveadm -c "$DEST_CONF" "${JOBS_OPTS[@]}" import-remote status -u sd "$wjob" \
	> "$OUT/wterm-st2.out" 2>&1
check_eq "worker SIGTERM: the next worker completes the job" completed \
	"$(flow_field "$OUT/wterm-st2.out" status)"
check "worker SIGTERM: every message there once, byte for byte" fake_verify wterm2

# --- the server's words: control characters never reach the log ---
hostile ctrl no-one-uid-ctrl
check_eq "control characters in a NO: exit code 0" 0 "$(cat "$OUT/ctrl.rc")"
check_contains "control characters in a NO: its words are logged" "$OUT/ctrl.err" "Some messages could not be FETCHed"
check_not_contains "control characters in a NO: no ESC in the log" "$OUT/ctrl.err" $'\x1b'
check_not_contains "control characters in a NO: no BEL in the log" "$OUT/ctrl.err" $'\x07'
exit 0
