# shellcheck shell=bash
# Assertion helpers for the integration tests. Every check prints one line
# "ok - NAME" or "FAIL - NAME" and is counted in $IR_RESULTS, which
# tests/run-tests sums up against the script's plan.
#
# The helpers are strict: a missing file, an empty value or a command that
# exits non-zero fails the check unless the check says otherwise
# (check_empty, check_exit). A check must be able to fail: that is why
# check_eq takes no empty expected value and check_not_contains no missing
# file.

IR_RESULTS=${IR_RESULTS:-/dev/null}

# plan N: how many checks this script runs, on a line of its own near the
# top. tests/run-tests reads it from the file before running the script:
# checks that did not run (the script aborted, an expansion error dropped
# a line) are failures.
IR_PLAN=
plan() { IR_PLAN=$1; }
# skip N WHY: N checks of the plan that do not apply here (e.g. on this
# Dovecot version), said where they would have run
skip() { echo "skip - $1 checks: $2"; echo "SKIP $1 $2" >> "$IR_RESULTS"; }
# script_timeout SECS: how long tests/run-tests lets this script run (read
# from the file too; default 600 s)
script_timeout() { :; }

pass() { echo "ok - $1"; echo "PASS $1" >> "$IR_RESULTS"; }
fail() {
	echo "FAIL - $1"; echo "FAIL $1" >> "$IR_RESULTS"
	shift
	[ $# -gt 0 ] && printf '    %s\n' "$@"
	return 0
}

# check NAME COMMAND... : passes when the command exits 0
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

# check_exit NAME CODE COMMAND... : passes when the command exits with CODE
# (a negative check that names the failure it expects, not any failure)
check_exit() {
	local name=$1 want=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ]; then pass "$name"; else
		fail "$name" "expected exit code $want, got $rc: $*" "$(printf '%s' "$out" | head -c 2000)"
	fi
}

# check_eq NAME EXPECTED ACTUAL : both non-empty and equal (an empty value
# is what a failed command substitution gives: use check_empty to expect
# nothing)
check_eq() {
	if [ -z "$2" ]; then
		fail "$1" "the expected value is empty (a failed lookup?); actual '$3'"
	elif [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected '$2', got '$3'"
	fi
}

# check_empty NAME COMMAND... : the command exits 0 and prints nothing
check_empty() {
	local name=$1 out rc
	shift
	out=$("$@")
	rc=$?
	if [ "$rc" != 0 ]; then
		fail "$name" "command exited $rc: $*"
	elif [ -n "$out" ]; then
		fail "$name" "expected no output, got '$(printf '%s' "$out" | head -c 500)'"
	else
		pass "$name"
	fi
}

# check_contains NAME FILE TEXT
check_contains() {
	if [ ! -f "$2" ]; then
		fail "$1" "no file '$2'"
	elif grep -qF -- "$3" "$2"; then
		pass "$1"
	else
		fail "$1" "'$3' not in $2:" "$(head -c 2000 "$2")"
	fi
}

# check_not_contains NAME FILE TEXT : FILE must exist (a missing output
# contains nothing and proves nothing)
check_not_contains() {
	local rc
	if [ ! -f "$2" ]; then
		fail "$1" "no file '$2'"
		return 0
	fi
	grep -qF -- "$3" "$2"
	rc=$?
	case $rc in
	1) pass "$1" ;;
	0) fail "$1" "'$3' found in $2" ;;
	*) fail "$1" "cannot read $2 (grep exited $rc)" ;;
	esac
}

# flow_field FILE KEY : value of key=value in doveadm's flow output; fails
# (and prints nothing) when the file or the key is missing
flow_field() {
	if [ ! -f "$1" ]; then
		echo "flow_field: no file '$1'" >&2
		return 1
	fi
	grep -qE "(^|[[:space:]])$2=" "$1" || return 1
	sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$1" | head -1
}

# sum N... : the sum of non-negative integers; fails (and prints nothing)
# when one of them is not a number, so that "imported + skipped" over a
# missing field fails its check instead of vanishing in an expansion error
sum() {
	local s=0 v
	for v in "$@"; do
		if ! [[ $v =~ ^[0-9]+$ ]]; then
			echo "sum: '$v' is not a number" >&2
			return 1
		fi
		s=$((s + v))
	done
	echo "$s"
}

# sqlite_value DB SQL [PARAM...] : the one value the query selects from an
# existing database; fails (and prints nothing) when the file, the table
# or the row is missing, so that "expect nothing" can't pass on an error
sqlite_value() {
	python3 - "$@" <<'PY'
import sqlite3, sys
db, sql, params = sys.argv[1], sys.argv[2], sys.argv[3:]
# mode=ro: never create an empty database where the real one is missing
con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
rows = con.execute(sql, params).fetchall()
if len(rows) != 1 or len(rows[0]) != 1:
    sys.exit("sqlite_value: %d rows from %s" % (len(rows), sql))
print("" if rows[0][0] is None else rows[0][0])
PY
}

# ir_tally RESULTS PLAN NAME : one script's results file against its plan:
# sets IR_PASSED, IR_FAILED and IR_SKIPPED (a check that did not run
# counts as failed, one the script skipped as skipped) and prints a FAIL
# line for a shortfall or an overrun
ir_tally() {
	local results=$1 planned=$2 name=$3 ran
	IR_PASSED=$(grep -c '^PASS' "$results" 2>/dev/null)
	IR_FAILED=$(grep -c '^FAIL' "$results" 2>/dev/null)
	IR_SKIPPED=$(awk '$1 == "SKIP" { n += $2 } END { print n + 0 }' "$results" 2>/dev/null)
	IR_PASSED=${IR_PASSED:-0} IR_FAILED=${IR_FAILED:-0} IR_SKIPPED=${IR_SKIPPED:-0}
	ran=$((IR_PASSED + IR_FAILED))
	[[ $planned =~ ^[0-9]+$ ]] &&
		planned=$((planned - IR_SKIPPED))
	if ! [[ $planned =~ ^[0-9]+$ ]] || [ "$planned" = 0 ]; then
		echo "FAIL - $name declares no plan (a line 'plan N')"
		IR_FAILED=$((IR_FAILED + 1))
	elif [ "$ran" -lt "$planned" ]; then
		echo "FAIL - $name: $((planned - ran)) of its $planned checks did not run"
		IR_FAILED=$((IR_FAILED + planned - ran))
	elif [ "$ran" -gt "$planned" ]; then
		echo "FAIL - $name: ran $ran checks, its plan says $planned"
		IR_FAILED=$((IR_FAILED + 1))
	fi
}

# ir_totals PASSED FAILED SKIPPED : the closing line of a run, "N passed,
# N failed", with ", N skipped" only when checks were skipped
ir_totals() {
	if [ "${3:-0}" -gt 0 ]; then
		echo "$1 passed, $2 failed, $3 skipped"
	else
		echo "$1 passed, $2 failed"
	fi
}
