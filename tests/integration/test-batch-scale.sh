#!/bin/bash
# The bulk import scale check as a test: 200 users' batch through the 4
# worker slots of the import-remote-worker service, every mailbox verified
# (bench/run-batch-scale, which also prints the figures).
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 5
# longer than the bench's own --timeout, so that the bench says why
script_timeout 900
"$TESTS_DIR/../bench/run-batch-scale" --builddir "${IR_BUILDDIR:-$TESTS_DIR/..}" \
	--users 200 --slots 4 --timeout 600 > "$OUT/scale.out" 2> "$OUT/scale.err"
rc=$?
cat "$OUT/scale.out"
check_eq "scale: 200 users, Completed, every mailbox verified, told once (exit 0)" 0 "$rc"
check_contains "scale: all 200 jobs completed" "$OUT/scale.out" "| 200 | 4 | completed | 200 |"
check_contains "scale: 200/200 mailboxes verified" "$OUT/scale.out" "| 200/200 |"
check_contains "scale: 4 jobs ran at once, in the 4 worker processes of the service" "$OUT/scale.out" \
	"concurrency: at most 4 jobs live at once, run by 4 worker processes (4 slots)"
check_contains "scale: the service's workers told the end once, by email and webhook" "$OUT/scale.out" "notifications: email 1, webhook 1"
