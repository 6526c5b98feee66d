# shellcheck shell=bash
# Lets Dovecot load the freshly built plugin without installing it: doveadm
# loads plugins only from its compiled-in module directory, so the scripts
# that need the plugin (tests, demo, benchmarks) run in a private mount
# namespace in which that directory is a tmpfs holding the system's
# modules and the built plugin. The system's module directory is never
# written, and runs of different builds side by side do not see each
# other's plugin. Needs root.
#
#   . tests/lib/built-plugin.sh
#   ir_private_namespace "$0" "$@"     # first: re-executes the script once
#   ...                                # parse options, find BUILDDIR
#   ir_use_built_plugin "$BUILDDIR"

ir_private_namespace() {
	local script=$1
	shift
	[ -n "${IR_PLUGIN_NS:-}" ] && return 0
	IR_PLUGIN_NS=1 exec unshare --mount --propagation private \
		bash "$script" "$@"
}

ir_use_built_plugin() {
	local builddir=$1 moddir tmp
	[ -n "${IR_PLUGIN_NS:-}" ] ||
		{ echo "ir_use_built_plugin: not in a private namespace" >&2; return 1; }
	# shellcheck disable=SC1091
	. /usr/lib/dovecot/dovecot-config
	moddir=$dovecot_moduledir/doveadm
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/import-remote-modules.XXXXXX")
	cp -p "$moddir"/*.so "$tmp"/ 2>/dev/null
	# a tmpfs lives as long as the namespace: nothing to clean up after
	mount -t tmpfs -o mode=755 import-remote-modules "$moddir" ||
		{ rm -rf "$tmp"; return 1; }
	cp -p "$tmp"/*.so "$moddir"/ 2>/dev/null
	rm -rf "$tmp"
	install -m 644 "$builddir/src/.libs/lib10_doveadm_import_remote_plugin.so" \
		"$moddir/"
}
