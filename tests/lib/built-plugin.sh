# shellcheck shell=bash
# Lets Dovecot load the freshly built plugin without installing it: doveadm
# loads plugins only from its compiled-in module directory, so the scripts
# that need the plugin (tests, demo, benchmarks) run in a private mount
# namespace in which that directory is a tmpfs holding the system's
# modules and the built plugin (on Dovecot 2.4 also the settings module
# directory, with the built settings module). The system's module directory is never
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
	# without one the script goes on, and ir_use_built_plugin says why
	if ! unshare --mount --propagation private true 2>/dev/null; then
		echo "built-plugin.sh: cannot make a private mount namespace (unshare)" >&2
		return 1
	fi
	IR_PLUGIN_NS=1 exec unshare --mount --propagation private \
		bash "$script" "$@"
}

# ir_overlay_dir DIR FILE... : DIR becomes a tmpfs holding its own .so
# files and FILE...
ir_overlay_dir() {
	local dir=$1 tmp
	shift
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/import-remote-modules.XXXXXX")
	cp -p "$dir"/*.so "$tmp"/ 2>/dev/null
	# a tmpfs lives as long as the namespace: nothing to clean up after
	mount -t tmpfs -o mode=755 import-remote-modules "$dir" ||
		{ rm -rf "$tmp"; return 1; }
	cp -p "$tmp"/*.so "$dir"/ 2>/dev/null
	rm -rf "$tmp"
	install -m 644 "$@" "$dir/"
}

ir_use_built_plugin() {
	local builddir=$1 libs
	[ -n "${IR_PLUGIN_NS:-}" ] ||
		{ echo "ir_use_built_plugin: not in a private namespace" >&2; return 1; }
	local config=/usr/lib/dovecot/dovecot-config dovecot_moduledir=
	[ -r "$config" ] ||
		{ echo "ir_use_built_plugin: no $config (dovecot-dev)" >&2; return 1; }
	# shellcheck disable=SC1090
	. "$config"
	[ -n "$dovecot_moduledir" ] && [ -d "$dovecot_moduledir/doveadm" ] ||
		{ echo "ir_use_built_plugin: no doveadm module dir in $config" >&2; return 1; }
	libs=$builddir/src/.libs
	[ -f "$libs/lib10_doveadm_import_remote_plugin.so" ] ||
		{ echo "ir_use_built_plugin: the plugin is not built in $builddir" >&2; return 1; }
	ir_overlay_dir "$dovecot_moduledir/doveadm" \
		"$libs/lib10_doveadm_import_remote_plugin.so" || return 1
	# Dovecot 2.4: the settings module, for the config process
	if [ -f "$libs/libimport_remote_settings.so" ]; then
		ir_overlay_dir "$dovecot_moduledir/settings" \
			"$libs/libimport_remote_settings.so" || return 1
	fi
}
