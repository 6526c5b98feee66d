#!/bin/bash
# Queued imports: doveadm import-remote start/status/history/cancel and the
# import-remote-worker that runs them, with the job store in SQLite and in
# PostgreSQL, a failure with its catalogue entry, and a worker killed
# mid-job whose job another worker takes over.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/pgsql.sh"
plan 97
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

"$TOOLS/mkcorpus" -n 200 -s 21 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start
total=$(manifest_count)

# the store and key live where the mail user (who runs doveadm's mail
# commands and, during an import, the worker) can write
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
chown "$IR_OS_USER:" "$JOBS"
STORE=sqlite:$JOBS/jobs.db
KEY=$JOBS/key
jobs_opts() {
	DOVEADM_OPTS=()
	ir_set_opt DOVEADM_OPTS "import_remote_store=$STORE" "import_remote_key_file=$KEY"
}
jobs_opts
# Every wait is bounded: a command or a worker that hangs (a lock it waits
# for, a job that never ends) fails its check with what was stuck, instead
# of the script hanging to its timeout. IR_STEP_TIMEOUT: seconds per step.
IR_STEP_TIMEOUT=${IR_STEP_TIMEOUT:-180}
# the script's own stderr, for what a step's redirected output would hide
exec {IR_DIAG_FD}>&2
# stuck WHAT: the message of a wait given up, with what PostgreSQL's
# sessions were doing when the store is there
stuck() {
	{
		echo "# $1: still running after $IR_STEP_TIMEOUT s, killed"
		case $STORE in
		pgsql:*) echo "# PostgreSQL sessions:"; ir_pgsql_activity "$pgdir" | sed 's/^/#   /' ;;
		esac
	} >&"$IR_DIAG_FD"
}
adm() {
	timeout -k 5 "$IR_STEP_TIMEOUT" doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" "$@"
	local rc=$?
	[ "$rc" = 124 ] && stuck "doveadm $*"
	return "$rc"
}
# worker NAME [options]: one worker through the queue (-1), its log in
# $OUT/worker-NAME.log; a check that it exited 0 (in time)
worker() {
	local name=$1 rc
	shift
	timeout -k 5 "$IR_STEP_TIMEOUT" "$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 "$@" > "$OUT/worker-$name.log" 2>&1
	rc=$?
	if [ "$rc" = 124 ]; then
		stuck "worker ($name)"
		fail "worker ($name): exits 0" "still running after $IR_STEP_TIMEOUT s (killed); its log:" \
			"$(tail -20 "$OUT/worker-$name.log")"
		return
	fi
	check_eq "worker ($name): exits 0" 0 "$rc"
}
# wait_bounded PID NAME [SECS]: wait for a background process (a worker)
# for at most SECS (default IR_STEP_TIMEOUT) s; one still running then is
# killed (exit 124)
wait_bounded() {
	local i secs=${3:-$IR_STEP_TIMEOUT}
	[ "$secs" -ge 1 ] || secs=1
	for i in $(seq 1 $((secs * 10))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		stuck "$2"
		# where it waits, for whoever reads the log of a rare hang
		{
			echo "# $2: pid $1, wchan $(cat "/proc/$1/wchan" 2>/dev/null), stack:"
			if command -v gdb >/dev/null; then
				timeout 30 gdb -batch -p "$1" -ex bt 2>/dev/null | grep '^#' | sed 's/^/#   /'
			fi
			for f in /proc/"$1"/task/*/stack; do sed 's/^/#   kernel: /' "$f" 2>/dev/null; done
		} >&"$IR_DIAG_FD"
		kill -9 "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		return 124
	fi
	wait "$1"
}
# worker_bg NAME [options]: the same in the background; $wpid is the
# worker process itself (a simple command, not a function's subshell)
worker_bg() {
	local name=$1
	shift
	"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 "$@" > "$OUT/worker-$name.log" 2>&1 &
	wpid=$!
}
# job_password ID: the stored (encrypted) source password of a job;
# fails when the store, the table or the row is missing
job_password() {
	sqlite_value "$JOBS/jobs.db" 'select source_password from import_remote_jobs where id=?' "$1"
}
start() {
	local u=$1 name=$2; shift 2
	adm import-remote start -u "$u" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
		--user srcuser "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
}
status() { adm import-remote status -u "$1" "$2" 2>&1; }
field() { flow_field "$OUT/$1.out" "$2"; }

# --- a job from start to Completed ---
start sd start1 --password-file "$SRC_PASSWORD_FILE"
check_eq "start: exit code 0" 0 "$(rc start1)"
job1=$(field start1 job)
check_eq "start: prints the job, queued" "queued" "$(field start1 status)"
status sd "$job1" > "$OUT/st1.out"
check_eq "status: Queued before a worker runs" queued "$(field st1 status)"
check "start: key file created, mode 0600" test "$(stat -c %a "$KEY")" = 600
check_not_contains "start: the password is not stored in plain text" "$JOBS/jobs.db" srcpass
check "job store: the password is kept (encrypted) while the job waits" test -n "$(job_password "$job1")"
worker first
status sd "$job1" > "$OUT/st2.out"
check_eq "status: Completed after the worker" completed "$(field st2 status)"
check_eq "status: imported + skipped = all" "$total" "$(sum "$(field st2 imported)" "$(field st2 skipped)")"
folders=$(field st2 folders)
check "status: every folder done ($folders)" test "${folders%/*}" = "${folders#*/}" -a "${folders#*/}" -gt 1
check_eq "status: no ETA once the job has ended" "eta=" "$(grep -o '\beta=[^ ]*' "$OUT/st2.out")"
check "worker: the mailbox equals the source" verify sd jobs-v --map "Sent Items=Sent"
check_empty "job store: password erased when the job ended" job_password "$job1"
adm import-remote watch -u sd "$job1" > "$OUT/watch1.out" 2>&1
check_eq "watch: a completed job: exit code 0" 0 "$?"
check_eq "watch: a completed job: its final row" completed "$(field watch1 status)"
adm -f json import-remote status -u sd "$job1" > "$OUT/st-json.out" 2>&1
check "status -f json: valid JSON with the job" python3 -c "import json,sys;d=json.load(open(sys.argv[1]));assert d[0]['status']=='completed'" "$OUT/st-json.out"

# --- a failing job says what is wrong; watch follows it to the end ---
echo wrongpass > "$IR_WORK/wrong.pw"
start sd start2 --password-file "$IR_WORK/wrong.pw"
job2=$(field start2 job)
adm import-remote watch -u sd "$job2" > "$OUT/watch2.out" 2>"$OUT/watch2.err" &
watch_pid=$!
# and on a terminal of 40 columns: a bar redrawn in place
timeout -k 5 "$IR_STEP_TIMEOUT" script -qfec "stty cols 40 rows 24; exec doveadm -c '$DEST_CONF' $(printf '%q ' "${DOVEADM_OPTS[@]}") \
	import-remote watch -u sd $job2 >'$OUT/watch2tty.out'" /dev/null > "$OUT/watch2.tty" 2>&1 </dev/null &
watchtty_pid=$!
# the worker starts once both watches have shown the job waiting
for i in $(seq 1 300); do
	grep -qF "job $job2 queued" "$OUT/watch2.err" && grep -qaF "job $job2 queued" "$OUT/watch2.tty" && break
	sleep 0.1
done
worker failing
wait_bounded "$watch_pid" "watch of job $job2"
check_eq "watch: exits with the failed job's exit code (77)" 77 "$?"
check_eq "watch: ends with the job's final row" failed "$(field watch2 status)"
check_contains "watch: shows progress lines while waiting" "$OUT/watch2.err" "job $job2 queued"
wait_bounded "$watchtty_pid" "watch of job $job2 on a terminal"
check_eq "watch on a terminal: exits with the job's code, its final row" "77 failed" "$? $(field watch2tty status)"
check "watch on a terminal: the job's state redrawn in place, within the width, the line ended" python3 -c '
import re, sys
raw = open(sys.argv[1], encoding="utf-8", errors="replace", newline="").read()
states = [l.rstrip(" ") for l in re.split(r"[\r\n]+", raw) if "%" in l]
assert raw.count("\r") >= 2 and raw.endswith("\n"), repr(raw[-200:])
assert states and all(len(l) <= 39 for l in states), states
assert states[0].startswith("job %s queued" % sys.argv[2]), states
assert re.search(r"job %s failed.*%%" % sys.argv[2], states[-1]), states[-1]' "$OUT/watch2.tty" "$job2"
status sd "$job2" > "$OUT/st3.out"
check_eq "failed job: status failed" failed "$(field st3 status)"
check_eq "failed job: error auth_failed" auth_failed "$(field st3 error)"
check_contains "failed job: title" "$OUT/st3.out" "error_title=Authentication failed"
check_contains "failed job: hint" "$OUT/st3.out" "App Password"

# --- retry: a job that failed because the server was down ---
ir_stop_instance "$IR_WORK/src"
ir_dest_reset_user md
start md start5 --password-file "$SRC_PASSWORD_FILE"
job5=$(field start5 job)
# a transient cause: without automatic retries it fails at once
NORETRY_OPTS=()
ir_set_opt NORETRY_OPTS import_remote_job_retries=0
worker server-down "${NORETRY_OPTS[@]}"
status md "$job5" > "$OUT/st8.out"
check_eq "retry: the job failed while the server was down" host_unreachable "$(field st8 error)"
check "retry: a failed job keeps its password until it is retried" test -n "$(job_password "$job5")"
ir_start_instance "$SRC_CONF" "$IR_WORK/src"
ir_wait_port "$SRC_IMAPS_PORT"
adm import-remote retry -u md "$job5" > "$OUT/retry.out" 2>&1
check_eq "retry: queues a new job" queued "$(field retry status)"
job6=$(field retry job)
worker retried
status md "$job6" > "$OUT/st9.out"
check_eq "retry: the new job completes with the same settings" completed "$(field st9 status)"
check "retry: the mailbox equals the source" verify md jobs-retry-v --map "Sent Items=Sent"
adm import-remote retry -u md "$job6" > /dev/null 2>&1
check_eq "retry: a completed job can't be retried (65)" 65 "$?"
check_empty "retry: the failed job no longer holds the password" job_password "$job5"

# --- cancel a queued job; history newest first ---
start sd start3 --password-file "$SRC_PASSWORD_FILE"
job3=$(field start3 job)
adm import-remote cancel -u sd "$job3" > "$OUT/cancel.out" 2>&1
check_eq "cancel: a queued job is cancelled at once" cancelled "$(field cancel status)"
worker after-cancel
check_not_contains "cancel: the worker did not run it" "$OUT/worker-after-cancel.log" "Job $job3: importing"
status sd "$job3" > "$OUT/st4.out"
check_eq "cancel: the worker leaves it alone" cancelled "$(field st4 status)"
adm import-remote cancel -u sd "$job3" > "$OUT/cancel2.out" 2> "$OUT/cancel2.err"
check_eq "cancel: a job that has ended can't be cancelled (65)" 65 "$?"
check_contains "cancel: says the job has ended, and how" "$OUT/cancel2.err" "Job $job3 has already ended (cancelled): nothing to cancel"
adm import-remote cancel -u sd "$job1" > /dev/null 2> "$OUT/cancel3.err"
check_eq "cancel: a completed job can't be cancelled (65)" 65 "$?"
check_contains "cancel: says it completed" "$OUT/cancel3.err" "Job $job1 has already ended (completed)"
adm -f tab import-remote history -u sd > "$OUT/history.out" 2>&1
check_eq "history: every job, newest first" "$job3 $job2 $job1" "$(awk -F'\t' 'NR>1{printf "%s ", $1}' "$OUT/history.out" | sed 's/ $//')"
adm import-remote status -u sd 99999 >/dev/null 2>&1
check_eq "status: unknown job exits 68" 68 "$?"
adm import-remote status -u md "$job1" >/dev/null 2>&1
check_eq "status: another user's job is not shown" 68 "$?"

# --- an admin addresses a job by its id alone (no -u, no user lookup) ---
# USER names no mail user here, so a user lookup would fail
USER=nosuchuser adm import-remote status "$job1" > "$OUT/admin-st.out" 2>&1
check_eq "no -u: status of a job by its id" completed "$(field admin-st status)"
USER=nosuchuser adm import-remote watch "$job2" > "$OUT/admin-watch.out" 2>/dev/null
check_eq "no -u: watch exits with the failed job's code (77)" 77 "$?"
USER=nosuchuser adm import-remote status 99999 > /dev/null 2>"$OUT/admin-nf.err"
check_eq "no -u: an unknown job exits 68" 68 "$?"
check_contains "no -u: says which job is unknown" "$OUT/admin-nf.err" "No job 99999"
start md admin1 --password-file "$SRC_PASSWORD_FILE"
USER=nosuchuser adm import-remote cancel "$(field admin1 job)" > "$OUT/admin-cancel.out" 2>&1
check_eq "no -u: cancel a queued job" cancelled "$(field admin-cancel status)"
USER=nosuchuser adm import-remote retry "$job2" > "$OUT/admin-retry.out" 2>&1
check_eq "no -u: retry a failed job queues a new one" queued "$(field admin-retry status)"
USER=nosuchuser adm import-remote cancel "$(field admin-retry job)" > /dev/null 2>&1
# without a job id, doveadm's rule: the user is $USER (here one without jobs)
USER=nosuchuser adm import-remote status > "$OUT/admin-nouser.out" 2>&1
rc=$?
if ir_dovecot_24; then
	# 2.4's doveadm takes no user from $USER: a mail command needs -u
	check_eq "no -u and no job: refused by doveadm 2.4 (75)" 75 "$rc"
	check_contains "no -u and no job: says a user is needed" "$OUT/admin-nouser.out" "-u, -F, -A or --no-userdb-lookup must be provided"
else
	check_eq "no -u and no job: exit code 0" 0 "$rc"
	check_not_contains "no -u and no job: no other user's jobs" "$OUT/admin-nouser.out" "status="
fi
# a command about one job, given neither a job nor -u: asked which job,
# not doveadm's unrelated error about the user it then looks up
adm import-remote watch > "$OUT/admin-nojob.out" 2>&1
check_eq "no -u and no job: watch is a usage error (64)" 64 "$?"
check_contains "no -u and no job: watch asks which job" "$OUT/admin-nojob.out" "Which job?"
check_not_contains "no -u and no job: watch says nothing about users" "$OUT/admin-nojob.out" "privileges"

# --- a re-run that only skips still beats (Running) and can be cancelled ---
# 20 messages listed one at a time, 0.25 s each: a 5 s job that saves nothing
echo fakepass > "$IR_WORK/fake.pw"
"$TOOLS/fakeimapd" --scenario slow-list --count 20 --max-conns 2 --timeout 60 \
	--report "$OUT/slow.report" > "$OUT/slow.port" &
fake_pid=$!
ir_kill_on_exit "$fake_pid"
slow_src=(--host 127.0.0.1 --port "$(port_of "$OUT/slow.port")" --ssl none
	--user fake --password-file "$IR_WORK/fake.pw" --fetch-chunk 1)
ir_dest_reset_user md
adm import-remote run -u md "${slow_src[@]}" > "$OUT/slow-run.out" 2>&1 </dev/null
check_eq "slow source: the first import saves all 20" 20 "$(flow_field "$OUT/slow-run.out" imported)"
# without its checkpoint the re-run lists all 20 again (with it, one
# UID FETCH finds that nothing is new)
rm -r "$IR_WORK/dst/home/md/.dovecot-import-remote" ||
	fail "skip-only re-run: the first import's checkpoint removed"
adm import-remote start -u md "${slow_src[@]}" > "$OUT/slow-start.out" 2>&1 </dev/null
slow_job=$(field slow-start job)
worker_bg slow
# the heartbeat: a live job's "updated" moves on while it runs
seen=
for i in $(seq 1 80); do
	seen=$(python3 -c "import sqlite3,sys
r=sqlite3.connect(sys.argv[1]).execute('select status,updated-started from import_remote_jobs where id=?',(int(sys.argv[2]),)).fetchone()
print('beat' if r[0] in ('preparing','running') and r[1]>=2 else 'final' if r[0] not in ('queued','preparing','running') else '')" "$JOBS/jobs.db" "$slow_job")
	[ -n "$seen" ] && break
	sleep 0.1
done
adm import-remote cancel -u md "$slow_job" > /dev/null 2>&1
wait_bounded "$wpid" "worker (slow)"
check_eq "skip-only re-run: the worker exits 0" 0 "$?"
wait_bounded "$fake_pid" "fakeimapd (slow)"
check_eq "skip-only re-run: its heartbeat goes on while it only skips" beat "$seen"
status md "$slow_job" > "$OUT/slow-st.out"
check_eq "skip-only re-run: a cancel stops it" cancelled "$(field slow-st status)"
check "skip-only re-run: stopped before the end" test "$(field slow-st skipped)" -lt 20

# --- a worker killed mid-job: another one takes the job over ---
"$TOOLS/mkcorpus" -n 1500 -s 22 -o "$IR_WORK/corpus2" >/dev/null
MANIFEST=$IR_WORK/corpus2/manifest.json
total2=$(manifest_count)
ir_source_replace "$IR_WORK/corpus2/Maildir"
ir_dest_reset_user md
start md start4 --password-file "$SRC_PASSWORD_FILE" --fetch-chunk 100
job4=$(field start4 job)
worker_bg killed
# kill it once it has committed mail, well before the end
saved=0
for i in $(seq 1 600); do
	saved=$(dest_messages md)
	[ "${saved:-0}" -ge 100 ] && break
	kill -0 "$wpid" 2>/dev/null || break
	sleep 0.05
done
# $wpid must be the worker itself (by now past its re-exec through
# doveconf): killing a subshell would leave the worker running beside the
# one that takes over
check_eq "killed worker: the process to kill is the worker itself" \
	"$(readlink -f "$WORKER")" "$(readlink "/proc/$wpid/exe")"
kill -9 "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
wrc=$?
saved=$(dest_messages md)
check_eq "killed worker: it died of the SIGKILL (exit 137)" 137 "$wrc"
check "killed worker: it was killed mid-job ($saved of $total2 messages saved)" \
	test "${saved:-0}" -gt 0 -a "${saved:-0}" -lt "$total2"
check_exit "killed worker: no worker of this store is left running" 1 \
	pgrep -f -- "$WORKER .*-s $STORE"
status md "$job4" > "$OUT/st-killed.out"
st=$(field st-killed status)
check "killed worker: the job was left live ($st)" test "$st" = running -o "$st" = preparing
# -t 0: a live job not updated in this second counts as its worker's death
sleep 1.1
worker takeover -t 0
check_contains "killed worker: the other worker took the job over" \
	"$OUT/worker-takeover.log" "Job $job4: importing"
status md "$job4" > "$OUT/st5.out"
check_eq "killed worker: another worker completes the job" completed "$(field st5 status)"
check_eq "killed worker: the job accounts for every message (imported + skipped)" "$total2" \
	"$(sum "$(field st5 imported)" "$(field st5 skipped)")"
check "killed worker: every message exactly once" verify md jobs-kill-v --map "Sent Items=Sent"

# --- three workers at once: every job runs exactly once ---
# three_workers LABEL: six jobs of four users (two each for sd and md),
# three workers started at once
three_workers() {
	local label=$1 u ids=() id runs done_count=0 pids=() rcs=() w deadline
	for u in sd md sdq mdq; do
		ir_dest_reset_user "$u"
	done
	for u in sd md sdq mdq sd md; do
		start "$u" conc >/dev/null --password-file "$SRC_PASSWORD_FILE"
		ids+=("$(field conc job)")
	done
	rm -f "$OUT"/worker-conc*.log
	for w in 1 2 3; do
		worker_bg "conc$w"
		pids+=("$wpid")
	done
	# the three run side by side: one deadline for all of them
	deadline=$((SECONDS + IR_STEP_TIMEOUT))
	for w in "${pids[@]}"; do
		wait_bounded "$w" "$label: a worker" $((deadline - SECONDS))
		rcs+=("$?")
	done
	check_eq "$label: the three workers exit 0" "0 0 0" "${rcs[*]}"
	if [ "${rcs[*]}" != "0 0 0" ]; then
		for w in "$OUT"/worker-conc*.log; do
			echo "# $w (last lines):"
			tail -20 "$w" | sed 's/^/#   /'
		done >&"$IR_DIAG_FD"
	fi
	runs=$(cat "$OUT"/worker-conc*.log | sed -n 's/.*Job \([0-9]*\): importing.*/\1/p' | sort | uniq -c | awk '{print $1}' | sort -u | tr '\n' ' ')
	check_eq "$label: each of the 6 jobs ran exactly once" "1 " "$runs"
	check_eq "$label: all 6 jobs ran" 6 "$(cat "$OUT"/worker-conc*.log | grep -c 'importing')"
	for id in "${ids[@]}"; do
		adm import-remote status "$id" > "$OUT/conc-st.out" 2>&1
		[ "$(field conc-st status)" = completed ] && done_count=$((done_count + 1))
	done
	check_eq "$label: all 6 jobs completed" 6 "$done_count"
	# a user's second job never ran beside the first
	check "$label: two jobs of one user: every message exactly once" \
		eval 'verify sd conc-sd-v --map "Sent Items=Sent" && verify md conc-md-v --map "Sent Items=Sent"'
}
# pgsql_slow_commit: the commit of a job's failed messages waits longer
# than a heartbeat interval (their table locked, shorter than the
# lock_timeout): the heartbeat fires inside lib-sql's wait for it, and
# must not use the store there (a wait nested in it made the outer one
# never end: the worker hung for ever, beating)
pgsql_slow_commit() {
	local i waiting= lock_in lock_pid rc
	ir_dest_reset_user sd
	start sd pg-slow --password-file "$SRC_PASSWORD_FILE"
	coproc PGLOCK { timeout 120 psql -X -q -h "$pgdir" -U postgres -d postgres >/dev/null 2>&1; }
	lock_in=${PGLOCK[1]}
	lock_pid=$PGLOCK_PID
	echo "BEGIN; LOCK TABLE import_remote_failed_messages IN ACCESS EXCLUSIVE MODE;" >&"$lock_in"
	worker_bg pgslow
	for i in $(seq 1 600); do
		waiting=$(timeout 10 psql -X -A -t -h "$pgdir" -U postgres -d postgres -c \
			"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM import_remote_failed_messages%'" 2>/dev/null)
		[ "${waiting:-0}" -gt 0 ] && break
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.1
	done
	# held over more than one heartbeat (2 s) of the waiting worker
	sleep 3
	echo "COMMIT;" >&"$lock_in"
	exec {lock_in}>&-
	wait "$lock_pid" 2>/dev/null
	check_eq "pgsql store: the worker waited for the locked failed messages" 1 "${waiting:-0}"
	wait_bounded "$wpid" "worker (pgslow)" 60
	rc=$?
	check_eq "pgsql store: a commit slower than a heartbeat: the worker exits 0" 0 "$rc"
	status sd "$(field pg-slow job)" > "$OUT/st-pgslow.out"
	check_eq "pgsql store: a commit slower than a heartbeat: the job completes" completed "$(field st-pgslow status)"
}
STORE=sqlite:$JOBS/concurrent.db
jobs_opts
three_workers "three workers"

# --- the same with the job store in PostgreSQL ---
pgdir=$IR_WORK/pgsql
if ir_pgsql_start "$pgdir"; then
	chmod 755 "$pgdir"
	STORE="pgsql:$PGSQL_CONNECT"
	jobs_opts
	ir_dest_reset_user sd
	MANIFEST=$IR_WORK/corpus2/manifest.json
	start sd pg1 --password-file "$SRC_PASSWORD_FILE"
	check_eq "pgsql store: start exits 0" 0 "$(rc pg1)"
	worker pg
	status sd "$(field pg1 job)" > "$OUT/st6.out"
	check_eq "pgsql store: the worker completes the job" completed "$(field st6 status)"
	check "pgsql store: the mailbox equals the source" verify sd jobs-pg-v --map "Sent Items=Sent"
	three_workers "pgsql store, three workers"
	pgsql_slow_commit
	ir_pgsql_stop "$pgdir"
else
	fail "pgsql store: PostgreSQL could not be started"
fi
# --- a store of an older schema (v2) is migrated on open, jobs kept ---
python3 - "$JOBS/v2.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("""CREATE TABLE import_remote_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT,
 token VARCHAR(40) NOT NULL, username VARCHAR(255) NOT NULL, status VARCHAR(16) NOT NULL,
 source_host VARCHAR(255) NOT NULL, source_port INTEGER NOT NULL, source_ssl VARCHAR(16) NOT NULL,
 source_user VARCHAR(255) NOT NULL, options TEXT NOT NULL, created BIGINT NOT NULL,
 started BIGINT NOT NULL, finished BIGINT NOT NULL, updated BIGINT NOT NULL,
 worker VARCHAR(255) NOT NULL, msgs_done BIGINT NOT NULL, msgs_total BIGINT NOT NULL,
 bytes_done BIGINT NOT NULL, bytes_total BIGINT NOT NULL, imported BIGINT NOT NULL,
 skipped BIGINT NOT NULL, filtered BIGINT NOT NULL, failed BIGINT NOT NULL,
 error_code VARCHAR(32) NOT NULL, error_detail TEXT NOT NULL, cancel_requested INTEGER NOT NULL,
 source_password TEXT NOT NULL DEFAULT '')""")
db.execute("CREATE TABLE import_remote_meta (name VARCHAR(64) PRIMARY KEY, value VARCHAR(255) NOT NULL)")
db.execute("INSERT INTO import_remote_meta VALUES ('schema_version', '2')")
db.execute("""INSERT INTO import_remote_jobs VALUES (7, 't', 'sd', 'completed', 'imap.example.org', 993,
 'imaps', 'old', '', 1, 2, 3, 3, '', 5, 5, 100, 100, 5, 0, 0, 0, '', '', 0, '')""")
db.commit()
PY
chown "$IR_OS_USER:" "$JOBS/v2.db"
V2_OPTS=()
ir_set_opt V2_OPTS "import_remote_store=sqlite:$JOBS/v2.db"
USER=nosuchuser doveadm -c "$DEST_CONF" "${V2_OPTS[@]}" \
	import-remote status 7 > "$OUT/v2.out" 2>&1
check_eq "schema v2 store: its job is still there" "completed 5/5" "$(field v2 status) $(field v2 messages)"
check_eq "schema v2 store: migrated to v$IR_SCHEMA_VERSION" "$IR_SCHEMA_VERSION" \
	"$(python3 -c "import sqlite3,sys;print(sqlite3.connect(sys.argv[1]).execute(\"select value from import_remote_meta where name='schema_version'\").fetchone()[0])" "$JOBS/v2.db")"

# --- a slot count that makes no sense is a clear error ---
BAD_OPTS=()
ir_set_opt BAD_OPTS import_remote_workers=0
"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 "${BAD_OPTS[@]}" > "$OUT/badslots.out" 2>&1
wrc=$?
check "import_remote_workers=0: the worker refuses to start (exit $wrc: an error, not a crash)" \
	test "$wrc" -gt 0 -a "$wrc" -lt 128
check_contains "import_remote_workers=0: says why" "$OUT/badslots.out" "import_remote_workers: Invalid value 0"

# --- the worker as a Dovecot service: start is all an admin does ---
STORE=sqlite:$JOBS/service.db
ir_stop_instance "$IR_WORK/dst"
# the workers run as the mail user (service user), so they need the userdb
sed -i "/unix_listener auth-userdb/,/}/s/user = root/user = $IR_OS_USER/" "$DEST_CONF"
ir_conf_settings "import_remote_store = $STORE" "import_remote_key_file = $KEY" \
	"import_remote_workers = 2" >> "$DEST_CONF"
cat >> "$DEST_CONF" <<CONF
# no -s/-K: the worker reads the settings above
service import-remote-worker {
  executable = $WORKER
  user = $IR_OS_USER
  process_min_avail = 2
  process_limit = 2
}
CONF
ir_start_instance "$DEST_CONF" "$IR_WORK/dst"
ir_wait_port "$DEST_IMAP_PORT"
DOVEADM_OPTS=()
ir_dest_reset_user sd
start sd svc1 --password-file "$SRC_PASSWORD_FILE"
check_eq "service: start exits 0" 0 "$(rc svc1)"
for i in $(seq 1 300); do
	status sd "$(field svc1 job)" > "$OUT/st7.out"
	[ "$(field st7 status)" = completed ] && break
	sleep 0.2
done
check_eq "service: a worker slot of Dovecot's master runs the job" completed "$(field st7 status)"
check "service: the mailbox equals the source" verify sd jobs-svc-v --map "Sent Items=Sent"
USER=nosuchuser adm import-remote status "$(field svc1 job)" > "$OUT/st10.out" 2>&1
check_eq "service: no -u: the store from dovecot.conf's settings" completed "$(field st10 status)"
exit 0
