#!/bin/bash
# The Roundcube plugin (contrib/roundcube/import_remote) used as a person
# would: Debian's Roundcube on PHP's built-in server with SQLite, the
# project's Dovecot with the mail plugin as its IMAP server, a source
# Dovecot behind a slow link (tests/tools/faultproxy --rate) so that the
# bar is seen moving, the worker running the queue, and headless Chromium
# driven through chromedriver (tests/tools/rcbrowser): log in, open Import
# mail, fill the form, start, watch the bar reach 100% and Completed in the
# history with the counts; a wrong password shows the catalogue's title and
# hint; a re-run imports nothing twice; Cancel stops a running import.
# Screenshots of each state are kept in $IR_ARTIFACTS (default
# tests/artifacts/roundcube).
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 42
script_timeout 600
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker
RC_SRC=/usr/share/roundcube
PLUGIN_SRC=$TESTS_DIR/../contrib/roundcube/import_remote
ARTIFACTS=${IR_ARTIFACTS:-$TESTS_DIR/artifacts/roundcube}

for need in "$RC_SRC/index.php" /usr/bin/php /usr/bin/chromium /usr/bin/chromedriver; do
	if [ ! -e "$need" ]; then
		skip 42 "no $need (scripts/install-deps installs roundcube-core, php-cli, php-sqlite3, chromium, chromium-driver on Debian 12)"
		exit 0
	fi
done

"$TOOLS/mkcorpus" -n 60 -s 47 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
ir_source_start "$IR_WORK/corpus/Maildir" .
# a second source account whose folder's name is HTML with a quote and a
# backslash, made before any login reads the passwd file
HOSTILE='<img src=x onerror=alert(1)> "q" \'
hm=$IR_WORK/src/home/hostuser/Maildir
mkdir -p "$hm"/{cur,new,tmp} "$hm/.$HOSTILE"/{cur,new,tmp}
find "$IR_WORK/corpus/Maildir" -path '*/cur/*' -type f -exec cp {} "$hm/.$HOSTILE/cur/" \;
chown -R "$IR_OS_USER:" "$IR_WORK/src/home/hostuser"
echo "hostuser:{PLAIN}srcpass:$IR_UID:$IR_GID::$IR_WORK/src/home/hostuser::" >> "$IR_WORK/src/passwd"
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = sqlite:$JOBS/jobs.db" \
	"import_remote_key_file = $JOBS/key" \
	"import_remote_allowed_networks = 127.0.0.0/8" \
	"import_remote_allow_plaintext = no" \
	"import_remote_user_requests = yes")"
# the mail plugin, and METADATA kept in a file in the home
ir_dest_conf_mail_plugin
export IR_DEST_EXTRA_CONF
ir_dest_start
chown "$IR_OS_USER:" "$JOBS"
for u in alice bob carol dave; do
	h=$IR_WORK/dst/home/$u
	mkdir -p "$h"; chown "$IR_OS_USER:" "$h"
	echo "$u:{PLAIN}destpass:$IR_UID:$IR_GID::$h::$(ir_userdb_mail sdbox '~/sdbox')" >> "$IR_WORK/dst/passwd"
done

# the source behind a slow link: 630 kB at 48 kB/s, some 15 s
"$TOOLS/faultproxy" --target "127.0.0.1:$SRC_IMAPS_PORT" --rate 48k --timeout 500 --report "$IR_WORK/proxy.report" \
	> "$IR_WORK/proxy.port" 2>"$IR_WORK/proxy.err" &
ir_kill_on_exit $!
PROXY_PORT=$(port_of "$IR_WORK/proxy.port")
# a slower one, for an import to cancel while it runs
"$TOOLS/faultproxy" --target "127.0.0.1:$SRC_IMAPS_PORT" --rate 1k --timeout 500 --report "$IR_WORK/slow.report" \
	> "$IR_WORK/slow.port" 2>"$IR_WORK/slow.err" &
ir_kill_on_exit $!
SLOW_PORT=$(port_of "$IR_WORK/slow.port")

# --- Roundcube: Debian's code, a root of its own here ---
RC=$IR_WORK/rc
mkdir -p "$RC/config" "$RC/plugins" "$RC/temp" "$RC/logs"
ln -s "$RC_SRC/program" "$RC/program"
ln -s "$RC_SRC/skins" "$RC/skins"
# Debian's iniset.php takes /var/lib/roundcube/ for the root unless told
printf '<?php\ndefine("INSTALL_PATH", __DIR__ . "/");\nrequire "%s/index.php";\n' "$RC_SRC" > "$RC/index.php"
for p in jqueryui filesystem_attachments; do
	[ -e "$RC_SRC/plugins/$p" ] && ln -s "$RC_SRC/plugins/$p" "$RC/plugins/$p"
done
ln -s "$(cd "$PLUGIN_SRC" && pwd)" "$RC/plugins/import_remote"
for f in defaults.inc.php mimetypes.php; do
	[ -e "/etc/roundcube/$f" ] && ln -s "/etc/roundcube/$f" "$RC/config/$f"
done
cat > "$RC/config/config.inc.php" <<EOF
<?php
\$config = [];
\$config['db_dsnw'] = 'sqlite:///$RC/roundcube.db?mode=0600';
\$config['imap_host'] = '127.0.0.1:$DEST_IMAP_PORT';
\$config['smtp_host'] = '';
\$config['des_key'] = 'import-remote-test-key-24ch';
\$config['plugins'] = ['import_remote'];
\$config['skin'] = 'elastic';
\$config['temp_dir'] = '$RC/temp/';
\$config['log_dir'] = '$RC/logs/';
\$config['log_driver'] = 'file';
\$config['enable_spellcheck'] = false;
\$config['enable_installer'] = false;
\$config['login_rate_limit'] = 0;
\$config['session_lifetime'] = 60;
\$config['import_remote_poll_interval'] = 1;
// the form offers the server's own sign-in with the provider (this
// Dovecot does not allow it: its refusal is shown)
\$config['import_remote_server_oauth2'] = true;
EOF
# the schema, as Roundcube's bin/initdb.sh would load it
php -r '$db = new PDO("sqlite:" . $argv[1]); $db->exec(file_get_contents($argv[2]));' \
	"$RC/roundcube.db" "$(ls -d "$RC_SRC"/SQL/sqlite.initial.sql /usr/share/roundcube/SQL/sqlite.initial.sql 2>/dev/null | head -1)"
check "Roundcube's SQLite schema loaded" test -s "$RC/roundcube.db"
RC_PORT=$(ir_free_port)
(cd "$RC" && ROUNDCUBE_CONFIG_DIR=$RC/config exec php -d include_path=".:$RC/program/lib:/usr/share/php" \
	-d "error_log=$RC/logs/php.log" -S "127.0.0.1:$RC_PORT" -t "$RC") > "$RC/logs/server.log" 2>&1 &
ir_kill_on_exit $!
ir_wait_port "$RC_PORT"
DRIVER_PORT=$(ir_free_port)
chromedriver --port="$DRIVER_PORT" > "$IR_WORK/chromedriver.log" 2>&1 &
ir_kill_on_exit $!
ir_wait_port "$DRIVER_PORT"

# the worker service: passes over the queue while the browser watches
# (the store and the key made first, then given to the mail user that
# the IMAP processes run as)
"$WORKER" -c "$DEST_CONF" -1 > "$OUT/worker.log" 2>&1
chown -R "$IR_OS_USER:" "$JOBS"
(while :; do "$WORKER" -c "$DEST_CONF" -1 >> "$OUT/worker.log" 2>&1; sleep 0.3; done) &
ir_kill_on_exit $!

( umask 077; echo srcpass > "$IR_WORK/good.pw"; echo wrongpass > "$IR_WORK/bad.pw" )
SHOTS=$OUT/shots
mkdir -p "$SHOTS"
[ -n "${RC_DEBUG:-}" ] && trap 'cp -r "$RC/logs" "$OUT" "$IR_WORK/chromedriver.log" "$IR_WORK/dst/log" "$RC_DEBUG"/; ir_exit' EXIT
browse() { # USER STEPS...
	local u=$1; shift
	timeout -k 5 300 "$TOOLS/rcbrowser" --url "http://127.0.0.1:$RC_PORT" --driver-port "$DRIVER_PORT" \
		--out "$SHOTS" --user "$u" "$@"
}
last_job() { sqlite_value "$JOBS/jobs.db" "select $2 from import_remote_jobs where username = ? order by id desc limit 1" "$1"; }

# --- log in, open Import mail, start, watch the bar to 100% ---
browse alice login start 1-start 127.0.0.1 "$PROXY_PORT" srcuser "$IR_WORK/good.pw" \
	watch 2-completed Completed 60 > "$OUT/alice-1" 2>&1
check_contains "log in: Settings shows Import mail" "$OUT/alice-1" "step login ok"
check_contains "start: the form is sent" "$OUT/alice-1" "step 1-start ok"
check_contains "the page reaches Completed" "$OUT/alice-1" "step 2-completed ok"
check_eq "the job completed" completed "$(last_job alice status)"
percents=$(cat "$SHOTS/2-completed.percents" 2>/dev/null)
check_contains "the bar reaches 100%" "$SHOTS/2-completed.txt" "percent: 100%"
check "the bar moved: a value between 0 and 100 was shown" \
	python3 -c 'import sys; v=[int(x) for x in sys.argv[1].split()]; sys.exit(0 if any(0 < x < 100 for x in v) and v == sorted(v) else 1)' "$percents"
imported=$(last_job alice imported)
skipped=$(last_job alice skipped)
check_contains "history: Completed with the counts" "$SHOTS/2-completed.txt" \
	"| Completed | $imported | $skipped | 0 |"
check_contains "the result line has the counts" "$SHOTS/2-completed.txt" "$imported imported"
check "a screenshot while running" test -s "$SHOTS/2-completed-running.png"
check "the destination has the source's mail" "$TOOLS/imapverify" --port "$DEST_IMAP_PORT" --user alice \
	--manifest "$IR_WORK/corpus/manifest.json" --dedup folder --map "Sent Items=Sent"

# --- re-run: nothing twice ---
browse alice login rerun 3-rerun "$IR_WORK/good.pw" watch 4-rerun-completed Completed 120 > "$OUT/alice-2" 2>&1
check_contains "re-run: Run again, the password, start" "$OUT/alice-2" "step 3-rerun ok"
check_contains "re-run: Completed" "$OUT/alice-2" "step 4-rerun-completed ok"
check_eq "re-run: a second job, nothing imported twice" "2 0" \
	"$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where username = 'alice'") $(last_job alice imported)"
check_contains "re-run: history row with 0 imported" "$SHOTS/4-rerun-completed.txt" "| Completed | 0 | $((imported + skipped))"

# --- a wrong password: the catalogue's title and hint ---
browse bob login start 5-wrong 127.0.0.1 "$PROXY_PORT" srcuser "$IR_WORK/bad.pw" \
	watch 6-failed Failed 120 > "$OUT/bob-1" 2>&1
check_contains "wrong password: Failed" "$OUT/bob-1" "step 6-failed ok"
check_contains "wrong password: the catalogue's title" "$SHOTS/6-failed.txt" "error_title: Authentication failed"
check_contains "wrong password: the hint" "$SHOTS/6-failed.txt" "App Password"
check_contains "wrong password: in the history too" "$SHOTS/6-failed.txt" "| Failed | 0 | 0 | 0 | Authentication failed"

# --- Cancel stops a running import ---
browse bob login start 7-slow 127.0.0.1 "$SLOW_PORT" srcuser "$IR_WORK/good.pw" \
	watch 8-running Running 60 cancel 9-cancel watch 10-cancelled Cancelled 60 > "$OUT/bob-2" 2>&1
check_contains "cancel: the import ran" "$OUT/bob-2" "step 8-running ok"
check_contains "cancel: pressed" "$OUT/bob-2" "step 9-cancel ok"
check_contains "cancel: the page shows Cancelled" "$OUT/bob-2" "step 10-cancelled ok"
check_eq "cancel: the job is cancelled" cancelled "$(last_job bob status)"

# --- the folder being copied, its hostile name shown as text ---
# (hostuser, made above: a folder whose name is HTML with a quote and a
# backslash): the bar says it as it is, and the page gets no element of it
browse carol login start 11-folder 127.0.0.1 "$PROXY_PORT" hostuser "$IR_WORK/good.pw" \
	watch 12-folder Completed 120 > "$OUT/carol-1" 2>&1
check_contains "folder: the import ran to Completed" "$OUT/carol-1" "step 12-folder ok"
check_contains "folder: the bar showed the folder being copied, its name as the source has it" \
	"$SHOTS/12-folder.progress" "folder 2 of 2: $HOSTILE"
check_contains "folder: set as text, never as HTML (no <img> on the page)" "$SHOTS/12-folder.progress" "images: 0"
check "folder: a screenshot of the bar with the folder's name" test -s "$SHOTS/12-folder-running.png"

# --- OAuth2: the server's own sign-in, a token of the user's ---
ENTRY=/private/vendor/vendor.dovecot/import-remote
TOKEN=rt-$RANDOM$RANDOM-refresh-secret
( umask 077; echo "$TOKEN" > "$IR_WORK/token.rt" )
browse dave login startserver 13-server > "$OUT/dave-1" 2>&1
check_contains "server's sign-in: the form without a source is sent" "$OUT/dave-1" "step 13-server ok"
check_contains "server's sign-in: Dovecot's answer to {\"oauth2\":\"server\"} is shown (not allowed here)" \
	"$SHOTS/13-server.txt" "does not sign in to your old provider"
check_eq "... nothing queued" 0 "$(sqlite_value "$JOBS/jobs.db" "select count(*) from import_remote_jobs where username = 'dave'")"
browse dave login starttoken 14-token gmail 127.0.0.1 "$SRC_IMAPS_PORT" srcuser refresh "$IR_WORK/token.rt" rc-client-id \
	> "$OUT/dave-2" 2>&1
check_contains "token: the form with a refresh token is sent" "$OUT/dave-2" "step 14-token ok"
check_eq "token: the job is for the source and user given" "srcuser 127.0.0.1 $SRC_IMAPS_PORT imaps" \
	"$(last_job dave "source_user || ' ' || source_host || ' ' || source_port || ' ' || source_ssl")"
last_job dave options > "$OUT/dave-options"
check_contains "token: the job's options: a refresh token grant" "$OUT/dave-options" "oauth2_grant=refresh_token"
check_contains "token: ... the client ID given" "$OUT/dave-options" "rc-client-id"
check_contains "token: ... Google's token endpoint (the Gmail preset's provider)" "$OUT/dave-options" "oauth2.googleapis.com"
check_eq "token: not in the page after it was sent (HTML and fields)" 0 "$(grep -c -- "$TOKEN" "$SHOTS/14-token.page")"
"$TOOLS/imapmeta" --port "$DEST_IMAP_PORT" --user dave get "$ENTRY/request" > "$OUT/dave-request" 2>&1
"$TOOLS/imapmeta" --port "$DEST_IMAP_PORT" --user dave get "$ENTRY/history" >> "$OUT/dave-request" 2>&1
check "token: never readable back (request NIL, not in the history)" \
	sh -c 'head -1 "$1" | grep -qx NIL && ! grep -q -- "$2" "$1"' - "$OUT/dave-request" "$TOKEN"
check_eq "token: the store holds it encrypted only" 0 "$(cat "$JOBS"/jobs.db* | grep -ac -- "$TOKEN")"

# --- the localization: every file complete, PHP that parses ---
for f in "$PLUGIN_SRC"/*.php "$PLUGIN_SRC"/localization/*.inc; do php -l "$f"; done > "$OUT/php-l" 2>&1
check_eq "php -l: the plugin's PHP and localization files parse" 0 "$(grep -vc '^No syntax errors detected' "$OUT/php-l")"
"$TOOLS/rclocales" "$PLUGIN_SRC" > "$OUT/locales" 2>&1
check "localization: every file has en_US's texts and placeholders (rclocales)" test "$?" = 0 -a -n "$(grep '^ok de_DE' "$OUT/locales")"

# --- the password: nowhere ---
check_eq "no source password in Roundcube's, Dovecot's or the worker's logs" 0 \
	"$(cat "$RC"/logs/* "$IR_WORK"/dst/log/* "$OUT/worker.log" 2>/dev/null | grep -c -e srcpass -e wrongpass -e "$TOKEN")"
check_eq "... nor in Roundcube's database (sessions)" 0 \
	"$(python3 -c 'import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); print(sum(str(r).count(x) for r in db.execute("select * from session") for x in ("srcpass","wrongpass",sys.argv[2])))' "$RC/roundcube.db" "$TOKEN")"

# this run's screenshots only
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
cp "$SHOTS"/*.png "$SHOTS"/*.txt "$SHOTS"/*.progress "$SHOTS"/*.page "$ARTIFACTS"/ 2>/dev/null
for f in "$OUT"/alice-* "$OUT"/bob-* "$OUT"/carol-* "$OUT"/dave-*; do echo "# $f"; cat "$f"; done

