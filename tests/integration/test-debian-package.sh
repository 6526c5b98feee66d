#!/bin/bash
# The Debian package as an administrator gets it: debian/ builds the .deb
# with dpkg-buildpackage against this release's own dovecot-dev (Dovecot
# 2.3 on Debian 12, 2.4 in the Debian 13 root), lintian finds no error, and
# apt installs it on a clean root of the same release (debootstrap
# --variant=minbase, cached by scripts/debian-clean-root; each run works in
# an overlay on it, so the cache stays clean). There, with the shipped
# example configuration enabled as README says, a foreground import and a
# queued job (run by the installed worker) work; an upgrade to a higher
# version keeps the jobs and the key and reloads the running Dovecot;
# "apt-get remove" keeps the state, "purge" removes it. README's upgrade
# statements too: the installed binaries refuse a store of a newer schema,
# and a lost key is made anew while jobs holding a password under the old
# one fail with password_unusable.
set -u
# the overlay and proc mounts vanish with a mount namespace of our own
if [ -z "${IR_DEB_NS:-}" ]; then
	IR_DEB_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/../lib/integration.sh"
plan 49
script_timeout 900

SRC=$(cd "$TESTS_DIR/.." && pwd)
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
R=$IR_WORK/root
BR=$IR_WORK/buildroot
SR=$IR_WORK/sourceroot
PKG=dovecot-import-remote
STATEDIR=/var/lib/dovecot/import-remote

in_root() {
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
root_dovecot_stop() {
	local pid i
	pid=$(cat "$R/run/dovecot/master.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
	return 0
}
deb_exit() {
	root_dovecot_stop
	umount "$R/proc" 2>/dev/null
	umount "$R" 2>/dev/null
	umount "$BR/proc" 2>/dev/null
	umount "$BR/var/cache/apt/archives" 2>/dev/null
	umount "$BR" 2>/dev/null
	umount "$SR/proc" 2>/dev/null
	umount "$SR/var/cache/apt/archives" 2>/dev/null
	umount "$SR" 2>/dev/null
	ir_exit
}
trap deb_exit EXIT

# --- the .deb, built from a copy of this tree ---
B=$IR_WORK/build
mkdir -p "$B/src"
tar -C "$SRC" --exclude=./.git --exclude=./tests/results -cf - . | tar -C "$B/src" -xf -
start=$(date +%s)
(cd "$B/src" && DEB_BUILD_OPTIONS="nocheck noautodbgsym" dpkg-buildpackage -us -uc -b) \
	> "$OUT/build.log" 2>&1
check_eq "dpkg-buildpackage -us -uc -b builds the package (log: $OUT/build.log)" 0 "$?"
echo "# built in $(($(date +%s) - start)) s"
deb=$(ls "$B"/${PKG}_*.deb 2>/dev/null | head -1)
check "... ${PKG}_*.deb is there" test -f "$deb"
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -f "$deb" Depends > "$OUT/depends.out" 2>&1
check_contains "it depends on the ABI of the Dovecot it was built against (dovecot-abi-$(cat /usr/share/dovecot/dovecot-abi))" \
	"$OUT/depends.out" "dovecot-abi-$(cat /usr/share/dovecot/dovecot-abi)"
lintian "$deb" > "$OUT/lintian.out" 2>&1
lintian_rc=$?
lintian_errors() {
	grep '^E:' "$OUT/lintian.out"
	[ "$lintian_rc" = 0 ] || echo "lintian exited $lintian_rc"
	return 0
}
check_empty "lintian reports no error (exit $lintian_rc)" lintian_errors

# the same package with a higher version, for the upgrade
dpkg-deb -R "$deb" "$B/up" && sed -i "s/^Version: .*/Version: $version+up1/" "$B/up/DEBIAN/control" &&
	dpkg-deb -b "$B/up" "$B/${PKG}_up.deb" > /dev/null

# --- a clean root of this release, in an overlay ---
start=$(date +%s)
cache=$("$SRC/scripts/debian-clean-root" "$codename" 2> "$OUT/clean-root.log" | tail -1)
echo "# clean $codename root ready in $(($(date +%s) - start)) s"
mkdir -p "$IR_WORK/ov/upper" "$IR_WORK/ov/work" "$R"
mount -t overlay ir-deb-root -o "lowerdir=$cache,upperdir=$IR_WORK/ov/upper,workdir=$IR_WORK/ov/work" "$R" &&
	mount -t proc proc "$R/proc"
check "a clean $codename root ($cache, log: $OUT/clean-root.log) in an overlay" test -x "$R/usr/bin/apt-get"

# Debian's Dovecot first (an admin's single-uid setup: vmail), to see what
# the package changes by being installed
in_root useradd --system --user-group --home-dir /nonexistent --no-create-home vmail
in_root apt-get install -y -q --no-install-recommends dovecot-imapd dovecot-sqlite \
	> "$OUT/apt-dovecot.log" 2>&1
in_root doveconf -n > "$OUT/doveconf-before.out" 2>&1
cp "$deb" "$B/${PKG}_up.deb" "$R/tmp/"
in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" \
	> "$OUT/apt-install.log" 2>&1
check_eq "apt-get install ./$(basename "$deb") on the clean root (log: $OUT/apt-install.log)" 0 "$?"

moduledir=/usr/lib/dovecot/modules
{
	echo "$moduledir/doveadm/lib10_doveadm_import_remote_plugin.so"
	echo "$moduledir/lib20_import_remote_plugin.so"
	echo "$moduledir/import-remote/lib20_import_remote_queue.so"
	ir_dovecot_24 && echo "$moduledir/settings/libimport_remote_settings.so"
	echo "/usr/lib/dovecot/import-remote-worker"
	echo "/usr/share/man/man1/doveadm-import-remote.1.gz"
	echo "/usr/share/doc/$PKG/README.md.gz"
	echo "/usr/share/doc/$PKG/events.md.gz"
	echo "/etc/dovecot/conf.d/90-import-remote.conf"
} > "$OUT/expected.files"
missing_files() { while read -r f; do [ -f "$R$f" ] || echo "$f"; done < "$OUT/expected.files"; }
check_empty "the modules, the worker, the man page and the example config are installed" missing_files
in_root dpkg-query -W -f '${Conffiles}' "$PKG" > "$OUT/conffiles.out" 2>&1
check_contains "the example config is a conffile" \
	"$OUT/conffiles.out" "/etc/dovecot/conf.d/90-import-remote.conf"
in_root doveconf -n > "$OUT/doveconf-after.out" 2>&1
check "installed, nothing in Dovecot's configuration changed (doveconf -n: $OUT/doveconf-*.out)" \
	diff "$OUT/doveconf-before.out" "$OUT/doveconf-after.out"
check_eq "the state directory $STATEDIR belongs to vmail, mode 0750" \
	"vmail:vmail 750" "$(in_root stat -c '%U:%G %a' "$STATEDIR" 2>&1)"
in_root doveadm help > "$OUT/help.out" 2>&1
check_contains "doveadm knows the command" "$OUT/help.out" "import-remote "
# README's own check, as written there (2.3's doveadm help writes to stderr)
readme_help=$(sed -n 's/^To check that doveadm sees the command: `\([^`]*\)`.*/\1/p' "$SRC/README.md")
in_root sh -c "$readme_help" > "$OUT/readme-help.out" 2> "$OUT/readme-help.err"
check_contains "README's check '$readme_help' prints the command's line" \
	"$OUT/readme-help.out" "import-remote "

# --- the example configuration enabled as README says, and a Dovecot ---
sed -i '/^#service import-remote-worker {/,/^#}/ s/^#//; /^#service auth {/,/^#}/ s/^#//' \
	"$R/etc/dovecot/conf.d/90-import-remote.conf"
# no PAM: the users are in a passwd-file
sed -i 's/^!include auth-system.conf.ext/#&/' "$R/etc/dovecot/conf.d/10-auth.conf"
port=$(ir_free_port)
vmail_uid=$(in_root id -u vmail)
{
	echo "listen = 127.0.0.1"
	echo "protocols = imap"
	echo "ssl = no"
	echo "log_path = /var/log/dovecot.log"
	echo "first_valid_uid = $vmail_uid"
	echo "auth_mechanisms = plain"
	if ir_dovecot_24; then
		cat <<CONF
auth_allow_cleartext = yes
mail_driver = maildir
mail_path = ~/Maildir
mail_inbox_path =
passdb passwd-file {
  default_password_scheme = PLAIN
  passwd_file_path = /etc/dovecot/users
}
userdb passwd-file {
  passwd_file_path = /etc/dovecot/users
}
CONF
	else
		cat <<CONF
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u /etc/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%u /etc/dovecot/users
}
CONF
	fi
	cat <<CONF
service imap-login {
  inet_listener imap {
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
} > "$R/etc/dovecot/local.conf"
# the plugin's settings where README says: in the example config (the
# source is this Dovecot on 127.0.0.1, without TLS)
ir_conf_settings "import_remote_allowed_networks = 127.0.0.0/8" \
	"import_remote_allow_plaintext = yes" >> "$R/etc/dovecot/conf.d/90-import-remote.conf"
for u in srcuser dest1 dest2 dest3; do
	echo "$u:{PLAIN}pw-$u:$vmail_uid:$vmail_uid::/home/$u::"
done > "$R/etc/dovecot/users"
chmod 640 "$R/etc/dovecot/users"
in_root chown root:dovecot /etc/dovecot/users
"$TOOLS/mkcorpus" --count 30 --layout inbox-only --no-attachments -o "$IR_WORK/corpus" > /dev/null
mkdir -p "$R/home"
for u in srcuser dest1 dest2 dest3; do mkdir -p "$R/home/$u"; done
cp -a "$IR_WORK/corpus/Maildir" "$R/home/srcuser/Maildir"
in_root chown -R vmail:vmail /home
echo pw-srcuser > "$R/root/src.pw"
chmod 600 "$R/root/src.pw"
in_root dovecot > "$OUT/dovecot-start.out" 2>&1
ir_wait_port "$port"
check "Dovecot starts in the root with the example config enabled (log: $R/var/log/dovecot.log)" \
	ir_port_open "$port"
expected=$(in_root doveadm -f flow mailbox status -u srcuser -t messages '*' 2>&1 |
	sed -n 's/^messages=//p')

src_opts=(--host 127.0.0.1 --port "$port" --ssl none --user srcuser
	--password-file /root/src.pw)
in_root doveadm import-remote run -u dest1 "${src_opts[@]}" --quiet \
	> "$OUT/run.out" 2> "$OUT/run.err"
check_eq "doveadm import-remote run exits 0 (stderr: $OUT/run.err)" 0 "$?"
check_eq "... it imported the source's $expected messages (or skipped them as copies)" "$expected" \
	"$(sum "$(flow_field "$OUT/run.out" imported)" "$(flow_field "$OUT/run.out" skipped_duplicates)")"

# wait_job USER ID: until the job has ended; prints its status
wait_job() {
	local i st
	for i in $(seq 1 600); do
		st=$(in_root doveadm import-remote status -u "$1" "$2" 2>/dev/null |
			sed -n 's/.*status=\([a-z_]*\).*/\1/p' | head -1)
		case $st in completed|failed|cancelled) break ;; esac
		sleep 0.1
	done
	echo "$st"
}
job=$(in_root doveadm import-remote start -u dest2 "${src_opts[@]}" 2> "$OUT/start.err" |
	sed -n 's/^job=\([0-9]*\).*/\1/p')
check "doveadm import-remote start queues a job (stderr: $OUT/start.err)" test -n "$job"
check_eq "... the installed worker completes it" completed "$(wait_job dest2 "$job")"
check_eq "... as vmail: the store and the key are vmail's" "vmail vmail" \
	"$(in_root stat -c %U "$STATEDIR/import-remote.db" "$STATEDIR/import-remote.key" 2>&1 | xargs)"
key_sum=$(sha256sum < "$R$STATEDIR/import-remote.key")
jobs_before=$(in_root doveadm import-remote history -u dest2 2>&1)

# --- upgrade, Dovecot running: dovecot-core's trigger restarts it ---
# a running system's policy: services may be acted on (in a chroot without
# an init system invoke-rc.d blocks otherwise)
printf '#!/bin/sh\nexit 0\n' > "$R/usr/sbin/policy-rc.d"
master_pid() { cat "$R/run/dovecot/master.pid" 2>/dev/null; }
pid_before=$(master_pid)
in_root apt-get install -y -q "/tmp/${PKG}_up.deb" > "$OUT/apt-upgrade.log" 2>&1
check_eq "apt-get install of version $version+up1 upgrades (log: $OUT/apt-upgrade.log)" \
	"$version+up1" "$(in_root dpkg-query -W -f '${Version}' "$PKG")"
ir_wait_port "$port"
pid_after=$(master_pid)
check "... the running Dovecot was restarted (pid $pid_before, now $pid_after)" \
	test -n "$pid_after" -a "$pid_after" != "$pid_before"
check_eq "... the key is the same" "$key_sum" "$(sha256sum < "$R$STATEDIR/import-remote.key")"
check_eq "... the jobs are there" "$jobs_before" "$(in_root doveadm import-remote history -u dest2 2>&1)"
# the schema never moves back: a store newer than the binaries is refused
# (README: "The job store's schema")
set_schema() {
	python3 - "$R$STATEDIR/import-remote.db" "$1" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("UPDATE import_remote_meta SET value = ? WHERE name = 'schema_version'", (sys.argv[2],))
con.commit()
PY
}
schema=$(sqlite_value "$R$STATEDIR/import-remote.db" \
	"SELECT value FROM import_remote_meta WHERE name = 'schema_version'")
set_schema 9999
in_root doveadm import-remote history -u dest2 > "$OUT/newer.out" 2>&1
check_contains "... a store of a newer schema is refused, not used" "$OUT/newer.out" \
	"The job store has schema version 9999, newer than this version understands ($schema)"
set_schema "$schema"
job3=$(in_root doveadm import-remote start -u dest3 "${src_opts[@]}" 2> "$OUT/start3.err" |
	sed -n 's/^job=\([0-9]*\).*/\1/p')
check_eq "... a job queued after the upgrade completes" completed "$(wait_job dest3 "$job3")"

# --- remove keeps the state, purge removes it ---
CONF=/etc/dovecot/conf.d/90-import-remote.conf
in_root apt-get remove -y -q "$PKG" > "$OUT/apt-remove.log" 2>&1
check_eq "apt-get remove succeeds (log: $OUT/apt-remove.log)" 0 "$?"
check "... the modules are gone" test ! -e "$R$moduledir/lib20_import_remote_plugin.so"
check "... the store is kept" test -s "$R$STATEDIR/import-remote.db"
check_eq "... and the key" "$key_sum" "$(sha256sum < "$R$STATEDIR/import-remote.key")"
check_eq "... and the jobs in it" 2 \
	"$(sqlite_value "$R$STATEDIR/import-remote.db" "SELECT COUNT(*) FROM import_remote_jobs")"
check "... the (enabled) example config is kept, out of conf.d/*.conf" \
	grep -q '^service import-remote-worker' "$R$CONF.removed"
ir_wait_port "$port"
check "... Dovecot (restarted by the trigger) runs without the package" ir_port_open "$port"
in_root apt-get install -y -q "/tmp/${PKG}_up.deb" > "$OUT/apt-reinstall.log" 2>&1
check "installed again, the example config is back as it was" \
	grep -q '^service import-remote-worker' "$R$CONF"
ir_wait_port "$port"
check_eq "... and the jobs" "$jobs_before" \
	"$(in_root doveadm import-remote history -u dest2 2>&1 | grep -F -x -f <(echo "$jobs_before"))"

# a lost key (README: "The key file"): a new one is made on the next use,
# and a job whose password is under the old one fails with
# password_unusable, the password sent nowhere. The job: a failed one
# (wrong password: not retried by itself), which keeps its password for
# retry
echo wrong > "$R/root/wrong.pw"
chmod 600 "$R/root/wrong.pw"
job4=$(in_root doveadm import-remote start -u dest1 --host 127.0.0.1 --port "$port" \
	--ssl none --user srcuser --password-file /root/wrong.pw 2> "$OUT/start4.err" |
	sed -n 's/^job=\([0-9]*\).*/\1/p')
check_eq "a job with a wrong password fails" failed "$(wait_job dest1 "$job4")"
root_dovecot_stop
mv "$R$STATEDIR/import-remote.key" "$IR_WORK/old.key"
in_root dovecot > "$OUT/dovecot-start2.out" 2>&1
ir_wait_port "$port"
job5=$(in_root doveadm import-remote retry -u dest1 "$job4" 2> "$OUT/retry.err" |
	sed -n 's/^job=\([0-9]*\).*/\1/p')
check_eq "the key lost, its retry fails" failed "$(wait_job dest1 "$job5")"
in_root doveadm import-remote status -u dest1 "$job5" > "$OUT/status5.out" 2>&1
check_contains "... with password_unusable" "$OUT/status5.out" "password_unusable"
check "... and a new key was made" test -s "$R$STATEDIR/import-remote.key"
check "... not the same" test "$(sha256sum < "$R$STATEDIR/import-remote.key")" != "$key_sum"
in_root apt-get purge -y -q "$PKG" > "$OUT/apt-purge.log" 2>&1
check_eq "apt-get purge succeeds (log: $OUT/apt-purge.log)" 0 "$?"
check "... the state directory is gone" test ! -e "$R$STATEDIR"
check "... and the example config" test ! -e "$R$CONF" -a ! -e "$R$CONF.removed"
check "... Dovecot's own state is not" test -d "$R/var/lib/dovecot"

# --- README's install commands, as written there, each on an overlay of
# its own of the clean root (apt answers yes, as the admin would; the two
# share the downloaded .debs) ---
mkdir -p "$IR_WORK/apt-archives/partial"
# readme_root DIR NAME: DIR, an overlay of the clean root with a copy of the
# source tree in /root/src
readme_root() {
	mkdir -p "$IR_WORK/$2/upper" "$IR_WORK/$2/work" "$1"
	mount -t overlay "ir-deb-$2" -o "lowerdir=$cache,upperdir=$IR_WORK/$2/upper,workdir=$IR_WORK/$2/work" "$1" &&
		mount -t proc proc "$1/proc" &&
		mount --bind "$IR_WORK/apt-archives" "$1/var/cache/apt/archives" || return 1
	echo 'APT::Get::Assume-Yes "true";' > "$1/etc/apt/apt.conf.d/90assume-yes"
	mkdir -p "$1/root/src"
	tar -C "$SRC" --exclude=./.git --exclude=./tests/results -cf - . | tar -C "$1/root/src" -xf -
}
# readme_block HEADING: the first code block under that heading
readme_block() {
	awk -v h="$1" '$0 == h { s = 1; next } s && /^```/ { if (b) exit; b = 1; next } b' "$SRC/README.md"
}
readme_run() {
	local root=$1 script=$2
	shift 2
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@" sh -ec "cd /root/src; . $script"
}

# "Install from a Debian package": what the package's Build-Depends name
# must be enough to build it and run its unit tests
readme_root "$BR" bov
readme_block "## Install from a Debian package" > "$BR/root/readme-deb.sh"
echo "# README's commands: $(tr '\n' ';' < "$BR/root/readme-deb.sh")"
start=$(date +%s)
readme_run "$BR" /root/readme-deb.sh DEB_BUILD_OPTIONS=noautodbgsym > "$OUT/readme-deb.log" 2>&1
rc=$?
check_eq "README's Debian package commands work on a clean root (log: $OUT/readme-deb.log)" 0 "$rc"
[ "$rc" = 0 ] || tail -5 "$OUT/readme-deb.log" | sed 's/^/#   /'
echo "# README's package build on a clean root: $(($(date +%s) - start)) s"
check_eq "... the package is installed" "$version" \
	"$(chroot "$BR" dpkg-query -W -f '${Version}' "$PKG" 2>&1)"

# "Install on a real Dovecot": the build from the source tree
readme_root "$SR" sov
readme_block "## Install on a real Dovecot" > "$SR/root/readme-src.sh"
echo "# README's commands: $(tr '\n' ';' < "$SR/root/readme-src.sh")"
start=$(date +%s)
readme_run "$SR" /root/readme-src.sh > "$OUT/readme-src.log" 2>&1
rc=$?
check_eq "README's install from source works on a clean root (log: $OUT/readme-src.log)" 0 "$rc"
[ "$rc" = 0 ] || tail -5 "$OUT/readme-src.log" | sed 's/^/#   /'
echo "# README's install from source on a clean root: $(($(date +%s) - start)) s"
chroot "$SR" sh -c "$readme_help" > "$OUT/readme-src-help.out" 2>&1
check_contains "... doveadm knows the command" "$OUT/readme-src-help.out" "import-remote "
check_eq "... the state directory belongs to vmail, mode 0750" \
	"vmail:vmail 750" "$(chroot "$SR" stat -c '%U:%G %a' "$STATEDIR" 2>&1)"
check "... the man page is where doveadm help import-remote looks (/usr/share/man)" \
	test -f "$SR/usr/share/man/man1/doveadm-import-remote.1"
if ir_dovecot_24; then conf_version=2.4; else conf_version=2.3; fi
check "... the example configuration of this Dovecot ($conf_version) is in conf.d" \
	cmp "$SRC/conf.d/$conf_version/90-import-remote.conf" "$SR/etc/dovecot/conf.d/90-import-remote.conf"
