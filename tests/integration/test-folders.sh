#!/bin/bash
# Folders land where a user expects: a Dovecot source laid out like
# Microsoft 365 (special-use marked) and like Exchange 2010 (nothing
# marked), into a destination whose configuration names no special-use
# mailbox (the usual names, said in the plan); odd names kept exactly; a
# plan a person can read; and re-runs on a server without UIDNEXT in
# EXAMINE and without ESEARCH (Courier, as tests/tools/fakeimapd plays it)
# that skip unchanged folders.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 39

"$TOOLS/mkcorpus" -n 300 -s 17 --layout exchange -o "$IR_WORK/corpus" >/dev/null ||
	{ fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
IR_SOURCE_SPECIAL_USE=$(python3 -c 'import json,sys
for name, use in sorted(json.load(open(sys.argv[1]))["special_use"].items()):
    print("%s=%s" % (name, use))' "$MANIFEST")
ir_source_start "$IR_WORK/corpus/Maildir" /
# a destination without any special-use mailbox
IR_DEST_SPECIAL_USE=""
ir_dest_start
field() { flow_field "$OUT/$1.out" "$2"; }
EX_MAP=(--map "Sent Items=Sent" --map "Deleted Items=Trash" --map "Junk Email=Junk")
mailboxes() { doveadm -c "$DEST_CONF" mailbox list -u "$1" > "$OUT/$2.boxes"; }

# --- Microsoft 365: special use marked; none locally ---
import sd m365-plan --port "$SRC_IMAPS_PORT" --dry-run
check_eq "plan: exit code 0" 0 "$(rc m365-plan)"
check_contains "plan: Sent Items lands in Sent, and says why" "$OUT/m365-plan.out" \
	"source=Sent Items destination=Sent messages="
check_contains "plan: ... no local mailbox has that special use" "$OUT/m365-plan.out" \
	'note=\Sent, into Sent: no local mailbox has special_use \Sent'
check_contains "plan: Deleted Items lands in Trash" "$OUT/m365-plan.out" \
	"source=Deleted Items destination=Trash messages="
check_eq "plan: the first row is INBOX" "source=INBOX destination=INBOX" \
	"$(head -1 "$OUT/m365-plan.out" | cut -d' ' -f1-2)"
check_eq "plan: the last row is the totals" "source=total destination=" \
	"$(tail -1 "$OUT/m365-plan.out" | cut -d' ' -f1-2)"
tail -1 "$OUT/m365-plan.out" > "$OUT/m365-plan.total"
check_eq "plan: duplicates in the totals = the corpus's copies within a folder" \
	"$(manifest_count dup-same-folder)" "$(flow_field "$OUT/m365-plan.total" duplicates)"

import sd m365 --port "$SRC_IMAPS_PORT"
check_eq "Microsoft 365: exit code 0" 0 "$(rc m365)"
check "Microsoft 365: every folder where a user expects it; %, *, %25, emoji kept" \
	verify sd m365-v "${EX_MAP[@]}"
mailboxes sd m365
check_not_contains "Microsoft 365: never under the remote name (Sent Items)" "$OUT/m365.boxes" "Sent Items"
check_not_contains "Microsoft 365: never under the remote name (Deleted Items)" "$OUT/m365.boxes" "Deleted Items"
check_contains "Microsoft 365: the run says where special-use folders went" "$OUT/m365.err" \
	"Folder Junk Email lands in Junk: no local mailbox has special_use \\Junk"
import sd m365-again --port "$SRC_IMAPS_PORT"
check_eq "Microsoft 365, re-run: exit code 0" 0 "$(rc m365-again)"
check_not_contains "Microsoft 365, re-run: where special-use folders went is not said again" \
	"$OUT/m365-again.err" "lands in"

# --- Exchange 2010: nothing marked; matched by name ---
ir_stop_instance "$IR_WORK/src"
IR_SOURCE_SPECIAL_USE=""
ir_source_start "$IR_WORK/corpus/Maildir" /
import md ex2010-plan --port "$SRC_IMAPS_PORT" --dry-run
check_contains "Exchange 2010: the plan says the special use came from the name" \
	"$OUT/ex2010-plan.out" \
	'source=Deleted Items destination=Trash'
check_contains "Exchange 2010: ... and why" "$OUT/ex2010-plan.out" \
	'\Trash (by its name: the server marks no folder), into Trash'
import md ex2010 --port "$SRC_IMAPS_PORT"
check_eq "Exchange 2010: exit code 0" 0 "$(rc ex2010)"
check "Exchange 2010: the same folders as from Microsoft 365" \
	verify md ex2010-v "${EX_MAP[@]}"

# --- Courier: no UIDNEXT in EXAMINE, no ESEARCH, STATUS has UIDNEXT ---
# fake_start NAME COUNT [CONNS [PORT]]: fakeimapd serving COUNT messages
fake_start() {
	"$TOOLS/fakeimapd" --scenario no-uidnext --count "$2" --body-lines 5 \
		--max-conns "${3:-1}" --port "${4:-0}" --timeout 120 --report "$OUT/$1.report" \
		>"$OUT/$1.port" 2>"$OUT/$1.fakeerr" &
	fake_pid=$!
	ir_kill_on_exit "$fake_pid"
	fake_port=$(port_of "$OUT/$1.port")
}
# fake_report NAME KEY: after that fakeimapd ended, a value of its report
fake_report() {
	wait "$fake_pid" 2>/dev/null
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
k=sys.argv[2]; print(r["commands"].get(k[9:], 0) if k.startswith("commands.") else r[k])' \
		"$OUT/$1.report" "$2"
}
fake_start courier 300 2
import sdq courier1 --port "$fake_port" --ssl none
check_eq "Courier: exit code 0" 0 "$(rc courier1)"
check_eq "Courier: first run imports everything" 300 "$(field courier1 imported)"
import sdq courier2 --port "$fake_port" --ssl none
check_eq "Courier: a re-run imports nothing" 0 "$(field courier2 imported)"
check_eq "Courier: ... and lists no message again (STATUS's UIDNEXT)" 300 \
	"$(fake_report courier listed)"
# the first run's bodies in one UID FETCH (300 < 500 a command); the
# re-run's STATUS said nothing is new: no UID FETCH to look for new mail
check_eq "Courier: ... not even a UID FETCH (STATUS's UIDNEXT)" 1 \
	"$(fake_report courier "commands.UID FETCH")"
# the same server (its port: the checkpoint is per server) with 20 more
fake_start courier-new 320 1 "$fake_port"
import sdq courier3 --port "$fake_port" --ssl none
check_eq "Courier: new mail: only it is imported" 20 "$(field courier3 imported)"
check_eq "Courier: ... and only it is listed (UID FETCH found where it starts)" 20 \
	"$(fake_report courier-new listed)"
check_eq "Courier: INBOX holds all 320" 320 \
	"$(doveadm -c "$DEST_CONF" -f tab mailbox status -u sdq messages INBOX | awk 'NR > 1 { print $NF }')"

# --- one message, one folder: said so ---
fake_start one 1
import mdq one --port "$fake_port" --ssl none --dry-run
check_contains "plan: singular" "$OUT/one.out" "note=1 message into 1 folder"
check_contains "plan: flow rows name their counts" "$OUT/one.out" \
	"source=INBOX destination=INBOX messages=1 to_copy=1 duplicates=0 filtered=0"
# --- names Dovecot refuses: skipped with a warning, the run goes on ---
# sd is sdbox (refuses dbox-Mails), md Maildir++ with '/' as the separator
# (refuses a '.' in a name); both refuse "..", ".", "~root" and "INBOX/.."
# (the plan's connection and the run's 4 at once)
refused_start() {
	"$TOOLS/fakeimapd" --scenario refused-names --count 3 --body-lines 5 \
		--threads --max-conns 5 --timeout 120 --report "$OUT/$1.report" \
		>"$OUT/$1.port" 2>"$OUT/$1.fakeerr" &
	fake_pid=$!
	ir_kill_on_exit "$fake_pid"
	fake_port=$(port_of "$OUT/$1.port")
}
for u in sd md; do
	refused_start "refused-$u"
	import $u "refused-$u-plan" --port "$fake_port" --ssl none --dry-run
	import $u "refused-$u" --port "$fake_port" --ssl none
	wait "$fake_pid" 2>/dev/null
	mailboxes $u "refused-$u"
done
names_sd='.. . ~root INBOX/.. dbox-Mails'
names_md='.. . ~root INBOX/.. Work.2024'
for u in sd md; do
	eval "names=\$names_$u"
	missing=
	for n in $names; do
		grep -qF "source=$n destination=- " "$OUT/refused-$u-plan.out" &&
		grep -qF "Folder $n not imported: Dovecot refuses" "$OUT/refused-$u.err" ||
			missing="$missing $n"
	done
	check_eq "$u: each refused name in the plan (not imported, why) and warned by the run" \
		"none" "${missing:-none}"
	check_eq "$u: the run completes (exit code 0), the other folders imported" \
		"0 completed 3" \
		"$(rc refused-$u) $(field refused-$u result) $(field refused-$u imported)"
	check "$u: ... Good is created" grep -qx Good "$OUT/refused-$u.boxes"
done
check_contains "sd: Work.2024 is a name sdbox takes" "$OUT/refused-sd.boxes" "Work.2024"
check_contains "md: dbox-Mails is a name Maildir takes" "$OUT/refused-md.boxes" "dbox-Mails"

# --- a personal namespace with a prefix (INBOX., as Courier and Cyrus
# have it): the folders land without it (the server's NAMESPACE says it,
# asked for together with the folder list) ---
ir_stop_instance "$IR_WORK/src"
IR_SOURCE_NS_PREFIX=INBOX. ir_source_start "$IR_WORK/corpus/Maildir" .
import mdq prefix --port "$SRC_IMAPS_PORT"
mailboxes mdq prefix
check_eq "INBOX. prefix: exit code 0" 0 "$(rc prefix)"
check "INBOX. prefix: every message in its folder, the prefix dropped" \
	verify mdq prefix-v "${EX_MAP[@]}"
check_not_contains "INBOX. prefix: no folder under INBOX" "$OUT/prefix.boxes" "INBOX/"
exit 0
