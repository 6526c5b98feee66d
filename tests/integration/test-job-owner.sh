#!/bin/bash
# One owner per job, provably: the workers of Dovecot's import-remote-worker
# service, two slots, taking a job over after 5 s without a heartbeat
# (-t 5).
# - The source stalls for 12 s in the middle of a folder: the heartbeat
#   (a timer, whatever the import waits on) keeps the job its worker's; no
#   takeover, every message once, the job's counts right.
# - The worker itself is frozen (SIGSTOP) in the middle of a folder: the
#   other one takes the job over and completes it; the first, woken up,
#   finds its claim gone and stops without committing anything more.
# - kill -9 soak: real worker processes killed at random while a batch of
#   users runs (the default takeover time, 120 s): every mailbox ends with
#   every message exactly once.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 19
script_timeout 900
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker
SOAK_KILLS=${SOAK_KILLS:-30}

"$TOOLS/mkcorpus" -n 2000 -s 41 --layout inbox-only -o "$IR_WORK/corpus" >/dev/null ||
	{ fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
# (a job whose worker was killed in the middle of a commit may find the
# storage rebuilding an index: it is retried, without waiting minutes)
IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = sqlite:$JOBS/jobs.db" \
	"import_remote_key_file = $JOBS/key" \
	"import_remote_workers = 2" \
	"import_remote_job_retry_delay = 1s")
service import-remote-worker {
  executable = $WORKER -t 5
  user = $IR_OS_USER
  process_min_avail = 2
  process_limit = 2
}"
export IR_DEST_EXTRA_CONF
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start
chown "$IR_OS_USER:" "$JOBS"
# the workers run as the mail user, and look users up as that user
restart_dest() {
	ir_stop_instance "$IR_WORK/dst"
	sed -i "/unix_listener auth-userdb/,/}/s/user = root/user = $IR_OS_USER/" "$DEST_CONF"
	ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
	ir_wait_port "$DEST_IMAP_PORT"
}
restart_dest
DEST_LOG=$IR_WORK/dst/log/dovecot.log
DEST_INFO_LOG=$IR_WORK/dst/log/dovecot-info.log

adm() { doveadm -c "$DEST_CONF" "$@"; }
start() {
	local u=$1 name=$2; shift 2
	adm import-remote start -u "$u" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
		--user srcuser --password-file "$SRC_PASSWORD_FILE" "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
}
field() { flow_field "$OUT/$1.out" "$2"; }
# sql QUERY [PARAM...]: one value from the job store
sql() { sqlite_value "$JOBS/jobs.db" "$@"; }
# worker_pid JOB: the process of the job's worker ("host:pid/claim")
worker_pid() { sql "select worker from import_remote_jobs where id=?" "$1" | sed -n 's,^[^/]*:\([0-9]*\)/.*,\1,p'; }
# wait_for SECS COMMAND...: until the command succeeds (a function when
# it must look again each time)
wait_for() {
	local secs=$1 i
	shift
	for i in $(seq 1 $((secs * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
job_is() { [ "$(sql "select status from import_remote_jobs where id=?" "$1")" = "$2" ]; }
# store_readable: no process holds the store's write lock (within 0.3 s)
store_readable() {
	python3 -c 'import sqlite3,sys
sqlite3.connect(sys.argv[1], timeout=0.3).execute("select count(*) from import_remote_jobs").fetchone()' \
		"$JOBS/jobs.db" 2>/dev/null
}
# source_imap_pid: the source server's imap process (one client at a time)
source_imap_pid() {
	ps -o pid=,comm= --ppid "$(cat "$IR_WORK/src/run/master.pid")" | awk '$2=="imap"{print $1}' | head -1
}
source_connected() { [ -n "$(source_imap_pid)" ]; }
# taken_over JOB PID: the job has a worker other than PID
taken_over() { [ "$(worker_pid "$1")" != "$2" ]; }
# source_sent_past PID BYTES: until the process has written BYTES (its
# socket writes: the mail it sends), polled every 10 ms
source_sent_past() {
	python3 - "$1" "$2" <<'PY'
import sys, time
pid, limit = sys.argv[1], int(sys.argv[2])
for _ in range(6000):
    try:
        io = dict(l.split(": ") for l in open("/proc/%s/io" % pid).read().splitlines())
    except OSError:
        sys.exit(1)
    if int(io["wchar"]) >= limit:
        sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
PY
}
corpus_bytes=$(python3 -c 'import json,sys;m=json.load(open(sys.argv[1]));print(sum(e["size"] for v in m["folders"].values() for e in v))' "$MANIFEST")
total=$(manifest_count)

# --- a source that stalls longer than the takeover time ---
ir_dest_reset_user sd
start sd stall
job=$(field stall job)
wait_for 30 source_connected
imap_pid=$(source_imap_pid)
# a third of the mail sent: in the middle of the folder's bodies
source_sent_past "$imap_pid" $((corpus_bytes / 3))
kill -STOP "$imap_pid"
claim=$(sql "select worker from import_remote_jobs where id=?" "$job")
check "stall: the source stopped in the middle of the import" job_is "$job" running
sleep 12
kill -CONT "$imap_pid"
wait_for 120 job_is "$job" completed
check_eq "stall: the job completes" completed "$(sql "select status from import_remote_jobs where id=?" "$job")"
check_eq "stall: no takeover: the worker that claimed it completed it" "$claim" \
	"$(sql "select worker from import_remote_jobs where id=?" "$job")"
check_not_contains "stall: nobody lost a claim" "$DEST_LOG" "taken the job over"
check "stall: every message exactly once" verify sd stall-v --map "Sent Items=Sent"
check_eq "stall: the job's count is what landed" "$(dest_messages sd)" \
	"$(sql "select imported from import_remote_jobs where id=?" "$job")"
check_eq "stall: imported + skipped = all" "$total" \
	"$(sql "select imported + skipped from import_remote_jobs where id=?" "$job")"

# --- a worker frozen longer than the takeover time: the fence ---
ir_dest_reset_user md
start md frozen
job=$(field frozen job)
wait_for 30 source_connected
imap_pid=$(source_imap_pid)
source_sent_past "$imap_pid" $((corpus_bytes / 3))
# frozen while it waits for the source, not in a commit: a process
# frozen with a mailbox locked would hold up the other one too
kill -STOP "$imap_pid"
sleep 1
first=$(worker_pid "$job")
# ... and not in the middle of a write to the store either (its
# heartbeat goes on while it waits): frozen holding the SQLite write lock,
# it would hold up every other worker and this test's queries
for i in $(seq 1 20); do
	kill -STOP "$first"
	store_readable && break
	kill -CONT "$first"
	sleep 0.2
done
kill -CONT "$imap_pid"
check "frozen: the worker stopped in the middle of the import" job_is "$job" running
# the other worker takes it over and completes it meanwhile
wait_for 60 taken_over "$job" "$first"
check "frozen: the other worker took the job over" taken_over "$job" "$first"
wait_for 120 job_is "$job" completed
check "frozen: the new owner completed the job" job_is "$job" completed
kill -CONT "$first"
wait_for 60 grep -q "Job $job: left to the worker that took it over" "$DEST_INFO_LOG"
check_contains "frozen: the first worker, woken up, finds the job taken over" "$DEST_LOG" \
	"Job $job: another worker has taken the job over: stopping without committing more"
check_contains "frozen: ... and leaves it" "$DEST_INFO_LOG" "Job $job: left to the worker that took it over"
check "frozen: the job stays completed" job_is "$job" completed
check "frozen: every message exactly once" verify md frozen-v --map "Sent Items=Sent"
check_eq "frozen: imported + skipped = all" "$total" \
	"$(sql "select imported + skipped from import_remote_jobs where id=?" "$job")"
check "frozen: imported counts nothing twice" \
	test "$(sql "select imported from import_remote_jobs where id=?" "$job")" -le "$(dest_messages md)"

# soak_kill_one: kill -9 one worker process that runs a job of the batch
# never killed before (each job once: each kill costs its job the takeover
# time). A worker runs job after job: between reading its pid
# and the kill it may have gone on to a job taken over before, so it is
# frozen first and killed only if the store still names it, by its claim,
# on such a job (frozen in the middle of a store commit, the store can't
# be read: it is let go, and another is tried)
# (each kill is logged, "time job pid", to tell a failed job's story)
soak_kill_one() {
	python3 - "$JOBS/jobs.db" "$batch" "$IR_WORK/soak-kills.log" <<'PY'
import os, random, signal, sqlite3, sys, time
db, batch, kill_log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
unlost = ("select worker, id from import_remote_jobs where batch_id = ? and "
          "status in ('preparing', 'running') and lost_claims = 0")
def claims():
    with sqlite3.connect(db, timeout=1) as c:
        return list(c.execute(unlost, (batch,)))
try:
    with open(kill_log) as f:
        killed_jobs = {int(line.split()[2]) for line in f}
except OSError:
    killed_jobs = set()
try:
    found = [x for x in claims() if x[1] not in killed_jobs]
except sqlite3.Error:
    sys.exit(1)
random.shuffle(found)
for claim, job in found:
    try:
        pid = int(claim.split("/")[0].rsplit(":", 1)[1])
        if open("/proc/%d/comm" % pid).read().strip() != "import-remote-w":
            continue
        os.kill(pid, signal.SIGSTOP)
    except (ValueError, IndexError, OSError):
        continue
    killed = False
    try:
        if (claim, job) in claims():
            os.kill(pid, signal.SIGKILL)
            killed = True
            with open(kill_log, "a") as f:
                f.write("%s job %d pid %d\n" %
                        (time.strftime("%H:%M:%S"), job, pid))
    except sqlite3.Error:
        pass
    finally:
        if not killed:
            os.kill(pid, signal.SIGCONT)
    if killed:
        sys.exit(0)
sys.exit(1)
PY
}

# --- kill -9 soak: random worker processes killed while a batch runs ---
"$TOOLS/mkcorpus" -n 600 -s 42 -o "$IR_WORK/corpus2" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus2/manifest.json
ir_source_replace "$IR_WORK/corpus2/Maildir"
ir_stop_instance "$IR_WORK/dst"
# The soak runs the workers with the product's takeover time (120 s, no
# -t): a worker killed while Dovecot creates or rotates a mailbox's index
# log leaves its dotlock (dovecot.index.log.newlock, no pid in it), which
# Dovecot breaks only once it has not changed for 3 minutes; the next run
# of that user's job blocks on it meanwhile, without a heartbeat (Dovecot
# sleeps, no ioloop runs). Taken over 120 s after the kill, it blocks at
# most 60 s and keeps its claim; with a takeover time under 90 s it loses
# it, and so does the run after it (waiting behind the first's index lock):
# three claims lost in a row fail a job on purpose (worker_crashed).
# 16 slots for 4 worker processes and no cap on the source's connections:
# a killed worker's job holds its slot and its lease until it is taken
# over, the live workers go on with other jobs meanwhile.
sed -i -e 's/^\( *\)import_remote_workers = 2$/\1import_remote_workers = 16\n\1import_remote_host_connection_limits = 127.0.0.1=0\/0/' \
	-e "s|executable = $WORKER -t 5|executable = $WORKER|" \
	-e 's/process_min_avail = 2/process_min_avail = 4/' \
	-e 's/process_limit = 2/process_limit = 4/' "$DEST_CONF"
{ grep -q -- "executable = $WORKER\$" "$DEST_CONF" &&
  grep -q "import_remote_host_connection_limits = 127.0.0.1=0/0" "$DEST_CONF"; } ||
	{ fail "soak: the workers' settings set"; exit 1; }
SOAK_USERS=
echo "source_email,source_password,destination_user" > "$IR_WORK/soak.csv"
for i in $(seq -w 1 32); do
	u=k$i@soak.test h=$IR_WORK/dst/home/k$i@soak.test
	mkdir -p "$h"; chown "$IR_OS_USER:" "$h"
	echo "$u:{PLAIN}destpass:$IR_UID:$IR_GID::$h::$(ir_userdb_mail sdbox '~/sdbox')" >> "$IR_WORK/dst/passwd"
	echo "srcuser,srcpass,$u" >> "$IR_WORK/soak.csv"
	SOAK_USERS="$SOAK_USERS $u"
done
restart_dest
# a worker that writes nothing for 6 s while alive and not frozen: what it
# does is kept (its stacks), told if a job then fails
"$TOOLS/stallwatch" "$JOBS/jobs.db" 6 "$IR_WORK/soak-stalls.log" &
watch_pid=$!
ir_kill_on_exit "$watch_pid"
t0=$(date +%s)
adm import-remote batch create --csv "$IR_WORK/soak.csv" --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --fetch-chunk 10 > "$OUT/soak.out" 2>&1
batch=$(field soak batch)
kills=0
batch_done() { [ "$(sql "select count(*) from import_remote_jobs where batch_id=? and status in ('queued','preparing','running')" "$batch")" = 0 ]; }
while [ $kills -lt "$SOAK_KILLS" ] && ! batch_done; do
	# one of the worker processes that run a job right now, of a job
	# never killed before: a third lost claim fails a job on purpose
	# (worker_crashed, test-job-retry), and at the end of the batch the
	# few jobs left would get every kill; the next kill comes soon (50 to
	# 200 ms), before the jobs still unkilled have all completed
	# (none now: another look soon, or the batch ends with few kills)
	if soak_kill_one; then
		kills=$((kills + 1))
		sleep "$(printf '0.%02d' $((RANDOM % 16 + 5)))"
	else
		sleep 0.1
	fi
done
wait_for 420 batch_done
t1=$(date +%s)
kill "$watch_pid" 2>/dev/null; wait "$watch_pid" 2>/dev/null
stalls=$(cat "$IR_WORK/soak-stalls.log" 2>/dev/null | grep -c ' no write for ')
echo "# soak: $kills kills, batch done in $((t1 - t0)) s, $stalls stalls of a live worker"
check "soak: at least 20 worker processes killed while the batch ran ($kills)" test "$kills" -ge 20
completed=$(sql "select count(*) from import_remote_jobs where batch_id=? and status='completed'" "$batch")
check_eq "soak: every job completed" 32 "$completed"
if [ "$completed" != 32 ]; then
	sql "select group_concat(id || ' ' || status || ' ' || error_code || ' lost ' || lost_claims, '; ') from import_remote_jobs where batch_id=? and status != 'completed'" "$batch" | sed 's/^/    not completed: /'
	# each such job's story: its kills, its runs, the errors and
	# warnings of the workers (a stall, a crash, the store)
	for id in $(sql "select group_concat(id, ' ') from import_remote_jobs where batch_id=? and status != 'completed'" "$batch"); do
		grep -h "job $id pid" "$IR_WORK/soak-kills.log" | sed 's/^/    kill: /'
		grep -h "Job $id[: ]" "$DEST_INFO_LOG" | sed 's/^/    log: /'
	done
	sed 's/^/    stall: /' "$IR_WORK/soak-stalls.log" 2>/dev/null
	grep -v -e "killed with signal 9" -e "is not longer than the longest" \
		-e "Killed with signal 15" "$DEST_LOG" | tail -n 40 | sed 's/^/    worker: /'
fi
verified=0
for u in $SOAK_USERS; do
	verify "$u" "soak-$u" --map "Sent Items=Sent" && verified=$((verified + 1))
done
check_eq "soak: every mailbox has every message exactly once" 32 "$verified"
exit 0
