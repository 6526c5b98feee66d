#!/bin/bash
# An OAuth2 refresh token grant as the source login's token source: a
# fresh access token from the tests' token endpoint (libcurl, HTTPS with the
# test CA) before the login and again at a reconnect when it has run out,
# a rotated refresh token kept, and each failure of the endpoint named.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/oauth2.sh"
plan 72

# about 1.5 MB in several folders: big enough for a cut in the middle
ir_oauth2_setup 120 7

SECRET=client-secret-$RANDOM$RANDOM
printf '%s\n' "$SECRET" > "$IR_WORK/secret"
ir_oauth2_client importer "$SECRET"
ir_oauth2_client public-app

# grant NAME DEST_USER REFRESH_TOKEN [options...]: an import with the grant
# (client "importer" and its secret unless options say else)
grant() {
	local name=$1 u=$2 rt=$3
	shift 3
	printf '%s\n' "$rt" > "$IR_WORK/$name.rt"
	ir_dest_reset_user "$u"
	doveadm -D -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote run -u "$u" \
		--host 127.0.0.1 --port "${PORT:-$SRC_IMAPS_PORT}" --user srcuser \
		--refresh-token-file "$IR_WORK/$name.rt" \
		--oauth2-token-url "${TOKEN_URL:-$OAUTH2_URL/token}" \
		--oauth2-client-id "${CLIENT:-importer}" \
		--oauth2-client-secret-file "${SECRET_FILE:-$IR_WORK/secret}" "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
}
requests() { ir_oauth2_stat token; }
field() { flow_field "$OUT/$1.out" "$2"; }
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
cuts() { python3 -c "import json,sys;print(len(json.load(open(sys.argv[1]))['cuts']))" "$OUT/$1.proxy"; }
RTS=()

# --- the grant end to end: one token request, every message there ---
RT=$(ir_oauth2_refresh srcuser importer); RTS+=("$RT")
before=$(requests)
grant basic sd "$RT"
check_eq "refresh grant: exit code 0" 0 "$(rc basic)"
verify sd basic --map "Sent Items=Sent"
check_eq "refresh grant: every message arrived intact" 0 "$?"
check_eq "refresh grant: one token request for one login" 1 $(($(requests) - before))
check_contains "refresh grant: the login was OAUTHBEARER" "$IR_WORK/src/log/dovecot-info.log" \
	"method=OAUTHBEARER"

# a public client (no secret), XOAUTH2 forced
RT=$(ir_oauth2_refresh srcuser public-app); RTS+=("$RT")
printf '\n' > "$IR_WORK/nosecret"
ir_dest_reset_user md
printf '%s\n' "$RT" | doveadm -c "$DEST_CONF" import-remote run -u md --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --refresh-token-stdin \
	--oauth2-token-url "$OAUTH2_URL/token" --oauth2-client-id public-app \
	--auth-mechanism xoauth2 >"$OUT/public.out" 2>"$OUT/public.err"
check_eq "public client, refresh token on stdin, xoauth2: exit code 0" 0 "$?"

# --- the token runs out during the import: a new one at the reconnect,
#     with the rotated refresh token (the old one is spent) ---
ir_oauth2_config rotate=1 access_ttl=3600 claimed_ttl=30
RT=$(ir_oauth2_refresh srcuser importer); RTS+=("$RT")
rot_before=$(ir_oauth2_stat rotated)
before=$(requests)
proxy rot --cut-after 400k
# (one connection: the proxy cuts the first, which then carries 400 kB)
PORT=$pport grant rotate sd "$RT" --connections 1
proxy_end
check_eq "expiring token: the link was cut once" 1 "$(cuts rot)"
check_eq "expiring token: exit code 0" 0 "$(rc rotate)"
check_eq "expiring token: reconnected once" 1 "$(field rotate reconnects)"
check_eq "expiring token: a new access token for the reconnect (2 requests)" 2 $(($(requests) - before))
check_eq "rotation: the endpoint rotated the refresh token twice" 2 $(($(ir_oauth2_stat rotated) - rot_before))
check_eq "rotation: the spent refresh token was never sent again" 0 "$(ir_oauth2_stat token_invalid_grant)"
verify sd rotate --map "Sent Items=Sent"
check_eq "expiring token: every message there once, byte for byte" 0 "$?"
check_contains "expiring token: the debug log says a new refresh token came" "$OUT/rotate.err" \
	"and a new refresh token"

# --- run keeps a rotated refresh token in the file it was given: written
#     back atomically (same mode and owner, no temporary file left), the old
#     one refused by the endpoint, a second run signs in with the file ---
ir_oauth2_config rotate=1 access_ttl=3600 claimed_ttl=3600
RT=$(ir_oauth2_refresh srcuser importer); RTS+=("$RT")
RTDIR=$IR_WORK/rtdir
mkdir -p "$RTDIR"; chmod 700 "$RTDIR"
printf '%s\n' "$RT" > "$RTDIR/alice.rt"
chown "$IR_OS_USER:" "$RTDIR/alice.rt"; chmod 640 "$RTDIR/alice.rt"
# keep NAME DEST_USER [doveadm run prefix...]: run with $RTDIR/alice.rt
keep() {
	local name=$1 u=$2
	shift 2
	ir_dest_reset_user "$u"
	"$@" doveadm -D -c "$DEST_CONF" import-remote run -u "$u" --host 127.0.0.1 \
		--port "$SRC_IMAPS_PORT" --user srcuser --refresh-token-file "$RTDIR/alice.rt" \
		--oauth2-token-url "$OAUTH2_URL/token" --oauth2-client-id importer \
		--oauth2-client-secret-file "$IR_WORK/secret" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
}
# old_refused RT: the endpoint's answer to the refresh token RT
endpoint_says() {
	ir_oauth2_curl --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$1" \
		--data-urlencode client_id=importer --data-urlencode "client_secret=$SECRET" \
		"$OAUTH2_URL/token" | python3 -c 'import json,sys;print(json.load(sys.stdin).get("error","ok"))'
}
keep keep1 sd
new1=$(head -1 "$RTDIR/alice.rt"); RTS+=("$new1")
check_eq "run keeps the rotated token: exit code 0" 0 "$(rc keep1)"
check "run keeps the rotated token: the file holds a new refresh token" \
	test -n "$new1" -a "$new1" != "$RT"
check_eq "run keeps the rotated token: the file's mode and owner kept, nothing else in its directory" \
	"640 $IR_OS_USER 1" "$(stat -c '%a %U' "$RTDIR/alice.rt") $(ls -A "$RTDIR" | wc -l)"
check_contains "run keeps the rotated token: it says where it wrote it" "$OUT/keep1.err" \
	"the new one is written to $RTDIR/alice.rt"
check_eq "the old refresh token is refused by the endpoint" invalid_grant "$(endpoint_says "$RT")"
keep keep2 md
new2=$(head -1 "$RTDIR/alice.rt"); RTS+=("$new2")
check_eq "a second run with the file: exit code 0" 0 "$(rc keep2)"
verify md keep2 --map "Sent Items=Sent"
check_eq "a second run with the file: every message arrived intact" 0 "$?"
check "a second run with the file: rotated again, kept again" test -n "$new2" -a "$new2" != "$new1"
# the directory read-only: the new token cannot be written; said, the
# import goes on, the file untouched
keep keepro sd unshare --mount --propagation private sh -c \
	'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"' "$RTDIR"
check_eq "the token file cannot be written: the import goes on (exit code 0)" 0 "$(rc keepro)"
check_contains "the token file cannot be written: a warning with the reason" "$OUT/keepro.err" \
	"writing the new one to $RTDIR/alice.rt failed"
check_eq "the token file cannot be written: the file is as it was" "$new2" "$(head -1 "$RTDIR/alice.rt")"
# a refresh token on standard input: the new one is kept nowhere, printed
# nowhere, and the warning says so
RT=$(ir_oauth2_refresh srcuser importer); RTS+=("$RT")
ir_dest_reset_user md
printf '%s\n' "$RT" | doveadm -D -c "$DEST_CONF" import-remote run -u md --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --refresh-token-stdin \
	--oauth2-token-url "$OAUTH2_URL/token" --oauth2-client-id importer \
	--oauth2-client-secret-file "$IR_WORK/secret" >"$OUT/keepstdin.out" 2>"$OUT/keepstdin.err"
check_eq "refresh token on standard input, rotated: exit code 0" 0 "$?"
check_contains "refresh token on standard input, rotated: the warning says the new one is not kept" \
	"$OUT/keepstdin.err" "the new one is not kept"
ir_oauth2_config rotate=0

# --- the server refuses a token the endpoint said was good for an hour
#     (it ended while the link stalled): one new token, once ---
ir_oauth2_config rotate=0 access_ttl=3600 claimed_ttl=3600
RT=$(ir_oauth2_refresh srcuser importer); RTS+=("$RT")
before=$(requests)
proxy stall --pause-after 400k
# (one connection: the proxy stalls the first, which then carries 400 kB)
PORT=$pport grant early sd "$RT" --stall-timeout 3 --connections 1 &
gpid=$!
ir_kill_on_exit "$gpid"
for i in $(seq 1 100); do
	[ "$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['paused'])" "$OUT/stall.proxy" 2>/dev/null)" = True ] && break
	sleep 0.1
done
ps -eo args > "$IR_WORK/ps.txt"
expired=$(ir_oauth2_curl --data-urlencode user=srcuser "$OAUTH2_URL/admin/expire_user")
wait "$gpid"
proxy_end
check_contains "ps while the import runs: the import is listed (control)" "$IR_WORK/ps.txt" \
	"import-remote run -u sd"
check_not_contains "ps while the import runs: no refresh token" "$IR_WORK/ps.txt" "$RT"
check_not_contains "ps while the import runs: no client secret" "$IR_WORK/ps.txt" "$SECRET"
check "token ended early: it was ended while the link stalled" test "${expired:-0}" -ge 1
check_eq "token ended early: exit code 0" 0 "$(rc early)"
check_eq "token ended early: 2 token requests (the refused one replaced once)" 2 $(($(requests) - before))
check_contains "token ended early: said why it asked again" "$OUT/early.err" \
	"refused the access token: asking for a new one"
verify sd early --map "Sent Items=Sent"
check_eq "token ended early: every message there once" 0 "$?"

# --- failures, each with its code ---
RT=$(ir_oauth2_refresh srcuser importer); RTS+=("$RT")
ir_oauth2_admin revoke "$RT"
grant revoked sd "$RT"
check_eq "revoked grant: exit code 77" 77 "$(rc revoked)"
check_eq "revoked grant: error oauth2_grant_invalid" oauth2_grant_invalid "$(field revoked error)"
check_contains "revoked grant: the endpoint's words" "$OUT/revoked.out" "invalid_grant"
check_contains "revoked grant: hint says sign in again" "$OUT/revoked.out" "Sign in again"
check_eq "revoked grant: nothing imported" 0 "$(dest_messages sd)"

RT=$(ir_oauth2_refresh srcuser importer); RTS+=("$RT")
echo wrong-secret > "$IR_WORK/wrong"
SECRET_FILE=$IR_WORK/wrong grant badclient sd "$RT"
check_eq "wrong client secret: exit code 78" 78 "$(rc badclient)"
check_eq "wrong client secret: error oauth2_client_invalid" oauth2_client_invalid "$(field badclient error)"
check_contains "wrong client secret: names the admin pages" "$OUT/badclient.out" "Entra admin center"

closed=$(ir_free_port)
TOKEN_URL=https://127.0.0.1:$closed/token grant down sd "$RT" --reconnects 1
check_eq "endpoint down: exit code 75" 75 "$(rc down)"
check_eq "endpoint down: error oauth2_endpoint_failed" oauth2_endpoint_failed "$(field down error)"
check_contains "endpoint down: tried again like a connection" "$OUT/down.out" \
	"gave up after 1 reconnects"

before=$(requests)
ir_oauth2_config fail=2
grant flaky sd "$RT" --reconnects 3
check_eq "endpoint 503 twice: the import goes on and completes" 0 "$(rc flaky)"
check_eq "endpoint 503 twice: 3 token requests" 3 $(($(requests) - before))

ir_oauth2_config slow=4
grant slow sd "$RT" --timeout 1 --reconnects 0
ir_oauth2_config slow=0
check_eq "endpoint too slow: error oauth2_endpoint_failed" oauth2_endpoint_failed "$(field slow error)"
check_contains "endpoint too slow: timed out" "$OUT/slow.out" "imed out"

ir_oauth2_config big=10485760
grant big sd "$RT" --reconnects 0
ir_oauth2_config big=0
check_eq "10 MB answer: error oauth2_endpoint_failed" oauth2_endpoint_failed "$(field big error)"
check_contains "10 MB answer: refused for its size" "$OUT/big.out" "answer larger than 65536 bytes"

# the outbound guard, the certificate
OPTS_SAVE=("${DOVEADM_OPTS[@]}")
DOVEADM_OPTS=()
ir_set_opt DOVEADM_OPTS "import_remote_allowed_networks=192.0.2.0/24"
grant guard sd "$RT"
check_eq "token endpoint on loopback, not allowed: source_not_allowed" source_not_allowed "$(field guard error)"
check_contains "guard: names the token endpoint" "$OUT/guard.out" "Token endpoint 127.0.0.1 resolves to"
DOVEADM_OPTS=(-o "ssl_client_ca_file=$IR_WORK/ssl-other/ca.pem")
grant untrusted sd "$RT"
check_eq "endpoint's certificate untrusted: tls_failed" tls_failed "$(field untrusted error)"
DOVEADM_OPTS=("${OPTS_SAVE[@]}")

# --- usage ---
base=(doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --port "$SRC_IMAPS_PORT"
	--user srcuser --refresh-token-file "$IR_WORK/basic.rt" --oauth2-client-id importer)
check_exit "http:// token endpoint: usage error" 64 "${base[@]}" --oauth2-token-url "http://127.0.0.1:$OAUTH2_PORT/token"
check_exit "token URL with user info: usage error" 64 "${base[@]}" --oauth2-token-url "https://u:p@127.0.0.1/token"
check_exit "refresh token without a token URL: usage error" 64 "${base[@]}"
check_exit "refresh token and password: usage error" 64 "${base[@]}" \
	--oauth2-token-url "$OAUTH2_URL/token" --password-file "$SRC_PASSWORD_FILE"
check_exit "--oauth2-* without a refresh token: usage error" 64 \
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	--password-file "$SRC_PASSWORD_FILE" --oauth2-client-id importer

# --- a queued job: the grant's secrets encrypted in the store, a rotated
#     refresh token stored again (the old one is spent) ---
ir_oauth2_job_store
sqlv() { sqlite_value "$JOBS/jobs.db" "$@"; }
ir_oauth2_config rotate=1 claimed_ttl=3600
RT=$(ir_oauth2_refresh srcuser importer); RTS+=("$RT")
printf '%s\n' "$RT" > "$IR_WORK/job.rt"
# first to a port where nothing listens yet: the token is got (and
# rotated), the connection fails, the job waits for its retry
JPORT=$(ir_free_port)
ir_dest_reset_user md
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote start -u md --host 127.0.0.1 \
	--port "$JPORT" --user srcuser --refresh-token-file "$IR_WORK/job.rt" \
	--oauth2-token-url "$OAUTH2_URL/token" --oauth2-client-id importer \
	--oauth2-client-secret-file "$IR_WORK/secret" --reconnects 0 \
	>"$OUT/jstart.out" 2>"$OUT/jstart.err"
check_eq "start with a refresh token grant: exit code 0" 0 "$?"
job=$(flow_field "$OUT/jstart.out" job)
check_eq "start: the job's options name the grant, endpoint and client" 1 \
	"$(sqlv "select count(*) from import_remote_jobs where id = ${job:-0} and options like '%oauth2_grant=refresh_token%' and options like '%oauth2_client_id=importer%'")"
check_not_contains "start: no refresh token in the store file in clear" "$JOBS/jobs.db" "$RT"
check_not_contains "start: no client secret in the store file in clear" "$JOBS/jobs.db" "$SECRET"
ct1=$(sqlv "select source_password from import_remote_jobs where id = ${job:-0}")
rot_before=$(ir_oauth2_stat rotated)
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker1.log" 2>&1
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote status "${job:-0}" > "$OUT/jst1.out" 2>&1
check_eq "worker, nothing listening: host_unreachable (the token was got)" host_unreachable \
	"$(flow_field "$OUT/jst1.out" error)"
check_eq "worker: the endpoint rotated the job's refresh token" 1 $(($(ir_oauth2_stat rotated) - rot_before))
ct2=$(sqlv "select source_password from import_remote_jobs where id = ${job:-0}")
check "worker: the job's secret was stored again (the new refresh token)" \
	test -n "$ct2" -a "$ct1" != "$ct2"
# now the source answers on that port: the retry signs in with the stored,
# rotated refresh token (the first one is spent)
"$TOOLS/faultproxy" --port "$JPORT" --target "127.0.0.1:$SRC_IMAPS_PORT" \
	--report "$OUT/jproxy.report" > "$OUT/jproxy.port" &
jppid=$!
ir_kill_on_exit "$jppid"
port_of "$OUT/jproxy.port" >/dev/null
sqlv "select count(*) from import_remote_jobs" >/dev/null
python3 -c 'import sqlite3,sys;db=sqlite3.connect(sys.argv[1]);db.execute("update import_remote_jobs set retry_at = 0");db.commit()' "$JOBS/jobs.db"
invalid_before=$(ir_oauth2_stat token_invalid_grant)
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker2.log" 2>&1
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote status "${job:-0}" > "$OUT/jst2.out" 2>&1
kill "$jppid" 2>/dev/null
check_eq "worker, the retry: the job completes with the rotated refresh token" completed \
	"$(flow_field "$OUT/jst2.out" status)"
check_eq "worker, the retry: the spent refresh token was not sent" 0 \
	$(($(ir_oauth2_stat token_invalid_grant) - invalid_before))
verify md job --map "Sent Items=Sent"
check_eq "worker: every message arrived intact" 0 "$?"
check_not_logged "the worker's logs hold no secret" "$SECRET" "$OUT/worker1.log" "$OUT/worker2.log"

# --- no secret in any output or log (debug logs included) ---
check_not_logged "client secret in no output or log" "$SECRET" "$OUT" "$IR_WORK/dst/log" \
	"$IR_WORK/oauth2-server.log"
leaked=0
for rt in "${RTS[@]}"; do
	grep -rqF -- "$rt" "$OUT" "$IR_WORK/dst/log" "$IR_WORK/oauth2-server.log" && leaked=$((leaked + 1))
done
check_eq "none of ${#RTS[@]} refresh tokens in any output or log" 0 "$leaked"
