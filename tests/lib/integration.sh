# shellcheck shell=bash
# Sourced first by every integration test: helpers, a fresh work dir that
# is removed on exit (with its servers stopped), $OUT for outputs. Run
# alone (not from tests/run-tests), a script prints its own tally at the end.
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# the job store's schema version this tree's code moves a store to (read
# from the source: a new schema step needs no test edited to say so)
IR_SCHEMA_VERSION=$(sed -n 's/^#define JOB_STORE_SCHEMA_VERSION \([0-9]*\)$/\1/p' \
	"$TESTS_DIR/../src/lib-import-remote/queue/job-store.c")
IR_STANDALONE=0
[ -n "${IR_RESULTS:-}" ] || IR_STANDALONE=1
. "$TESTS_DIR/lib/servers.sh"
. "$TESTS_DIR/lib/check.sh"
TOOLS=$TESTS_DIR/tools

# ir_kill_on_exit PID... : background helpers (sinks, fake servers) that
# must not outlive the script
IR_KILL_PIDS=()
ir_kill_on_exit() { IR_KILL_PIDS+=("$@"); }

ir_exit() {
	local pid
	for pid in "${IR_KILL_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	if [ "$IR_STANDALONE" = 1 ] && [ -n "${IR_WORK:-}" ]; then
		ir_tally "$IR_RESULTS" "$IR_PLAN" "$(basename "$0")"
		echo "# $(basename "$0"): $(ir_totals "$IR_PASSED" "$IR_FAILED" "$IR_SKIPPED")"
	fi
	declare -F ir_pgsql_stop_all >/dev/null && ir_pgsql_stop_all
	ir_cleanup
}

ir_setup_workdir
trap ir_exit EXIT
# tests/run-tests' timeout sends TERM: clean up on the way out
trap 'exit 143' TERM INT HUP
[ "$IR_STANDALONE" = 1 ] && IR_RESULTS=$IR_WORK/results
OUT=$IR_WORK/out
mkdir -p "$OUT"

# fake NAME SCENARIO [import options...]: one import of $FAKE_USER
# (default sd) from tests/tools/fakeimapd playing SCENARIO ($FAKE_OPTS: its
# extra options; it gives up after $FAKE_TIMEOUT s, default 120) with
# doveadm's $DOVEADM_OPTS and the password in $IR_WORK/fake.pw.
# $OUT/NAME.manifest lists what a correct import brings; the import's exit
# code is in $OUT/NAME.rc, its peak RSS (kB) in $OUT/NAME.rss; one still
# running after 120 s is killed.
FAKE_OPTS=()
FAKE_USER=sd
FAKE_TIMEOUT=120
fake() {
	local name=$1 scenario=$2; shift 2
	"$TOOLS/fakeimapd" --scenario "$scenario" --count 20 \
		--timeout "$FAKE_TIMEOUT" "${FAKE_OPTS[@]}" \
		--report "$OUT/$name.report" \
		--manifest "$OUT/$name.manifest" > "$OUT/$name.port" &
	local pid=$!
	ir_kill_on_exit "$pid"
	ir_dest_reset_user "$FAKE_USER"
	timeout -s KILL 120 /usr/bin/time -f '%M' -o "$OUT/$name.rss" \
		doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote run \
		-u "$FAKE_USER" --host 127.0.0.1 \
		--port "$(port_of "$OUT/$name.port")" --ssl none --user fake \
		--password-file "$IR_WORK/fake.pw" --timeout 5 "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
	# it may still wait for a connection that is not needed
	kill "$pid" 2>/dev/null
	wait "$pid"
}

# wait_for_file FILE: until FILE is there (at most 30 s)
wait_for_file() {
	local i
	for i in $(seq 1 300); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# term_and_wait PID: SIGTERM it and wait until it has ended (at most 10 s;
# the caller checks whether it did)
term_and_wait() {
	local i
	kill -TERM "$1"
	for i in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# check_not_logged NAME SECRET PATH... : SECRET is in none of the files,
# nor in any file of the directories given (error, info and debug logs
# alike); a path that is missing, or no file at all, fails the check (a
# log not read proves nothing)
check_not_logged() {
	local name=$1 secret=$2 p f files=() found=() rc
	shift 2
	for p in "$@"; do
		if [ -d "$p" ]; then
			for f in "$p"/*; do
				[ -f "$f" ] && files+=("$f")
			done
		elif [ -f "$p" ]; then
			files+=("$p")
		else
			fail "$name" "no log '$p'"
			return 0
		fi
	done
	if [ ${#files[@]} = 0 ]; then
		fail "$name" "no log file in $*"
		return 0
	fi
	# (a file given twice, on its own and in its directory, is read once)
	mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -u)
	for f in "${files[@]}"; do
		grep -qF -- "$secret" "$f"
		rc=$?
		case $rc in
		0) found+=("$f") ;;
		1) ;;
		*) fail "$name" "cannot read $f (grep exited $rc)"; return 0 ;;
		esac
	done
	if [ ${#found[@]} -gt 0 ]; then
		fail "$name" "'$secret' found in ${found[*]}:" "$(grep -hF -- "$secret" "${found[@]}" | head -3)"
	else
		pass "$name"
	fi
}

# port_of FILE: the port a helper (fakeimapd, smtpsink, httpsink) prints on
# its first line, once it is there (at most 10 s)
port_of() {
	local i port
	for i in $(seq 1 100); do
		port=$(head -1 "$1" 2>/dev/null)
		[[ $port =~ ^[0-9]+$ ]] && { echo "$port"; return 0; }
		sleep 0.1
	done
	echo "port_of: no port in $1" >&2
	return 1
}

# import USER NAME [options...]: "doveadm import-remote run" from the source
# server's srcuser, stdout/stderr/exit code kept as $OUT/NAME.{out,err,rc}.
# doveadm's own options (-o) go in $DOVEADM_OPTS.
DOVEADM_OPTS=()
import() {
	local u=$1 name=$2; shift 2
	doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote run -u "$u" --host 127.0.0.1 \
		--user srcuser --password-file "$SRC_PASSWORD_FILE" "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
}
rc() { cat "$OUT/$1.rc"; }

# verify USER NAME [imapverify options]: the destination against
# $MANIFEST; byte-identical copies within a folder are expected once
# (import-remote's default --dedup folder) unless $VERIFY_DEDUP says else.
VERIFY_DEDUP=folder
verify() {
	local u=$1 name=$2; shift 2
	# a failure shows what differs (the check itself prints only its name)
	"$TOOLS/imapverify" --port "$DEST_IMAP_PORT" --user "$u" \
		--manifest "$MANIFEST" --dedup "$VERIFY_DEDUP" "$@" > "$OUT/$name.verify" 2>&1 ||
		{ verify_explain "$OUT/$name.verify"; return 1; }
}

# verify_explain FILE: what imapverify found wrong, problems first and
# only the folders that differ (its whole report when it is not JSON)
verify_explain() {
	python3 - "$1" <<'PY' 2>/dev/null || sed 's/^/    verify: /' "$1" | head -40
import json, sys
r = json.load(open(sys.argv[1]))
for p in r.get("problems", [])[:30]:
    print("    verify: " + p)
for name, f in sorted(r.get("folders", {}).items()):
    if f.get("extra") or f.get("missing") or f.get("found") != f.get("expected"):
        print("    verify: %s: %s" % (name, json.dumps(f, sort_keys=True)))
PY
}

# manifest_count [TAG]: messages in $MANIFEST (with TAG)
manifest_count() {
	python3 -c 'import json,sys
m=json.load(open(sys.argv[1])); tag=sys.argv[2] if len(sys.argv)>2 else None
print(sum(1 for v in m["folders"].values() for e in v if tag is None or tag in e["tags"]))' "$MANIFEST" "$@"
}

# dest_messages USER: messages in all of the user's mailboxes (fails, and
# prints nothing, when doveadm does)
dest_messages() {
	local out
	out=$(doveadm -c "$DEST_CONF" -f tab mailbox status -u "$1" messages '*') || return 1
	echo "$out" | awk 'NR > 1 { n += $NF } END { print n + 0 }'
}
