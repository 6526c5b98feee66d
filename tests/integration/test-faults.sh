#!/bin/bash
# Faults a real server won't produce on demand, from tests/tools/fakeimapd:
# strict pipelining checks, a connection cut in the middle of a message,
# garbage instead of IMAP. The destination is a real Dovecot.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 27
ir_dest_start
echo fakepass > "$IR_WORK/fake.pw"

# fake NAME SCENARIO [import options...]: one import against fakeimapd
# ($FAKE_OPTS: extra fakeimapd options, $DOVEADM_OPTS: doveadm's own)
FAKE_OPTS=()
fake() {
	local name=$1 scenario=$2; shift 2
	"$TOOLS/fakeimapd" --scenario "$scenario" --count 20 --timeout 60 \
		"${FAKE_OPTS[@]}" --report "$OUT/$name.report" > "$OUT/$name.port" &
	local pid=$!
	ir_kill_on_exit "$pid"
	ir_dest_reset_user sd
	doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote run -u sd --host 127.0.0.1 \
		--port "$(port_of "$OUT/$name.port")" --ssl none --user fake \
		--password-file "$IR_WORK/fake.pw" --timeout 5 "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
	wait "$pid"
}
report() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$OUT/$1.report" "$2"; }
inbox_count() {
	doveadm -c "$DEST_CONF" mailbox status -u sd messages INBOX 2>/dev/null | sed 's/.*=//'
}

fake pipe strict-pipelining --fetch-chunk 3
check_eq "pipelining: exit code 0" 0 "$(cat "$OUT/pipe.rc")"
check_eq "pipelining: no sequence command behind an unanswered UID FETCH" 0 "$(report pipe ambiguous)"
check_eq "pipelining: every message imported" 20 "$(inbox_count)"
check_not_contains "pipelining: server had nothing to complain about" "$OUT/pipe.err" "complained"

fake cut cut-literal
check_eq "cut mid-message: exit code 75" 75 "$(cat "$OUT/cut.rc")"
check_eq "cut mid-message: error source_error" source_error "$(flow_field "$OUT/cut.out" error)"
check_eq "cut mid-message: the server really cut" True "$(report cut ambiguous >/dev/null; report cut cut)"
check_contains "cut mid-message: says it was cut in the middle of a message" "$OUT/cut.err" "in the middle of message"
check_eq "cut mid-message: nothing half-written (uncommitted batch rolled back)" 0 "$(inbox_count)"
check_eq "cut mid-message: summary counts no import" 0 "$(flow_field "$OUT/cut.out" imported)"

fake garbage garbage
check_eq "garbage reply: exit code 75" 75 "$(cat "$OUT/garbage.rc")"
check_eq "garbage reply: error source_error" source_error "$(flow_field "$OUT/garbage.out" error)"
check_contains "garbage reply: says the reply was invalid" "$OUT/garbage.err" "invalid reply"
fake throttled-once throttled-once
check_eq "[THROTTLED] once: waits, retries and completes" 0 "$(cat "$OUT/throttled-once.rc")"
check_eq "[THROTTLED] once: the server did throttle" 1 "$(report throttled-once throttled)"
check_eq "[THROTTLED] once: every message imported" 20 "$(inbox_count)"
check_contains "[THROTTLED] once: says it waits" "$OUT/throttled-once.err" "throttling"

fake throttled throttled --throttle-retries 1
check_eq "[THROTTLED]: gives up after the retries" 2 "$(report throttled throttled)"
check_eq "[THROTTLED]: exit code 75" 75 "$(cat "$OUT/throttled.rc")"
check_eq "[THROTTLED]: error throttled" throttled "$(flow_field "$OUT/throttled.out" error)"
check_contains "[THROTTLED]: title" "$OUT/throttled.err" "Source server is throttling"
check_contains "[THROTTLED]: hint" "$OUT/throttled.out" "2.5 GB a day"

fake busy busy
check_eq "BYE [UNAVAILABLE] at greeting: error throttled" throttled "$(flow_field "$OUT/busy.out" error)"
check_contains "BYE [UNAVAILABLE] at greeting: server's words shown" "$OUT/busy.err" "Too many connections"

# a trusted certificate that names another host
FAKE_OPTS=(--tls "$IR_WORK/ssl-other/cert.pem" "$IR_WORK/ssl-other/key.pem")
DOVEADM_OPTS=(-o ssl_client_ca_file="$IR_WORK/ssl-other/ca.pem")
fake wronghost ok --ssl imaps
check_eq "certificate for another host: error tls_failed" tls_failed "$(flow_field "$OUT/wronghost.out" error)"
check_contains "certificate for another host: says so" "$OUT/wronghost.err" "host name"
check_eq "certificate for another host: exit code 78" 78 "$(cat "$OUT/wronghost.rc")"
FAKE_OPTS=()
DOVEADM_OPTS=()
exit 0
