#!/bin/bash
# Events and metrics: Dovecot's own stats process counts the plugin's named
# events (doc/events.md) through metric { } blocks, and its OpenMetrics
# exporter (service stats { inet_listener http }) serves them. After a
# foreground run, a job through the worker and two that fail (a job and a
# run with a wrong password), the counters say what the imports said.
# Every import leaves an audit trail in Dovecot's log - who, from where,
# the result and its counts - the foreground run included, and no secret
# is in any log (debug logging of the category is on throughout).
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 38
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

"$TOOLS/mkcorpus" -n 60 -s 5 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
total=$(manifest_count)

# the stats listener, the metrics and log_debug of conf.d's example for
# this version (its "Events and metrics" section, uncommented), and two
# more
STATS_PORT=$(ir_free_port)
if ir_dovecot_24; then
	example=$TESTS_DIR/../conf.d/2.4/90-import-remote.conf
else
	example=$TESTS_DIR/../conf.d/2.3/90-import-remote.conf
fi
example_metrics=$(awk '/^## Events and metrics/ { on = 1; next }
	on && /^##$/ { if (++banner == 2) exit; next } on' "$example" |
	sed -n 's/^#\([^ #]\)/\1/p; s/^#\(  \)/\1/p' | sed "s/port = 9900/port = $STATS_PORT/")
IR_DEST_EXTRA_CONF="$example_metrics
metric import_remote_jobs_started {
  filter = event=import_remote_job_started
}
metric import_remote_folders {
  filter = event=import_remote_folder_finished
  fields = messages bytes
}"
ir_dest_start
check_contains "the example's metrics and stats listener are used" "$DEST_CONF" "port = $STATS_PORT"
LOGDIR=$IR_WORK/dst/log
INFO_LOG=$LOGDIR/dovecot-info.log

JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
chown "$IR_OS_USER:" "$JOBS"
STORE=sqlite:$JOBS/jobs.db
KEY=$JOBS/key
ir_set_opt DOVEADM_OPTS "import_remote_store=$STORE" "import_remote_key_file=$KEY"
echo wrongpass-3f9a > "$IR_WORK/wrong.pw"
adm() { timeout -k 5 180 doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" "$@"; }
start() {
	local u=$1 name=$2; shift 2
	adm import-remote start -u "$u" --host 127.0.0.1 --port "$SRC_IMAP_PORT" \
		--ssl none --user srcuser "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
}
worker() {
	timeout -k 5 180 "$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker-$1.log" 2>&1
	echo $? > "$OUT/worker-$1.rc"
}
field() { flow_field "$OUT/$1.out" "$2"; }
status() { adm import-remote status -u "$1" "$2" > "$OUT/$3.out" 2>&1; }
# metric NAME [LABELS]: a counter's value in the OpenMetrics scrape
metric() {
	local m=dovecot_$1
	[ -n "${2:-}" ] && m="$m{$2}"
	awk -v m="$m" '$1 == m { print $2 }' "$OUT/metrics"
}
# field_sum METRIC FIELD: the sum of an event field over a metric. The
# OpenMetrics exporter serves it from Dovecot 2.3.21 on (..._FIELD_sum);
# older 2.3 (Debian 12's 2.3.19) exports only counts and durations: there
# the same counter is read from the stats process by doveadm stats dump.
field_sum() {
	local v
	v=$(metric "$1_$2_sum")
	if [ -z "$v" ]; then
		v=$(doveadm -c "$DEST_CONF" stats dump 2>/dev/null |
			awk -v m="$1" -v f="$2" '$1 == m && $2 == f { print $4 }')
	fi
	echo "$v"
}

# --- a foreground run: its audit lines in Dovecot's log ---
# (-D: every debug line too, for the secrets check at the end)
DOVEADM_OPTS=(-D "${DOVEADM_OPTS[@]}")
import sd run1 --port "$SRC_IMAP_PORT" --ssl none
DOVEADM_OPTS=("${DOVEADM_OPTS[@]:1}")
check_eq "run: exit code 0" 0 "$(rc run1)"
imp1=$(field run1 imported); skip1=$(field run1 skipped_duplicates); bytes1=$(field run1 bytes)
check_eq "run: imported + skipped = what the source has" "$total" "$(sum "$imp1" "$skip1")"
what1="Import of srcuser@127.0.0.1:$SRC_IMAP_PORT into sd"
check_contains "run: audit line at its start in Dovecot's log (who, from where)" "$INFO_LOG" \
	"doveadm(sd): Info: import-remote: $what1 started (doveadm import-remote run)"
check_contains "run: audit line at its end, with the result and counts" "$INFO_LOG" \
	"doveadm(sd): Info: import-remote: $what1 ended: completed, $imp1 imported ($bytes1 bytes), $skip1 skipped, 0 failed in "
check "run: the audit lines carry Dovecot's timestamp" \
	grep -qE "^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} doveadm\(sd\): Info: import-remote: $what1 started" "$INFO_LOG"
check_contains "run: with -D the audit lines are on the terminal too" "$OUT/run1.err" "Debug: import-remote: $what1 started"

# --- a queued job through the worker ---
start md start1 --password-file "$SRC_PASSWORD_FILE"
check_eq "job: start exits 0" 0 "$(rc start1)"
job1=$(field start1 job)
worker w1
check_eq "job: worker exits 0" 0 "$(cat "$OUT/worker-w1.rc")"
status md "$job1" st1
check_eq "job: completed" completed "$(field st1 status)"
imp2=$(field st1 imported); bytes2=$(field st1 bytes)
check_contains "job: audit line at its start (who, from where)" "$OUT/worker-w1.log" \
	"Info: import-remote: Job $job1: importing srcuser@127.0.0.1 into md"
check_contains "job: audit line at its end, with the counts" "$OUT/worker-w1.log" \
	"Info: import-remote: Job $job1: completed: $imp2 imported ("

# --- failures: a job and a run with a wrong password ---
start md start2 --password-file "$IR_WORK/wrong.pw"
job2=$(field start2 job)
worker w2
status md "$job2" st2
check_eq "failing job: failed auth_failed" "failed auth_failed" "$(field st2 status) $(field st2 error)"
check_contains "failing job: its end says why" "$OUT/worker-w2.log" "Job $job2: failed: auth_failed: 0 imported"
doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote run -u sd --host 127.0.0.1 \
	--port "$SRC_IMAP_PORT" --ssl none --user srcuser --password-file "$IR_WORK/wrong.pw" \
	>"$OUT/run2.out" 2>"$OUT/run2.err" </dev/null
echo $? > "$OUT/run2.rc"
check "failing run: exit code not 0" test "$(rc run2)" != 0
check_contains "failing run: audit line of its end says why" "$INFO_LOG" \
	"doveadm(sd): Info: import-remote: $what1 ended: failed: auth_failed, 0 imported"

# --- what Dovecot's stats counted ---
curl -s -m 30 "http://127.0.0.1:$STATS_PORT/metrics" > "$OUT/metrics"
check_contains "OpenMetrics: served by the stats process" "$OUT/metrics" "dovecot_import_remote_runs"
check_eq "OpenMetrics: runs that completed (the run and the job)" 2 "$(metric import_remote_runs_total 'error_code="ok"')"
check_eq "OpenMetrics: runs that failed, by error code" 2 "$(metric import_remote_runs_total 'error_code="auth_failed"')"
check_eq "OpenMetrics: jobs finished ok" 1 "$(metric import_remote_jobs_total 'error_code="ok"')"
check_eq "OpenMetrics: jobs finished auth_failed" 1 "$(metric import_remote_jobs_total 'error_code="auth_failed"')"
check_eq "OpenMetrics: jobs started" 2 "$(metric import_remote_jobs_started_total)"
check_eq "OpenMetrics: jobs queued by start" 2 "$(metric import_remote_jobs_queued_total 'origin="start"')"
check "OpenMetrics: the runs' duration is counted" test -n "$(metric import_remote_runs_duration_seconds_sum)"
check_eq "metrics: messages imported = the runs' imported" "$(sum "$imp1" "$imp2")" "$(field_sum import_remote_runs messages)"
check_eq "metrics: bytes imported = the runs' bytes" "$(sum "$bytes1" "$bytes2")" "$(field_sum import_remote_runs bytes)"
check_eq "metrics: jobs' messages = the job's imported" "$imp2" "$(field_sum import_remote_jobs messages)"
check_eq "metrics: folders' messages add up to the runs'" "$(sum "$imp1" "$imp2")" "$(field_sum import_remote_folders messages)"

# --- a reconnect and a message that failed (tests/tools/fakeimapd) ---
echo fakepass > "$IR_WORK/fake.pw"
FAKE_OPTS=(--max-conns 2)
fake cut cut-literal
FAKE_OPTS=()
check_eq "cut mid-message: reconnected once" 1 "$(flow_field "$OUT/cut.out" reconnects)"
fake corrupt size-corrupt --list-failed
check_eq "corrupt message: one failed" 1 "$(flow_field "$OUT/corrupt.out" failed)"
curl -s -m 30 "http://127.0.0.1:$STATS_PORT/metrics" > "$OUT/metrics"
# (a counter grouped by a field: its sub-metrics' lines added up)
metric_all() {
	awk -v m="dovecot_$1" 'index($1, m "{") == 1 || $1 == m { n += $2 } END { print n + 0 }' "$OUT/metrics"
}
check_eq "OpenMetrics: the reconnect is counted" 1 "$(metric_all import_remote_reconnects_total)"
check_eq "OpenMetrics: the message that failed is counted" 1 "$(metric import_remote_messages_failed_total)"
check_eq "OpenMetrics: the runs that failed are still 2" 2 "$(metric import_remote_runs_total 'error_code="auth_failed"')"

# --- the log prefix comes from the events, once per line ---
cat "$OUT"/worker-w*.log "$OUT/run1.err" > "$OUT/all.log"
check_contains "log prefix: the session's own one" "$OUT/all.log" "Debug: import-remote(127.0.0.1): C: "
check_not_contains "log prefix: never twice (a child event of ours adds none)" "$OUT/all.log" "import-remote: import-remote"

# --- no secret in any log, at any level ---
check_contains "debug logging was on (the secrets check reads debug lines)" "$OUT/run1.err" "Debug: import-remote"
check_not_logged "no source password in any log" srcpass "$LOGDIR" "$OUT"
check_not_logged "no wrong password in any log" wrongpass-3f9a "$LOGDIR" "$OUT"
