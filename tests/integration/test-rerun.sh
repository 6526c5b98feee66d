#!/bin/bash
# Safe re-runs: Message-ID duplicate skipping (folder, account, off), mail
# without Message-ID, re-runs that download nothing, the date filter,
# --newest-first under quota, and kill -9 at any point followed by a re-run
# that ends with every message exactly once.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 32

"$TOOLS/mkcorpus" -n 300 -s 11 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start 300k
SRC_LOG=$IR_WORK/src/log/dovecot-info.log
total=$(manifest_count)
dups_same=$(manifest_count dup-same-folder)
dups_cross=$(manifest_count dup-cross-folder)

# log_mark: how many lines the source's info log has now
log_mark() { wc -l < "$SRC_LOG"; }
# bodies_since MARK: message bodies the source sent to the sessions that
# logged in after MARK. Dovecot logs a session's end (body_count, in the
# "Logged out" or "Disconnected" line)
# after the client is gone: wait for every one of them (at most 10 s);
# fails (prints nothing) if one never ends or there was no session.
bodies_since() {
	python3 - "$SRC_LOG" "$1" <<'PY'
import re, sys, time
path, mark = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 10
while True:
    lines = open(path, errors="replace").read().splitlines()[mark:]
    # "Login:" on Dovecot 2.3, "Logged in:" on 2.4
    started = set(re.findall(r"(?:Login|Logged in): user=<srcuser>.*session=<([^>]+)>", "\n".join(lines)))
    ended = {}
    for l in lines:
        m = re.search(r"imap\(srcuser\)<\d+><([^>]+)>:.*\bbody_count=(\d+)", l)
        if m:
            ended[m.group(1)] = int(m.group(2))
    if started and started <= set(ended):
        print(sum(ended[s] for s in started))
        sys.exit(0)
    if time.time() > deadline:
        sys.exit("bodies_since: sessions %s, ended %s" % (sorted(started), sorted(ended)))
    time.sleep(0.1)
PY
}
field() { flow_field "$OUT/$1.out" "$2"; }

# --- dedup within folders (the default) ---
import sd first --port "$SRC_IMAPS_PORT"
check_eq "first run: exit code 0" 0 "$(rc first)"
check_eq "first run: byte-identical copies in one folder skipped" "$dups_same" "$(field first skipped_duplicates)"
check_eq "first run: imported + skipped = all" "$total" "$(sum "$(field first imported)" "$(field first skipped_duplicates)")"
check "first run: every message there once, different mail sharing a Message-ID both kept" \
	verify sd first-v --map "Sent Items=Sent"
check "first run: checkpoint written" test -s "$IR_WORK/dst/home/sd/.dovecot-import-remote/127.0.0.1_${SRC_IMAPS_PORT}_srcuser.checkpoint"

mark=$(log_mark)
import sd second --port "$SRC_IMAPS_PORT"
check_eq "re-run: exit code 0" 0 "$(rc second)"
check_eq "re-run: imports nothing" 0 "$(field second imported)"
check_eq "re-run: downloads no bodies" 0 "$(bodies_since "$mark")"
check "re-run: destination unchanged" verify sd second-v --map "Sent Items=Sent"

rm -rf "$IR_WORK/dst/home/sd/.dovecot-import-remote"
mark=$(log_mark)
import sd nockpt --port "$SRC_IMAPS_PORT"
check_eq "re-run without checkpoint: exit code 0" 0 "$(rc nockpt)"
check_eq "re-run without checkpoint: Message-ID and header-hash dedup import nothing" 0 "$(field nockpt imported)"
check_eq "re-run without checkpoint: downloads no bodies" 0 "$(bodies_since "$mark")"
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
mark=$(log_mark)
import md dates --port "$SRC_IMAPS_PORT" --dedup off --since 2019-01-01 --before 2023-01-01
check_eq "--since/--before: exit code 0" 0 "$(rc dates)"
VERIFY_DEDUP=off
check "--since/--before: exactly the mail received in the range" \
	verify md dates-v --map "Sent Items=Sent" --since 2019-01-01 --before 2023-01-01
VERIFY_DEDUP=folder
check_eq "--since/--before: imported + filtered = all" "$total" \
	"$(sum "$(field dates imported)" "$(field dates filtered_by_date)")"
check "--since/--before: some mail is in the range, some not" \
	test "$(field dates imported)" -gt 0 -a "$(field dates filtered_by_date)" -gt 0
check_eq "--since/--before: bodies downloaded only for the range" \
	"$(field dates imported)" "$(bodies_since "$mark")"
import md baddate --port "$SRC_IMAPS_PORT" --since 2019-02-30
check_eq "--since with an impossible date: exit code 64" 64 "$(rc baddate)"

# --- --newest-first under a small quota keeps the newest mail ---
# its windows are relative to today: a corpus dated relative to now, with
# mail in every window (small messages: the quota ends a middle window)
"$TOOLS/mkcorpus" -n 300 -s 13 --now "$(date +%s)" --recent --no-attachments \
	-o "$IR_WORK/corpus-recent" >/dev/null
MANIFEST=$IR_WORK/corpus-recent/manifest.json
ir_source_replace "$IR_WORK/corpus-recent/Maildir"
import sdq newest --port "$SRC_IMAPS_PORT" --newest-first --dedup off
check_eq "--newest-first, small quota: quota_exceeded" quota_exceeded "$(field newest error)"
check "--newest-first: no older mail imported while newer mail is missing" \
	python3 - "$MANIFEST" "$DEST_IMAP_PORT" <<'PY'
import hashlib, imaplib, json, sys, time
m = json.load(open(sys.argv[1]))
today = int(time.time()) // 86400 * 86400
bounds = [today - d * 86400 for d in (7, 30, 90, 365, 3 * 365)]
def window(t):
    for i, b in enumerate(bounds):
        if t >= b:
            return i
    return len(bounds)
# SEARCH compares dates in the server's time zone, and a day may have
# begun since the corpus was made: mail near a bound may go either way
def clear(t):
    return all(abs(t - b) > 2 * 86400 for b in bounds)
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
msgs = [e for v in m["folders"].values() for e in v if clear(e["internaldate"])]
assert len({window(e["internaldate"]) for e in msgs}) == len(bounds) + 1, \
    "the corpus does not fill every window"
missing = [window(e["internaldate"]) for e in msgs if e["sha256"] not in have]
present = [window(e["internaldate"]) for e in msgs if e["sha256"] in have]
assert present, "nothing imported"
assert missing, "everything imported: quota too big for the test"
assert len(set(present)) >= 2, ("the quota ended the first window", set(present))
assert max(present) <= min(missing), (max(present), min(missing))
print("windows imported %s, missing %s" % (sorted(set(present)), sorted(set(missing))))
PY

# --- kill -9 at several points, then a re-run: every message exactly once ---
"$TOOLS/mkcorpus" -n 1500 -s 12 -o "$IR_WORK/corpus2" >/dev/null
MANIFEST=$IR_WORK/corpus2/manifest.json
total2=$(manifest_count)
ir_source_replace "$IR_WORK/corpus2/Maildir"
ir_dest_reset_user sd
# each run is killed as soon as it has committed more than the last one
# left, so that every kill lands mid-way, whatever the machine's speed
kills=()
rounds=()
prev=0
for round in $(seq 1 20); do
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 \
		--port "$SRC_IMAPS_PORT" --user srcuser --password-file "$SRC_PASSWORD_FILE" \
		--fetch-chunk 200 --quiet >/dev/null 2>"$OUT/kill$round.err" </dev/null &
	pid=$!
	for i in $(seq 1 600); do
		n=$(dest_messages sd)
		[ "${n:-0}" -gt "$prev" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	krc=$?
	n=$(dest_messages sd)
	rounds+=("$krc:${n:-?}")
	[ "$krc" = 137 ] && [ "${n:-0}" -gt "$prev" ] && [ "${n:-0}" -lt "$total2" ] && kills+=("$n")
	if [ "$krc" = 0 ]; then
		# it ended before the kill (a slow poll, a fast machine; the
		# mailbox then holds fewer than the corpus: copies within a
		# folder are stored once): from an empty mailbox again, for
		# the kills still due
		ir_dest_reset_user sd
		prev=0
		continue
	fi
	if [ "$krc" != 137 ]; then
		# (why a run ended on its own, for the check's log)
		sed "s/^/# round $round: /" "$OUT/kill$round.err"
		break
	fi
	prev=${n:-0}
	[ "${#kills[@]}" -ge 5 ] && break
done
check "kill -9: five runs killed mid-way, each after committing more (${kills[*]} of $total2; exit:messages of each round ${rounds[*]})" \
	test "${#kills[@]}" -ge 5
import sd final --port "$SRC_IMAPS_PORT"
check_eq "kill -9, then re-run: exit code 0" 0 "$(rc final)"
check "kill -9, then re-run: every message exactly once" verify sd final-v --map "Sent Items=Sent"

# --- a Maildir commit killed after naming its files, lock still held ---
# The state a kill -9 inside a Maildir commit leaves: the new mail is in
# cur/, but not yet in dovecot-uidlist, whose lock file names the dead
# process. A re-run must see that mail (waiting for the stale lock) and
# skip it, not import it a second time.
ir_dest_reset_user md
import md md-full --port "$SRC_IMAPS_PORT"
check_eq "killed Maildir commit: the first run completes" 0 "$(rc md-full)"
H=$IR_WORK/dst/home/md/Maildir
mkdir -p "$IR_WORK/held"
ls "$H/cur" | head -40 > "$IR_WORK/held.list"
while read -r f; do mv "$H/cur/$f" "$IR_WORK/held/"; done < "$IR_WORK/held.list"
doveadm -c "$DEST_CONF" force-resync -u md INBOX
while read -r f; do mv "$IR_WORK/held/$f" "$H/cur/"; done < "$IR_WORK/held.list"
sleep 300 & dead=$!
kill -9 "$dead"; wait "$dead" 2>/dev/null
echo "$dead:$(hostname)" > "$H/dovecot-uidlist.lock"
chown "$IR_OS_USER:" "$H/dovecot-uidlist.lock"
# the checkpoint would skip the folder: the killed run never wrote it
rm -f "$IR_WORK"/dst/home/md/.dovecot-import-remote/*.checkpoint
import md md-again --port "$SRC_IMAPS_PORT"
check_eq "killed Maildir commit: the re-run completes" 0 "$(rc md-again)"
check_eq "killed Maildir commit: the re-run imports nothing" 0 "$(field md-again imported)"
check "killed Maildir commit: every message exactly once" verify md md-again-v --map "Sent Items=Sent"
exit 0
