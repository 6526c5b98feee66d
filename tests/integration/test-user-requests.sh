#!/bin/bash
# Users drive their own imports over IMAP METADATA (the mail plugin,
# import_remote_user_requests = yes), as a webmail does with the user's own
# IMAP session: a request entry queues an import as "start" does, the
# worker runs it, the history entry shows its progress and result; cancel
# and retry act on the user's own jobs only; malformed, oversized,
# guarded (private address, plain text) and too many requests are
# answered NO with the catalogue's title; the password is never readable
# back nor logged.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/oauth2.sh"
plan 82
script_timeout 600
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker
META=$TOOLS/imapmeta
ENTRY=/private/vendor/vendor.dovecot/import-remote

"$TOOLS/mkcorpus" -n 30 -s 43 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
# a second source account whose folder has a hostile name (HTML, a quote,
# a backslash), made before any login reads the passwd file
HOSTILE='<img src=x onerror=alert(1)> "q" \'
hm=$IR_WORK/src/home/hostuser/Maildir
mkdir -p "$hm"/{cur,new,tmp} "$hm/.$HOSTILE"/{cur,new,tmp}
find "$IR_WORK/corpus/Maildir" -path '*/cur/*' -type f -exec cp {} "$hm/.$HOSTILE/cur/" \;
chown -R "$IR_OS_USER:" "$IR_WORK/src/home/hostuser"
echo "hostuser:{PLAIN}srcpass:$IR_UID:$IR_GID::$IR_WORK/src/home/hostuser::" >> "$IR_WORK/src/passwd"
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
# OAuth2: the tests' token service; the source checks tokens with it; the
# server's provider credentials (an app with app-only access to srcuser)
ir_oauth2_start
ir_source_oauth2
APPSECRET=app-secret-$RANDOM$RANDOM
printf '%s\n' "$APPSECRET" > "$JOBS/app.secret"
ir_oauth2_client server-app "$APPSECRET" srcuser
ir_oauth2_client user-app
IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = sqlite:$JOBS/jobs.db" \
	"import_remote_key_file = $JOBS/key" \
	"import_remote_allowed_networks = 127.0.0.0/8" \
	"import_remote_allow_plaintext = no" \
	"import_remote_user_requests = yes" \
	"import_remote_user_request_oauth2 = yes" \
	"import_remote_source_host = 127.0.0.1" \
	"import_remote_source_port = $SRC_IMAPS_PORT" \
	"import_remote_source_oauth2_grant = client_credentials" \
	"import_remote_source_oauth2_token_url = $OAUTH2_URL/token" \
	"import_remote_source_oauth2_client_id = server-app" \
	"import_remote_source_oauth2_client_secret_file = $JOBS/app.secret")"
# the mail plugin, and METADATA kept in a file in the home
ir_dest_conf_mail_plugin
export IR_DEST_EXTRA_CONF
ir_dest_start
chown "$IR_OS_USER:" "$JOBS"

add_user() {
	local h=$IR_WORK/dst/home/$1
	mkdir -p "$h"; chown "$IR_OS_USER:" "$h"
	echo "$1:{PLAIN}destpass:$IR_UID:$IR_GID::$h::$(ir_userdb_mail sdbox '~/sdbox') ${2:-}" >> "$IR_WORK/dst/passwd"
}
for u in u1 u2 u3 u4 u5 u6 a1 r1 r2 x1 h1; do add_user "$u"; done
# the same address as on the old server (a domain that moves)
add_user srcuser
add_user s2 "userdb_import_remote_user_request_oauth2=no"
add_user off "userdb_import_remote_user_requests=no"

jobs_of() { sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where username = ?" "$1"; }
status_of() { sqlite_value "$JOBS/jobs.db" "select status from import_remote_jobs where username = ? order by id desc limit 1" "$1"; }
last_job() { sqlite_value "$JOBS/jobs.db" "select id from import_remote_jobs where username = ? order by id desc limit 1" "$1"; }
worker() { timeout -k 5 120 "$WORKER" -c "$DEST_CONF" -1 > "$OUT/worker.$1" 2>&1; }
# value NAME CONTENT: a value file (mode 600: it may hold a password)
value() { ( umask 077; printf '%s' "$2" > "$IR_WORK/$1.value" ); echo "$IR_WORK/$1.value"; }
# meta USER get|set|poll ENTRY [FILE] [options]
meta() { local u=$1; shift; "$META" --port "$DEST_IMAP_PORT" --user "$u" "$@"; }
request() {
	printf '{"host":"127.0.0.1","port":%s,"security":"%s","user":"srcuser","password":"%s","newest_first":true%s}' \
		"$SRC_IMAPS_PORT" "${2:-imaps}" "$1" "${3:-}"
}

# --- a request queues an import, as start does ---
meta u1 set "$ENTRY/request" "$(value ok "$(request srcpass)")" > "$OUT/u1-request"
check_eq "request: OK" OK "$(cat "$OUT/u1-request")"
check_eq "request: one job queued for the user" "1 queued" "$(jobs_of u1) $(status_of u1)"
check_eq "request: the job is for the source asked" "srcuser 127.0.0.1 $SRC_IMAPS_PORT imaps" \
	"$(sqlite_value "$JOBS/jobs.db" "select source_user || ' ' || source_host || ' ' || source_port || ' ' || source_ssl from import_remote_jobs where username = 'u1'")"
check "request: the password is stored encrypted" test "$(sqlite_value "$JOBS/jobs.db" "select source_password like 'v2:%' from import_remote_jobs where username = 'u1'")" = 1
meta u1 get "$ENTRY/request" > "$OUT/u1-request-get"
check_eq "request: never readable back" NIL "$(cat "$OUT/u1-request-get")"
meta u1 get "$ENTRY/history" > "$OUT/u1-history-queued"
check_contains "history: the queued job" "$OUT/u1-history-queued" '"status":"queued"'
check_not_contains "history: no password" "$OUT/u1-history-queued" srcpass
# one live job a user
meta u1 set "$ENTRY/request" "$(value ok "$(request srcpass)")" > "$OUT/u1-request2"
check_contains "a second request while one is queued: NO, the catalogue's title" "$OUT/u1-request2" \
	"NO [CANNOT] An import is already running"
check_eq "... and nothing queued" 1 "$(jobs_of u1)"

# --- the worker runs it; the user watches it to its end ---
worker w1 &
wpid=$!
meta u1 poll "$ENTRY/history" --until '"status":"completed"' --timeout 120 > "$OUT/u1-poll"
check_eq "poll: the history reaches completed" 0 "$?"
wait "$wpid"
check_eq "the job completed" completed "$(status_of u1)"
imported=$(sqlite_value "$JOBS/jobs.db" "select imported || ' ' || skipped from import_remote_jobs where username = 'u1'")
check_contains "history: the counts" "$OUT/u1-poll" "\"imported\":${imported% *},\"skipped\":${imported#* },"
check "the destination has the source's mail" verify u1 u1-v --map "Sent Items=Sent"

# --- nobody else's jobs ---
u1_job=$(last_job u1)
meta u2 get "$ENTRY/history" > "$OUT/u2-history"
check_eq "another user's history: theirs only (empty)" "[]" "$(cat "$OUT/u2-history")"
meta u2 set "$ENTRY/cancel" "$(value id "$u1_job")" > "$OUT/u2-cancel"
check_contains "another user cancelling u1's job: NO" "$OUT/u2-cancel" "NO [CANNOT] Import request not valid: You have no such import"
meta u2 set "$ENTRY/retry" "$(value id "$u1_job")" > "$OUT/u2-retry"
check_contains "another user retrying u1's job: NO" "$OUT/u2-retry" "You have no such import"
check_eq "u1's job untouched" completed "$(status_of u1)"
meta u2 get "/shared/vendor/vendor.dovecot/import-remote/history" > "$OUT/u2-shared" 2>&1
check_not_contains "the shared namespace shows no history" "$OUT/u2-shared" '"job"'

# --- re-run: nothing twice ---
meta u1 set "$ENTRY/request" "$(value ok "$(request srcpass)")" > "$OUT/u1-rerun"
check_eq "re-run: OK" OK "$(cat "$OUT/u1-rerun")"
worker w2
check_eq "re-run: completed" completed "$(status_of u1)"
check_eq "re-run: nothing imported twice" 0 \
	"$(sqlite_value "$JOBS/jobs.db" "select imported from import_remote_jobs where username = 'u1' order by id desc limit 1")"
check "re-run: the destination still equals the source" verify u1 u1-v2 --map "Sent Items=Sent"

# --- refused requests: NO with the catalogue's title, nothing queued ---
no_request() { # NAME VALUE EXPECTED-TEXT
	meta u2 set "$ENTRY/request" "$(value "$1" "$2")" > "$OUT/u2-$1"
	check_contains "$1: NO, $3" "$OUT/u2-$1" "NO [CANNOT] $3"
}
no_request malformed '{"host":"127.0.0.1","port":' "Import request not valid"
no_request not-object '["127.0.0.1"]' "Import request not valid"
no_request nested '{"host":{"a":1},"user":"x","password":"y"}' "Import request not valid"
no_request unknown '{"host":"127.0.0.1","user":"x","password":"y","exec":"z"}' "Import request not valid: Unknown member"
no_request no-password '{"host":"127.0.0.1","user":"srcuser"}' "Import request not valid"
no_request bad-date "$(request srcpass imaps ',"since":"yesterday"')" "Import request not valid: since"
check_eq "refused requests: nothing queued" 0 "$(jobs_of u2)"
meta u3 set "$ENTRY/request" "$(value big "$(head -c 5000 /dev/zero | tr '\0' a)")" > "$OUT/u3-big"
check_contains "oversized value: NO" "$OUT/u3-big" "longer than 4096 bytes"
meta u3 set "$ENTRY/request" "$(value private '{"host":"10.0.0.1","user":"srcuser","password":"srcpass"}')" > "$OUT/u3-private"
check_contains "a private address: NO, the guard's title" "$OUT/u3-private" "NO [CANNOT] Source server not allowed"
meta u3 set "$ENTRY/request" "$(value private6 '{"host":"169.254.169.254","user":"srcuser","password":"srcpass"}')" > "$OUT/u3-link"
check_contains "the cloud metadata address: NO" "$OUT/u3-link" "NO [CANNOT] Source server not allowed"
meta u3 set "$ENTRY/request" "$(value plain "$(request srcpass none)")" > "$OUT/u3-plain"
check_contains "plain text: NO" "$OUT/u3-plain" "NO "
check_contains "plain text: said why" "$OUT/u3-plain" "Plain-text login"
check_eq "guarded requests: nothing queued" 0 "$(jobs_of u3)"
meta off set "$ENTRY/request" "$(value ok "$(request srcpass)")" > "$OUT/off-request"
check_contains "import_remote_user_requests = no: NO" "$OUT/off-request" "import_remote_user_requests"
check_eq "... nothing queued" 0 "$(jobs_of off)"

# --- 100 requests in a row: the hourly limit ---
meta u5 set "$ENTRY/request" "$(value malformed '{"host":')" --times 100 > "$OUT/u5-flood"
check_eq "100 requests: the first 10 are answered" 10 "$(grep -c 'NO \[CANNOT\] Import request not valid' "$OUT/u5-flood")"
check_eq "... the other 90 refused for the limit" 90 "$(grep -c 'NO \[CANNOT\] Too many import requests' "$OUT/u5-flood")"
meta u5 set "$ENTRY/request" "$(value ok "$(request srcpass)")" > "$OUT/u5-after"
check_contains "... a valid request too, within the hour" "$OUT/u5-after" "NO [CANNOT] Too many import requests"
check_eq "... nothing queued" 0 "$(jobs_of u5)"

# --- cancel ---
meta u4 set "$ENTRY/request" "$(value ok "$(request srcpass)")" > /dev/null
meta u4 set "$ENTRY/cancel" "$(value last last)" > "$OUT/u4-cancel"
check_eq "cancel: OK" OK "$(cat "$OUT/u4-cancel")"
check_eq "cancel: the job is cancelled" cancelled "$(status_of u4)"
meta u4 set "$ENTRY/cancel" "$(value last last)" > "$OUT/u4-cancel2"
check_contains "cancel with nothing live: NO" "$OUT/u4-cancel2" "No import is queued or running"

# --- a wrong password: the catalogue's title and hint; retry ---
meta u6 set "$ENTRY/request" "$(value wrong "$(request wrongpass)")" > /dev/null
worker w3
check_eq "wrong password: the job failed" failed "$(status_of u6)"
meta u6 get "$ENTRY/history" > "$OUT/u6-history"
check_contains "history: the error's title" "$OUT/u6-history" '"error_title":"Authentication failed"'
check_contains "history: the hint" "$OUT/u6-history" "App Password"
meta u6 set "$ENTRY/retry" "$(value last last)" > "$OUT/u6-retry"
check_eq "retry: OK" OK "$(cat "$OUT/u6-retry")"
check_eq "retry: a new job, queued" "2 queued" "$(jobs_of u6) $(status_of u6)"

# --- the password: never in a log ---
check_not_logged "no source password in any log" "srcpass" \
	"$IR_WORK/dst/log/dovecot.log" "$IR_WORK/dst/log/dovecot-info.log" "$IR_WORK/dst/log"
check_eq "... nor in the workers' output" 0 "$(cat "$OUT"/worker.* | grep -c -e srcpass -e wrongpass)"
check_contains "the request is logged (without it)" "$IR_WORK/dst/log/dovecot-info.log" \
	"queued at the user's request"

# --- OAuth2: an access token instead of a password ---
ACCESS=$(ir_oauth2_issue srcuser)
oreq() { printf '{"host":"127.0.0.1","port":%s,"user":"srcuser",%s}' "$SRC_IMAPS_PORT" "$1"; }
meta a1 set "$ENTRY/request" "$(value a1 "$(oreq "\"access_token\":\"$ACCESS\"")")" > "$OUT/a1-request"
check_eq "access token: OK" OK "$(cat "$OUT/a1-request")"
# --- a refresh token obtained elsewhere (a public client: no secret) ---
REFRESH=$(ir_oauth2_refresh srcuser user-app)
meta r1 set "$ENTRY/request" "$(value r1 "$(oreq "\"refresh_token\":\"$REFRESH\",\"client_id\":\"user-app\",\"token_url\":\"$OAUTH2_URL/token\"")")" > "$OUT/r1-request"
check_eq "refresh token: OK" OK "$(cat "$OUT/r1-request")"
sqlite_value "$JOBS/jobs.db" "select options from import_remote_jobs where username = 'r1'" > "$OUT/r1-options"
check_contains "refresh token: the job's options name the grant" "$OUT/r1-options" "oauth2_grant=refresh_token"
meta r2 set "$ENTRY/request" "$(value r2 "$(oreq "\"refresh_token\":\"$REFRESH\",\"client_id\":\"user-app\",\"token_url\":\"http://127.0.0.1:1/token\"")")" > "$OUT/r2-request"
check_contains "refresh token with a plain http endpoint: NO" "$OUT/r2-request" "NO [CANNOT]"
meta r2 set "$ENTRY/request" "$(value r3 "$(oreq "\"refresh_token\":\"$REFRESH\",\"client_id\":\"user-app\",\"token_url\":\"https://10.0.0.1/token\"")")" > "$OUT/r3-request"
check_contains "refresh token with a private-address endpoint: NO, the guard's answer at once" "$OUT/r3-request" \
	"the token endpoint 10.0.0.1 is"
check_eq "... and nothing queued" 0 "$(jobs_of r2)"
meta x1 set "$ENTRY/request" "$(value x1 "$(oreq "\"password\":\"srcpass\",\"access_token\":\"$ACCESS\"")")" > "$OUT/x1-request"
check_contains "a password and a token together: NO" "$OUT/x1-request" "Give one of password"
# --- by address alone, with the server's provider credentials ---
meta srcuser set "$ENTRY/request" "$(value s1 '{"oauth2":"server","newest_first":true}')" > "$OUT/s1-request"
check_eq "server's provider credentials: OK" OK "$(cat "$OUT/s1-request")"
check_eq "... the job is for the user's own address at the configured source" "srcuser 127.0.0.1 $SRC_IMAPS_PORT" \
	"$(sqlite_value "$JOBS/jobs.db" "select source_user || ' ' || source_host || ' ' || source_port from import_remote_jobs where username = 'srcuser'")"
meta s2 set "$ENTRY/request" "$(value s2 '{"oauth2":"server"}')" > "$OUT/s2-request"
check_contains "... refused where the admin does not allow it" "$OUT/s2-request" "does not sign in to your old provider"
meta x1 set "$ENTRY/request" "$(value x2 "{\"oauth2\":\"server\",\"user\":\"someone-else\"}")" > "$OUT/x2-request"
check_contains "... naming another mailbox: NO" "$OUT/x2-request" "give no source"
check_eq "... and nothing queued for those" 0 "$(( $(jobs_of s2) + $(jobs_of x1) ))"
worker w4
for u in a1 r1 srcuser; do
	check_eq "OAuth2 request ($u): the job completes" completed "$(status_of "$u")"
done
check "refresh token: the mailbox equals the source" verify r1 r1-v --map "Sent Items=Sent"
meta r1 get "$ENTRY/request" > "$OUT/r1-request-get"
check_eq "refresh token: never readable back" NIL "$(cat "$OUT/r1-request-get")"
meta r1 get "$ENTRY/history" > "$OUT/r1-history"
check_not_contains "history: no refresh token" "$OUT/r1-history" "$REFRESH"
check_eq "the store holds no token or secret in clear" 0 \
	"$(cat "$JOBS"/jobs.db* | grep -acF -e "$REFRESH" -e "$ACCESS" -e "$APPSECRET")"
check_not_logged "no token or app secret in any log" "$REFRESH" "$IR_WORK/dst/log" "$OUT"/worker.*
check_eq "... nor an access token or the app's secret" 0 "$(cat "$IR_WORK"/dst/log/* "$OUT"/worker.* | grep -c -e "tok-" -e "$APPSECRET")"

# --- the folder being copied: in the history while the job runs ---
# (the source account with the hostile folder name, made above) behind a
# slow link so that the job is seen in it
"$TOOLS/faultproxy" --target "127.0.0.1:$SRC_IMAPS_PORT" --rate 16k --timeout 300 --report "$IR_WORK/proxy.report" \
	> "$IR_WORK/proxy.port" 2>"$IR_WORK/proxy.err" &
ir_kill_on_exit $!
PROXY_PORT=$(port_of "$IR_WORK/proxy.port")
meta h1 set "$ENTRY/request" "$(value h1 "{\"host\":\"127.0.0.1\",\"port\":$PROXY_PORT,\"user\":\"hostuser\",\"password\":\"srcpass\"}")" > "$OUT/h1-request"
check_eq "hostile folder name: request OK" OK "$(cat "$OUT/h1-request")"
worker wh &
wpid=$!
meta h1 poll "$ENTRY/history" --until '"folder":"<img' --timeout 60 > "$OUT/h1-poll"
check_eq "history: the folder being copied is seen while the job runs" 0 "$?"
USER=nosuchuser timeout -k 5 60 doveadm -c "$DEST_CONF" import-remote status -u h1 > "$OUT/h1-status" 2>&1
USER=nosuchuser timeout -k 5 60 doveadm -c "$DEST_CONF" -f tab import-remote jobs --status running > "$OUT/h1-jobs" 2>&1
timeout -k 5 120 doveadm -c "$DEST_CONF" import-remote watch -u h1 "$(last_job h1)" > "$OUT/h1-watch" 2>&1 &
watchpid=$!
wait "$wpid"
wait "$watchpid"
check_eq "... its name exactly as the source has it (JSON-escaped, running)" "running|$HOSTILE" \
	"$(tail -1 "$OUT/h1-poll" | python3 -c 'import json,sys; j=json.load(sys.stdin)[0]; print(j["status"] + "|" + j["folder"])')"
check_contains "... escaped in the JSON as JSON escapes it" "$OUT/h1-poll" '"folder":"<img src=x onerror=alert(1)> \"q\" \\"'
check_contains "status: the folder column while it runs" "$OUT/h1-status" "folder=$HOSTILE"
check_contains "watch: the folder in its progress lines" "$OUT/h1-watch" ": $HOSTILE]"
check_contains "jobs: the folder column while it runs" "$OUT/h1-jobs" "$HOSTILE"
check_eq "... the job completed" completed "$(status_of h1)"
meta h1 get "$ENTRY/history" > "$OUT/h1-history"
check_contains "history: no folder once the job has ended" "$OUT/h1-history" '"folder":""'
