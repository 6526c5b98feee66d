#!/bin/bash
# Gmail: a real Dovecot source laid out like Gmail (the [Gmail] \Noselect
# parent, \All \Sent \Drafts \Trash \Junk \Flagged \Important folders, every
# message in the folder of each of its labels and once more in All Mail,
# INBOX listed last) and the same corpus served by tests/tools/fakeimapd as
# Gmail serves it (X-GM-EXT-1, X-GM-LABELS). Each import ends with the
# destination checked folder by folder against what a Gmail user expects:
# every label a folder, complete; All Mail's other mail once, in Archive;
# Starred and Important not copied as folders.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 45

"$TOOLS/mkcorpus" -n 300 -s 13 --layout gmail -o "$IR_WORK/corpus" >/dev/null ||
	{ fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
# the special use of each folder, as the source's namespace says it
IR_SOURCE_SPECIAL_USE=$(python3 -c 'import json,sys
for name, use in sorted(json.load(open(sys.argv[1]))["special_use"].items()):
    print("%s=%s" % (name, use))' "$MANIFEST")
ir_source_start "$IR_WORK/corpus/Maildir" /
ir_dest_start
field() { flow_field "$OUT/$1.out" "$2"; }

# manifest_sum WHAT [gmail]: messages (count) or bytes (size) of the source,
# or of what a Gmail user expects
manifest_sum() {
	python3 -c 'import json,sys
m=json.load(open(sys.argv[1])); what, part = sys.argv[2], sys.argv[3]
folders = m["gmail"]["folders"] if part == "gmail" else m["folders"]
print(sum(1 if what == "count" else e["size"] for v in folders.values() for e in v))' \
		"$MANIFEST" "$1" "${2:-source}"
}
source_msgs=$(manifest_sum count)
source_bytes=$(manifest_sum size)
gmail_msgs=$(manifest_sum count gmail)
gmail_bytes=$(manifest_sum size gmail)
GMAIL_MAP=(--map "[Gmail]/All Mail=Archive" --map "[Gmail]/Sent Mail=Sent"
	   --map "[Gmail]/Drafts=Drafts" --map "[Gmail]/Trash=Trash"
	   --map "[Gmail]/Spam=Junk")
mailboxes() { doveadm -c "$DEST_CONF" mailbox list -u "$1" | LC_ALL=C sort | tr '\n' '|'; }
EXPECTED_BOXES="Archive|Café|Drafts|INBOX|Junk|Sent|Trash|Travel|Travel/2024|Work|"

# --- the plan (Dovecot laid out like Gmail: recognised by its layout) ---
doveadm -c "$DEST_CONF" -f json import-remote run -u sd --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --password-file "$SRC_PASSWORD_FILE" \
	--dry-run >"$OUT/plan.json" 2>"$OUT/plan.err"
check_eq "plan: exit code 0" 0 "$?"
# plan_check PYTHON-EXPRESSION: true of the JSON plan (rows: r, total: t)
plan_check() {
	python3 -c 'import json,sys
rows=json.load(open(sys.argv[1])); t=rows[-1]; r={x["source"]: x for x in rows[:-1]}
n=lambda x, k: int(x[k])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$OUT/plan.json" "$1"
}
check "plan: All Mail lands in Archive, with its reason" \
	plan_check 'r["[Gmail]/All Mail"]["destination"] == "Archive" and "only mail no other folder has" in r["[Gmail]/All Mail"]["note"]'
check "plan: Starred and Important are not copied, and say why" \
	plan_check 'r["[Gmail]/Starred"]["destination"] == "-" and r["[Gmail]/Important"]["destination"] == "-" and "not copied" in r["[Gmail]/Starred"]["note"] and "not copied" in r["[Gmail]/Important"]["note"]'
check "plan: [Gmail]/Sent Mail lands in the local \\Sent mailbox" \
	plan_check 'r["[Gmail]/Sent Mail"]["destination"] == "Sent" and r["[Gmail]/Sent Mail"]["note"] == "\\Sent"'
check "plan: in every row, messages = to copy + duplicates + filtered" \
	plan_check 'all(n(x, "messages") == n(x, "to_copy") + n(x, "duplicates") + n(x, "filtered") for x in rows)'
check "plan: the totals row sums the rows" \
	plan_check 't["source"] == "total" and t["destination"] == "" and all(n(t, k) == sum(n(x, k) for x in rows[:-1]) for k in ("messages", "to_copy", "duplicates", "filtered", "bytes", "bytes_to_copy"))'
check "plan: sorted by local name, INBOX first" \
	plan_check '[x["destination"] if x["destination"] != "-" else x["source"] for x in rows[:-1]] == ["INBOX"] + sorted(x["destination"] if x["destination"] != "-" else x["source"] for x in rows[:-1] if x["source"] != "INBOX")'
check_eq "plan: to copy = what a Gmail user expects" "$gmail_msgs" \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[-1]["to_copy"])' "$OUT/plan.json")"
check_eq "plan: bytes = a copy of every folder" "$source_bytes" \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[-1]["bytes"])' "$OUT/plan.json")"
check_contains "plan: the totals compare with a mirror copy" "$OUT/plan.json" \
	"a copy of every folder as it is: $source_msgs messages"
check_eq "plan: no mailbox created" "INBOX|" "$(mailboxes sd)"

# --- the import ---
import sd gmail --port "$SRC_IMAPS_PORT"
check_eq "Gmail layout: exit code 0" 0 "$(rc gmail)"
check_eq "Gmail layout: stores what a Gmail user expects" "$gmail_msgs" "$(field gmail imported)"
check_eq "Gmail layout: ... in fewer bytes" "$gmail_bytes" "$(field gmail bytes)"
check_eq "Gmail layout: a mirror copy's messages, told" "$source_msgs" "$(field gmail mirror_messages)"
check_eq "Gmail layout: a mirror copy's bytes, told" "$source_bytes" "$(field gmail mirror_bytes)"
check_contains "Gmail layout: the summary says both" "$OUT/gmail.err" \
	"Gmail: stored $gmail_msgs messages"
check_contains "Gmail layout: All Mail's Archive, without a local \\Archive, is said" \
	"$OUT/gmail.err" "Folder [Gmail]/All Mail lands in Archive: no local mailbox has special_use \\Archive"
check "Gmail layout: every label a folder, complete; All Mail's other mail in Archive" \
	verify sd gmail-v --expect gmail "${GMAIL_MAP[@]}"
check_eq "Gmail layout: no other mailbox (no All Mail, Starred, Important)" \
	"$EXPECTED_BOXES" "$(mailboxes sd)"
import sd gmail-again --port "$SRC_IMAPS_PORT"
check_eq "Gmail layout: a re-run stores nothing" 0 "$(field gmail-again imported)"
check_not_contains "Gmail layout: a re-run makes no comparison that says nothing (0 and 0)" \
	"$OUT/gmail-again.err" "would have stored"
check_not_contains "Gmail layout: a re-run doesn't say again where All Mail goes" \
	"$OUT/gmail-again.err" "lands in"

# --- --mirror: every folder as the server lists it ---
import md mirror --port "$SRC_IMAPS_PORT" --mirror
check_eq "--mirror: exit code 0" 0 "$(rc mirror)"
check_eq "--mirror: stores every folder's mail" "$source_msgs" "$(field mirror imported)"
check_eq "--mirror: as many bytes as the Gmail run said a mirror would" \
	"$(field gmail mirror_bytes)" "$(field mirror bytes)"
check "--mirror: every folder as it is (special-use ones in Sent, Drafts, Trash, Junk)" \
	verify md mirror-v --map "[Gmail]/Sent Mail=Sent" --map "[Gmail]/Drafts=Drafts" \
	--map "[Gmail]/Trash=Trash" --map "[Gmail]/Spam=Junk"
check_not_contains "--mirror: no Gmail summary" "$OUT/mirror.err" "Gmail:"

# --- --dedup account keeps INBOX complete whatever the listing order ---
# (this server lists INBOX last; All Mail holds every message again)
ir_dest_reset_user md
import md account --port "$SRC_IMAPS_PORT" --mirror --dedup account
check_eq "--mirror --dedup account: exit code 0" 0 "$(rc account)"
check "--mirror --dedup account: INBOX complete (real folders before All Mail)" \
	verify md account-inbox --only INBOX
check_eq "--mirror --dedup account: All Mail brings only the mail no other folder had" \
	"$(python3 -c 'import json,sys
m=json.load(open(sys.argv[1]))
print(sum(1 for e in m["folders"]["[Gmail]/All Mail"] if not e["labels"]))' "$MANIFEST")" \
	"$(doveadm -c "$DEST_CONF" -f tab mailbox status -u md messages "[Gmail]/All Mail" | awk 'NR > 1 { print $NF }')"
VERIFY_DEDUP=account
check "--mirror --dedup account: every message once in the account" \
	verify md account-v --map "[Gmail]/Sent Mail=Sent" --map "[Gmail]/Drafts=Drafts" \
	--map "[Gmail]/Trash=Trash" --map "[Gmail]/Spam=Junk"
VERIFY_DEDUP=folder

# --- Gmail itself: X-GM-EXT-1 and X-GM-LABELS (the same corpus) ---
# (the plan's connection, then two runs of 4 at once, the default)
"$TOOLS/fakeimapd" --scenario gmail --corpus "$IR_WORK/corpus" --threads --max-conns 9 \
	--timeout 120 --report "$OUT/fake.report" >"$OUT/fake.port" 2>"$OUT/fake.err" &
fake_pid=$!
ir_kill_on_exit "$fake_pid"
fake_port=$(port_of "$OUT/fake.port")
ir_dest_reset_user sd
import sd labels --port "$fake_port" --ssl none --dry-run
check_contains "X-GM-LABELS: the plan says Important becomes a keyword" "$OUT/labels.out" \
	"its messages get the \$Important keyword"
import sd labels --port "$fake_port" --ssl none
check_eq "X-GM-LABELS: exit code 0" 0 "$(rc labels)"
check_eq "X-GM-LABELS: stores what a Gmail user expects" "$gmail_msgs" "$(field labels imported)"
check "X-GM-LABELS: every label a folder; Archive; Important mail has \$Important" \
	verify sd labels-v --expect gmail --important-keyword "${GMAIL_MAP[@]}"
check_eq "X-GM-LABELS: no other mailbox" "$EXPECTED_BOXES" "$(mailboxes sd)"
# a label that is not imported: its mail is not lost, All Mail brings it
ir_dest_reset_user sd
import sd nowork --port "$fake_port" --ssl none --exclude Work
check_eq "X-GM-LABELS, --exclude Work: exit code 0" 0 "$(rc nowork)"
archive=$(doveadm -c "$DEST_CONF" -f tab mailbox status -u sd messages Archive | awk 'NR > 1 { print $NF }')
check_eq "X-GM-LABELS, --exclude Work: mail only in Work lands in Archive" \
	"$(python3 -c 'import json,sys
m=json.load(open(sys.argv[1]))
copied = {"\\Inbox", "\\Sent", "\\Draft", "Travel/2024", "Caf&AOk-"}
print(sum(1 for e in m["folders"]["[Gmail]/All Mail"] if not copied & set(e["labels"])))' "$MANIFEST")" \
	"$archive"
check_eq "X-GM-LABELS, --exclude Work: stores the expected mail less Work's copies" \
	"$(( gmail_msgs - $(python3 -c 'import json,sys
m=json.load(open(sys.argv[1])); print(len(m["folders"]["Work"]))' "$MANIFEST") \
	+ archive - $(python3 -c 'import json,sys
m=json.load(open(sys.argv[1])); print(len(m["gmail"]["folders"]["[Gmail]/All Mail"]))' "$MANIFEST") ))" \
	"$(field nowork imported)"

# --- a label of the user's own called Archive, and no local \Archive ---
doveadm -c "$SRC_CONF" mailbox create -u srcuser Archive &&
printf 'From: a@example.org\nTo: b@example.org\nSubject: my own label\nMessage-ID: <own-archive@example.org>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nThe label Archive.\n' |
	doveadm -c "$SRC_CONF" save -u srcuser -m Archive || fail "source: an Archive label"
ir_dest_reset_user md
import md own-archive-plan --port "$SRC_IMAPS_PORT" --dry-run
check_contains "label Archive: the plan keeps it in Archive" "$OUT/own-archive-plan.out" \
	"source=Archive destination=Archive messages=1 "
check_contains "label Archive: ... All Mail's other mail apart, and says why" \
	"$OUT/own-archive-plan.out" \
	"source=[Gmail]/All Mail destination=All Mail messages="
check_contains "label Archive: ... the note names the label" "$OUT/own-archive-plan.out" \
	"into All Mail: no local mailbox has special_use \Archive, and the label Archive lands in Archive"
import md own-archive --port "$SRC_IMAPS_PORT"
status() { doveadm -c "$DEST_CONF" -f tab mailbox status -u md messages "$1" | awk 'NR > 1 { print $NF }'; }
check_eq "label Archive: exit code 0; Archive holds the label's message, All Mail the other mail" \
	"0 1 $(python3 -c 'import json,sys
m=json.load(open(sys.argv[1])); print(len(m["gmail"]["folders"]["[Gmail]/All Mail"]))' "$MANIFEST")" \
	"$(rc own-archive) $(status Archive) $(status "All Mail")"
check_contains "label Archive: the run says where All Mail went" "$OUT/own-archive.err" \
	"Folder [Gmail]/All Mail lands in All Mail: no local mailbox has special_use \Archive"
exit 0
