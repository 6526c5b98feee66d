#!/bin/bash
# A whole Google Workspace domain from one grant: a batch whose CSV names
# only source_email,destination_user, all 20 rows signed in with one
# service account (a JWT per user, sub = the user, verified by the tests'
# token service) against a real Dovecot that checks each token is its
# login user's.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/oauth2.sh"
plan 14
N=20

"$TOOLS/mkcorpus" -n 6 -s 3 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
IR_DEST_EXTRA_CONF="$(ir_conf_settings "import_remote_store = sqlite:$JOBS/jobs.db" \
	"import_remote_key_file = $JOBS/key")"
export IR_DEST_EXTRA_CONF
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start
chown "$IR_OS_USER:" "$JOBS"
ir_oauth2_start
ir_source_oauth2
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

# the domain's users on the source (each with a copy of the corpus) and
# their new homes on the destination
for i in $(seq -w 1 $N); do
	u=u$i@example.org
	h=$IR_WORK/src/home/$u
	mkdir -p "$h"
	cp -a "$IR_WORK/corpus/Maildir" "$h/Maildir"
	chown -R "$IR_OS_USER:" "$h"
	echo "$u:{PLAIN}unused-$RANDOM$RANDOM:$IR_UID:$IR_GID::$h::" >> "$IR_WORK/src/passwd"
	d=$IR_WORK/dst/home/d$i
	mkdir -p "$d"; chown "$IR_OS_USER:" "$d"
	echo "d$i:{PLAIN}destpass:$IR_UID:$IR_GID::$d::$(ir_userdb_mail sdbox '~/sdbox')" >> "$IR_WORK/dst/passwd"
done
# auth re-reads a changed passwd-file at most once a second
sleep 1.1

SA=importer@project.iam.gserviceaccount.com
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$IR_WORK/sa.key" 2>/dev/null
openssl pkey -in "$IR_WORK/sa.key" -pubout -out "$IR_WORK/sa.pub" 2>/dev/null
ir_oauth2_service_account "$SA" "$IR_WORK/sa.pub" "https://mail.google.com/"
python3 - "$IR_WORK/sa.json" "$SA" "$IR_WORK/sa.key" "$OAUTH2_URL/token" <<'PY'
import json, sys
out, email, key, uri = sys.argv[1:]
json.dump({"type": "service_account", "private_key": open(key).read(),
           "client_email": email, "token_uri": uri}, open(out, "w"))
PY
{
	echo "source_email,destination_user"
	for i in $(seq -w 1 $N); do echo "u$i@example.org,d$i"; done
} > "$IR_WORK/tenant.csv"

adm() { doveadm -c "$DEST_CONF" "$@"; }
adm import-remote batch create --csv "$IR_WORK/tenant.csv" --provider google \
	--host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--oauth2-service-account-file "$IR_WORK/sa.json" >"$OUT/create.out" 2>"$OUT/create.err"
check_eq "batch create with one service account for all rows: exit code 0" 0 "$?"
batch=$(flow_field "$OUT/create.out" batch)
check_eq "batch: $N jobs queued" "$N" \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where batch_id = ${batch:-0}")"
keyline=$(sed -n 5p "$IR_WORK/sa.key")
check_not_contains "batch: the private key is not in the store file in clear" "$JOBS/jobs.db" "$keyline"
check_eq "batch: each job's secret is its own ciphertext" "$N" \
	"$(sqlite_value "$JOBS/jobs.db" "select count(distinct source_password) from import_remote_jobs where batch_id = ${batch:-0}")"

"$WORKER" -c "$DEST_CONF" -1 > "$OUT/worker.log" 2>&1
check_eq "worker: exit code 0" 0 "$?"
check_eq "every job of the batch completed" "$N" \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where batch_id = ${batch:-0} and status = 'completed'")"
check_eq "one signed JWT per mailbox ($N), each verified" "$N" "$(ir_oauth2_stat jwt)"
check_eq "no JWT refused" 0 "$(ir_oauth2_stat jwt_bad_signature)"
verify d01 first --map "Sent Items=Sent"
check_eq "the first user's mail arrived intact" 0 "$?"
verify d$N last --map "Sent Items=Sent"
check_eq "the last user's mail arrived intact" 0 "$?"
check_not_logged "the private key in no output or log" "$keyline" "$OUT" "$IR_WORK/dst/log"

# --- what a shared grant does not take ---
{ echo "source_email,source_password,destination_user"; echo "u01@example.org,pw,d01"; } > "$IR_WORK/pw.csv"
adm import-remote batch create --csv "$IR_WORK/pw.csv" --provider google --host 127.0.0.1 \
	--oauth2-service-account-file "$IR_WORK/sa.json" >"$OUT/pw.out" 2>&1
check_eq "a CSV with passwords and a shared grant: refused (65)" 65 "$?"
check_contains "passwords and a shared grant: says why" "$OUT/pw.out" "must not hold passwords"
echo rt > "$IR_WORK/rt"
check_exit "a batch with one user's refresh token: usage error" 64 \
	adm import-remote batch create --csv "$IR_WORK/tenant.csv" --host 127.0.0.1 \
	--oauth2-grant refresh-token --oauth2-client-id x --oauth2-token-url "$OAUTH2_URL/token"
