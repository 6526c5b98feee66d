#!/bin/bash
# Safe re-runs: Message-ID duplicate skipping (folder, account, off), mail
# without Message-ID, re-runs that download nothing, the date filter,
# --newest-first under quota, and kill -9 at any point followed by a re-run
# that ends with every message exactly once.
set -u
. "$(dirname "$0")/../lib/integration.sh"

"$TOOLS/mkcorpus" -n 300 -s 11 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 0; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start 300k
SRC_LOG=$IR_WORK/src/log/dovecot-info.log
total=$(manifest_count)
dups_same=$(manifest_count dup-same-folder)
dups_cross=$(manifest_count dup-cross-folder)

# last_logout FIELD: a field of the source server's last "Logged out" line
last_logout() {
	grep 'Logged out' "$SRC_LOG" | tail -1 | sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p"
}
field() { flow_field "$OUT/$1.out" "$2"; }

# --- dedup within folders (the default) ---
import sd first --port "$SRC_IMAPS_PORT"
check_eq "first run: exit code 0" 0 "$(rc first)"
check_eq "first run: byte-identical copies in one folder skipped" "$dups_same" "$(field first skipped_duplicates)"
check_eq "first run: imported + skipped = all" "$total" $(( $(field first imported) + $(field first skipped_duplicates) ))
check "first run: every message there once, different mail sharing a Message-ID both kept" \
	verify sd first-v --map "Sent Items=Sent"
check "first run: checkpoint written" test -s "$IR_WORK/dst/home/sd/.dovecot-import-remote/127.0.0.1_${SRC_IMAPS_PORT}_srcuser.checkpoint"

import sd second --port "$SRC_IMAPS_PORT"
check_eq "re-run: exit code 0" 0 "$(rc second)"
check_eq "re-run: imports nothing" 0 "$(field second imported)"
check_eq "re-run: downloads no bodies" 0 "$(last_logout body_count)"
check "re-run: destination unchanged" verify sd second-v --map "Sent Items=Sent"

rm -rf "$IR_WORK/dst/home/sd/.dovecot-import-remote"
import sd nockpt --port "$SRC_IMAPS_PORT"
check_eq "re-run without checkpoint: exit code 0" 0 "$(rc nockpt)"
check_eq "re-run without checkpoint: Message-ID and header-hash dedup import nothing" 0 "$(field nockpt imported)"
check_eq "re-run without checkpoint: downloads no bodies" 0 "$(last_logout body_count)"
check "re-run without checkpoint: still every message once" verify sd nockpt-v --map "Sent Items=Sent"

# --- dedup across the account (Gmail labels) ---
import md account --port "$SRC_IMAPS_PORT" --dedup account
check_eq "--dedup account: exit code 0" 0 "$(rc account)"
VERIFY_DEDUP=account
check "--dedup account: each message exactly once in the account" verify md account-v --map "Sent Items=Sent"
VERIFY_DEDUP=folder
check "--dedup account: copies in other folders skipped too" \
	test "$(field account skipped_duplicates)" -ge $(( dups_same + dups_cross ))

# --- --dedup off copies again ---
import md off --port "$SRC_IMAPS_PORT" --dedup off --folder INBOX
check_eq "--dedup off: copies INBOX again" "$(python3 -c "import json;print(len(json.load(open('$MANIFEST'))['folders']['INBOX']))")" "$(field off imported)"

# --- date filter: server-side SEARCH, nothing else downloaded ---
ir_dest_reset_user md
import md dates --port "$SRC_IMAPS_PORT" --dedup off --since 2019-01-01 --before 2023-01-01
check_eq "--since/--before: exit code 0" 0 "$(rc dates)"
VERIFY_DEDUP=off
check "--since/--before: exactly the mail received in the range" \
	verify md dates-v --map "Sent Items=Sent" --since 2019-01-01 --before 2023-01-01
VERIFY_DEDUP=folder
check_eq "--since/--before: imported + filtered = all" "$total" \
	$(( $(field dates imported) + $(field dates filtered_by_date) ))
check "--since/--before: bodies downloaded only for the range" \
	test "$(last_logout body_count)" -eq "$(field dates imported)"
import md baddate --port "$SRC_IMAPS_PORT" --since 2019-02-30
check_eq "--since with an impossible date: exit code 64" 64 "$(rc baddate)"

# --- --newest-first under a small quota keeps the newest mail ---
import sdq newest --port "$SRC_IMAPS_PORT" --newest-first --dedup off
check_eq "--newest-first, small quota: quota_exceeded" quota_exceeded "$(field newest error)"
check "--newest-first: no older mail imported while newer mail is missing" \
	python3 - "$MANIFEST" "$DEST_IMAP_PORT" <<'PY'
import calendar, hashlib, imaplib, json, sys, time
m = json.load(open(sys.argv[1]))
today = int(time.time()) // 86400 * 86400
bounds = [today - d * 86400 for d in (7, 30, 90, 365, 3 * 365)]
def window(t):
    for i, b in enumerate(bounds):
        if t >= b:
            return i
    return len(bounds)
imap = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]))
imap.login("sdq", "destpass")
have = set()
typ, boxes = imap.list()
for line in boxes:
    name = line.decode().rsplit(' "/" ', 1)[1].strip('"')
    if "Noselect" in line.decode():
        continue
    typ, data = imap.select('"%s"' % name, readonly=True)
    if typ != "OK" or int(data[0]) == 0:
        continue
    typ, data = imap.fetch("1:*", "(BODY.PEEK[])")
    for item in data:
        if isinstance(item, tuple):
            have.add(hashlib.sha256(item[1]).hexdigest())
msgs = [e for v in m["folders"].values() for e in v]
missing = [window(e["internaldate"]) for e in msgs if e["sha256"] not in have]
present = [window(e["internaldate"]) for e in msgs if e["sha256"] in have]
assert present, "nothing imported"
assert missing, "everything imported: quota too big for the test"
assert max(present) <= min(missing), (max(present), min(missing))
PY

# --- kill -9 at several points, then a re-run: every message exactly once ---
"$TOOLS/mkcorpus" -n 1500 -s 12 -o "$IR_WORK/corpus2" >/dev/null
MANIFEST=$IR_WORK/corpus2/manifest.json
ir_source_replace "$IR_WORK/corpus2/Maildir"
ir_dest_reset_user sd
killed=0
for delay in 0.02 0.04 0.06 0.08 0.1 0.12 0.15 0.18 0.22 0.26; do
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 \
		--port "$SRC_IMAPS_PORT" --user srcuser --password-file "$SRC_PASSWORD_FILE" \
		--fetch-chunk 200 --quiet >/dev/null 2>&1 </dev/null &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
done
check "kill -9: the import was killed mid-way several times ($killed)" test "$killed" -ge 5
import sd final --port "$SRC_IMAPS_PORT"
check_eq "kill -9, then re-run: exit code 0" 0 "$(rc final)"
check "kill -9, then re-run: every message exactly once" verify sd final-v --map "Sent Items=Sent"
exit 0
