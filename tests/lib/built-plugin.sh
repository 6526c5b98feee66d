# shellcheck shell=bash
# Lets Dovecot load the freshly built plugins without installing them:
# Dovecot loads modules only from its compiled-in module directory, so the
# scripts that need them (tests, demo, benchmarks) run in a private mount
# namespace in which that directory is a tmpfs holding a copy of the
# system's modules and the built ones (the doveadm plugin, the mail plugin
# and, on Dovecot 2.4, the settings module). The system's module directory
# is never written, and runs of different builds side by side do not see
# each other's plugins. Needs root.
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

# ir_overlay_dir DIR : DIR becomes a tmpfs holding a copy of what it held
ir_overlay_dir() {
	local dir=$1 tmp
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/import-remote-modules.XXXXXX")
	cp -a "$dir"/. "$tmp"/
	# a tmpfs lives as long as the namespace: nothing to clean up after
	mount -t tmpfs -o mode=755 import-remote-modules "$dir" ||
		{ rm -rf "$tmp"; return 1; }
	cp -a "$tmp"/. "$dir"/
	rm -rf "$tmp"
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
	# the whole module dir (1.8 MB): the mail plugin goes in it (its
	# queueing module in import-remote/), the doveadm plugin in doveadm/,
	# the 2.4 settings module in settings/
	ir_overlay_dir "$dovecot_moduledir" || return 1
	install -m 644 "$libs/lib10_doveadm_import_remote_plugin.so" \
		"$dovecot_moduledir/doveadm/" || return 1
	install -m 644 "$libs/lib20_import_remote_plugin.so" \
		"$dovecot_moduledir/" || return 1
	# ... and the module it loads to queue an import
	install -d "$dovecot_moduledir/import-remote" &&
	install -m 644 "$libs/lib20_import_remote_queue.so" \
		"$dovecot_moduledir/import-remote/" || return 1
	# Dovecot 2.4: the settings module, for the config process
	if [ -f "$libs/libimport_remote_settings.so" ]; then
		install -m 644 "$libs/libimport_remote_settings.so" \
			"$dovecot_moduledir/settings/" || return 1
	fi
}
