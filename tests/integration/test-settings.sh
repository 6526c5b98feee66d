#!/bin/bash
# The import_remote_* settings: one declaration read the same way on
# Dovecot 2.3 (plugin { }) and 2.4 (a settings module doveconf knows). The
# example configuration for this version is valid; a bad value is refused
# with a message naming the setting; protocol doveadm { } and userdb fields
# override the global value.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 21

ir_dest_start
X=$IR_WORK/settings
mkdir -p "$X"
chown "$IR_OS_USER:" "$X"
base_conf=$IR_WORK/dst/dovecot.conf.base
cp "$DEST_CONF" "$base_conf"
adm() { doveadm -c "$DEST_CONF" "$@"; }
# with_settings "key = value"... : the destination's config plus these
with_settings() {
	{ cat "$base_conf"; ir_conf_settings "$@"; } > "$DEST_CONF"
}

# --- the example configuration for this version ---
if ir_dovecot_24; then
	example=$TESTS_DIR/../conf.d/2.4/90-import-remote.conf
else
	example=$TESTS_DIR/../conf.d/2.3/90-import-remote.conf
fi
# every import_remote_* setting it shows, first value of each, as given
mapfile -t example_settings < <(sed -n 's/^#[ #]*\(import_remote_[a-z_]*\) =[ ]*\(.*\)$/\1 = \2/p' "$example" |
	sed "s|/var/lib/dovecot/import-remote/|$X/|; s|/var/lib/dovecot/|$X/|; s|<a long random string>|s3cret|" | awk '!seen[$1]++')
check "example config: shows the settings" test "${#example_settings[@]}" -ge 11
with_settings "${example_settings[@]}"
doveconf -c "$DEST_CONF" -n > "$OUT/example.conf" 2>&1
check_eq "example config: doveconf accepts it" 0 "$?"
if ir_dovecot_24; then
	check_contains "example config: doveconf shows import_remote_store" \
		"$OUT/example.conf" "import_remote_store = sqlite:$X/import-remote.db"
else
	skip 1 "doveconf shows plugin { } settings as given (2.3)"
fi
adm import-remote batch list > "$OUT/example.out" 2>&1
check_eq "example config: a command reads it" 0 "$?"
check "example config: the store it names was created" test -s "$X/import-remote.db"

# --- a bad value is refused, naming the setting ---
with_settings "import_remote_store = sqlite:$X/a.db" "import_remote_workers = lots"
adm import-remote batch list > "$OUT/bad1.out" 2>&1
rc=$?
# (2.4's doveadm refuses the whole configuration itself)
check "bad number: a command refuses it (exit $rc: an error, not a crash)" test "$rc" -gt 0 -a "$rc" -lt 128
check_contains "bad number: names the setting" "$OUT/bad1.out" "import_remote_workers"
with_settings "import_remote_store = sqlite:$X/a.db" "import_remote_pause_percent = 150"
adm import-remote batch list > "$OUT/bad2.out" 2>&1
check_eq "pause percent 150: refused (config error)" 78 "$?"
check_contains "pause percent 150: says what is allowed" "$OUT/bad2.out" \
	"import_remote_pause_percent: Invalid value 150: use 1-100"
# ... and where it was set, as Dovecot's own config errors say
check_contains "pause percent 150: says the file and line that set it" "$OUT/bad2.out" \
	"use 1-100 (in $DEST_CONF line $(grep -n 'import_remote_pause_percent = 150' "$DEST_CONF" | cut -d: -f1))"
with_settings "import_remote_store = mysql:$X/a.db"
adm import-remote batch list > "$OUT/bad3.out" 2>&1
check_eq "unknown store driver: refused (config error)" 78 "$?"
check_contains "unknown store driver: says what is allowed" "$OUT/bad3.out" \
	"use sqlite:<path> or pgsql:<connect string>"
if ir_dovecot_24; then
	with_settings "import_remote_pause_percent = 150"
	doveconf -c "$DEST_CONF" -n > "$OUT/bad4.out" 2>&1
	rc=$?
	check "doveconf rejects a bad value (exit $rc: an error, not a crash)" test "$rc" -gt 0 -a "$rc" -lt 128
	check_contains "doveconf says why" "$OUT/bad4.out" "import_remote_pause_percent: Invalid value 150"
else
	skip 2 "doveconf knows no import_remote_* settings on 2.3"
fi

# --- protocol doveadm { } overrides the global value ---
if ir_dovecot_24; then
	with_settings "import_remote_store = sqlite:$X/global.db"
	printf 'protocol doveadm {\n  import_remote_store = sqlite:%s/doveadm.db\n}\n' "$X" >> "$DEST_CONF"
else
	with_settings "import_remote_store = sqlite:$X/global.db"
	printf 'protocol doveadm {\n  plugin {\n    import_remote_store = sqlite:%s/doveadm.db\n  }\n}\n' "$X" >> "$DEST_CONF"
fi
adm import-remote batch list > "$OUT/proto.out" 2>&1
check "protocol doveadm: doveadm uses its own store" test -s "$X/doveadm.db"
check "protocol doveadm: not the global one" test ! -e "$X/global.db"

# --- a userdb field overrides it for that user ---
h=$IR_WORK/dst/home/ov
mkdir -p "$h"; chown "$IR_OS_USER:" "$h"
echo "ov:{PLAIN}destpass:$IR_UID:$IR_GID::$h::$(ir_userdb_mail sdbox '~/sdbox') userdb_import_remote_store=sqlite:$X/ov.db" >> "$IR_WORK/dst/passwd"
with_settings "import_remote_store = sqlite:$X/global2.db"
ir_stop_instance "$IR_WORK/dst"
ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
adm import-remote history -u ov > "$OUT/userdb.out" 2>&1
check_eq "userdb field: the user's command works" 0 "$?"
check "userdb field: that user's store is the one the field names" test -s "$X/ov.db"
adm import-remote history -u sd > "$OUT/userdb2.out" 2>&1
check "userdb field: other users keep the global store" test -s "$X/global2.db"
# a bad value from userdb: the error names the field and the user
h=$IR_WORK/dst/home/badov
mkdir -p "$h"; chown "$IR_OS_USER:" "$h"
echo "badov:{PLAIN}destpass:$IR_UID:$IR_GID::$h::$(ir_userdb_mail sdbox '~/sdbox') userdb_import_remote_pause_percent=150" >> "$IR_WORK/dst/passwd"
ir_stop_instance "$IR_WORK/dst"
ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
adm import-remote history -u badov > "$OUT/userdb-bad.out" 2>&1
rc=$?
check "userdb field, bad value: refused (exit $rc: an error, not a crash)" test "$rc" -gt 0 -a "$rc" -lt 128
check_contains "userdb field, bad value: names the setting, the userdb field and the user" "$OUT/userdb-bad.out" \
	"import_remote_pause_percent: Invalid value 150: use 1-100 (from the userdb field import_remote_pause_percent of user badov)"
exit 0
