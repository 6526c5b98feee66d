#!/bin/bash
# The example configuration's workers as shipped (service
# import-remote-worker, user = the mail user, process_min_avail = 4):
# - with the job store in a directory that user can't write (the old
#   default, /var/lib/dovecot, is root's on Debian) each worker logs one
#   error naming the path, the uid and the fix, and stays up: no restart
#   loop, no flood of lines;
# - with the shipped default (the store's own directory, given to that user
#   as README says) the workers run the queue.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 14
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

if ir_dovecot_24; then
	example=$TESTS_DIR/../conf.d/2.4/90-import-remote.conf
else
	example=$TESTS_DIR/../conf.d/2.3/90-import-remote.conf
fi
# the example's worker service, uncommented; the built binary, the test's
# mail user for vmail
worker_conf=$(sed -n '/^#service import-remote-worker {/,/^#}/p' "$example" |
	sed "s/^#//; s|executable = import-remote-worker|executable = $WORKER|; s/user = vmail/user = $IR_OS_USER/")
check "the example has the worker service, as the mail user" \
	grep -q "user = $IR_OS_USER" <<< "$worker_conf"
min_avail=$(printf '%s\n' "$worker_conf" | sed -n 's/^ *process_min_avail = \([0-9]*\)$/\1/p')
# the default store's path, as the example shows it
default_store=$(sed -n 's/^#[ ]*import_remote_store = \(sqlite:.*\)$/\1/p' "$example" | head -1)
default_key=$(sed -n 's/^#[ ]*import_remote_key_file = \(.*\)$/\1/p' "$example" | head -1)
check_eq "the example's default store is in a directory of its own" \
	"sqlite:/var/lib/dovecot/import-remote/import-remote.db" "$default_store"

"$TOOLS/mkcorpus" -n 5 -s 41 --layout inbox-only -o "$IR_WORK/corpus" >/dev/null ||
	{ fail "mkcorpus"; exit 1; }
ir_source_start "$IR_WORK/corpus/Maildir" .

# --- a store in a directory the workers' user can't write ---
ROOTDIR=$IR_WORK/rootstate
mkdir -p "$ROOTDIR"; chmod 755 "$ROOTDIR"
IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = sqlite:$ROOTDIR/import-remote.db" \
	"import_remote_key_file = $ROOTDIR/import-remote.key")
$worker_conf"
export IR_DEST_EXTRA_CONF
ir_dest_start
DEST_LOG=$IR_WORK/dst/log/dovecot.log
# the workers look users up as their user
restart_dest() {
	ir_stop_instance "$IR_WORK/dst"
	sed -i "/unix_listener auth-userdb/,/}/s/user = root/user = $IR_OS_USER/" "$DEST_CONF"
	: > "$DEST_LOG"
	ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
	ir_wait_port "$DEST_IMAP_PORT"
}
restart_dest
sleep 6
worker_errors() { grep -c 'import-remote-worker.*Error' "$DEST_LOG"; }
check_contains "unwritable directory: the error names the store's path" "$DEST_LOG" \
	"The job store $ROOTDIR/import-remote.db cannot be created by uid $IR_UID ($IR_OS_USER)"
check_contains "... says why (the directory, its owner and mode)" "$DEST_LOG" \
	"its directory $ROOTDIR (owner uid 0, mode 0755) is not writable by that user"
check_contains "... and the fix" "$DEST_LOG" \
	"Fix: install -d -o $IR_OS_USER -m 0750 $ROOTDIR/import-remote and set import_remote_store to $ROOTDIR/import-remote/import-remote.db"
n=$(worker_errors)
check "no flood: one error per worker process in 6 s ($n lines, ${min_avail:-?} workers)" \
	test "$n" -ge 1 -a "$n" -le "${min_avail:-0}"
check_empty "no worker died (no Fatal, no restart)" \
	sh -c "grep -E 'Fatal|returned error|killed with signal' '$DEST_LOG' || :"
# the master's worker processes
worker_pids() {
	ps -o pid=,args= --ppid "$(cat "$IR_WORK/dst/run/master.pid")" |
		awk '/import-remote-worker/ {print $1}' | sort | tr '\n' ' '
}
pids_before=$(worker_pids)
sleep 3
pids_after=$(worker_pids)
check "the workers stay up (the same processes 3 s later: $pids_after)" \
	test -n "$pids_before" -a "$pids_before" = "$pids_after"
check_eq "... and log nothing more meanwhile" "$n" "$(worker_errors)"

# --- the shipped default: its directory given to the workers' user ---
STATE=$IR_WORK/state
mkdir -p "$STATE"; chmod 755 "$STATE"
store=${default_store/\/var\/lib\/dovecot\//$STATE/}
key=${default_key/\/var\/lib\/dovecot\//$STATE/}
# as README says: install -d -o vmail -g vmail -m 0750 /var/lib/dovecot/import-remote
install -d -o "$IR_OS_USER" -g "$(id -gn "$IR_OS_USER")" -m 0750 "$STATE/import-remote"
sed -i "s|sqlite:$ROOTDIR/import-remote.db|$store|; s|$ROOTDIR/import-remote.key|$key|" "$DEST_CONF"
restart_dest
doveadm -c "$DEST_CONF" import-remote start -u sd --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--user srcuser --password-file "$SRC_PASSWORD_FILE" > "$OUT/start.out" 2>&1
check_eq "the shipped default: a job is queued" 0 "$?"
job=$(flow_field "$OUT/start.out" job)
status=
for _ in $(seq 1 60); do
	status=$(sqlite_value "$STATE/import-remote/import-remote.db" \
		"select status from import_remote_jobs where id = ?" "${job:-0}")
	[ "$status" = completed ] || [ "$status" = failed ] && break
	sleep 0.5
done
check_eq "the shipped default: the workers run it" completed "$status"
check_eq "... the store and the key belong to the workers' user" "$IR_OS_USER $IR_OS_USER" \
	"$(stat -c %U "$STATE/import-remote/import-remote.db" "$key" | tr '\n' ' ' | sed 's/ $//')"
check_empty "... and no worker error" \
	sh -c "grep -E 'import-remote-worker.*(Error|Fatal)' '$DEST_LOG' || :"

# a store file made by another user (root ran a command before the
# directory was given away): the fix is to give the file, not the directory
chown root:root "$STATE/import-remote/import-remote.db"
doveadm -c "$DEST_CONF" import-remote status -u sd > "$OUT/rootfile.out" 2>&1
check_contains "a store file of root's: the error says to chown the file" "$OUT/rootfile.out" \
	"Fix: chown $IR_OS_USER: $STATE/import-remote/import-remote.db"
