#!/bin/bash
# Automatic imports (the mail plugin): a user whose userdb fields name
# their old mailbox gets it imported at their first IMAP or POP3 login, one
# job whatever the number of logins, run by the worker; the user finds a
# notice in INBOX and reads the state over IMAP METADATA; once means once,
# sync imports new mail until the cut-over date; a store that is down
# never fails a login.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 65
script_timeout 600
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker
CLIENT=$TOOLS/mailclient

"$TOOLS/mkcorpus" -n 30 -s 41 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
# a second source account whose folder has a hostile name (HTML, a quote,
# a backslash), made before any login reads the passwd file, behind a slow
# link: the state names the folder being copied while the import runs
HOSTILE='<img src=x onerror=alert(1)> "q" \'
hm=$IR_WORK/src/home/hostuser/Maildir
mkdir -p "$hm"/{cur,new,tmp} "$hm/.$HOSTILE"/{cur,new,tmp}
find "$IR_WORK/corpus/Maildir" -path '*/cur/*' -type f -exec cp {} "$hm/.$HOSTILE/cur/" \;
chown -R "$IR_OS_USER:" "$IR_WORK/src/home/hostuser"
echo "hostuser:{PLAIN}srcpass:$IR_UID:$IR_GID::$IR_WORK/src/home/hostuser::" >> "$IR_WORK/src/passwd"
"$TOOLS/faultproxy" --target "127.0.0.1:$SRC_IMAPS_PORT" --rate 16k --timeout 500 --report "$IR_WORK/proxy.report" \
	> "$IR_WORK/proxy.port" 2>"$IR_WORK/proxy.err" &
ir_kill_on_exit $!
PROXY_PORT=$(port_of "$IR_WORK/proxy.port")
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
POP3_PORT=$(ir_free_port)
listen=address
ir_dovecot_24 && listen=listen
IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = sqlite:$JOBS/jobs.db" \
	"import_remote_key_file = $JOBS/key" \
	"import_remote_allowed_networks = 127.0.0.0/8")
protocols = imap pop3
service pop3-login {
  inet_listener pop3 {
    $listen = 127.0.0.1
    port = $POP3_PORT
  }
  # not 995: scripts running side by side would collide
  inet_listener pop3s {
    port = 0
  }
}"
# the mail plugin, and METADATA kept in a file in the home
ir_dest_conf_mail_plugin
export IR_DEST_EXTRA_CONF
ir_dest_start
chown "$IR_OS_USER:" "$JOBS"

SOURCE="userdb_import_remote_source_host=127.0.0.1 userdb_import_remote_source_port=$SRC_IMAPS_PORT userdb_import_remote_source_user=srcuser"
# add_user USER EXTRA-FIELDS
add_user() {
	local h=$IR_WORK/dst/home/$1
	mkdir -p "$h"; chown "$IR_OS_USER:" "$h"
	echo "$1:{PLAIN}destpass:$IR_UID:$IR_GID::$h::$(ir_userdb_mail sdbox '~/sdbox') $2" >> "$IR_WORK/dst/passwd"
}
tomorrow=$(date -u -d tomorrow +%F)
yesterday=$(date -u -d yesterday +%F)
add_user t1 "$SOURCE userdb_import_remote_source_password=srcpass"
add_user t2 "$SOURCE userdb_import_remote_source_password=srcpass"
add_user t3 "$SOURCE userdb_import_remote_source_password=srcpass"
add_user t4 "$SOURCE userdb_import_remote_source_password=wrong"
# a user with a domain: the notice comes from that domain's postmaster
add_user t8@example.test "$SOURCE userdb_import_remote_source_password=wrong"
add_user t5 "$SOURCE userdb_import_remote_source_password=srcpass userdb_import_remote_source_mode=sync userdb_import_remote_sync_interval=1s userdb_import_remote_sync_until=$tomorrow"
add_user t7 "$SOURCE userdb_import_remote_source_password=srcpass userdb_import_remote_store=sqlite:/nonexistent/import-remote/jobs.db"
add_user t6 "$SOURCE userdb_import_remote_source_password=srcpass"
add_user plain ""
add_user t9 "userdb_import_remote_source_host=127.0.0.1 userdb_import_remote_source_port=$PROXY_PORT userdb_import_remote_source_user=hostuser userdb_import_remote_source_password=srcpass"
# a brand-new user: the home does not exist yet (its parent belongs to the
# mail uid, as /var/vmail does); the mail is kept outside it, so that
# nothing but the plugin and the worker would make it
mkdir -p "$IR_WORK/dst/newhomes"; chown "$IR_OS_USER:" "$IR_WORK/dst/newhomes"
NEW_HOME=$IR_WORK/dst/newhomes/n1
echo "n1:{PLAIN}destpass:$IR_UID:$IR_GID::$NEW_HOME::$(ir_userdb_mail sdbox "$IR_WORK/dst/newhomes/n1-mail") $SOURCE userdb_import_remote_source_password=srcpass" >> "$IR_WORK/dst/passwd"
# (and one whose import fails before anything is stored)
echo "n2:{PLAIN}destpass:$IR_UID:$IR_GID::$NEW_HOME-2::$(ir_userdb_mail sdbox "$IR_WORK/dst/newhomes/n2-mail") $SOURCE userdb_import_remote_source_password=wrong" >> "$IR_WORK/dst/passwd"
# sources the settings don't allow (import_remote_allowed_networks is
# loopback only here): a private address, a name that resolves to one
GUARDED="userdb_import_remote_source_user=srcuser userdb_import_remote_source_password=srcpass"
add_user g1 "userdb_import_remote_source_host=10.0.0.1 $GUARDED"
add_user g2 "userdb_import_remote_source_host=old-mail.example.test $GUARDED"
# notice templates: userdb may name one only in
# import_remote_notice_template_dir (the key file is not a notice)
TDIR=$IR_WORK/templates
mkdir -p "$TDIR"
printf 'Subject: Own notice %%{status}\n\nImported: %%{imported}\n' > "$TDIR/own.tmpl"
printf 'Subject: Global notice %%{status}\n\nImported: %%{imported}\n' > "$TDIR/global.tmpl"
chown -R "$IR_OS_USER:" "$TDIR"
add_user tpl1 "$SOURCE userdb_import_remote_source_password=srcpass userdb_import_remote_notice_template=$JOBS/key"
add_user tpl2 "$SOURCE userdb_import_remote_source_password=srcpass userdb_import_remote_notice_template=$TDIR/own.tmpl"
add_user tpl3 "$SOURCE userdb_import_remote_source_password=srcpass"
add_user tpl4 "$SOURCE userdb_import_remote_source_password=srcpass userdb_import_remote_notice_template=$TDIR/../jobs/key"
# a source user with a control character (an escape) is refused
add_user c1 "userdb_import_remote_source_host=127.0.0.1 userdb_import_remote_source_port=$SRC_IMAPS_PORT userdb_import_remote_source_user=a$(printf '\033')b userdb_import_remote_source_password=srcpass"
ir_stop_instance "$IR_WORK/dst"
ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
ir_wait_port "$DEST_IMAP_PORT"

jobs_of() { sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where username = ?" "$1"; }
worker() { "$WORKER" -c "$DEST_CONF" -1 > "$OUT/worker.$1" 2>&1; echo $? > "$OUT/worker.$1.rc"; }
login() { "$CLIENT" --port "$DEST_IMAP_PORT" --user "$@"; }

# --- an IMAP login queues the import: one job ---
login t1 login > "$OUT/t1-login" 2>&1
check_eq "IMAP login: accepted" 0 "$?"
check_eq "IMAP login: one job queued for the user" 1 "$(jobs_of t1)"
check_eq "IMAP login: the job is for the userdb's source" "srcuser 127.0.0.1 $SRC_IMAPS_PORT queued" \
	"$(sqlite_value "$JOBS/jobs.db" "select source_user || ' ' || source_host || ' ' || source_port || ' ' || status from import_remote_jobs where username = 't1'")"
check "IMAP login: the password is stored encrypted" test "$(sqlite_value "$JOBS/jobs.db" "select source_password like 'v2:%' from import_remote_jobs where username = 't1'")" = 1
# (the "queued" line is an info line: every log, not only the error log)
check_not_logged "IMAP login: the password is not logged" "srcpass" \
	"$IR_WORK/dst/log/dovecot.log" "$IR_WORK/dst/log/dovecot-info.log" "$IR_WORK/dst/log"
login plain login > /dev/null 2>&1
check_eq "a user without a source: nothing queued" 0 "$(jobs_of plain)"

# --- 50 logins at once: still one job ---
login t2 --logins 50 login > "$OUT/t2-login" 2>&1
check_eq "50 concurrent logins: all accepted" 0 "$?"
check_eq "50 concurrent logins: one job" 1 "$(jobs_of t2)"

# --- a POP3 login ---
"$CLIENT" --port "$POP3_PORT" --user t3 --pop3 login > "$OUT/t3-login" 2>&1
check_eq "POP3 login: accepted" 0 "$?"
check_eq "POP3 login: one job" 1 "$(jobs_of t3)"

# --- a store that is down fails no login ---
login t7 login > "$OUT/t7-login" 2>&1
check_eq "store down: the login is still accepted" 0 "$?"
check_contains "store down: logged, to be tried again" "$IR_WORK/dst/log/dovecot.log" \
	"Queueing the automatic import failed (tried again at a later login)"

# --- the store's code is loaded only by a login that queues ---
PLUGIN_SO=${IR_BUILDDIR:-$TESTS_DIR/..}/src/.libs/lib20_import_remote_plugin.so
# (a tool that fails, or lists nothing, fails the check: an empty list
# has no SQL library in it either)
if needed=$(objdump -p "$PLUGIN_SO") && grep -q 'NEEDED' <<< "$needed"; then
	check_eq "the mail plugin needs no SQL or crypto library" 0 \
		"$(grep -cE 'NEEDED.*(libcrypto|libssl|libdovecot-sql)' <<< "$needed")"
else
	fail "the mail plugin needs no SQL or crypto library" "objdump -p $PLUGIN_SO failed or listed no NEEDED library"
fi
if undefined=$(nm -u "$PLUGIN_SO") && grep -qE ' U (i_error|p_strdup|mail_user_)' <<< "$undefined"; then
	check_eq "... nor any job store code" 0 "$(grep -cE ' (sql_|job_store_|secret_box_)' <<< "$undefined")"
else
	fail "... nor any job store code" "nm -u $PLUGIN_SO failed or listed none of the Dovecot functions it calls"
fi
# without its queueing module a login still succeeds, and says why
dovecot_moduledir=$(. /usr/lib/dovecot/dovecot-config && echo "$dovecot_moduledir")
QUEUE_SO=$dovecot_moduledir/import-remote/lib20_import_remote_queue.so
mv "$QUEUE_SO" "$IR_WORK/queue.so.away"
login t6 login > "$OUT/t6-login" 2>&1
check_eq "queueing module missing: the login is accepted" "0 0" "$? $(jobs_of t6)"
check_contains "queueing module missing: logged, to be tried again" "$IR_WORK/dst/log/dovecot.log" \
	"import_remote_queue is missing from"
mv "$IR_WORK/queue.so.away" "$QUEUE_SO"
login t6 login > /dev/null 2>&1
check_eq "queueing module back: the next login queues the job" 1 "$(jobs_of t6)"

# --- a brand-new user's first login: the home is made, no error ---
login n1 login > "$OUT/n1-login" 2>&1
check_eq "new user (no home yet): the login queues one job" "0 1" "$? $(jobs_of n1)"
check "new user: the home is made, with the state in it" test -s "$NEW_HOME/.import-remote.state"
# user_errors LOG USER-RE: error lines of those users, or naming their homes
user_errors() { grep -E 'Error|Fatal|Panic' "$1" | grep -E "\\($2\\)|/newhomes/" || :; }
check_empty "new user: no error logged by the login" user_errors "$IR_WORK/dst/log/dovecot.log" n1
# ... nor when the worker is the first to write there
login n2 login > /dev/null 2>&1
check_eq "new user whose import fails: one job" 1 "$(jobs_of n2)"
rm -rf "$NEW_HOME" "$NEW_HOME-2"

# --- the worker runs them; the user finds a notice and the state ---
login t4 login > /dev/null 2>&1
login t8@example.test login > /dev/null 2>&1
# (with mail_debug: every log line, debug included, is checked for the
# userdb password)
WORKER_DEBUG_OPTS=(-o mail_debug=yes)
"$WORKER" -c "$DEST_CONF" "${WORKER_DEBUG_OPTS[@]}" -1 > "$OUT/worker.w1" 2>&1; echo $? > "$OUT/worker.w1.rc"
check_eq "new user: the worker runs the job" completed \
	"$(sqlite_value "$JOBS/jobs.db" "select status from import_remote_jobs where username = 'n1'")"
check_empty "new users: no error logged by the worker" user_errors "$OUT/worker.w1" 'n[12]'
check "new user: the worker made the home, with the state in it" test -s "$NEW_HOME/.import-remote.state"
check_contains "new user whose import failed: the worker made the home, with the state in it" \
	"$NEW_HOME-2/.import-remote.state" "state=failed"
check_eq "worker: exits 0" 0 "$(cat "$OUT/worker.w1.rc")"
check "worker with mail_debug: it logged debug lines (control)" grep -q "Debug:" "$OUT/worker.w1"
check_eq "worker with mail_debug: the userdb password is in no log line" 0 \
	"$(cat "$OUT/worker.w1" "$IR_WORK"/dst/log/* | grep -c srcpass)"
check_eq "the job completes" completed \
	"$(sqlite_value "$JOBS/jobs.db" "select status from import_remote_jobs where username = 't1'")"
"$CLIENT" --port "$DEST_IMAP_PORT" --user t1 search "has been imported" > "$OUT/t1-notice"
imported=$(sqlite_value "$JOBS/jobs.db" "select imported from import_remote_jobs where username = 't1'")
check_contains "notice: completed, with the count" "$OUT/t1-notice" "Messages imported: ${imported:-none}"
check_eq "notice: exactly one" 1 "$(grep -c '^--$' "$OUT/t1-notice")"
# the notice is the one message the source didn't have
doveadm -c "$DEST_CONF" expunge -u t1 mailbox INBOX subject "has been imported"
check "the mailbox equals the source" verify t1 trig-t1-v --map "Sent Items=Sent"
"$CLIENT" --port "$DEST_IMAP_PORT" --user t4 search "failed" > "$OUT/t4-notice"
check_contains "failure notice: the catalogue's title" "$OUT/t4-notice" "Authentication failed"
check_contains "failure notice: the hint" "$OUT/t4-notice" "What to do: "
check_not_contains "failure notice: no password" "$OUT/t4-notice" "wrong"
# the sender: postmaster at the user's domain, else at this host's fully
# qualified name (as Dovecot's postmaster_address), never a bare host name
notice_from() {
	doveadm -c "$DEST_CONF" fetch -u "$1" hdr mailbox INBOX subject "$2" |
		sed -n 's/^From: \(.*\)$/\1/p' | tr -d '\r' | head -1
}
check_eq "notice: From the postmaster of the user's domain" "postmaster@example.test" \
	"$(notice_from t8@example.test failed)"
check_eq "notice: a user without a domain: From the postmaster at this host's FQDN" \
	"postmaster@$(python3 -c 'import socket;print(socket.gethostbyname_ex(socket.gethostname())[0])')" \
	"$(notice_from t4 failed)"
# a login that finds no state file (a home restored from a backup, a job
# failed before its state was written) rewrites it from the store, where
# only the error's code is: the title comes from the catalogue
rm -f "$IR_WORK/dst/home/t4/.import-remote.state"
login t4 login > /dev/null 2>&1
"$CLIENT" --port "$DEST_IMAP_PORT" --user t4 metadata /private/vendor/vendor.dovecot/import-remote > "$OUT/t4-meta" 2>&1
check_contains "METADATA of a failure: the error's code" "$OUT/t4-meta" '"error":"auth_failed"'
check_contains "METADATA of a failure: the catalogue's title" "$OUT/t4-meta" '"error_title":"Authentication failed"'

# --- the state over IMAP METADATA: the user's own, nobody else's ---
"$CLIENT" --port "$DEST_IMAP_PORT" --user t1 metadata /private/vendor/vendor.dovecot/import-remote > "$OUT/t1-meta" 2>&1
check_contains "METADATA: the user reads the state" "$OUT/t1-meta" '"state":"completed"'
check_contains "METADATA: with the counts" "$OUT/t1-meta" "\"imported\":${imported:-none}"
"$CLIENT" --port "$DEST_IMAP_PORT" --user plain metadata /private/vendor/vendor.dovecot/import-remote > "$OUT/plain-meta" 2>&1
check_eq "METADATA: another user doesn't see it (no entry)" 3 "$?"

# --- once: never again ---
login t1 login > /dev/null 2>&1
check_eq "once: a later login queues nothing" 1 "$(jobs_of t1)"

# --- sync: new mail comes over until the cut-over date ---
login t5 login > /dev/null 2>&1
worker w2
check_eq "sync: the first import completes" completed \
	"$(sqlite_value "$JOBS/jobs.db" "select status from import_remote_jobs where username = 't5' order by id desc limit 1")"
new=$IR_WORK/src/home/srcuser/Maildir/new/$(date +%s).sync.host:2,
printf 'From: a@example.org\r\nSubject: arrived later\r\nMessage-ID: <later@example.org>\r\n\r\nnew mail\r\n' > "$new"
chown "$IR_OS_USER:" "$new"
sleep 2
login t5 login > /dev/null 2>&1
check_eq "sync: a login after the interval queues the next run" 2 "$(jobs_of t5)"
worker w3
# (looked at with doveadm: an IMAP login a second after the run would
# itself be due for the next one, a race with the clock)
doveadm -c "$DEST_CONF" search -u t5 mailbox INBOX subject "arrived later" > "$OUT/t5-new"
check_eq "sync: the new mail came over" 1 "$(wc -l < "$OUT/t5-new")"
sed -i "/^t5:/s/sync_until=$tomorrow/sync_until=$yesterday/" "$IR_WORK/dst/passwd"
ir_stop_instance "$IR_WORK/dst"
ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
ir_wait_port "$DEST_IMAP_PORT"
sleep 2
login t5 login > /dev/null 2>&1
check_eq "sync: after the cut-over date no more runs" 2 "$(jobs_of t5)"
# (if not: what the jobs were, for the log)
[ "$(jobs_of t5)" = 2 ] || sqlite_value "$JOBS/jobs.db" "select group_concat(id || ' ' || status || ' ' || error_code || ' ' || error_detail || ' created ' || created || ' superseded_by ' || superseded_by, ' | ') from import_remote_jobs where username = 't5'" | sed 's/^/    /'

# --- a source the settings don't allow: refused when its job runs ---
login g1 login > /dev/null 2>&1
login g2 login > /dev/null 2>&1
# the worker resolves old-mail.example.test with a hosts file of its own
printf '10.0.0.2 old-mail.example.test\n' > "$IR_WORK/hosts"
unshare --mount sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$IR_WORK/hosts" \
	"$WORKER" -c "$DEST_CONF" -1 > "$OUT/worker.g" 2>&1
guard_result() { sqlite_value "$JOBS/jobs.db" "select status || ' ' || error_code from import_remote_jobs where username = ?" "$1"; }
check_eq "outbound guard: a private address from userdb is refused" "failed source_not_allowed" "$(guard_result g1)"
check_eq "outbound guard: a name resolving to a private address is refused" "failed source_not_allowed" "$(guard_result g2)"
check_eq "outbound guard: ... saying the address it resolved to" 1 \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where username = 'g2' and error_detail like 'old-mail.example.test (10.0.0.2) is a private address%'")"
"$CLIENT" --port "$DEST_IMAP_PORT" --user g1 search "failed" > "$OUT/g1-notice"
check_contains "outbound guard: the user's notice has the title" "$OUT/g1-notice" "Source server not allowed"
check_contains "outbound guard: ... and the hint" "$OUT/g1-notice" "import_remote_allowed_networks"

# --- no password in any log: error, info and debug, the workers' ---
check_not_logged "no log line has a source password" "srcpass" \
	"$IR_WORK/dst/log/dovecot.log" "$IR_WORK/dst/log/dovecot-info.log" "$IR_WORK/dst/log" \
	"$OUT/worker.w1" "$OUT/worker.w2" "$OUT/worker.w3" "$OUT/worker.g"

# --- a source user with a control character from userdb: refused ---
login c1 login > "$OUT/c1-login" 2>&1
check_eq "control character in the userdb source user: the login is accepted, no job" "0 0" "$? $(jobs_of c1)"
check_contains "control character in the userdb source user: logged, saying why" \
	"$IR_WORK/dst/log/dovecot.log" "contains a control character or line break"

# --- a notice template from userdb is read only from the configured directory ---
# (the worker's -o beats a userdb field: the global template's user runs alone)
login tpl3 login > /dev/null 2>&1
TMPL_OPTS=()
ir_set_opt TMPL_OPTS "import_remote_notice_template=$TDIR/global.tmpl"
"$WORKER" -c "$DEST_CONF" "${TMPL_OPTS[@]}" -1 > "$OUT/worker.tpl3" 2>&1
for u in tpl1 tpl2 tpl4; do login $u login > /dev/null 2>&1; done
TMPL_OPTS=()
ir_set_opt TMPL_OPTS "import_remote_notice_template_dir=$TDIR"
"$WORKER" -c "$DEST_CONF" "${TMPL_OPTS[@]}" -1 > "$OUT/worker.tpl" 2>&1
key_hex=$(head -c 64 "$JOBS/key")
for u in tpl1 tpl4; do
	doveadm -c "$DEST_CONF" fetch -u $u text mailbox INBOX > "$OUT/$u-inbox" 2>&1
	check "notice template from userdb ($u: the key file): the built-in notice instead" \
		grep -q "has been imported" "$OUT/$u-inbox"
	check_eq "notice template from userdb ($u): the key is nowhere in INBOX" 0 \
		"$(grep -c "${key_hex:-no key}" "$OUT/$u-inbox")"
done
check_contains "notice template from userdb: refused, saying why" "$OUT/worker.tpl" \
	"import_remote_notice_template from userdb ($JOBS/key) is not in import_remote_notice_template_dir"
doveadm -c "$DEST_CONF" search -u tpl2 mailbox INBOX subject "Own notice completed" > "$OUT/tpl2-notice"
check_eq "notice template from userdb in import_remote_notice_template_dir: used" 1 "$(wc -l < "$OUT/tpl2-notice")"
doveadm -c "$DEST_CONF" search -u tpl3 mailbox INBOX subject "Global notice completed" > "$OUT/tpl3-notice"
check_eq "notice template from the global configuration: used" 1 "$(wc -l < "$OUT/tpl3-notice")"

# --- the state names the folder being copied while the import runs ---
login t9 login > /dev/null 2>&1
worker w9 &
wpid=$!
"$TOOLS/imapmeta" --port "$DEST_IMAP_PORT" --user t9 poll /private/vendor/vendor.dovecot/import-remote \
	--until '"folder":"<img' --timeout 60 > "$OUT/t9-poll"
check_eq "METADATA state: the folder being copied, while it runs" 0 "$?"
wait "$wpid"
check_eq "... the source's name exactly (JSON-escaped)" "running|$HOSTILE" \
	"$(tail -1 "$OUT/t9-poll" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["state"] + "|" + j["folder"])')"
"$TOOLS/imapmeta" --port "$DEST_IMAP_PORT" --user t9 get /private/vendor/vendor.dovecot/import-remote > "$OUT/t9-end"
check_eq "... and none once it has completed" "completed|" \
	"$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["state"] + "|" + j["folder"])' "$OUT/t9-end")"
exit 0
