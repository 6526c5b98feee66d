#!/bin/bash
# Automatic imports (the mail plugin) with OAuth2: the provider's
# credentials in the configuration (Microsoft 365 app-only client
# credentials, a Google service account key file), per user only the old
# address in userdb. A login queues the job with the grant's secrets
# encrypted in it, as start does; the worker asks the tests' token service
# for the user's token and imports from a source Dovecot that checks it;
# no secret in any log (mail_debug too), the store or the METADATA state.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/oauth2.sh"
plan 36
script_timeout 600
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker
CLIENT=$TOOLS/mailclient

"$TOOLS/mkcorpus" -n 12 -s 43 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_oauth2_start
ir_source_oauth2
JOBS=$IR_WORK/jobs
SECRETS=$IR_WORK/provider
mkdir -p "$JOBS" "$SECRETS"

# the provider's credentials: the app's client secret, a service
# account's key file (readable by the mail processes, which queue)
MSECRET=m365-secret-$RANDOM$RANDOM
printf '%s\n' "$MSECRET" > "$SECRETS/m365.secret"
echo wrong-secret > "$SECRETS/wrong.secret"
ir_oauth2_client m365-app "$MSECRET" srcuser
SA=importer@project.iam.gserviceaccount.com
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$SECRETS/sa.key" 2>/dev/null
openssl pkey -in "$SECRETS/sa.key" -pubout -out "$SECRETS/sa.pub" 2>/dev/null
ir_oauth2_service_account "$SA" "$SECRETS/sa.pub" "https://mail.google.com/"
python3 - "$SECRETS/sa.json" "$SA" "$SECRETS/sa.key" "$OAUTH2_URL/token" <<'PY'
import json, sys
out, email, key, uri = sys.argv[1:]
json.dump({"type": "service_account", "private_key_id": "0123abcd",
           "private_key": open(key).read(), "client_email": email,
           "token_uri": uri}, open(out, "w"), indent=2)
PY
# a line of the key, looked for in the logs and the store
keyline=$(sed -n 5p "$SECRETS/sa.key")
# Microsoft app-only with a certificate credential (no secret)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$SECRETS/app.key" \
	-out "$SECRETS/app.crt" -subj "/CN=m365-cert" -days 2 2>/dev/null
ir_oauth2_client m365-cert "" srcuser
ir_oauth2_client_certificate m365-cert "$SECRETS/app.crt"
certline=$(sed -n 5p "$SECRETS/app.key")
chmod 600 "$SECRETS"/*
chown -R "$IR_OS_USER:" "$SECRETS" "$JOBS"

IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = sqlite:$JOBS/jobs.db" \
	"import_remote_key_file = $JOBS/key" \
	"import_remote_allowed_networks = 127.0.0.0/8" \
	"import_remote_source_host = 127.0.0.1" \
	"import_remote_source_port = $SRC_IMAPS_PORT" \
	"import_remote_source_oauth2_grant = client_credentials" \
	"import_remote_source_oauth2_client_id = m365-app" \
	"import_remote_source_oauth2_client_secret_file = $SECRETS/m365.secret" \
	"import_remote_source_provider = microsoft" \
	"import_remote_source_oauth2_tenant = contoso.onmicrosoft.com")"
# the scope and the token endpoint come from the provider preset (the
# endpoint: the tests' own, a userdb field, for the users that import)
TOKEN_URL="userdb_import_remote_source_oauth2_token_url=$OAUTH2_URL/token"
# the mail plugin, and METADATA kept in a file in the home
ir_dest_conf_mail_plugin
# every log line of the logins that queue, debug included, is checked
IR_DEST_EXTRA_CONF="$IR_DEST_EXTRA_CONF
mail_debug = yes"
export IR_DEST_EXTRA_CONF
ir_dest_start

# add_user USER EXTRA-FIELDS
add_user() {
	local h=$IR_WORK/dst/home/$1
	mkdir -p "$h"; chown "$IR_OS_USER:" "$h"
	echo "$1:{PLAIN}destpass:$IR_UID:$IR_GID::$h::$(ir_userdb_mail sdbox '~/sdbox') $2" >> "$IR_WORK/dst/passwd"
}
# Microsoft 365: only the old address
add_user o1 "userdb_import_remote_source_user=srcuser $TOKEN_URL"
# Google Workspace: the service account (here a userdb override of the
# global grant, as a second provider's users would have)
# (the scope from the google preset; the token endpoint the key file's)
add_user o2 "userdb_import_remote_source_user=srcuser userdb_import_remote_source_oauth2_grant=jwt_bearer userdb_import_remote_source_oauth2_service_account_file=$SECRETS/sa.json userdb_import_remote_source_provider=google"
# the app's secret refused by the token service
add_user o3 "userdb_import_remote_source_user=srcuser $TOKEN_URL userdb_import_remote_source_oauth2_client_secret_file=$SECRETS/wrong.secret"
# the certificate credential: the app's certificate and key files (used
# instead of the global client secret)
add_user o4 "userdb_import_remote_source_user=srcuser $TOKEN_URL userdb_import_remote_source_oauth2_client_id=m365-cert userdb_import_remote_source_oauth2_client_certificate_file=$SECRETS/app.crt userdb_import_remote_source_oauth2_client_key_file=$SECRETS/app.key"
# the microsoft preset alone: the tenant's token endpoint (not reachable
# here: the job is only looked at)
add_user o5 "userdb_import_remote_source_user=srcuser"
# no old address: no import
add_user plain ""
ir_stop_instance "$IR_WORK/dst"
ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
ir_wait_port "$DEST_IMAP_PORT"

jobs_of() { sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where username = ?" "$1"; }
job_field() { sqlite_value "$JOBS/jobs.db" "select $2 from import_remote_jobs where username = ? order by id desc limit 1" "$1"; }
login() { "$CLIENT" --port "$DEST_IMAP_PORT" --user "$@"; }

# --- a login with only the old address queues the import ---
login o1 login > "$OUT/o1-login" 2>&1
check_eq "client credentials: the login is accepted" 0 "$?"
check_eq "client credentials: one job queued" 1 "$(jobs_of o1)"
check_eq "client credentials: the job is for the old address at the configured source" \
	"srcuser 127.0.0.1 $SRC_IMAPS_PORT" "$(job_field o1 "source_user || ' ' || source_host || ' ' || source_port")"
job_field o1 options > "$OUT/o1-options"
check_contains "client credentials: the job's options name the grant" \
	"$OUT/o1-options" "oauth2_grant=client_credentials"
check_eq "client credentials: the job's secret is stored encrypted" 1 \
	"$(job_field o1 "source_password like 'v2:%'")"
check "the login with mail_debug logged debug lines (control)" grep -q "(o1).*Debug:" "$IR_WORK"/dst/log/*
login plain login > "$OUT/plain-login" 2>&1
check_eq "no old address: the login is accepted, nothing queued" "0 0" "$? $(jobs_of plain)"
check_eq "no old address: no error logged for the user" 0 \
	"$(cat "$IR_WORK"/dst/log/* | grep -E 'Error|Fatal' | grep -c '(plain)')"
login o2 login > /dev/null 2>&1
check_eq "service account: one job queued" 1 "$(jobs_of o2)"
job_field o2 options > "$OUT/o2-options"
check_contains "service account: the job's options name the grant" \
	"$OUT/o2-options" "oauth2_grant=jwt_bearer"
login o4 login > /dev/null 2>&1
check_eq "certificate credential: one job queued" 1 "$(jobs_of o4)"
login o5 login > /dev/null 2>&1
job_field o5 options > "$OUT/o5-options"
check_contains "microsoft preset: the tenant's token endpoint" "$OUT/o5-options" \
	"oauth2_token_url=https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
check_contains "microsoft preset: the scope of app-only access" "$OUT/o5-options" \
	"oauth2_scope=https://outlook.office365.com/.default"
# (not run: the worker would ask Microsoft)
python3 -c 'import sqlite3,sys;db=sqlite3.connect(sys.argv[1]);db.execute("delete from import_remote_jobs where username = ?", ("o5",));db.commit()' "$JOBS/jobs.db"
login o3 login > /dev/null 2>&1
check_eq "a wrong client secret: the job is queued all the same" 1 "$(jobs_of o3)"

# --- the worker (with mail_debug) runs them ---
"$WORKER" -c "$DEST_CONF" -o mail_debug=yes -1 > "$OUT/worker" 2>&1
check_eq "worker: exits 0" 0 "$?"
check "worker with mail_debug: it logged debug lines (control)" grep -q "Debug:" "$OUT/worker"
check_eq "client credentials: the job completes" completed "$(job_field o1 status)"
check_eq "client credentials: the app's token was asked for" 1 \
	"$(( $(ir_oauth2_stat "scope:https://outlook.office365.com/.default") > 0 ))"
doveadm -c "$DEST_CONF" expunge -u o1 mailbox INBOX subject "has been imported"
check "client credentials: the mailbox equals the source" verify o1 o1-v --map "Sent Items=Sent"
check_eq "service account: the job completes" completed "$(job_field o2 status)"
check_eq "service account: a signed JWT verified by the token service" 1 \
	"$(( $(ir_oauth2_stat jwt) > 0 ))"
check_eq "google preset: the JWT asked for the scope https://mail.google.com/" 1 \
	"$(( $(ir_oauth2_stat "scope:https://mail.google.com/") > 0 ))"
doveadm -c "$DEST_CONF" expunge -u o2 mailbox INBOX subject "has been imported"
check "service account: the mailbox equals the source" verify o2 o2-v --map "Sent Items=Sent"
check_eq "certificate credential: the job completes" completed "$(job_field o4 status)"
check_eq "certificate credential: a client assertion verified by the token service" 1 \
	"$(( $(ir_oauth2_stat client_assertion) > 0 ))"
doveadm -c "$DEST_CONF" expunge -u o4 mailbox INBOX subject "has been imported"
check "certificate credential: the mailbox equals the source" verify o4 o4-v --map "Sent Items=Sent"
check_eq "a wrong client secret: the job fails with oauth2_client_invalid" \
	"failed oauth2_client_invalid" "$(job_field o3 "status || ' ' || error_code")"

# --- the state over METADATA, and no secret anywhere ---
login o1 metadata /private/vendor/vendor.dovecot/import-remote > "$OUT/o1-meta" 2>&1
check_contains "METADATA: the user reads the state" "$OUT/o1-meta" '"state":"completed"'
cat "$OUT/o1-meta" "$IR_WORK"/dst/home/o[1234]/.import-remote.state > "$OUT/states"
check_not_contains "METADATA state and state files: no client secret" "$OUT/states" "$MSECRET"
check_not_contains "METADATA state and state files: no key" "$OUT/states" "$keyline"
check_not_logged "no client secret in any log (mail_debug included)" "$MSECRET" \
	"$IR_WORK/dst/log" "$OUT/worker"
check_not_logged "no service account key in any log" "$keyline" "$IR_WORK/dst/log" "$OUT/worker"
check_eq "the store holds neither the client secret nor the key in clear" 0 \
	"$(cat "$JOBS"/jobs.db* | grep -acF -e "$MSECRET" -e "$keyline")"
check_not_logged "no certificate key in any log" "$certline" "$IR_WORK/dst/log" "$OUT/worker"
check_eq "the store holds no certificate key in clear" 0 \
	"$(cat "$JOBS"/jobs.db* | grep -acF -e "$certline")"
# (the token service's access tokens all begin with tok-)
check_not_logged "no access token in any log" "tok-" "$IR_WORK/dst/log" "$OUT/worker"
