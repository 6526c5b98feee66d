#!/bin/bash
# One grant for a whole tenant or domain: Microsoft 365 app-only (the client
# credentials grant) and a Google Workspace service account (a JWT signed
# RS256 with its key, sub = the user), against the tests' token service,
# which verifies the JWT's signature with the account's public key; the
# --provider presets; each refusal with its code and hint.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/oauth2.sh"
. "$TESTS_DIR/lib/pgsql.sh"
plan 65

ir_oauth2_setup 12 5
field() { flow_field "$OUT/$1.out" "$2"; }
# tenant NAME [options...]: an import of srcuser into sd with the options
tenant() {
	local name=$1
	shift
	ir_dest_reset_user sd
	doveadm -D -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 \
		--port "$SRC_IMAPS_PORT" --user srcuser "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
}

# --- Microsoft 365 app-only: the client credentials grant ---
MSECRET=m365-secret-$RANDOM$RANDOM
printf '%s\n' "$MSECRET" > "$IR_WORK/m365.secret"
# the source Dovecot checks a token is the login user's: the app's tokens
# pass as srcuser, the one mailbox of the tenant imported here
ir_oauth2_client m365-app "$MSECRET" srcuser
ir_oauth2_client plain-app "$MSECRET"
m365=(--provider microsoft --oauth2-tenant contoso.onmicrosoft.com
	--oauth2-token-url "$OAUTH2_URL/token" --oauth2-grant client-credentials
	--oauth2-client-secret-file "$IR_WORK/m365.secret")
tenant m365 "${m365[@]}" --oauth2-client-id m365-app
check_eq "microsoft app-only: exit code 0" 0 "$(rc m365)"
verify sd m365 --map "Sent Items=Sent"
check_eq "microsoft app-only: every message arrived intact" 0 "$?"
check_eq "microsoft app-only: the preset scope .default was asked for" 1 \
	"$(ir_oauth2_stat "scope:https://outlook.office365.com/.default")"
echo wrong > "$IR_WORK/wrong.secret"
tenant m365bad --provider microsoft --oauth2-token-url "$OAUTH2_URL/token" \
	--oauth2-grant client-credentials --oauth2-client-id m365-app \
	--oauth2-client-secret-file "$IR_WORK/wrong.secret"
check_eq "microsoft app-only, wrong secret: oauth2_client_invalid" oauth2_client_invalid "$(field m365bad error)"
check_eq "microsoft app-only, wrong secret: exit code 78" 78 "$(rc m365bad)"
tenant m365unauth "${m365[@]}" --oauth2-client-id plain-app
check_eq "an app without app-only access: oauth2_client_invalid" oauth2_client_invalid "$(field m365unauth error)"
check_contains "an app without app-only access: the endpoint's error named" "$OUT/m365unauth.out" \
	"unauthorized_client"
check_exit "--provider microsoft without a tenant or token URL: usage error" 64 \
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	--provider microsoft --oauth2-grant client-credentials --oauth2-client-id m365-app \
	--oauth2-client-secret-file "$IR_WORK/m365.secret"
check_exit "client credentials without a secret: usage error" 64 \
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	--oauth2-grant client-credentials --oauth2-client-id m365-app \
	--oauth2-token-url "$OAUTH2_URL/token"
check_exit "unknown --provider: usage error" 64 \
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	--provider yahoo --access-token-file "$IR_WORK/m365.secret"

# --- Microsoft 365 app-only with a certificate credential: a client
#     assertion (RFC 7523 2.2) signed with the certificate's key, checked by
#     the endpoint against the certificate registered for the app ---
mkcert() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$IR_WORK/$1.key" \
		-out "$IR_WORK/$1.crt" -subj "/CN=$1" -days 2 2>/dev/null
	chmod 600 "$IR_WORK/$1.key"
}
mkcert appcert
mkcert othercert
ir_oauth2_client m365-cert "" srcuser
ir_oauth2_client_certificate m365-cert "$IR_WORK/appcert.crt"
certline=$(sed -n 5p "$IR_WORK/appcert.key")
m365cert=(--provider microsoft --oauth2-token-url "$OAUTH2_URL/token"
	--oauth2-grant client-credentials --oauth2-client-id m365-cert)
before=$(ir_oauth2_stat client_assertion)
tenant m365cert "${m365cert[@]}" --oauth2-client-certificate-file "$IR_WORK/appcert.crt" \
	--oauth2-client-key-file "$IR_WORK/appcert.key"
check_eq "microsoft app-only with a certificate: exit code 0" 0 "$(rc m365cert)"
verify sd m365cert --map "Sent Items=Sent"
check_eq "microsoft app-only with a certificate: every message arrived intact" 0 "$?"
check_eq "certificate: one client assertion, verified by the endpoint (x5t, signature, aud, exp)" 1 \
	$(($(ir_oauth2_stat client_assertion) - before))
tenant m365othercert "${m365cert[@]}" --oauth2-client-certificate-file "$IR_WORK/othercert.crt" \
	--oauth2-client-key-file "$IR_WORK/othercert.key"
check_eq "a certificate the app does not have: oauth2_client_invalid" oauth2_client_invalid \
	"$(field m365othercert error)"
check_eq "a certificate the app does not have: exit code 78" 78 "$(rc m365othercert)"
check_contains "a certificate the app does not have: the endpoint's reason named" \
	"$OUT/m365othercert.out" "thumbprint"
check_eq "a certificate the app does not have: refused by the endpoint" 1 "$(ir_oauth2_stat client_assertion_bad)"
# the registered certificate with another key: the thumbprint matches, the
# signature does not (caught before sending when the files disagree)
check_exit "a key that is not the certificate's: usage error" 64 \
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	"${m365cert[@]}" --oauth2-client-certificate-file "$IR_WORK/appcert.crt" \
	--oauth2-client-key-file "$IR_WORK/othercert.key"
check_exit "a certificate without its key: usage error" 64 \
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	"${m365cert[@]}" --oauth2-client-certificate-file "$IR_WORK/appcert.crt"
check_exit "a certificate and a client secret: usage error" 64 \
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	"${m365cert[@]}" --oauth2-client-certificate-file "$IR_WORK/appcert.crt" \
	--oauth2-client-key-file "$IR_WORK/appcert.key" \
	--oauth2-client-secret-file "$IR_WORK/m365.secret"
check_exit "a key file that is no PEM certificate: usage error" 64 \
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	"${m365cert[@]}" --oauth2-client-certificate-file "$IR_WORK/appcert.key" \
	--oauth2-client-key-file "$IR_WORK/appcert.key"

# --- Google Workspace: a service account with domain-wide delegation ---
SA=importer@project.iam.gserviceaccount.com
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$IR_WORK/sa.key" 2>/dev/null
openssl pkey -in "$IR_WORK/sa.key" -pubout -out "$IR_WORK/sa.pub" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$IR_WORK/other.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$IR_WORK/ec.key" 2>/dev/null
ir_oauth2_service_account "$SA" "$IR_WORK/sa.pub" "https://mail.google.com/"
ir_oauth2_service_account "nodelegation@project.iam.gserviceaccount.com" "$IR_WORK/sa.pub" ""
# key_file NAME EMAIL KEY: a service account key file as Google's console
# makes it
key_file() {
	python3 - "$IR_WORK/$1.json" "$2" "$3" "$OAUTH2_URL/token" <<'PY'
import json, sys
out, email, key, uri = sys.argv[1:]
json.dump({"type": "service_account", "project_id": "project",
           "private_key_id": "0123abcd", "private_key": open(key).read(),
           "client_email": email, "client_id": "1234567890",
           "auth_uri": "https://accounts.google.com/o/oauth2/auth",
           "token_uri": uri}, open(out, "w"), indent=2)
PY
	chmod 600 "$IR_WORK/$1.json"
}
key_file sa "$SA" "$IR_WORK/sa.key"
key_file sa-wrongkey "$SA" "$IR_WORK/other.key"
key_file sa-ec "$SA" "$IR_WORK/ec.key"
key_file sa-nodeleg nodelegation@project.iam.gserviceaccount.com "$IR_WORK/sa.key"

tenant google --provider google --oauth2-service-account-file "$IR_WORK/sa.json"
check_eq "google service account: exit code 0" 0 "$(rc google)"
verify sd google --map "Sent Items=Sent"
check_eq "google service account: every message arrived intact" 0 "$?"
check_eq "google service account: one signed JWT, verified by the endpoint" 1 "$(ir_oauth2_stat jwt)"
check_eq "google service account: the preset scope https://mail.google.com/" 1 \
	"$(ir_oauth2_stat "scope:https://mail.google.com/")"
check_contains "google service account: token URL from the key file's token_uri" "$OUT/google.err" \
	"OAuth2: POST $OAUTH2_URL/token"

tenant wrongkey --provider google --oauth2-service-account-file "$IR_WORK/sa-wrongkey.json"
check_eq "another key: the endpoint refused the signature" 1 "$(ir_oauth2_stat jwt_bad_signature)"
check_eq "another key: oauth2_grant_invalid" oauth2_grant_invalid "$(field wrongkey error)"
check_contains "another key: hint names the key file" "$OUT/wrongkey.out" "Download a new key"
check_eq "another key: exit code 77" 77 "$(rc wrongkey)"

tenant nodeleg --provider google --oauth2-service-account-file "$IR_WORK/sa-nodeleg.json"
check_eq "no domain-wide delegation: oauth2_client_invalid" oauth2_client_invalid "$(field nodeleg error)"
check_contains "no domain-wide delegation: hint names the admin page" "$OUT/nodeleg.out" \
	"Domain-wide"

tenant eckey --provider google --oauth2-service-account-file "$IR_WORK/sa-ec.json"
check_eq "an EC key: oauth2_client_invalid" oauth2_client_invalid "$(field eckey error)"
check_contains "an EC key: says RS256 needs RSA" "$OUT/eckey.out" "not an RSA key"

echo '{"type": "service_account"' > "$IR_WORK/broken.json"
check_exit "a broken key file: usage error" 64 \
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	--provider google --oauth2-service-account-file "$IR_WORK/broken.json"

# --- a queued job with the service account: its key encrypted in the
#     store, the worker signs with it ---
ir_oauth2_job_store
keyline=$(sed -n 5p "$IR_WORK/sa.key")
ir_dest_reset_user md
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote start -u md --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --provider google \
	--oauth2-service-account-file "$IR_WORK/sa.json" >"$OUT/jstart.out" 2>"$OUT/jstart.err"
check_eq "start with a service account: exit code 0" 0 "$?"
job=$(flow_field "$OUT/jstart.out" job)
check_not_contains "start: the private key is not in the store file in clear" "$JOBS/jobs.db" "$keyline"
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker.log" 2>&1
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote status "${job:-0}" > "$OUT/jst.out" 2>&1
check_eq "the worker imports with the stored service account" completed "$(flow_field "$OUT/jst.out" status)"
verify md job --map "Sent Items=Sent"
check_eq "worker: every message arrived intact" 0 "$?"

# --- a queued job with the certificate credential: the key encrypted in
#     the store, the worker signs the assertion with it ---
ir_dest_reset_user md
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote start -u md --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser "${m365cert[@]}" \
	--oauth2-client-certificate-file "$IR_WORK/appcert.crt" \
	--oauth2-client-key-file "$IR_WORK/appcert.key" >"$OUT/cstart.out" 2>"$OUT/cstart.err"
check_eq "start with a certificate credential: exit code 0" 0 "$?"
job=$(flow_field "$OUT/cstart.out" job)
check_not_contains "start: the certificate's private key is not in the store file in clear" \
	"$JOBS/jobs.db" "$certline"
before=$(ir_oauth2_stat client_assertion)
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/cworker.log" 2>&1
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote status "${job:-0}" > "$OUT/cst.out" 2>&1
check_eq "the worker imports with the stored certificate credential" completed \
	"$(flow_field "$OUT/cst.out" status)"
check_eq "worker: it signed a client assertion" 1 $(($(ir_oauth2_stat client_assertion) - before))
verify md cjob --map "Sent Items=Sent"
check_eq "worker with a certificate: every message arrived intact" 0 "$?"

# --- the tenant as a batch with the app's grant: a worker going through
#     it asks for the app's token once, not once per mailbox ---
for u in sd md sdq; do ir_dest_reset_user "$u"; done
printf 'source_email,destination_user\nsrcuser,sd\nsrcuser,md\nsrcuser,sdq\n' > "$IR_WORK/tenant.csv"
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote batch create --csv "$IR_WORK/tenant.csv" \
	--host 127.0.0.1 --port "$SRC_IMAPS_PORT" "${m365[@]}" --oauth2-client-id m365-app \
	>"$OUT/batch.out" 2>"$OUT/batch.err"
check_eq "batch with the app's grant: exit code 0" 0 "$?"
batch=$(flow_field "$OUT/batch.out" batch)
check_not_contains "batch: the client secret is not in the store file in clear" "$JOBS/jobs.db" "$MSECRET"
# forget_app_tokens: the app's tokens the workers share through the store
# dropped, so that the next worker must ask
forget_app_tokens() {
	python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1]); c.execute("delete from import_remote_oauth2_app_tokens"); c.commit()' "$JOBS/jobs.db"
}
# the app's token that earlier imports left in the store for every worker
check "the app's token is kept in the store for the other workers" test \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_oauth2_app_tokens where secret != '' and expires > strftime('%s','now')")" -ge 1
check_not_contains "the app's token is not in the store file in clear" "$JOBS/jobs.db" "tok-"
forget_app_tokens
before=$(ir_oauth2_stat token)
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/bworker.log" 2>&1
check_eq "batch: its 3 jobs completed" 3 \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where batch_id = ${batch:-0} and status = 'completed'")"
check_eq "batch: one token request for its 3 mailboxes (the app's token shared)" 1 \
	$(($(ir_oauth2_stat token) - before))

# two_workers STORE NAME: two one-shot workers of the store started at once,
# until both end (their logs $OUT/NAME1.log and NAME2.log)
two_workers() {
	local w1
	"$WORKER" -c "$DEST_CONF" -s "$1" -K "$KEY" -1 > "$OUT/${2}1.log" 2>&1 &
	w1=$!
	"$WORKER" -c "$DEST_CONF" -s "$1" -K "$KEY" -1 > "$OUT/${2}2.log" 2>&1
	wait "$w1"
}

# --- the same batch through two workers at once: one token request for
#     both (the first asks, the other waits for its token in the store) ---
for u in sd md sdq; do ir_dest_reset_user "$u"; done
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote batch create --csv "$IR_WORK/tenant.csv" \
	--host 127.0.0.1 --port "$SRC_IMAPS_PORT" "${m365[@]}" --oauth2-client-id m365-app \
	>"$OUT/batch2.out" 2>"$OUT/batch2.err"
batch=$(flow_field "$OUT/batch2.out" batch)
forget_app_tokens
before=$(ir_oauth2_stat token)
two_workers "$STORE" b2worker
check_eq "two workers: the batch's 3 jobs completed" 3 \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where batch_id = ${batch:-0} and status = 'completed'")"
check "two workers: both ran jobs of the batch" test \
	"$(sqlite_value "$JOBS/jobs.db" "select count(distinct substr(worker, 1, instr(worker, '/'))) from import_remote_jobs where batch_id = ${batch:-0}")" -eq 2
check_eq "two workers: one token request between them (the token shared through the store)" 1 \
	$(($(ir_oauth2_stat token) - before))

# --- the same with a PostgreSQL store (the store of a fleet of backends):
#     two workers, one token request ---
pgdir=$IR_WORK/pgsql
if ir_pgsql_start "$pgdir"; then
	chmod 755 "$pgdir"
	PSTORE="pgsql:$PGSQL_CONNECT"
	pg() { psql -X -q -A -t -h "$pgdir" -U postgres -d postgres -c "$1"; }
	for u in sd md sdq; do ir_dest_reset_user "$u"; done
	ir_set_opt PJOPTS "import_remote_store=$PSTORE" "import_remote_key_file=$KEY"
	doveadm -c "$DEST_CONF" "${PJOPTS[@]}" import-remote batch create --csv "$IR_WORK/tenant.csv" \
		--host 127.0.0.1 --port "$SRC_IMAPS_PORT" "${m365[@]}" --oauth2-client-id m365-app \
		>"$OUT/pbatch.out" 2>"$OUT/pbatch.err"
	check_eq "PostgreSQL store: the batch is created" 0 "$?"
	batch=$(flow_field "$OUT/pbatch.out" batch)
	before=$(ir_oauth2_stat token)
	two_workers "$PSTORE" pworker
	check_eq "PostgreSQL store, two workers: the batch's 3 jobs completed" 3 \
		"$(pg "select count(*) from import_remote_jobs where batch_id = ${batch:-0} and status = 'completed'")"
	check "PostgreSQL store, two workers: both ran jobs of the batch" test \
		"$(pg "select count(distinct split_part(worker, '/', 1)) from import_remote_jobs where batch_id = ${batch:-0}")" -eq 2
	check_eq "PostgreSQL store, two workers: one token request between them" 1 \
		$(($(ir_oauth2_stat token) - before))
	ir_pgsql_stop "$pgdir"
else
	fail "PostgreSQL store: PostgreSQL could not be started"
	skip 3 "no PostgreSQL"
fi

# --- the same batch with the certificate credential: the key encrypted in
#     each job, one assertion for the 3 mailboxes ---
for u in sd md sdq; do ir_dest_reset_user "$u"; done
doveadm -c "$DEST_CONF" "${JOPTS[@]}" import-remote batch create --csv "$IR_WORK/tenant.csv" \
	--host 127.0.0.1 --port "$SRC_IMAPS_PORT" "${m365cert[@]}" \
	--oauth2-client-certificate-file "$IR_WORK/appcert.crt" \
	--oauth2-client-key-file "$IR_WORK/appcert.key" >"$OUT/cbatch.out" 2>"$OUT/cbatch.err"
check_eq "batch with the certificate credential: exit code 0" 0 "$?"
batch=$(flow_field "$OUT/cbatch.out" batch)
forget_app_tokens
before=$(ir_oauth2_stat client_assertion)
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/cbworker.log" 2>&1
check_eq "certificate batch: its 3 jobs completed" 3 \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where batch_id = ${batch:-0} and status = 'completed'")"
check_eq "certificate batch: one client assertion for its 3 mailboxes (the app's token shared)" 1 \
	$(($(ir_oauth2_stat client_assertion) - before))
check_not_contains "certificate batch: the key is not in the store file in clear" "$JOBS/jobs.db" "$certline"

# --- no secret in any output or log (debug logs included) ---
check_not_logged "the app's client secret in no output or log" "$MSECRET" "$OUT" \
	"$IR_WORK/dst/log" "$IR_WORK/oauth2-server.log"
check_not_logged "the service account's private key in no output or log" "$keyline" "$OUT" \
	"$IR_WORK/dst/log" "$IR_WORK/oauth2-server.log"
check_not_logged "the certificate's private key in no output or log" "$certline" "$OUT" \
	"$IR_WORK/dst/log" "$IR_WORK/oauth2-server.log"
ir_oauth2_curl "$OAUTH2_URL/admin/assertions" > "$IR_WORK/assertions"
assertion=$(sed -n 1p "$IR_WORK/assertions")
check_not_logged "the client assertion (JWT) in no output or log" "${assertion:-missing}" "$OUT" \
	"$IR_WORK/dst/log" "$IR_WORK/oauth2-server.log"
