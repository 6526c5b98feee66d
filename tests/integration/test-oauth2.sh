#!/bin/bash
# Signing in to the source with an OAuth2 access token: SASL OAUTHBEARER
# and XOAUTH2 against a real Dovecot that checks each token at the tests'
# own token service (tests/tools/oauth2-server, HTTPS with the test CA); a
# rejected token's challenge decoded and named; the token never on argv,
# in a log, the output or the store in clear.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/oauth2.sh"
plan 48

ir_oauth2_setup 12 21
SRC_LOG=$IR_WORK/src/log

# run NAME DEST_USER [options...]: an import with a token, debug logging on
trun() {
	local name=$1 u=$2; shift 2
	ir_dest_reset_user "$u"
	doveadm -D -c "$DEST_CONF" import-remote run -u "$u" --host 127.0.0.1 \
		--port "$SRC_IMAPS_PORT" --user srcuser "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
}

# --- a valid token: OAUTHBEARER, the standard, chosen from AUTH= ---
TOKEN=$(ir_oauth2_issue srcuser 3600)
check "the token service issues a token" test -n "$TOKEN"
printf '%s\n' "$TOKEN" > "$IR_WORK/token"; chmod 600 "$IR_WORK/token"
trun bearer sd --access-token-file "$IR_WORK/token"
check_eq "oauthbearer: exit code 0" 0 "$(rc bearer)"
verify sd bearer --map "Sent Items=Sent"
check_eq "oauthbearer: every message arrived intact" 0 "$?"
check_contains "oauthbearer: the source logged in with OAUTHBEARER" "$SRC_LOG/dovecot-info.log" \
	"method=OAUTHBEARER"
check_contains "oauthbearer: the session said AUTHENTICATE OAUTHBEARER" "$OUT/bearer.err" \
	"AUTHENTICATE ..."
check "oauthbearer: the source asked the token service" \
	test "$(ir_oauth2_stat introspect)" -ge 1

# --- XOAUTH2 forced, the token on standard input ---
: > "$SRC_LOG/dovecot-info.log"
ir_dest_reset_user md
doveadm -D -c "$DEST_CONF" import-remote run -u md --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --auth-mechanism xoauth2 \
	--access-token-stdin <"$IR_WORK/token" >"$OUT/xo.out" 2>"$OUT/xo.err"
check_eq "xoauth2 (stdin): exit code 0" 0 "$?"
verify md xo --map "Sent Items=Sent"
check_eq "xoauth2: every message arrived intact" 0 "$?"
check_contains "xoauth2: the source logged in with XOAUTH2" "$SRC_LOG/dovecot-info.log" \
	"method=XOAUTH2"
check_not_contains "xoauth2: not with OAUTHBEARER" "$SRC_LOG/dovecot-info.log" \
	"method=OAUTHBEARER"

# --- four connections: the extra ones log in with the same token (before
# the first folder runs, its mail read: a token renewed meanwhile would
# leave them the old one) ---
: > "$SRC_LOG/dovecot-info.log"
trun k4 sd --access-token-file "$IR_WORK/token" --connections 4
check_eq "oauthbearer, 4 connections: exit code 0" 0 "$(rc k4)"
verify sd k4 --map "Sent Items=Sent"
check_eq "oauthbearer, 4 connections: every message arrived intact" 0 "$?"
check_contains "oauthbearer, 4 connections: all opened" "$OUT/k4.err" \
	"Connections to the source opened: 3 more, 4 of 4"
check_eq "oauthbearer, 4 connections: 4 logins with OAUTHBEARER at the source" 4 \
	"$(grep 'method=OAUTHBEARER' "$SRC_LOG/dovecot-info.log" | grep -vcE 'Aborted|failed|Disconnected')"
# (its bodies may be asked for with its list before: they wait unread)
first_runs=$(grep -nm1 'Duplicate index of ' "$OUT/k4.err" | cut -d: -f1)
opened=$(grep -n 'Connections to the source opened: 3 more, 4 of 4' "$OUT/k4.err" | cut -d: -f1)
check "oauthbearer, 4 connections: logged in (log line ${opened:-none}) before the first folder ran (line ${first_runs:-none})" \
	test "${opened:-99999}" -lt "${first_runs:-0}"

# --- rejected tokens: each exchange ended properly, the reason named ---
ir_oauth2_admin revoke "$TOKEN"
trun revoked sd --access-token-file "$IR_WORK/token"
check_eq "revoked (oauthbearer): exit code 77" 77 "$(rc revoked)"
check_eq "revoked: error token_rejected" token_rejected "$(flow_field "$OUT/revoked.out" error)"
check_contains "revoked: the title" "$OUT/revoked.err" "OAuth2 access token rejected"
check_contains "revoked: the challenge's status decoded" "$OUT/revoked.out" "status=invalid_token"
check_contains "revoked: the hint says to get a new token" "$OUT/revoked.out" "Get a new access token"
check_contains "revoked: the server answered the ended exchange with its NO" "$OUT/revoked.out" \
	"[AUTHENTICATIONFAILED]"
check_not_contains "revoked: no protocol complaint from the server" "$OUT/revoked.err" \
	"Server complained"

EXPIRED=$(ir_oauth2_issue srcuser 3600)
ir_oauth2_admin expire "$EXPIRED"
printf '%s\n' "$EXPIRED" > "$IR_WORK/expired"
trun expired sd --access-token-file "$IR_WORK/expired" --auth-mechanism xoauth2
check_eq "expired (xoauth2): exit code 77" 77 "$(rc expired)"
check_eq "expired: error token_rejected" token_rejected "$(flow_field "$OUT/expired.out" error)"
check_contains "expired: XOAUTH2's status and scope decoded" "$OUT/expired.out" \
	"status=401 scope=mail"
check_not_contains "expired: no protocol complaint" "$OUT/expired.err" "Server complained"

OTHER=$(ir_oauth2_issue someoneelse 3600)
printf '%s\n' "$OTHER" > "$IR_WORK/other"
trun other sd --access-token-file "$IR_WORK/other"
check_eq "another user's token: error token_rejected" token_rejected \
	"$(flow_field "$OUT/other.out" error)"
check_eq "another user's token: nothing imported" 0 "$(dest_messages sd)"

# --- a server that takes no token ---
ir_dest_reset_user sd
doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 \
	--port "$DEST_IMAP_PORT" --ssl none --user sd \
	--access-token-file "$IR_WORK/expired" >"$OUT/nomech.out" 2>"$OUT/nomech.err" </dev/null
check_eq "no AUTH=OAUTHBEARER/XOAUTH2: exit code 78" 78 "$?"
check_eq "no mechanism: error auth_mechanism_unsupported" auth_mechanism_unsupported \
	"$(flow_field "$OUT/nomech.out" error)"
check_contains "no mechanism: names what the server offers" "$OUT/nomech.out" "AUTH=PLAIN"
doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 \
	--port "$DEST_IMAP_PORT" --ssl none --user sd --auth-mechanism oauthbearer \
	--access-token-file "$IR_WORK/expired" >"$OUT/nomech2.out" 2>&1 </dev/null
check_contains "forced oauthbearer: names the mechanism missing" "$OUT/nomech2.out" \
	"does not offer AUTH=OAUTHBEARER"

# --- usage: a token never on argv, never with a password ---
base=(doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --port "$SRC_IMAPS_PORT" --user srcuser)
check_exit "password and token: usage error" 64 "${base[@]}" \
	--password-file "$SRC_PASSWORD_FILE" --access-token-file "$IR_WORK/token"
check_exit "--auth-mechanism plain with a token: usage error" 64 "${base[@]}" \
	--auth-mechanism plain --access-token-file "$IR_WORK/token"
check_exit "--auth-mechanism xoauth2 without a token: usage error" 64 "${base[@]}" \
	--auth-mechanism xoauth2 --password-file "$SRC_PASSWORD_FILE"
check_exit "unknown --auth-mechanism: usage error" 64 "${base[@]}" \
	--auth-mechanism cram-md5 --access-token-file "$IR_WORK/token"
check_exit "an empty token file: refused" 65 "${base[@]}" --access-token-file /dev/null
check_exit "no --access-token option takes a value on argv" 64 "${base[@]}" \
	--access-token "$TOKEN"
# a password still goes the way it always did, and plain/login may be forced
ir_dest_reset_user sd
check_exit "password, --auth-mechanism login: exit 0" 0 "${base[@]}" \
	--password-file "$SRC_PASSWORD_FILE" --auth-mechanism login

# --- a queued job holds the token encrypted, and the worker uses it ---
ir_oauth2_job_store DOVEADM_OPTS
TOKEN2=$(ir_oauth2_issue srcuser 3600)
printf '%s\n' "$TOKEN2" > "$IR_WORK/token2"
ir_dest_reset_user mdq
doveadm -D -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote start -u mdq --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --access-token-file "$IR_WORK/token2" \
	>"$OUT/start.out" 2>"$OUT/start.err"
check_eq "start with a token: exit code 0" 0 "$?"
job=$(flow_field "$OUT/start.out" job)
check "start: the store holds no token in clear" \
	test "$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where source_password like '%$TOKEN2%' or options like '%$TOKEN2%'")" = 0
check_not_contains "start: the store file holds no token in clear" "$JOBS/jobs.db" "$TOKEN2"
check_eq "start: the job says how it signs in" 1 \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where id = ${job:-0} and options like '%auth=oauth2%'")"
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker.log" 2>&1
doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote status "${job:-0}" > "$OUT/st.out" 2>&1
check_eq "the worker imports with the stored token" completed "$(flow_field "$OUT/st.out" status)"
verify mdq worker --map "Sent Items=Sent"
check_eq "worker: every message arrived intact" 0 "$?"

# --- no token anywhere it should not be (debug logs included) ---
for t in "$TOKEN" "$EXPIRED" "$TOKEN2"; do
	check_not_logged "token ${t:0:8}… in no output or log" "$t" "$OUT" \
		"$IR_WORK/dst/log" "$IR_WORK/oauth2-server.log"
done
