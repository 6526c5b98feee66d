#!/bin/bash
# The administrator's view of the whole job store: doveadm import-remote
# jobs (every user's jobs, filtered by --status, --host, --since, --limit,
# --all; -f json) and top (--once, and redrawn until SIGINT), with the
# store in SQLite and in PostgreSQL. Jobs of four users in every state:
# completed, failed and retried (superseded), running (a worker on a slow
# source), queued; a row made hostile in the store.
set -u
. "$(dirname "$0")/../lib/integration.sh"
. "$TESTS_DIR/lib/pgsql.sh"
plan 98
script_timeout 900
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

"$TOOLS/mkcorpus" -n 40 -s 31 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start
total=$(manifest_count)

JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
chown "$IR_OS_USER:" "$JOBS"
KEY=$JOBS/key
jobs_opts() {
	DOVEADM_OPTS=()
	ir_set_opt DOVEADM_OPTS "import_remote_store=$STORE" "import_remote_key_file=$KEY"
}
adm() { timeout -k 5 120 doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" "$@"; }
start() {
	local u=$1 name=$2; shift 2
	adm import-remote start -u "$u" --user srcuser "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
}
field() { flow_field "$OUT/$1.out" "$2"; }
echo wrongpass > "$IR_WORK/wrong.pw"
echo fakepass > "$IR_WORK/fake.pw"

# store_sql SQL: run SQL on the current store, rows printed as a|b
store_sql() {
	case $STORE in
	sqlite:*)
		python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit()
for row in r: print("|".join(str(x) for x in row))' "${STORE#sqlite:}" "$1" ;;
	pgsql:*)
		psql -X -q -A -t -h "$pgdir" -U postgres -d postgres -c "$1" ;;
	esac
}
# jobs NAME [options]: "jobs -f json" into $OUT/NAME.json (stderr
# NAME.err, exit code NAME.rc)
jobs_json() {
	local name=$1; shift
	USER=nosuchuser adm -f json import-remote jobs "$@" >"$OUT/$name.json" 2>"$OUT/$name.err"
	echo $? > "$OUT/$name.rc"
}
# ids NAME: the job ids of a jobs_json output, in its order
ids() {
	python3 -c 'import json,sys
print(" ".join(str(r["job"]) for r in json.load(open(sys.argv[1]))) or "(none)")' "$OUT/$1.json" 2>&1
}
# jget NAME JOB FIELD: one field of one job of a jobs_json output
jget() {
	python3 -c 'import json,sys
r=[r for r in json.load(open(sys.argv[1])) if str(r["job"])==sys.argv[2]]
print(r[0][sys.argv[3]] if r else "(no job %s)" % sys.argv[2])' "$OUT/$1.json" "$2" "$3" 2>&1
}

# scenario LABEL: every check against the store in $STORE
scenario() {
	local L=$1 jc jf jr js jq jh fake_pid wpid i st old_day secret top_pid rc
	jobs_opts
	for u in sd md sdq mdq; do ir_dest_reset_user "$u"; done

	# completed (sd) and failed (md), then the failed one retried: the
	# new job waits, the failed one is superseded
	start sd c --host 127.0.0.1 --port "$SRC_IMAPS_PORT" --password-file "$SRC_PASSWORD_FILE"
	jc=$(field c job)
	start md f --host 127.0.0.1 --port "$SRC_IMAPS_PORT" --password-file "$IR_WORK/wrong.pw"
	jf=$(field f job)
	timeout -k 5 120 "$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker-$L-1.log" 2>&1

	# running: sdq's import from a source that lists a message every
	# 0.25 s, run by a worker in the background
	"$TOOLS/fakeimapd" --scenario slow-list --count 400 --max-conns 2 --timeout 200 \
		--report "$OUT/slow-$L.report" > "$OUT/slow-$L.port" &
	fake_pid=$!
	ir_kill_on_exit "$fake_pid"
	start sdq s --host 127.0.0.1 --port "$(port_of "$OUT/slow-$L.port")" --ssl none \
		--password-file "$IR_WORK/fake.pw" --fetch-chunk 1
	js=$(field s job)
	"$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker-$L-slow.log" 2>&1 &
	wpid=$!
	ir_kill_on_exit "$wpid"
	for i in $(seq 1 300); do
		USER=nosuchuser adm import-remote status "$js" > "$OUT/s-st.out" 2>&1
		st=$(field s-st messages)
		[ "$(field s-st status)" = running ] && [ "${st%%/*}" -gt 0 ] 2>/dev/null && break
		sleep 0.1
	done
	# queued behind it (the one worker runs one job at a time): the
	# failed job retried, mdq's of another host (never connected to),
	# and one of sd's that the store garbles
	USER=nosuchuser adm import-remote retry "$jf" > "$OUT/r.out" 2>&1
	jr=$(field r job)
	start mdq q --host IMAP.Example.NET --port 993 --password-file "$SRC_PASSWORD_FILE"
	jq=$(field q job)
	start sd h --host hostile.example --port 993 --password-file "$SRC_PASSWORD_FILE"
	jh=$(field h job)
	store_sql "UPDATE import_remote_jobs SET source_host = 'evil' || $CHR(27) || '[2J' || $CHR(13) || $CHR(10) || 'line' || $CHR(155) || '31m', error_code = $CHR(27) || ']0;title' || $CHR(7) WHERE id = $jh"
	check_eq "$L: the slow job runs (for the checks below)" running "$(field s-st status)"
	# the completed job last changed three days ago
	store_sql "UPDATE import_remote_jobs SET updated = updated - 259200 WHERE id = $jc"

	# --- jobs: everything that is not superseded, newest first ---
	jobs_json all
	check_eq "$L: jobs exits 0" 0 "$(cat "$OUT/all.rc")"
	check_eq "$L: jobs lists every user's jobs, newest first, not the superseded one" \
		"$jh $jq $jr $js $jc" "$(ids all)"
	check_eq "$L: jobs: each job's status" "queued queued queued running completed" \
		"$(for i in $jh $jq $jr $js $jc; do jget all "$i" status; done | tr '\n' ' ' | sed 's/ $//')"
	check_eq "$L: jobs: each job's user" "sd mdq md sdq sd" \
		"$(for i in $jh $jq $jr $js $jc; do jget all "$i" user; done | tr '\n' ' ' | sed 's/ $//')"
	check_eq "$L: jobs: the source host and port" "IMAP.Example.NET:993 127.0.0.1:$SRC_IMAPS_PORT" \
		"$(jget all "$jq" source) $(jget all "$jc" source)"
	check_eq "$L: jobs: the completed job's messages, all done" "$total/$total" "$(jget all "$jc" messages)"
	st=$(jget all "$jc" bytes)
	check "$L: jobs: the completed job's bytes, all done ($st)" test "${st%%/*}" = "${st#*/}" -a "${st%%/*}" -gt 0
	st=$(jget all "$js" messages)
	check "$L: jobs: the running job's live progress ($st of 400)" test "${st%%/*}" -gt 0 -a "${st%%/*}" -lt 400 -a "${st#*/}" = 400
	check_eq "$L: jobs: times of a running job (started, updated; not finished)" "yes yes no" \
		"$(for f in started updated finished; do [ -n "$(jget all "$js" "$f")" ] && echo -n "yes " || echo -n "no "; done | sed 's/ $//')"
	check_eq "$L: jobs: no job shows a password column" "5 rows, none" \
		"$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print("%d rows, %s" % (len(d), " ".join(k for r in d for k in r if "pass" in k.lower() or "secret" in k.lower()) or "none"))' "$OUT/all.json")"
	secret=$(store_sql "SELECT source_password FROM import_remote_jobs WHERE id = $jr")
	check "$L: the queued retry has its stored password (to look for it)" test -n "$secret"
	check_not_contains "$L: jobs: the stored password is not printed" "$OUT/all.json" "${secret:-(none)}"

	# --- --all: the superseded job, failed, and what replaced it ---
	jobs_json sup --all
	check_eq "$L: --all: the superseded job too" "$jh $jq $jr $js $jf $jc" "$(ids sup)"
	check_eq "$L: --all: the failed job's status, error, title, retried_by" \
		"failed auth_failed Authentication failed $jr" \
		"$(jget sup "$jf" status) $(jget sup "$jf" error) $(jget sup "$jf" error_title) $(jget sup "$jf" retried_by)"

	# --- --status ---
	jobs_json st1 --status running
	check_eq "$L: --status running: the running job only" "$js" "$(ids st1)"
	jobs_json st2 --status queued,failed --all
	check_eq "$L: --status queued,failed --all" "$jh $jq $jr $jf" "$(ids st2)"
	jobs_json st3 --status completed
	check_eq "$L: --status completed" "$jc" "$(ids st3)"
	jobs_json st4 --status queued,bogus
	check_eq "$L: --status with an unknown status: usage error (64)" 64 "$(cat "$OUT/st4.rc")"
	check_contains "$L: --status: says which value is wrong and what to use" "$OUT/st4.err" "Invalid --status 'bogus': use queued, preparing, running"

	# --- --host: exact, regardless of case ---
	jobs_json h1 --host imap.example.net
	check_eq "$L: --host imap.example.net (stored as IMAP.Example.NET)" "$jq" "$(ids h1)"
	jobs_json h2 --host 127.0.0.1
	check_eq "$L: --host 127.0.0.1" "$jr $js $jc" "$(ids h2)"
	jobs_json h3 --host 127.0.0 --all
	check_eq "$L: --host is no prefix match" "(none)" "$(ids h3)"

	# --- --since: how long ago, or a day ---
	jobs_json s1 --since 1d
	check_eq "$L: --since 1d: not the job last changed 3 days ago" "$jh $jq $jr $js" "$(ids s1)"
	old_day=$(date -u -d '5 days ago' +%Y-%m-%d)
	jobs_json s2 --since "$old_day"
	check_eq "$L: --since $old_day: that job too" "$jh $jq $jr $js $jc" "$(ids s2)"
	jobs_json s3 --since "4 days" --status completed
	check_eq "$L: --since '4 days' with --status completed" "$jc" "$(ids s3)"
	jobs_json s4 --since yesterday
	check_eq "$L: --since of no known form: usage error (64)" 64 "$(cat "$OUT/s4.rc")"

	# --- --limit: the newest, and says there are more ---
	jobs_json l1 --limit 2
	check_eq "$L: --limit 2: the two newest" "$jh $jq" "$(ids l1)"
	check_contains "$L: --limit 2: says there are more" "$OUT/l1.err" "there are more (--limit)"
	jobs_json l2 --limit 5
	check_not_contains "$L: --limit 5 with 5 jobs: nothing said about more" "$OUT/l2.err" "there are more"
	jobs_json l3 --limit 0
	check_eq "$L: --limit 0: usage error (64)" 64 "$(cat "$OUT/l3.rc")"

	# --- a plain command: no -u ---
	adm import-remote jobs -u sd > "$OUT/u.out" 2>&1
	check_eq "$L: jobs -u: refused, usage error (64)" 64 "$?"

	# --- the hostile row: nothing of its control characters comes out ---
	USER=nosuchuser adm -f tab import-remote jobs > "$OUT/tab.out" 2>&1
	check_eq "$L: jobs -f tab: a line per job, the hostile one too" 6 "$(wc -l < "$OUT/tab.out")"
	check_eq "$L: jobs: no control character of the store is printed" 0 \
		"$(LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]\|\xc2[\x80-\x9f]' "$OUT/tab.out")"
	check_contains "$L: jobs: the hostile host shown defused" "$OUT/tab.out" "evil?[2J??line?31m:993"
	# status prints through the same sanitizer (C1 controls such as the
	# 8-bit CSI included)
	USER=nosuchuser adm -f tab import-remote status "$jh" > "$OUT/hstatus.out" 2>&1
	check_contains "$L: status of the hostile job: the host shown defused" "$OUT/hstatus.out" "evil?[2J??line?31m"
	check_eq "$L: status of the hostile job: no control character of the store is printed" 0 \
		"$(LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]\|\xc2[\x80-\x9f]' "$OUT/hstatus.out")"
	# a row whose status is no status: the others are still listed
	store_sql "UPDATE import_remote_jobs SET status = 'bogus' || $CHR(27) WHERE id = $jh"
	jobs_json bad
	check_eq "$L: a row with an invalid status: jobs still exits 0" 0 "$(cat "$OUT/bad.rc")"
	check_eq "$L: a row with an invalid status: the other jobs listed" "$jq $jr $js $jc" "$(ids bad)"
	check_contains "$L: a row with an invalid status: named in a warning" "$OUT/bad.err" "Job $jh has an invalid status"

	# --- top ---
	USER=nosuchuser adm import-remote top --once > "$OUT/top1.out" 2>&1
	check_eq "$L: top --once: exit code 0" 0 "$?"
	check "$L: top --once: the running job's line (job, status, user, progress)" \
		grep -Eq "^ *$js running +sdq +[1-9][0-9]*/400 " "$OUT/top1.out"
	check "$L: top --once: the running job's folder (FOLDER)" \
		grep -Eq "^ *$js running .* INBOX +" "$OUT/top1.out"
	check_eq "$L: top --once: the counts" "1 running, 0 preparing, 2 queued" \
		"$(sed -n '1s/.*: \([0-9]* running, [0-9]* preparing, [0-9]* queued\).*/\1/p' "$OUT/top1.out")"
	check_eq "$L: top --once: live jobs first, then the queued ones (not completed)" "$js $jq $jr" \
		"$(awk 'NR > 2 { print $1 }' "$OUT/top1.out" | tr '\n' ' ' | sed 's/ $//')"
	# doveadm itself in the background (not a function's subshell): the
	# SIGINT goes to it
	USER=nosuchuser doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" \
		import-remote top --interval 1 > "$OUT/top2.out" 2> "$OUT/top2.err" &
	top_pid=$!
	sleep 3.5
	kill -INT "$top_pid"
	wait_for_exit() { local n; for n in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
	wait_for_exit "$top_pid"
	check "$L: top: ends within 5 s of SIGINT" eval "! kill -0 $top_pid 2>/dev/null"
	kill -9 "$top_pid" 2>/dev/null
	wait "$top_pid"
	rc=$?
	check_eq "$L: top: SIGINT ends it cleanly (exit 0)" 0 "$rc"
	st=$(grep -c '^import-remote top ' "$OUT/top2.out")
	# (at most 5 in 3.5 s; at least 2 even if doveadm is slow to start)
	check "$L: top, not on a terminal: a snapshot per second ($st in 3.5 s)" test "$st" -ge 2 -a "$st" -le 5
	check_eq "$L: top, not on a terminal: no screen control sequences" 0 "$(grep -c $'\x1b' "$OUT/top2.out")"

	# the end: no job left to run, the worker stops with the slow one
	for i in $jq $jr; do USER=nosuchuser adm import-remote cancel "$i" >/dev/null 2>&1; done
	store_sql "UPDATE import_remote_jobs SET status = 'cancelled' WHERE id = $jh"
	USER=nosuchuser adm import-remote cancel "$js" >/dev/null 2>&1
	for i in $(seq 1 300); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$wpid" "$fake_pid" 2>/dev/null
	wait "$wpid" "$fake_pid" 2>/dev/null
}

STORE=sqlite:$JOBS/jobs.db
CHR=char
scenario sqlite

pgdir=$IR_WORK/pgsql
if ir_pgsql_start "$pgdir"; then
	chmod 755 "$pgdir"
	STORE="pgsql:$PGSQL_CONNECT"
	CHR=chr
	scenario pgsql
	ir_pgsql_stop "$pgdir"
else
	fail "pgsql store: PostgreSQL could not be started"
fi
exit 0
