#!/bin/bash
# Faults a real server won't produce on demand, from tests/tools/fakeimapd:
# strict pipelining checks, connections cut or closed in the middle of a
# message, a stalled server, garbage instead of IMAP, a stream that loses
# its sync, bytes that differ from what the server said, throttling in
# both of Gmail's forms (also with a folder opened behind the throttled
# one on its connection), a message the server won't send. The destination
# is a real Dovecot; after each import it is checked message by message
# (imapverify) against what fakeimapd served.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 182
ir_dest_start
echo fakepass > "$IR_WORK/fake.pw"

# fake (tests/lib/integration.sh): one import against fakeimapd
report() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$OUT/$1.report" "$2"; }
inbox_count() {
	doveadm -c "$DEST_CONF" mailbox status -u sd messages INBOX 2>/dev/null | sed 's/.*=//'
}
inbox_vsize() {
	doveadm -c "$DEST_CONF" mailbox status -u sd vsize INBOX 2>/dev/null | sed 's/.*=//'
}
# fake_verify NAME: the destination holds exactly what NAME's manifest says
fake_verify() {
	MANIFEST=$OUT/$1.manifest verify sd "$1"
}
# row NAME RESULT KEY: KEY of the first row whose result is RESULT
row() {
	grep "^result=$2 " "$OUT/$1.out" > "$OUT/$1.$2.row"
	flow_field "$OUT/$1.$2.row" "$3"
}

fake pipe strict-pipelining --fetch-chunk 3
check_eq "pipelining: exit code 0" 0 "$(cat "$OUT/pipe.rc")"
check_eq "pipelining: no sequence command behind an unanswered UID FETCH" 0 "$(report pipe ambiguous)"
check "pipelining: every message imported, byte for byte" fake_verify pipe
check_not_contains "pipelining: server had nothing to complain about" "$OUT/pipe.err" "complained"

# --- NAMESPACE goes out with LIST; a server that answers the LIST first
# (RFC 3501 5.5 allows it) loses none of the folder list ---
fake order reply-order
check_eq "answers out of order: the server did answer LIST first" 1 "$(report order reordered)"
check_eq "answers out of order: exit code 0" 0 "$(cat "$OUT/order.rc")"
check "answers out of order: every message imported, byte for byte" fake_verify order

# --- a small folder's bodies, asked for with its list, answered in the
# middle of that list (a server may run both at once): those that came
# before the list's end are thrown away and asked for again ---
FAKE_OPTS=(--status-uidvalidity 42)
DOVEADM_OPTS=(-D)
fake inlist bodies-in-list
DOVEADM_OPTS=() FAKE_OPTS=()
check_eq "bodies in the list: the server sent them in its middle" 1 "$(report inlist interleaved)"
check_eq "bodies in the list: exit code 0" 0 "$(cat "$OUT/inlist.rc")"
check "bodies in the list: every message imported, byte for byte" fake_verify inlist
check_eq "bodies in the list: those before the list's end asked for again (a second body fetch)" 2 \
	"$(grep -cE 'C: [^ ]+ UID FETCH .*BODY\.PEEK\[\]' "$OUT/inlist.err")"

# --- capabilities: asked for after the login only if its reply didn't say them ---
commands() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['commands'].get(sys.argv[2], 0))" "$OUT/$1.report" "$2"; }
check_eq "capabilities in the greeting and the login's reply: no CAPABILITY command" 0 "$(commands pipe CAPABILITY)"
FAKE_OPTS=(--login-without-caps)
fake caps ok
check_eq "login's reply without capabilities: exit code 0" 0 "$(cat "$OUT/caps.rc")"
check_eq "login's reply without capabilities: CAPABILITY asked for once" 1 "$(commands caps CAPABILITY)"
check "login's reply without capabilities: every message imported" fake_verify caps
FAKE_OPTS=()

# --- a connection cut in the middle of a message: reconnect, go on ---
FAKE_OPTS=(--max-conns 2)
fake cut cut-literal
check_eq "cut mid-message: the server really cut" True "$(report cut cut)"
check_eq "cut mid-message: exit code 0" 0 "$(cat "$OUT/cut.rc")"
check_eq "cut mid-message: reconnected once" 1 "$(flow_field "$OUT/cut.out" reconnects)"
check_contains "cut mid-message: the cause is shown" "$OUT/cut.out" "last_disconnect=127.0.0.1:"
check_contains "cut mid-message: says it was cut in the middle of a message" "$OUT/cut.err" "in the middle of message UID 3"
check_contains "cut mid-message: says it reconnects at once (not \"in 0 s\")" "$OUT/cut.err" \
	"reconnecting at once (1 of "
check_not_contains "cut mid-message: ... no \"reconnecting in 0 s\"" "$OUT/cut.err" "reconnecting in 0 s"
check "cut mid-message: every message there once, byte for byte" fake_verify cut
check_eq "cut mid-message: summary counts every message once" 20 "$(flow_field "$OUT/cut.out" imported)"
check_eq "cut mid-message: nothing failed" 0 "$(flow_field "$OUT/cut.out" failed)"

# no reconnects allowed: what is complete is kept and counted, no byte more
FAKE_OPTS=()
fake cut0 cut-literal --reconnects 0
check_eq "cut, --reconnects 0: exit code 75" 75 "$(cat "$OUT/cut0.rc")"
check_eq "cut, --reconnects 0: error connection_lost (not dest_error)" connection_lost "$(flow_field "$OUT/cut0.out" error)"
check_eq "cut, --reconnects 0: the two messages before the cut are kept" 2 "$(inbox_count)"
check_eq "cut, --reconnects 0: counted as imported" 2 "$(flow_field "$OUT/cut0.out" imported)"
check_eq "cut, --reconnects 0: bytes count only what was committed" "$(inbox_vsize)" "$(flow_field "$OUT/cut0.out" bytes)"
check_contains "cut, --reconnects 0: the hint says a re-run continues" "$OUT/cut0.out" "continues where it stopped"

# the same message cut at the same place every time: resumed once (it got
# further), then 3 breaks that bring it no further give it up; the rest
# goes on, and at the end of the run it is tried once more (and cut there
# again): 4 connections, one for the rest, one for the try at the end
FAKE_OPTS=(--max-conns 8 --left-out 3)
fake cutall cut-literal-always --reconnects 8 --list-failed
check_eq "cut at the same place every time: exit code 0 (one bad message)" 0 "$(cat "$OUT/cutall.rc")"
check_eq "cut at the same place every time: message UID 3 recorded as failed" 3 "$(row cutall message_failed uid)"
check_contains "cut at the same place every time: why" "$OUT/cutall.message_failed.row" "the connection broke 3 times while the server sent it, each time at the same place"
check_contains "cut at the same place every time: tried again at the end of the run" "$OUT/cutall.err" "Trying 1 message of INBOX again"
check_eq "cut at the same place every time: 6 connections (4 on it, the rest, the try at the end)" 6 "$(report cutall connections)"
check_eq "cut at the same place every time: failed=1" 1 "$(flow_field "$OUT/cutall.out" failed)"
check "cut at the same place every time: every other message there, byte for byte" fake_verify cutall

# --- a body cut off is resumed from where it stopped (partial fetch) ---
FAKE_OPTS=(--max-conns 2 --body-lines 1000)
fake resume cut-literal
check_eq "resume: exit code 0" 0 "$(cat "$OUT/resume.rc")"
check_eq "resume: the rest asked for with one partial fetch" 1 "$(report resume partial_fetches)"
check_eq "resume: nothing failed" 0 "$(flow_field "$OUT/resume.out" failed)"
check "resume: every message there once, byte for byte" fake_verify resume
# servers that answer partial fetches wrong: never spliced, fetched whole
for mode in whole short from-start no; do
	FAKE_OPTS=(--max-conns 2 --body-lines 1000 --partial "$mode")
	fake "resume-$mode" cut-literal
	check_eq "partial fetch answered wrong ($mode): exit code 0" 0 "$(cat "$OUT/resume-$mode.rc")"
	check_eq "partial fetch answered wrong ($mode): nothing failed" 0 "$(flow_field "$OUT/resume-$mode.out" failed)"
	check "partial fetch answered wrong ($mode): every message there once, byte for byte" fake_verify "resume-$mode"
done
check_contains "partial fetch answered with other bytes: seen and said" "$OUT/resume-from-start.err" "does not match the bytes it sent before"
check_contains "partial fetch answered with another length: seen and said" "$OUT/resume-short.err" "answered the partial fetch of bytes"
# a part of a body when the whole was asked for: given up, not asked for
# again and again
FAKE_OPTS=(--partial unasked --left-out 3)
fake unasked ok
check_eq "a part sent when the whole was asked for: exit code 0" 0 "$(cat "$OUT/unasked.rc")"
check_eq "a part sent when the whole was asked for: sent once" 1 "$(report unasked unasked_parts)"
check_contains "a part sent when the whole was asked for: recorded as failed, and why (on standard error)" "$OUT/unasked.err" "the server sent a part of it"
check "a part sent when the whole was asked for: the others there, byte for byte" fake_verify unasked
FAKE_OPTS=()

# --- BYE in the middle of a FETCH is a disconnect, not throttling ---
FAKE_OPTS=(--max-conns 2)
fake bye bye-fetch
check_eq "BYE mid-FETCH: the server said BYE" True "$(report bye bye)"
check_eq "BYE mid-FETCH: exit code 0" 0 "$(cat "$OUT/bye.rc")"
check_contains "BYE mid-FETCH: the server's words are the cause" "$OUT/bye.out" "last_disconnect=127.0.0.1:"
check_contains "BYE mid-FETCH: ... its words" "$OUT/bye.out" "Server shutting down"
check_not_contains "BYE mid-FETCH: not called throttling" "$OUT/bye.err" "throttl"
check "BYE mid-FETCH: every message there once, byte for byte" fake_verify bye
FAKE_OPTS=()
fake bye0 bye-fetch --reconnects 0
check_eq "BYE mid-FETCH, --reconnects 0: error connection_lost" connection_lost "$(flow_field "$OUT/bye0.out" error)"
check_eq "BYE mid-FETCH, --reconnects 0: title" "Connection lost" "$(grep -o 'error_title=Connection lost' "$OUT/bye0.out" | sed 's/.*=//')"

# --- a server that stops answering: --stall-timeout, then reconnect ---
FAKE_OPTS=(--max-conns 2)
fake stall stall-fetch --stall-timeout 2
check_eq "stall: the server stalled" True "$(report stall stalled)"
check_eq "stall: exit code 0" 0 "$(cat "$OUT/stall.rc")"
check_contains "stall: --stall-timeout 2 named as the cause" "$OUT/stall.out" "stopped answering for 2 seconds"
check "stall: every message there once, byte for byte" fake_verify stall

# --- the reply stream loses its sync: nothing of that message is kept ---
FAKE_OPTS=(--max-conns 2)
fake short short-literal
check_eq "short literal: the server sent one" True "$(report short short)"
check_eq "short literal: exit code 0" 0 "$(cat "$OUT/short.rc")"
check_contains "short literal: seen as a broken reply" "$OUT/short.out" "invalid reply from server"
check "short literal: no corrupt copy, every message once, byte for byte" fake_verify short

# garbage on every connection: the tries end with the real cause
FAKE_OPTS=(--max-conns 2)
fake garbage garbage --reconnects 1
check_eq "garbage reply: exit code 75" 75 "$(cat "$OUT/garbage.rc")"
check_eq "garbage reply: error source_error" source_error "$(flow_field "$OUT/garbage.out" error)"
check_contains "garbage reply: says the reply was invalid" "$OUT/garbage.err" "invalid reply"
check_eq "garbage reply: tried a new connection once" 2 "$(report garbage connections)"

# --- bytes that differ from what the server said ---
FAKE_OPTS=()
fake size size-mismatch
check_eq "wrong RFC822.SIZE: exit code 0" 0 "$(cat "$OUT/size.rc")"
check_contains "wrong RFC822.SIZE, same bytes twice: kept and said so" "$OUT/size.err" "the server sent the same 4152 bytes twice (its RFC822.SIZE says 4252): kept as sent"
check_eq "wrong RFC822.SIZE: fetched twice, not more" 2 "$(report size commands | python3 -c 'import ast,sys; print(ast.literal_eval(sys.stdin.read())["UID FETCH"])')"
check "wrong RFC822.SIZE: every message there, byte for byte" fake_verify size

fake corrupt size-corrupt --list-failed
check_eq "different bytes each time: exit code 0 (one bad message)" 0 "$(cat "$OUT/corrupt.rc")"
check_eq "different bytes each time: sent twice" 2 "$(report corrupt corrupt_sends)"
check_eq "different bytes each time: recorded as failed" 3 "$(row corrupt message_failed uid)"
check_contains "different bytes each time: why" "$OUT/corrupt.message_failed.row" "corrupt"
check "different bytes each time: not kept, the others there byte for byte" fake_verify corrupt

fake firstwrong size-first-wrong
check_eq "first copy of the wrong size, then the right one: exit code 0" 0 "$(cat "$OUT/firstwrong.rc")"
check_eq "first copy of the wrong size, then the right one: nothing failed" 0 "$(flow_field "$OUT/firstwrong.out" failed)"
check_contains "first copy of the wrong size, then the right one: the good copy kept, and said so" "$OUT/firstwrong.err" "then exactly its RFC822.SIZE of"
check "first copy of the wrong size, then the right one: every message there, byte for byte" fake_verify firstwrong

fake nul nul-bytes
check_eq "NUL bytes: exit code 0" 0 "$(cat "$OUT/nul.rc")"
check_contains "NUL bytes: not accepted silently" "$OUT/nul.err" "NUL bytes included"
check "NUL bytes: every message there, byte for byte (Dovecot serves NUL as 0x80)" fake_verify nul

# --- NO for one UID: recorded, skipped, the import completes ---
fake one no-one-uid --list-failed
check_eq "NO for one UID: exit code 0" 0 "$(cat "$OUT/one.rc")"
check_eq "NO for one UID: result completed" completed "$(flow_field "$OUT/one.out" result)"
check_eq "NO for one UID: failed=1" 1 "$(flow_field "$OUT/one.out" failed)"
check_eq "NO for one UID: its row names the UID" 7 "$(row one message_failed uid)"
check_eq "NO for one UID: ... the folder" INBOX "$(row one message_failed folder)"
check_eq "NO for one UID: ... the Message-ID" fake7@example.org "$(row one message_failed message_id)"
check_eq "NO for one UID: ... the date" 2024-01-01T10:00:00Z "$(row one message_failed received)"
check_contains "NO for one UID: ... and the server's words" "$OUT/one.message_failed.row" "Some messages could not be FETCHed"
check "NO for one UID: the other 19 there, byte for byte" fake_verify one
DOVEADM_OPTS=(-f json)
fake onejson no-one-uid --list-failed
DOVEADM_OPTS=()
check "NO for one UID: -f json has a row per failed message" python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
assert rows[0]["result"] == "completed" and rows[0]["failed"] == 1, rows[0]
assert [r["uid"] for r in rows if r["result"] == "message_failed"] == ["7"], rows' "$OUT/onejson.out"

# without --list-failed: the result row has only the run's columns, and
# the failed message is said on standard error
fake onewarn no-one-uid
check_eq "NO for one UID, no --list-failed: exit code 0" 0 "$(cat "$OUT/onewarn.rc")"
check_eq "NO for one UID, no --list-failed: one row, the result's" 1 "$(wc -l < "$OUT/onewarn.out")"
check_not_contains "NO for one UID, no --list-failed: no per-message column in the result row" \
	"$OUT/onewarn.out" " uid="
check_not_contains "NO for one UID, no --list-failed: ... not even empty ones" "$OUT/onewarn.out" " folder="
check_eq "NO for one UID, no --list-failed: failed=1" 1 "$(flow_field "$OUT/onewarn.out" failed)"
check_contains "NO for one UID, no --list-failed: standard error names the message" "$OUT/onewarn.err" \
	"Not imported: folder INBOX, UID 7, "
check_contains "NO for one UID, no --list-failed: ... its Message-ID and the server's words" "$OUT/onewarn.err" \
	"Message-ID fake7@example.org, received 2024-01-01T10:00:00Z: "
DOVEADM_OPTS=(-f json)
fake onewarnjson no-one-uid
DOVEADM_OPTS=()
check "NO for one UID, no --list-failed: -f json has the result's object only, without per-message keys" python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 1 and rows[0]["failed"] == 1, rows
assert "uid" not in rows[0] and "reason" not in rows[0], rows[0]' "$OUT/onewarnjson.out"

# --- throttling ---
fake throttled-once throttled-once
check_eq "[THROTTLED] once: waits, retries and completes" 0 "$(cat "$OUT/throttled-once.rc")"
check_eq "[THROTTLED] once: the server did throttle" 1 "$(report throttled-once throttled)"
check "[THROTTLED] once: every message there, byte for byte" fake_verify throttled-once
check_contains "[THROTTLED] once: says it waits" "$OUT/throttled-once.err" "throttling"
check_contains "[THROTTLED] once: the wait in seconds, as the reconnects say it" \
	"$OUT/throttled-once.err" "asking again in 1 s"
check_not_contains "[THROTTLED] once: ... not in ms" "$OUT/throttled-once.err" "000 ms"

fake throttled throttled --throttle-retries 1
check_eq "[THROTTLED]: gives up after the retries" 2 "$(report throttled throttled)"
check_eq "[THROTTLED]: exit code 75" 75 "$(cat "$OUT/throttled.rc")"
check_eq "[THROTTLED]: error throttled" throttled "$(flow_field "$OUT/throttled.out" error)"
check_contains "[THROTTLED]: title" "$OUT/throttled.err" "Source server is throttling"
check_contains "[THROTTLED]: hint" "$OUT/throttled.out" "2.5 GB a day"

# --connections 2: a folder opened behind another on its connection
# (behind its bodies), and that folder throttled: it asks again only after
# the one behind is dropped (its answers read; it is sent again once the
# folder has asked) and it is EXAMINEd again; else its UIDs would be the
# other folder's (each folder's messages are its own)
FAKE_OPTS=(--mail-folders 6 --threads --max-conns 20 --throttle-times 2)
DOVEADM_OPTS=(-D)
fake behind throttled --connections 2
DOVEADM_OPTS=()
FAKE_OPTS=()
check_eq "[THROTTLED], --connections 2: exit code 0" 0 "$(cat "$OUT/behind.rc")"
check_eq "[THROTTLED], --connections 2: the server throttled twice, on 2 connections" \
	"2 2" "$(report behind throttled) $(report behind connections)"
check "[THROTTLED], --connections 2: folders were opened behind another ($(grep -c 'opened behind' "$OUT/behind.err"))" \
	test "$(grep -c 'opened behind' "$OUT/behind.err")" -ge 1
check "[THROTTLED], --connections 2: the throttled folder EXAMINEd again, the one behind it dropped ($(grep -c 'EXAMINEd again' "$OUT/behind.err"))" \
	test "$(grep -c 'EXAMINEd again' "$OUT/behind.err")" -ge 1
check "[THROTTLED], --connections 2: ... the one dropped sent again behind it ($(grep -c 'sent again behind the current folder' "$OUT/behind.err"))" \
	test "$(grep -c 'sent again behind the current folder' "$OUT/behind.err")" -ge 1
check "[THROTTLED], --connections 2: every message in its folder, byte for byte" fake_verify behind

# waits of 1, 2, 4 and 8 s against a 6 s idle timeout: kept alive
FAKE_OPTS=(--throttle-times 4 --idle-timeout 6 --max-conns 2)
fake keepalive throttled
check_eq "[THROTTLED], idle timeout: exit code 0" 0 "$(cat "$OUT/keepalive.rc")"
check_eq "[THROTTLED], idle timeout: the server throttled 4 times" 4 "$(report keepalive throttled)"
check_eq "[THROTTLED], idle timeout: the session was kept alive (one connection)" 1 "$(report keepalive connections)"
check_eq "[THROTTLED], idle timeout: ... by NOOP" True "$(report keepalive commands | python3 -c 'import ast,sys; print(ast.literal_eval(sys.stdin.read()).get("NOOP", 0) >= 1)')"
check "[THROTTLED], idle timeout: every message there, byte for byte" fake_verify keepalive
# a server that drops an idle session sooner than the keep-alive NOOP (3 s):
# the waits of 1 and 2 s pass, the 4 s one loses the session: reconnect
# after the wait
FAKE_OPTS=(--throttle-times 3 --idle-timeout 2.5 --max-conns 2)
fake idleclose throttled
check_eq "[THROTTLED], short idle timeout: the server closed the idle session" 1 "$(report idleclose idle_closes)"
check_eq "[THROTTLED], short idle timeout: exit code 0" 0 "$(cat "$OUT/idleclose.rc")"
check "[THROTTLED], short idle timeout: every message there, byte for byte" fake_verify idleclose
# Gmail's "OK Success [THROTTLED]": paced, not just retried
FAKE_OPTS=(--count 120 --throttle-times 2 --idle-timeout 6)
fake pace throttled-ok --fetch-chunk 40
check_eq "OK [THROTTLED]: exit code 0" 0 "$(cat "$OUT/pace.rc")"
check_eq "OK [THROTTLED]: the server said it twice" 2 "$(report pace throttled)"
check "OK [THROTTLED]: the next fetches waited (a short pause, then a longer one)" python3 -c '
import json, sys
gaps = json.load(open(sys.argv[1]))["body_fetch_gaps"]
assert len(gaps) >= 2 and gaps[0] >= 0.2 and gaps[1] >= 0.3, gaps' "$OUT/pace.report"
check_contains "OK [THROTTLED]: says it slows down" "$OUT/pace.err" "slow down"
check "OK [THROTTLED]: every message there, byte for byte" fake_verify pace
# eight of them: paced by seconds, not minutes (the pause once doubled up
# to a minute: over 3 minutes for these)
FAKE_OPTS=(--count 400 --throttle-times 8)
pace_start=$(date +%s)
fake pace8 throttled-ok --fetch-chunk 40
pace_secs=$(( $(date +%s) - pace_start ))
check_eq "OK [THROTTLED] 8 times: exit code 0" 0 "$(cat "$OUT/pace8.rc")"
check_eq "OK [THROTTLED] 8 times: the server said it 8 times" 8 "$(report pace8 throttled)"
check_eq "OK [THROTTLED] 8 times: done within 60 s (took ${pace_secs} s)" True "$(python3 -c "print($pace_secs < 60)")"
check "OK [THROTTLED] 8 times: every message there, byte for byte" fake_verify pace8
FAKE_OPTS=()

# --- connecting ---
# BYE [UNAVAILABLE] as greeting: throttled, retried (--reconnects)
FAKE_OPTS=(--max-conns 2)
fake busy busy --reconnects 1
check_eq "BYE [UNAVAILABLE] at greeting: error throttled" throttled "$(flow_field "$OUT/busy.out" error)"
check_contains "BYE [UNAVAILABLE] at greeting: server's words shown" "$OUT/busy.err" "Too many connections"
check_eq "BYE [UNAVAILABLE] at greeting: tried again (as the hint says)" 2 "$(report busy connections)"

# accepts the connection and says nothing
FAKE_OPTS=()
fake silent silent
check_eq "silent server: exit code 75" 75 "$(cat "$OUT/silent.rc")"
check_eq "silent server: error connect_timeout" connect_timeout "$(flow_field "$OUT/silent.out" error)"
check_contains "silent server: says it connected but got no greeting" "$OUT/silent.out" "connected, but no greeting"
check_contains "silent server: hint fits (not the firewall one)" "$OUT/silent.out" "accepted the connection but said nothing"

# the login refused with Gmail's [ALERT]: the App Password hint, whatever
# the host is called
fake alert alert-login
check_eq "[ALERT] login refused: error auth_failed" auth_failed "$(flow_field "$OUT/alert.out" error)"
check_contains "[ALERT] login refused: the App Password hint (host 127.0.0.1)" "$OUT/alert.out" "app-specific password (an App Password)"

# a trusted certificate that names another host
FAKE_OPTS=(--tls "$IR_WORK/ssl-other/cert.pem" "$IR_WORK/ssl-other/key.pem")
DOVEADM_OPTS=(-o ssl_client_ca_file="$IR_WORK/ssl-other/ca.pem")
fake wronghost ok --ssl imaps
check_eq "certificate for another host: error tls_failed" tls_failed "$(flow_field "$OUT/wronghost.out" error)"
check_contains "certificate for another host: says so" "$OUT/wronghost.err" "host name"
check_eq "certificate for another host: exit code 78" 78 "$(cat "$OUT/wronghost.rc")"
check_eq "certificate for another host: not retried" 1 "$(report wronghost connections)"
FAKE_OPTS=()
DOVEADM_OPTS=()

# --- a reset at the very start of an IMAPS connection: a cut, retried ---
# (before the ClientHello got an answer: at once after the accept, or once
# the ClientHello came; Dovecot 2.4 sees the first one while sending it)
TLS_OPTS=(--tls "$IR_WORK/ssl/cert.pem" "$IR_WORK/ssl/key.pem")
FAKE_OPTS=("${TLS_OPTS[@]}" --reset-when accept --resets 2 --max-conns 3)
fake tlsreset reset-tls --ssl imaps
check_eq "IMAPS reset at accept: exit code 0" 0 "$(cat "$OUT/tlsreset.rc")"
check_eq "IMAPS reset at accept: reconnected twice" 2 "$(flow_field "$OUT/tlsreset.out" reconnects)"
check_not_contains "IMAPS reset at accept: no certificate hint" "$OUT/tlsreset.err" "ssl_client_ca_file"
check "IMAPS reset at accept: every message there, byte for byte" fake_verify tlsreset
FAKE_OPTS=("${TLS_OPTS[@]}" --reset-when hello --resets 1 --max-conns 2)
fake tlshello reset-tls --ssl imaps
check_eq "IMAPS reset after the ClientHello: exit code 0, reconnected once" "0 1" \
	"$(cat "$OUT/tlshello.rc") $(flow_field "$OUT/tlshello.out" reconnects)"
FAKE_OPTS=("${TLS_OPTS[@]}" --reset-when accept --resets 1 --max-conns 1)
fake tlsreset0 reset-tls --ssl imaps --reconnects 0
check_eq "IMAPS reset at accept, --reconnects 0: error connection_lost, not tls_failed" connection_lost "$(flow_field "$OUT/tlsreset0.out" error)"
check_eq "IMAPS reset at accept, --reconnects 0: exit code 75" 75 "$(cat "$OUT/tlsreset0.rc")"

# --- --ssl imaps against a plain-text port: said so, not retried ---
# a real one: the source server's IMAP port
mkdir -p "$IR_WORK/empty/Maildir"/{cur,new,tmp}
ir_source_start "$IR_WORK/empty/Maildir" .
import sd notls --port "$SRC_IMAP_PORT" --ssl imaps
check_eq "--ssl imaps on a plain-text port: error tls_failed, exit code 78" "tls_failed 78" \
	"$(flow_field "$OUT/notls.out" error) $(rc notls)"
check_contains "--ssl imaps on a plain-text port: says the port does not speak TLS" "$OUT/notls.out" "this port does not speak TLS"
check_contains "--ssl imaps on a plain-text port: the hint names STARTTLS and port 993" "$OUT/notls.out" "try --ssl starttls (a plain-text IMAP port, usually 143), or port 993"
check_not_contains "--ssl imaps on a plain-text port: no certificate hint" "$OUT/notls.out" "ssl_client_ca_file"
check_eq "--ssl imaps on a plain-text port: not reconnected" 0 "$(flow_field "$OUT/notls.out" reconnects)"
# one that closes after its greeting (the EOF looked like a cut)
FAKE_OPTS=(--max-conns 3)
fake notlsclose busy --ssl imaps --reconnects 2
check_eq "--ssl imaps on a plain-text port that closes: tls_failed, one connection" "tls_failed 1" \
	"$(flow_field "$OUT/notlsclose.out" error) $(report notlsclose connections)"
FAKE_OPTS=()
# --- on a terminal: a bar redrawn in place, never wider than the
# terminal (a pty of COLS columns; slow-list makes the run last seconds) ---
bar_run() {
	local name=$1 cols=$2
	"$TOOLS/fakeimapd" --scenario slow-list --count 40 --timeout "$FAKE_TIMEOUT" \
		--report "$OUT/$name.report" --manifest "$OUT/$name.manifest" > "$OUT/$name.port" &
	local pid=$!
	ir_kill_on_exit "$pid"
	ir_dest_reset_user "$FAKE_USER"
	COLUMNS=500 script -qfec "stty cols $cols rows 24; exec doveadm -c '$DEST_CONF' \
		import-remote run -u $FAKE_USER --host 127.0.0.1 \
		--port $(port_of "$OUT/$name.port") --ssl none --user fake \
		--password-file '$IR_WORK/fake.pw' --fetch-chunk 3 >'$OUT/$name.out'" \
		/dev/null > "$OUT/$name.tty" 2>&1 </dev/null
	echo $? > "$OUT/$name.rc"
	kill "$pid" 2>/dev/null
	wait "$pid"
}
# bar_check FILE COLS: the bar's states, each at most COLS-1 wide, the
# percentages never going back, ending at 100 %
bar_check() {
	python3 - "$1" "$2" <<'PY'
import re, sys
raw = open(sys.argv[1], encoding="utf-8", errors="replace", newline="").read()
cols = int(sys.argv[2])
states = [l.rstrip(" ") for l in re.split(r"[\r\n]+", raw) if "%" in l]
assert len(states) >= 3, ("fewer than 3 redraws", states)
assert all(len(l) <= cols - 1 for l in states), [l for l in states if len(l) >= cols]
pcts = [int(re.match(r"\s*(\d+)%", l).group(1)) for l in states]
assert pcts == sorted(pcts), pcts
assert pcts[-1] == 100 and pcts[0] < 100, pcts
assert "msgs" in states[-1], states[-1]
print(len(states), pcts[:3], pcts[-1], repr(states[-1]))
PY
}
bar_run bar60 60
check_eq "terminal: exit code 0" 0 "$(cat "$OUT/bar60.rc")"
check "terminal (60 columns): redrawn in place, each state within the width, 0 to 100 % forward" \
	bar_check "$OUT/bar60.tty" 60
check "terminal (60 columns): a bar is drawn, full at the end" \
	grep -qE '100% \[=+\] 40/40 msgs' "$OUT/bar60.tty"
check "terminal (60 columns): carriage returns, not a line per state" \
	test "$(tr -cd '\r' < "$OUT/bar60.tty" | wc -c)" -ge 3
check "terminal (60 columns): the folder named" grep -q "INBOX (1/1)" "$OUT/bar60.tty"
check "terminal: every message imported" fake_verify bar60
bar_run bar30 30
check "terminal (30 columns): cut to the width" bar_check "$OUT/bar30.tty" 30
check "terminal (30 columns): the narrowest bar kept, the rest left out" \
	grep -qE '100% \[={10,}\] 40/40 msgs\s*$' "$OUT/bar30.tty"
exit 0
