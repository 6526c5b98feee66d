#!/bin/bash
# A fleet tested as one: two Dovecot instances on this machine (two
# backends), each with an import-remote-worker service of 4 workers,
# sharing one PostgreSQL job store; one source Dovecot behind a proxy that
# sees every connection to it (a worker opens one per job). A batch of 200 users, each its own source
# account on the one host: the source never sees more connections at once
# than the host's cap (6, fewer than the 8 workers), across both backends. The second backend is killed
# (its master and workers, SIGKILL) mid-batch while it runs jobs; the
# first takes them over after the takeover time. Every job completes once,
# every mailbox is imported exactly once.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/pgsql.sh"
. "$TESTS_DIR/lib/fleet.sh"
plan 13
script_timeout 480
USERS=${IR_FLEET_USERS:-200}
CAP=6
TAKEOVER=6

"$TOOLS/mkcorpus" -n 3 -s 9 --no-attachments -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
fleet_add_source_accounts "$USERS"
fleet_proxy

pgdir=$IR_WORK/pgsql
if ! ir_pgsql_start "$pgdir"; then
	fail "PostgreSQL starts"
	exit 1
fi
chmod 755 "$pgdir"
sql() { psql -X -A -t -q -h "$pgdir" -U postgres -d postgres -c "$1"; }

JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
# 8 slots in the store, 4 workers per backend, the host capped at 6: the
# store, not the slots, holds the source to 6, and only both backends at
# once reach it
IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = pgsql:$PGSQL_CONNECT" \
	"import_remote_key_file = $JOBS/key" \
	"import_remote_host_connections = $CAP" \
	"import_remote_account_connections = 2")
$(fleet_service_conf 8 4 "$TAKEOVER")"
export IR_DEST_EXTRA_CONF
ir_dest_start
chown "$IR_OS_USER:" "$JOBS"
ir_stop_instance "$IR_WORK/dst"
sed -i "/unix_listener auth-userdb/,/}/s/user = root/user = $IR_OS_USER/" "$DEST_CONF"
fleet_add_users "$USERS"
ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
ir_wait_port "$DEST_IMAP_PORT" || ir_die "destination IMAP port did not open"
fleet_second_instance
ir_kill_on_exit "$(cat "$DEST2_DIR/run/master.pid")"
adm() { timeout -k 5 60 doveadm -c "$DEST_CONF" "$@"; }

csv=$IR_WORK/batch.csv
echo "source_email,source_password,destination_user" > "$csv"
for i in $(seq -f '%03g' 1 "$USERS"); do
	echo "s$i,srcpass,f$i" >> "$csv"
done
adm import-remote batch create --csv "$csv" --host 127.0.0.1 --port "$PROXY_PORT" \
	> "$OUT/create.out" 2> "$OUT/create.err"
check_eq "batch: $USERS jobs queued" 0 "$?"

# workers named host:pid; the jobs whose worker is one of these pids
jobs_of() {
	local p where=
	for p in "$@"; do
		where="$where OR worker LIKE '%:$p/%'"
	done
	echo "(false$where)"
}
b_pids=$(fleet_worker_pids "$DEST2_DIR" | tr '\n' ' ')
a_pids=$(fleet_worker_pids "$IR_WORK/dst" | tr '\n' ' ')
echo "# backend A's workers: $a_pids; backend B's: $b_pids"
# mid-batch, while B runs jobs: B dies, all of it at once
killed=
for i in $(seq 1 600); do
	done_n=$(sql "SELECT COUNT(*) FROM import_remote_jobs WHERE status = 'completed'")
	# (workers the master started again since are B's too)
	b_pids=$(fleet_worker_pids "$DEST2_DIR" | tr '\n' ' ')
	# shellcheck disable=SC2086
	b_live=$(sql "SELECT COUNT(*) FROM import_remote_jobs WHERE status IN ('preparing', 'running') AND $(jobs_of $b_pids)")
	if [ "${done_n:-0}" -ge $((USERS / 4)) ] && [ "${b_live:-0}" -ge 1 ]; then
		m=$(cat "$DEST2_DIR/run/master.pid")
		all=$(ps -o pid= --ppid "$m"; for p in $(ps -o pid= --ppid "$m"); do ps -o pid= --ppid "$p"; done)
		# shellcheck disable=SC2086
		kill -KILL "$m" $all 2>/dev/null
		killed=1
		break
	fi
	sleep 0.2
done
check_eq "fleet: backend B killed mid-batch ($done_n of $USERS done, $b_live of its jobs live)" 1 "$killed"
# shellcheck disable=SC2086
orphans=$(sql "SELECT id FROM import_remote_jobs WHERE status IN ('preparing', 'running') AND $(jobs_of $b_pids)" | tr '\n' ' ')
echo "# jobs B left live: $orphans"
check "fleet: B left jobs live when it died ($orphans)" test -n "$orphans"

st=
for i in $(seq 1 600); do
	adm -f json import-remote batch list > "$OUT/list.json" 2>/dev/null
	st=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))[0]["status"])' "$OUT/list.json" 2>/dev/null)
	[ "$st" = in_progress ] || break
	sleep 0.5
done
check_eq "batch: completed" completed "$st"
# what a job that did not complete says (for a failure's reader)
sql "SELECT id || ' ' || status || ' ' || error_code || ' lost ' || lost_claims || ': ' || error_detail FROM import_remote_jobs WHERE status <> 'completed'" |
	sed 's/^/# not completed: /'
check_eq "every job completed, once (no job retried or left)" "$USERS $USERS" \
	"$(sql "SELECT COUNT(*) FROM import_remote_jobs") $(sql "SELECT COUNT(*) FROM import_remote_jobs WHERE status = 'completed' AND superseded_by = 0")"
# shellcheck disable=SC2086
check_eq "fleet: B's jobs were finished by A" "0" \
	"$(sql "SELECT COUNT(*) FROM import_remote_jobs WHERE id IN ($(echo ${orphans:-0} | tr ' ' ',')) AND (status <> 'completed' OR $(jobs_of $b_pids))")"
# shellcheck disable=SC2086
check "fleet: B ran jobs before it died" test "$(sql "SELECT COUNT(*) FROM import_remote_jobs WHERE status = 'completed' AND $(jobs_of $b_pids)")" -ge 1
n_a=$(sql "SELECT COUNT(DISTINCT split_part(worker, '/', 1)) FROM import_remote_jobs")
check "fleet: more than one worker process ran jobs ($n_a)" test "${n_a:-0}" -ge 2
fleet_proxy_stop
read -r peak conns < <(fleet_peak)
echo "# the source saw $conns connections, at most $peak at once (cap $CAP)"
check "caps: never more than $CAP connections to the host at once, across both backends (peak $peak)" \
	test "${peak:-99}" -le "$CAP"
check "caps: more than one backend's 4 workers at once (peak $peak)" test "${peak:-0}" -gt 4
check "caps: a connection per job, and those B's death cut ($conns for $USERS)" \
	test "${conns:-0}" -ge "$USERS"
# every mailbox, a few at a time
export TOOLS DEST_IMAP_PORT MANIFEST OUT
seq -f '%03g' 1 "$USERS" | xargs -P 3 -I{} sh -c \
	'"$TOOLS/imapverify" --port "$DEST_IMAP_PORT" --user "f{}" --manifest "$MANIFEST" --dedup folder --map "Sent Items=Sent" > "$OUT/verify-f{}" 2>&1 || echo f{}' \
	> "$OUT/verify-bad"
check_empty "every mailbox imported exactly once ($USERS users)" head -5 "$OUT/verify-bad"
check_eq "nothing left waiting or live" 0 \
	"$(sql "SELECT COUNT(*) FROM import_remote_jobs WHERE status IN ('queued', 'preparing', 'running')")"
