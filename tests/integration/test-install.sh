#!/bin/bash
# README's install commands as written: "make install" (with DESTDIR) from
# the build dir puts exactly the modules, the worker and the man page where
# the installed Dovecot looks for them (dovecot-config's dovecot_moduledir,
# whatever Dovecot 2.4's dovecot.m4 would default to), doveadm then knows
# the command, and "make uninstall" leaves no file behind.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 13

B=${IR_BUILDDIR:-$TESTS_DIR/..}
D=$IR_WORK/destdir
config=/usr/lib/dovecot/dovecot-config
moduledir=$(sed -n 's/^dovecot_moduledir=//p' "$config")
libexecdir=$(sed -n 's/^dovecot_pkglibexecdir=//p' "$config")
statedir=$(sed -n 's/^dovecot_statedir=//p' "$config")
check "dovecot-config names the module dir ($moduledir)" test -n "$moduledir" -a -d "$moduledir"

check_contains "configure said where the modules go" "$B/config.log" \
	"modules will be installed into $moduledir"
make -C "$B" install DESTDIR="$D" > "$OUT/install.out" 2>&1
check_eq "make install DESTDIR=... succeeds" 0 "$?"

# every file, the man page's prefix aside
{
	echo "$moduledir/doveadm/lib10_doveadm_import_remote_plugin.so"
	echo "$moduledir/lib20_import_remote_plugin.so"
	echo "$moduledir/import-remote/lib20_import_remote_queue.so"
	ir_dovecot_24 && echo "$moduledir/settings/libimport_remote_settings.so"
	echo "$libexecdir/import-remote-worker"
	echo "MAN/man1/doveadm-import-remote.1"
} | sort > "$OUT/expected.files"
(cd "$D" && find . -not -type d | sed 's|^\.||; s|^/.*/share/man/|MAN/|') |
	sort > "$OUT/installed.files"
diff "$OUT/expected.files" "$OUT/installed.files" > "$OUT/files.diff"
check_eq "the installed files are exactly these (diff: $OUT/files.diff)" 0 "$?"
modules_elsewhere() {
	(cd "$D" && find . -name '*.so' | sed 's|^\.||' | { grep -v "^$moduledir/" || :; })
}
check_empty "no module outside Dovecot's module dir" modules_elsewhere
check "the job store's directory is made ($statedir/import-remote)" \
	test -d "$D$statedir/import-remote"
check_eq "... mode 0750" 750 "$(stat -c %a "$D$statedir/import-remote")"

# doveadm finds the command in what was installed, and only there: in a
# mount namespace of its own whose module dir is a copy without this build's
# plugin, then with what make install put in DESTDIR
unshare --mount --propagation private bash -c '
	. "$1/lib/built-plugin.sh"
	ir_overlay_dir "$2" || exit 1
	rm -f "$2"/doveadm/lib10_doveadm_import_remote_plugin.so
	doveadm help > "$3/help-without.out" 2>&1
	cp -a "$4$2"/. "$2"/
	doveadm help > "$3/help-with.out" 2>&1
	doveadm import-remote > "$3/usage.out" 2>&1
	echo $? > "$3/usage.rc"
' ir-install "$TESTS_DIR" "$moduledir" "$OUT" "$D"
check_not_contains "without the plugin, doveadm help has no import-remote" \
	"$OUT/help-without.out" "import-remote"
check_contains "with what make install put there, doveadm help lists import-remote" \
	"$OUT/help-with.out" "import-remote "
check_contains "doveadm import-remote prints the command's own usage" \
	"$OUT/usage.out" "--password-file <path>"

make -C "$B" uninstall DESTDIR="$D" > "$OUT/uninstall.out" 2>&1
check_eq "make uninstall DESTDIR=... succeeds" 0 "$?"
(cd "$D" && find . -not -type d) > "$OUT/left.files"
check_empty "make uninstall leaves no file (left: $OUT/left.files)" cat "$OUT/left.files"
check "make uninstall removes the (empty) store directory" \
	test ! -e "$D$statedir/import-remote"
