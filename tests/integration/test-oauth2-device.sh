#!/bin/bash
# The OAuth2 device authorization grant (RFC 8628): `doveadm import-remote
# authorize` asks the tests' token service for a code, prints where to enter
# it, polls (honouring interval and slow_down) until the test approves, and
# keeps the refresh token in the job store, encrypted; `run` and `start`
# (the worker) with --oauth2-authorized then sign in with it against the
# source Dovecot checking tokens, a rotated token kept. Denied and expired
# sign-ins each give their code; no token or secret in the clear anywhere.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/oauth2.sh"
plan 35

"$TOOLS/mkcorpus" -n 12 -s 5 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start
ir_oauth2_start
ir_source_oauth2

SECRET=device-secret-$RANDOM$RANDOM
printf '%s\n' "$SECRET" > "$IR_WORK/secret"
ir_oauth2_client tv-app "$SECRET"
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"; chown "$IR_OS_USER:" "$JOBS"
STORE=sqlite:$JOBS/jobs.db
KEY=$JOBS/key
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker
JOPTS=()
ir_set_opt JOPTS "import_remote_store=$STORE" "import_remote_key_file=$KEY"
field() { flow_field "$OUT/$1.out" "$2"; }

# authorize NAME DEST_USER [options...] in the background; $apid
authorize() {
	local name=$1 u=$2
	shift 2
	( doveadm -D -c "$DEST_CONF" "${JOPTS[@]}" import-remote authorize -u "$u" \
		--oauth2-device-url "$OAUTH2_URL/device" \
		--oauth2-token-url "$OAUTH2_URL/token" --oauth2-client-id tv-app \
		--oauth2-client-secret-file "$IR_WORK/secret" --oauth2-scope "mail offline_access" "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	  echo $? > "$OUT/$name.rc" ) &
	apid=$!
	ir_kill_on_exit "$apid"
}
# the user code once printed
user_code() {
	local i
	for i in $(seq 1 100); do
		grep -q 'user_code=' "$OUT/$1.out" 2>/dev/null && break
		sleep 0.1
	done
	field "$1" user_code
}
approve() {
	ir_oauth2_curl --data-urlencode "user_code=$1" --data-urlencode "user=${2:-srcuser}" \
		"$OAUTH2_URL/admin/device_${3:-approve}" >/dev/null
}

# --- approved, after one slow_down: the refresh token kept ---
ir_oauth2_config device_interval=1 slow_down=1
authorize ok md
code=$(user_code ok)
check "authorize prints the user code" test -n "$code"
check_contains "authorize prints the verification URI" "$OUT/ok.out" \
	"verification_uri=$OAUTH2_URL/verify"
check_contains "authorize prints the complete verification URI" "$OUT/ok.out" \
	"verification_uri_complete=$OAUTH2_URL/verify?code=$code"
sleep 2
ps -eo args > "$IR_WORK/ps.txt"
check "authorize still waits before the approval" kill -0 "$apid"
approve "$code"
wait "$apid"
check_eq "authorize: exit code 0 once approved" 0 "$(rc ok)"
check_eq "the service got the slow_down through" 1 "$(ir_oauth2_stat device_slow_down)"
check_eq "no poll sooner than the interval (+5 s after slow_down)" 0 "$(ir_oauth2_stat device_too_fast)"
check_eq "one grant of tokens" 1 "$(ir_oauth2_stat device_granted)"
check_contains "authorize says the token is kept" "$OUT/ok.err" "Signed in"
check_eq "the store holds one grant for md" 1 \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_oauth2_grants where username = 'md' and client_id = 'tv-app'")"
ir_oauth2_curl "$OAUTH2_URL/admin/device_tokens" > "$IR_WORK/granted"
RT=$(grep '^rt-' "$IR_WORK/granted" | head -1)
check "the granted refresh token is known to the test" test -n "$RT"
check_not_contains "no refresh token in the store file in clear" "$JOBS/jobs.db" "$RT"
check_not_contains "no client secret in the store file in clear" "$JOBS/jobs.db" "$SECRET"
check_contains "ps while authorize waits: it is listed (control)" "$IR_WORK/ps.txt" \
	"import-remote authorize -u md"
check_not_contains "ps while authorize waits: no client secret" "$IR_WORK/ps.txt" "$SECRET"

# --- run with the kept grant, the refresh token rotated and kept again ---
ir_oauth2_config rotate=1
ct1=$(sqlite_value "$JOBS/jobs.db" "select secret from import_remote_oauth2_grants where username = 'md'")
ir_dest_reset_user md
doveadm -D -c "$DEST_CONF" "${JOPTS[@]}" import-remote run -u md --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --oauth2-authorized \
	>"$OUT/run.out" 2>"$OUT/run.err" </dev/null
check_eq "run --oauth2-authorized: exit code 0" 0 "$?"
verify md run --map "Sent Items=Sent"
check_eq "run --oauth2-authorized: every message arrived intact" 0 "$?"
check_contains "run: the login was OAUTHBEARER" "$IR_WORK/src/log/dovecot-info.log" \
	"method=OAUTHBEARER"
ct2=$(sqlite_value "$JOBS/jobs.db" "select secret from import_remote_oauth2_grants where username = 'md'")
check "run: the rotated refresh token was kept" test -n "$ct2" -a "$ct1" != "$ct2"

# --- start + worker with the kept (rotated) grant ---
invalid_before=$(ir_oauth2_stat token_invalid_grant)
ir_dest_reset_user md
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote start -u md --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --oauth2-authorized \
	>"$OUT/start.out" 2>"$OUT/start.err" </dev/null
check_eq "start --oauth2-authorized: exit code 0" 0 "$?"
job=$(field start job)
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker.log" 2>&1
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote status "${job:-0}" > "$OUT/jst.out" 2>&1
check_eq "worker: the job completes with the kept grant" completed "$(field jst status)"
check_eq "worker: no spent refresh token sent" 0 $(($(ir_oauth2_stat token_invalid_grant) - invalid_before))
verify md job --map "Sent Items=Sent"
check_eq "worker: every message arrived intact" 0 "$?"

# --- a user without a kept grant ---
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote run -u sd --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --oauth2-authorized \
	>"$OUT/none.out" 2>"$OUT/none.err" </dev/null
check_eq "run --oauth2-authorized without a grant: exit code 77" 77 "$?"
check_contains "without a grant: says to sign in first" "$OUT/none.err" "sign in first"

# --- a store of schema 25 (before the grants' table) is upgraded ---
python3 - "$JOBS/jobs.db" "$JOBS/v25.db" <<'PY'
import shutil, sqlite3, sys
shutil.copy(sys.argv[1], sys.argv[2])
db = sqlite3.connect(sys.argv[2])
db.execute("DROP TABLE import_remote_oauth2_grants")
# (and what later versions added)
db.execute("ALTER TABLE import_remote_jobs DROP COLUMN current_folder")
db.execute("UPDATE import_remote_meta SET value = '25' WHERE name = 'schema_version'")
db.commit()
PY
chown "$IR_OS_USER:" "$JOBS/v25.db"
V25_OPTS=()
ir_set_opt V25_OPTS "import_remote_store=sqlite:$JOBS/v25.db" "import_remote_key_file=$KEY"
doveadm -c "$DEST_CONF" "${V25_OPTS[@]}" import-remote run -u md --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --oauth2-authorized \
	>"$OUT/v25.out" 2>"$OUT/v25.err" </dev/null
check_eq "schema 25 store: no grant kept there yet (exit code 77)" 77 "$?"
check_eq "schema 25 store: upgraded, with the grants' table" "$IR_SCHEMA_VERSION 0" \
	"$(sqlite_value "$JOBS/v25.db" "select value from import_remote_meta where name = 'schema_version'") $(sqlite_value "$JOBS/v25.db" "select count(*) from import_remote_oauth2_grants")"

# --- denied ---
authorize denied sd
code=$(user_code denied)
approve "$code" srcuser deny
wait "$apid"
check_eq "denied: exit code 77" 77 "$(rc denied)"
check_contains "denied: error oauth2_access_denied's title" "$OUT/denied.err" "Sign-in refused"
check_eq "denied: nothing kept for sd" 0 \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_oauth2_grants where username = 'sd'")"

# --- expired: the service's expired_token, and our own bound ---
ir_oauth2_config device_ttl=2
authorize expired sd
wait "$apid"
check_eq "expired: exit code 69" 69 "$(rc expired)"
check_contains "expired: the title" "$OUT/expired.err" "Sign-in code expired"

# --- no secret in any output or log ---
ir_oauth2_curl "$OAUTH2_URL/admin/device_tokens" > "$IR_WORK/granted"
check_not_logged "client secret in no output or log" "$SECRET" "$OUT" "$IR_WORK/dst/log" \
	"$IR_WORK/oauth2-server.log"
leaked=0
while read -r t; do
	[ -n "$t" ] && grep -rqF -- "$t" "$OUT" "$IR_WORK/dst/log" "$IR_WORK/oauth2-server.log" "$JOBS/jobs.db" \
		&& leaked=$((leaked + 1))
done < "$IR_WORK/granted"
check_eq "no granted token in any output, log or the store" 0 "$leaked"
check_not_contains "no device code in any output" "$OUT/ok.out" "dc-"
