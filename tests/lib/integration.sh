# shellcheck shell=bash
# Sourced first by every integration test: helpers, a fresh work dir that
# is removed on exit (with its servers stopped), $OUT for outputs.
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TESTS_DIR/lib/servers.sh"
. "$TESTS_DIR/lib/check.sh"
TOOLS=$TESTS_DIR/tools

ir_setup_workdir
trap ir_cleanup EXIT
OUT=$IR_WORK/out
mkdir -p "$OUT"
