#!/bin/bash
# Queued jobs retry what is transient: a job that ends with a transient
# error (the catalogue's "transient": here the source server is down) goes
# back to Queued with a time for its next attempt, backing off (1, 5, ...
# times import_remote_job_retry_delay, which these tests set to 1s);
# status, history and batch status say so; a permanent error fails at
# once; retries run out; a batch counts a job waiting for its retry as in
# progress and tells nobody that it failed.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 54
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

"$TOOLS/mkcorpus" -n 30 -s 31 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = sqlite:$JOBS/jobs.db" \
	"import_remote_key_file = $JOBS/key" \
	"import_remote_job_retry_delay = 1s")"
export IR_DEST_EXTRA_CONF
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start
chown "$IR_OS_USER:" "$JOBS"

adm() { doveadm -c "$DEST_CONF" "$@"; }
# worker RETRIES LOG: work through the queue once (a check that it exits 0)
worker() {
	local opts=()
	ir_set_opt opts "import_remote_job_retries=$1"
	"$WORKER" -c "$DEST_CONF" -1 "${opts[@]}" > "$OUT/$2.log" 2>&1
	check_eq "worker ($2): exits 0" 0 "$?"
}
start() {
	local u=$1 name=$2; shift 2
	adm import-remote start -u "$u" --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
		--user srcuser "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
}
field() { flow_field "$OUT/$1.out" "$2"; }
# jfield JOB KEY: a field of the job's status -f json (fails when missing)
jfield() {
	adm -f json import-remote status "$1" 2>/dev/null |
		python3 -c 'import json,sys;print(json.load(sys.stdin)[0][sys.argv[1]])' "$2"
}
# sql QUERY [PARAM...]: one value from the job store
sql() { sqlite_value "$JOBS/jobs.db" "$@"; }
# wait_due JOB: until the job's retry time has come
wait_due() {
	local i
	for i in $(seq 1 200); do
		[ "$(sql "select retry_at <= strftime('%s','now') from import_remote_jobs where id=?" "$1")" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# --- a transient error: queued again, backing off, until the source is back ---
ir_stop_instance "$IR_WORK/src"
ir_dest_reset_user sd
start sd t1 --password-file "$SRC_PASSWORD_FILE"
job=$(field t1 job)
worker 3 w1
check_eq "transient: the job is queued again, not failed" queued "$(jfield "$job" status)"
check_eq "transient: retry 1 of 3" "1 3" "$(jfield "$job" retry) $(jfield "$job" retry_limit)"
check_eq "transient: the cause is kept" host_unreachable "$(jfield "$job" error)"
# (the row's time is written a moment after the retry's is set: a second
# may have begun in between)
check_eq "transient: the first retry waits the base delay (1s)" 1 \
	"$(sql "select retry_at - updated in (0, 1) from import_remote_jobs where id=?" "$job")"
check "transient: status -f json says when (retry_at)" test -n "$(jfield "$job" retry_at)"
retry_hm=$(date -d "@$(sql "select retry_at from import_remote_jobs where id=?" "$job")" +%H:%M)
check_eq "transient: status says it in words" \
	"queued — retry 1 of 3 at $retry_hm after: Connection refused" "$(jfield "$job" status_text)"
check_contains "transient: the worker logs the retry" "$OUT/w1.log" "Job $job: host_unreachable: retry 1 of 3 at"
adm -f tab import-remote history -u sd > "$OUT/history.out" 2>&1
check_contains "history: shows the retry" "$OUT/history.out" "queued — retry 1 of 3 at $retry_hm"
wait_due "$job"
worker 3 w2
check_eq "backoff: retry 2 of 3" "queued 2" "$(jfield "$job" status) $(jfield "$job" retry)"
check_eq "backoff: the second retry waits 5 times as long" 1 \
	"$(sql "select retry_at - updated in (4, 5) from import_remote_jobs where id=?" "$job")"
# not before its time
worker 3 w3
check_not_contains "backoff: a worker leaves it alone until its time" "$OUT/w3.log" "Job $job: importing"
check_eq "backoff: still retry 2" "queued 2" "$(jfield "$job" status) $(jfield "$job" retry)"
check_eq "backoff: the password is kept for the retry" 1 \
	"$(sql "select source_password <> '' from import_remote_jobs where id=?" "$job")"
ir_start_instance "$SRC_CONF" "$IR_WORK/src"
ir_wait_port "$SRC_IMAPS_PORT"
wait_due "$job"
worker 3 w4
check_eq "the source is back: the retry completes" completed "$(jfield "$job" status)"
check_eq "completed: says after how many retries" "completed after 2 retries" "$(jfield "$job" status_text)"
check_empty "completed: the error is gone" jfield "$job" error
check "completed: the mailbox equals the source" verify sd retry-v --map "Sent Items=Sent"

# --- a permanent error fails at once ---
echo wrongpass > "$IR_WORK/wrong.pw"
start sd p1 --password-file "$IR_WORK/wrong.pw"
job=$(field p1 job)
worker 3 w5
check_eq "permanent: auth_failed fails at once" "failed auth_failed 0" \
	"$(jfield "$job" status) $(jfield "$job" error) $(jfield "$job" retry)"

# --- retries run out ---
ir_stop_instance "$IR_WORK/src"
start md r1 --password-file "$SRC_PASSWORD_FILE"
job=$(field r1 job)
worker 1 w6
check_eq "retries run out: first queued again" "queued 1 1" \
	"$(jfield "$job" status) $(jfield "$job" retry) $(jfield "$job" retry_limit)"
wait_due "$job"
worker 1 w7
check_eq "retries run out: then failed, with the cause" "failed host_unreachable" \
	"$(jfield "$job" status) $(jfield "$job" error)"
check_eq "retries run out: says so" "failed after 1 retry" "$(jfield "$job" status_text)"

# --- a batch: a job waiting for its retry is in progress, no failure told ---
dead_port=$(ir_free_port)
cat > "$IR_WORK/batch.csv" <<CSV
source_email,source_password,destination_user,source_host,source_port,source_security
srcuser,srcpass,sdq,127.0.0.1,$dead_port,ssl
CSV
adm import-remote batch create --csv "$IR_WORK/batch.csv" --notify admin@example.test \
	> "$OUT/bc.out" 2>&1
batch=$(field bc batch)
worker 1 w8
adm -f json import-remote batch status "$batch" > "$OUT/bs.json" 2>&1
check_eq "batch: waiting for a retry is in progress" "in_progress queued" \
	"$(python3 -c 'import json,sys;r=json.load(open(sys.argv[1]))[0];print(r["batch_status"],r["status"])' "$OUT/bs.json")"
check_contains "batch status: shows the retry" "$OUT/bs.json" "queued — retry 1 of 1 at"
check_eq "batch: no notification while the job waits for its retry" 0 \
	"$(sql "select count(*) from import_remote_notifications where batch_id=?" "$batch")"
bjob=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))[0]["job"])' "$OUT/bs.json")
wait_due "$bjob"
worker 1 w9
adm -f json import-remote batch status "$batch" > "$OUT/bs2.json" 2>&1
check_eq "batch: once retries run out, it ends with errors" "completed_with_errors failed" \
	"$(python3 -c 'import json,sys;r=json.load(open(sys.argv[1]))[0];print(r["batch_status"],r["status"])' "$OUT/bs2.json")"
check "batch: and its end is told" test "$(sql "select count(*) from import_remote_notifications where batch_id=?" "$batch")" -gt 0

# --- a job whose worker dies running it: failed after 3 deaths in a row ---
# (a source that crashes the import, e.g. issue 19's argument-less line:
# here the worker running the job is killed, the real process by its pid,
# while the job runs against a server that sends a byte at a time, so no
# mail is committed between the deaths)
ulimit -c 0
ir_start_instance "$SRC_CONF" "$IR_WORK/src"
ir_wait_port "$SRC_IMAPS_PORT"
echo fakepass > "$IR_WORK/fake.pw"
"$TOOLS/fakeimapd" --scenario slow-drip --count 20 --max-conns 10 \
	--timeout 150 --report "$OUT/crash.report" > "$OUT/crash.port" &
cpid=$!
ir_kill_on_exit "$cpid"
ir_dest_reset_user sd
adm import-remote start -u sd --host 127.0.0.1 --port "$(port_of "$OUT/crash.port")" \
	--ssl none --user fake --password-file "$IR_WORK/fake.pw" --timeout 5 \
	> "$OUT/crash.out" 2>&1 </dev/null
cjob=$(field crash job)
# another user's job, queued behind it
ir_dest_reset_user md
start md other --password-file "$SRC_PASSWORD_FILE"
ojob=$(field other job)
# running_by PID: the crashing job is running in that worker process
running_by() {
	[ "$(sql "select status = 'running' and worker like ? from import_remote_jobs where id=?" \
		"%:$1/%" "$cjob")" = 1 ]
}
deaths=0
for n in 1 2 3; do
	"$WORKER" -c "$DEST_CONF" -t 1 -1 > "$OUT/crash$n.log" 2>&1 &
	wpid=$!
	ir_kill_on_exit "$wpid"
	for i in $(seq 1 300); do
		running_by "$wpid" && break
		sleep 0.1
	done
	if running_by "$wpid"; then kill -SEGV "$wpid"; else kill -KILL "$wpid"; fi
	# (bash would say "Segmentation fault")
	wait "$wpid" 2>/dev/null
	[ $? = 139 ] && deaths=$((deaths + 1))
	# not written for longer than -t 1: claimable again
	sleep 2.5
done
check_eq "worker deaths: the worker running the job died 3 times (SIGSEGV)" 3 "$deaths"
check_eq "worker deaths: meanwhile the other user's job waited" queued "$(jfield "$ojob" status)"
check_eq "worker deaths: each takeover counted (lost_claims)" 2 \
	"$(sql "select lost_claims from import_remote_jobs where id=?" "$cjob")"
# (without the fix, the next worker would run it again: the server is
# gone, that would end host_unreachable and queued for a retry)
kill "$cpid" 2>/dev/null
wait "$cpid"
"$WORKER" -c "$DEST_CONF" -t 1 -1 > "$OUT/crash4.log" 2>&1
check_eq "worker deaths: the next worker exits 0" 0 "$?"
check_eq "worker deaths: the job failed as worker_crashed" "failed worker_crashed" \
	"$(jfield "$cjob" status) $(jfield "$cjob" error)"
check_eq "worker deaths: its title" "Import crashed repeatedly" "$(jfield "$cjob" error_title)"
check_contains "worker deaths: the worker log says why" "$OUT/crash4.log" "died 3 times in a row"
check_not_contains "worker deaths: not run a fourth time" "$OUT/crash4.log" "Job $cjob: importing"
check_eq "worker deaths: the other user's job completed" completed "$(jfield "$ojob" status)"
check "worker deaths: the other user's mailbox equals the source" verify md crash-md-v --map "Sent Items=Sent"

# --- lost_claims is added to an existing store (schema v22 -> v23) ---
# SQLite: this test's store as v22 had it, its jobs kept
cp "$JOBS/jobs.db" "$JOBS/v22.db"
python3 - "$JOBS/v22.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("ALTER TABLE import_remote_jobs DROP COLUMN lost_claims")
# (and what later versions added)
db.execute("ALTER TABLE import_remote_jobs DROP COLUMN connections")
db.execute("ALTER TABLE import_remote_jobs DROP COLUMN leases")
db.execute("ALTER TABLE import_remote_jobs DROP COLUMN current_folder")
db.execute("UPDATE import_remote_meta SET value = '22' WHERE name = 'schema_version'")
db.commit()
PY
chown "$IR_OS_USER:" "$JOBS/v22.db"
V22_OPTS=()
ir_set_opt V22_OPTS "import_remote_store=sqlite:$JOBS/v22.db"
adm "${V22_OPTS[@]}" import-remote status -u sd "$cjob" > "$OUT/v22.out" 2>&1
check_eq "v22 SQLite store: upgraded (v$IR_SCHEMA_VERSION), its jobs kept" "$IR_SCHEMA_VERSION failed 0" \
	"$(sqlite_value "$JOBS/v22.db" "select value from import_remote_meta where name='schema_version'") $(field v22 status) $(sqlite_value "$JOBS/v22.db" "select lost_claims from import_remote_jobs where id=?" "$cjob")"
# PostgreSQL: a store made now, taken back to v22, then used
. "$TESTS_DIR/lib/pgsql.sh"
pgdir=$IR_WORK/pgsql
if ir_pgsql_start "$pgdir"; then
	chmod 755 "$pgdir"
	psql_value() {
		su postgres -s /bin/sh -c "'$(ir_pgsql_bin)/psql' -h '$pgdir' -U postgres -d postgres -tAc \"\$0\"" "$1"
	}
	PG_OPTS=()
	ir_set_opt PG_OPTS "import_remote_store=pgsql:$PGSQL_CONNECT"
	ir_dest_reset_user sd
	adm "${PG_OPTS[@]}" import-remote start -u sd --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
		--user srcuser --password-file "$SRC_PASSWORD_FILE" > "$OUT/pg.out" 2>&1 </dev/null
	pjob=$(field pg job)
	psql_value "ALTER TABLE import_remote_jobs DROP COLUMN lost_claims; ALTER TABLE import_remote_jobs DROP COLUMN connections; ALTER TABLE import_remote_jobs DROP COLUMN leases; ALTER TABLE import_remote_jobs DROP COLUMN current_folder; UPDATE import_remote_meta SET value = '22' WHERE name = 'schema_version'" > "$OUT/pgdown.out" 2>&1
	pgcols=$(psql_value "SELECT count(*) FROM information_schema.columns WHERE table_name = 'import_remote_jobs' AND column_name = 'lost_claims'")
	"$WORKER" -c "$DEST_CONF" -s "pgsql:$PGSQL_CONNECT" -1 > "$OUT/pgw.log" 2>&1
	check_eq "v22 PostgreSQL store (no lost_claims): upgraded to v$IR_SCHEMA_VERSION" "0 $IR_SCHEMA_VERSION" \
		"$pgcols $(psql_value "SELECT value FROM import_remote_meta WHERE name = 'schema_version'")"
	check_eq "v22 PostgreSQL store: the worker claims and completes its job" "completed 0" \
		"$(psql_value "SELECT status || ' ' || lost_claims FROM import_remote_jobs WHERE id = $pjob")"
	ir_pgsql_stop "$pgdir"
else
	fail "v22 PostgreSQL store: PostgreSQL could not be started"
	fail "v22 PostgreSQL store: (not run)"
fi

# --- a setting that makes no sense is a clear error ---
BAD=()
ir_set_opt BAD import_remote_job_retry_delay=soon
"$WORKER" -c "$DEST_CONF" -1 "${BAD[@]}" > "$OUT/bad.log" 2>&1
check "import_remote_job_retry_delay=soon: the worker refuses to start" test $? -ne 0
check_contains "import_remote_job_retry_delay=soon: names the setting" "$OUT/bad.log" "import_remote_job_retry_delay"
BAD=()
ir_set_opt BAD import_remote_job_retry_delay=0
"$WORKER" -c "$DEST_CONF" -1 "${BAD[@]}" > "$OUT/bad2.log" 2>&1
check "import_remote_job_retry_delay=0: the worker refuses to start" test $? -ne 0
check_contains "import_remote_job_retry_delay=0: says why" "$OUT/bad2.log" "import_remote_job_retry_delay: Invalid value 0"
BAD=()
ir_set_opt BAD import_remote_job_retries=-1
"$WORKER" -c "$DEST_CONF" -1 "${BAD[@]}" > "$OUT/bad3.log" 2>&1
check "import_remote_job_retries=-1: the worker refuses to start" test $? -ne 0
check_contains "import_remote_job_retries=-1: names the setting" "$OUT/bad3.log" "import_remote_job_retries"
exit 0
