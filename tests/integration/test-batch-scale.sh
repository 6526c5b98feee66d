#!/bin/bash
# The bulk import scale check as a test: 200 users' batch through the 4
# worker slots of the import-remote-worker service, every mailbox verified
# (bench/run-batch-scale, which also prints the figures).
set -u
. "$(dirname "$0")/../lib/integration.sh"
"$TESTS_DIR/../bench/run-batch-scale" --builddir "${IR_BUILDDIR:-$TESTS_DIR/..}" \
	--users 200 --slots 4 > "$OUT/scale.out" 2> "$OUT/scale.err"
rc=$?
cat "$OUT/scale.out"
check_eq "scale: 200 users through 4 worker slots: Completed, every mailbox verified" 0 "$rc"
check_contains "scale: all 200 jobs completed" "$OUT/scale.out" "| 200 | 4 | completed | 200 |"
check_contains "scale: 200/200 mailboxes verified" "$OUT/scale.out" "| 200/200 |"
check_contains "scale: the service's workers told the end once, by email and webhook" "$OUT/scale.out" "notifications: email 1, webhook 1"
exit 0
