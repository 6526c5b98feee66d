#!/bin/bash
# Connection caps on one machine (SQLite store): the import-remote-worker
# service's 4 workers run a batch of 16 users whose source is one account
# on one host; import_remote_host_connection_limits caps that host's
# accounts at 2 connections. The source (behind a proxy that counts and
# slows every connection) never sees more than 2 at once; the jobs that
# wait show it in status, jobs and top; every mailbox is imported once.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/fleet.sh"
plan 14
script_timeout 300
USERS=16

"$TOOLS/mkcorpus" -n 6 -s 5 --no-attachments -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
# each byte 40 ms late both ways: a job runs long enough to be seen
fleet_proxy --delay 40

JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = sqlite:$JOBS/jobs.db" \
	"import_remote_key_file = $JOBS/key" \
	"import_remote_host_connections = 8" \
	"import_remote_account_connections = 4" \
	"import_remote_host_connection_limits = other.example=1 127.0.0.1=8/2")
$(fleet_service_conf 4 4 30)"
export IR_DEST_EXTRA_CONF
ir_dest_start
chown "$IR_OS_USER:" "$JOBS"
ir_stop_instance "$IR_WORK/dst"
sed -i "/unix_listener auth-userdb/,/}/s/user = root/user = $IR_OS_USER/" "$DEST_CONF"
fleet_add_users "$USERS"
ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
ir_wait_port "$DEST_IMAP_PORT" || ir_die "destination IMAP port did not open"
adm() { timeout -k 5 60 doveadm -c "$DEST_CONF" "$@"; }

# a bad override is refused, naming the setting
opts=()
ir_set_opt opts "import_remote_host_connection_limits=imap.example.com=x"
check_exit "settings: a bad per-host cap is refused" 78 adm "${opts[@]}" import-remote jobs
adm "${opts[@]}" import-remote jobs > /dev/null 2> "$OUT/bad.err"
check_contains "settings: the error names the setting" "$OUT/bad.err" \
	"import_remote_host_connection_limits: Invalid 'imap.example.com=x'"

csv=$IR_WORK/batch.csv
echo "source_email,source_password,destination_user" > "$csv"
for i in $(seq -f '%03g' 1 "$USERS"); do
	echo "srcuser,srcpass,f$i" >> "$csv"
done
adm import-remote batch create --csv "$csv" --host 127.0.0.1 --port "$PROXY_PORT" \
	> "$OUT/create.out" 2> "$OUT/create.err"
check_eq "batch: created" 0 "$?"
last=f$(printf %03d "$USERS")
# the last user's job waits longest: while it does, every view says why
want="waiting for srcuser at 127.0.0.1: 2 of 2 connections to the account in use"
seen=
for i in $(seq 1 100); do
	adm -f json import-remote status -u "$last" > "$OUT/status.json" 2> "$OUT/status.err"
	if grep -qF "$want" "$OUT/status.json"; then
		adm import-remote jobs --status queued > "$OUT/jobs.out" 2>&1
		adm import-remote top --once > "$OUT/top.out" 2>&1
		seen=1
		break
	fi
	sleep 0.2
done
check_eq "status: a queued job says what it waits for" 1 "$seen"
text=$(python3 -c 'import json,sys;print([r["status_text"] for r in json.load(open(sys.argv[1]))][0])' "$OUT/status.json" 2>/dev/null)
check_eq "status: its status_text too" "queued — $want" "$text"
check_contains "jobs: the same, in its waiting column" "$OUT/jobs.out" "$want"
check_contains "top: the same" "$OUT/top.out" "$want"

# the end of the batch
st=
for i in $(seq 1 600); do
	adm -f json import-remote batch list > "$OUT/list.json" 2>/dev/null
	st=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))[0]["status"])' "$OUT/list.json" 2>/dev/null)
	[ "$st" = in_progress ] || break
	sleep 0.5
done
check_eq "batch: completed" completed "$st"
fleet_proxy_stop
read -r peak conns < <(fleet_peak)
echo "# the source saw $conns connections, at most $peak at once"
check "caps: never more than 2 connections to the account at once (peak $peak)" test "${peak:-99}" -le 2
check "caps: 2 at once (the cap is used, the workers were not idle)" test "${peak:-0}" -eq 2
# each job asks for the default 4; one with jobs waiting behind it takes
# one (the caps shared fairly); the last one, which none waits for, may
# find a second free
check "caps: one connection per job, the last one's 1 or 2 ($conns for $USERS jobs)" \
	test "${conns:-0}" -ge "$USERS" -a "${conns:-0}" -le "$((USERS + 1))"
bad=0
for i in $(seq -f '%03g' 1 "$USERS"); do
	VERIFY_DEDUP=folder verify "f$i" "verify-f$i" --map "Sent Items=Sent" || bad=$((bad + 1))
done
check_eq "every mailbox imported exactly once" 0 "$bad"
# the leases ended with their jobs
adm import-remote jobs --status queued,preparing,running > "$OUT/after.out" 2>&1
check_not_contains "jobs: nothing waits any more" "$OUT/after.out" "waiting for"
n=$(sqlite_value "$JOBS/jobs.db" "SELECT COUNT(*) FROM import_remote_jobs WHERE status = 'completed' AND leases = 1 AND id < (SELECT MAX(id) FROM import_remote_jobs)")
last=$(sqlite_value "$JOBS/jobs.db" "SELECT leases FROM import_remote_jobs WHERE id = (SELECT MAX(id) FROM import_remote_jobs)")
check_eq "store: each job others waited for held one lease, the last one 1 or 2" \
	"$((USERS - 1)) yes" "$n $( [ "${last:-0}" -ge 1 ] && [ "${last:-0}" -le 2 ] && echo yes)"
