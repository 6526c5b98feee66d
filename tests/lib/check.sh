# shellcheck shell=bash
# Tiny assertion helpers for the integration tests. Every check prints one
# line "ok - NAME" or "FAIL - NAME" and is counted in $IR_RESULTS, which
# tests/run-tests sums up.

IR_RESULTS=${IR_RESULTS:-/dev/null}

pass() { echo "ok - $1"; echo "PASS $1" >> "$IR_RESULTS"; }
fail() {
	echo "FAIL - $1"; echo "FAIL $1" >> "$IR_RESULTS"
	shift
	[ $# -gt 0 ] && printf '    %s\n' "$@"
	return 0
}

# check NAME COMMAND... : passes when the command succeeds
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

# check_contains NAME FILE TEXT
check_contains() {
	if grep -qF -- "$3" "$2"; then pass "$1"; else
		fail "$1" "'$3' not in $2:" "$(head -c 2000 "$2")"
	fi
}

# check_not_contains NAME FILE TEXT
check_not_contains() {
	if ! grep -qF -- "$3" "$2"; then pass "$1"; else
		fail "$1" "'$3' found in $2"
	fi
}

# flow_field FILE KEY : value of key=value in doveadm's flow output
flow_field() {
	sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$1" | head -1
}
