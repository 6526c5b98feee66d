# shellcheck shell=bash
# The tests' OAuth2 token service (tests/tools/oauth2-server) and a source
# Dovecot that checks tokens with it: sourced after integration.sh, and
# after ir_source_start.
#
#   ir_oauth2_start             # $OAUTH2_PORT, $OAUTH2_URL (https, test CA)
#   ir_source_oauth2            # the source takes XOAUTH2/OAUTHBEARER too
#   tok=$(ir_oauth2_issue USER [TTL] [SCOPE])
#   ir_oauth2_admin revoke|expire TOKEN
#   ir_oauth2_stat NAME         # requests to an endpoint so far
#   ir_oauth2_setup MESSAGES SEED; ir_oauth2_job_store [OPTS]  (below)

ir_oauth2_start() {
	"$TOOLS/oauth2-server" --cert "$IR_WORK/ssl/cert.pem" \
		--key "$IR_WORK/ssl/key.pem" --log "$IR_WORK/oauth2-server.log" \
		> "$IR_WORK/oauth2.port" 2>"$IR_WORK/oauth2-server.err" &
	OAUTH2_PID=$!
	ir_kill_on_exit "$OAUTH2_PID"
	OAUTH2_PORT=$(port_of "$IR_WORK/oauth2.port") || ir_die "oauth2-server did not start"
	OAUTH2_URL=https://127.0.0.1:$OAUTH2_PORT
	export OAUTH2_PORT OAUTH2_URL
}

ir_oauth2_curl() {
	curl -sS --max-time 10 --cacert "$IR_WORK/ssl/ca.pem" "$@"
}

ir_oauth2_issue() {
	ir_oauth2_curl --data-urlencode "user=$1" --data-urlencode "ttl=${2:-3600}" \
		--data-urlencode "scope=${3:-mail}" "$OAUTH2_URL/admin/issue"
}

ir_oauth2_admin() {
	ir_oauth2_curl --data-urlencode "token=$2" "$OAUTH2_URL/admin/$1" >/dev/null
}

ir_oauth2_stat() {
	ir_oauth2_curl "$OAUTH2_URL/admin/stats" | awk -v n="$1" '$1 == n { c = $2 } END { print c + 0 }'
}

# The source's tokens are checked by introspection (RFC 7662) at the token
# service; the user must be the one the token was issued to. 2.3: an oauth2
# passdb; 2.4: the oauth2 settings of the mechanisms.
ir_source_oauth2() {
	local w=$IR_WORK/src
	if ir_dovecot_24; then
		cat >> "$SRC_CONF" <<CONF
auth_mechanisms = plain login xoauth2 oauthbearer
oauth2 {
  introspection_mode = post
  introspection_url = $OAUTH2_URL/introspect
  username_attribute = username
  active_attribute = active
  active_value = true
  force_introspection = yes
  ssl_client_ca_file = $IR_WORK/ssl/ca.pem
}
CONF
	else
		cat > "$w/oauth2.conf" <<CONF
introspection_mode = post
introspection_url = $OAUTH2_URL/introspect
username_attribute = username
active_attribute = active
active_value = true
force_introspection = yes
tls_ca_cert_file = $IR_WORK/ssl/ca.pem
CONF
		cat >> "$SRC_CONF" <<CONF
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $w/oauth2.conf
}
CONF
	fi
	ir_stop_instance "$w"
	ir_start_instance "$SRC_CONF" "$w"
	ir_wait_port "$SRC_IMAPS_PORT" || ir_die "source IMAPS port did not open"
}

# ir_oauth2_client ID [SECRET [APP_USER]]; rt=$(ir_oauth2_refresh USER CLIENT_ID);
# ir_oauth2_config key=value... (see tests/tools/oauth2-server)
ir_oauth2_client() {
	local args=(--data-urlencode "client_id=$1")
	[ -n "${2:-}" ] && args+=(--data-urlencode "client_secret=$2")
	[ -n "${3:-}" ] && args+=(--data-urlencode "app_user=$3")
	ir_oauth2_curl "${args[@]}" "$OAUTH2_URL/admin/client" >/dev/null
}

ir_oauth2_refresh() {
	ir_oauth2_curl --data-urlencode "user=$1" --data-urlencode "client_id=$2" \
		"$OAUTH2_URL/admin/refresh"
}

ir_oauth2_config() {
	local kv args=()
	for kv in "$@"; do args+=(--data-urlencode "$kv"); done
	ir_oauth2_curl "${args[@]}" "$OAUTH2_URL/admin/config" >/dev/null
}

# ir_oauth2_service_account EMAIL PUBLIC_KEY_FILE [SCOPES]
ir_oauth2_service_account() {
	ir_oauth2_curl --data-urlencode "client_email=$1" \
		--data-urlencode "public_key@$2" --data-urlencode "scopes=${3:-}" \
		"$OAUTH2_URL/admin/service_account" >/dev/null
}

# ir_oauth2_client_certificate CLIENT_ID CERT_FILE: the client signs in
# with a client assertion signed by the certificate's key (no secret)
ir_oauth2_client_certificate() {
	ir_oauth2_curl --data-urlencode "client_id=$1" \
		--data-urlencode "certificate@$2" \
		"$OAUTH2_URL/admin/client_certificate" >/dev/null
}

# ir_oauth2_setup MESSAGES SEED: a corpus of MESSAGES ($MANIFEST), the
# source Dovecot serving it and checking tokens at the token service
# ($OAUTH2_URL), the destination
ir_oauth2_setup() {
	"$TOOLS/mkcorpus" -n "$1" -s "$2" -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
	MANIFEST=$IR_WORK/corpus/manifest.json
	ir_source_start "$IR_WORK/corpus/Maildir" .
	ir_dest_start
	ir_oauth2_start
	ir_source_oauth2
}

# ir_oauth2_job_store [OPTS]: a job store for start and the worker: $JOBS
# (the mail user's), $STORE, $KEY, $WORKER, and in the array named OPTS
# (default JOPTS) the doveadm -o options that name the store and the key
ir_oauth2_job_store() {
	local -n ir_jopts_=${1:-JOPTS}
	JOBS=$IR_WORK/jobs
	mkdir -p "$JOBS"; chown "$IR_OS_USER:" "$JOBS"
	STORE=sqlite:$JOBS/jobs.db
	KEY=$JOBS/key
	WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker
	ir_jopts_=()
	ir_set_opt "${1:-JOPTS}" "import_remote_store=$STORE" "import_remote_key_file=$KEY"
}
