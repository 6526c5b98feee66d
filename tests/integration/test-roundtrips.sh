#!/bin/bash
# Few round trips per folder, counted on the source's side (Dovecot's
# rawlog of each session, not timed): a re-run over an unchanged
# 104-folder mailbox has every folder's STATUS in one LIST (LIST-STATUS,
# which Dovecot has; else STATUS for every folder) and opens none (no
# EXAMINE or SELECT); a folder with new mail is opened and imported; a
# folder whose UIDVALIDITY changed is opened and handled as before (its
# mail found there already, nothing doubled); flags changed and messages
# expunged on the source open nothing (a re-run copies new mail only); a
# folder whose newest messages were expunged before the first run is not
# opened again either (the checkpoint reaches UIDNEXT - 1). A connection
# cut in the middle of the bodies: the new session asks again for them
# together with its EXAMINE, not a round trip or two after it. A first
# run asks for a small folder's bodies right behind its list. Mail
# without a Message-ID into an empty folder: no header fetch (the body
# gives its identity), a byte-identical copy still imported once.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 44

"$TOOLS/mkcorpus" -n 300 -s 23 --layout wide -o "$IR_WORK/corpus" >/dev/null ||
	{ fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_dest_start
# every session's commands, as the source received them
RAW=$IR_WORK/src/rawlog
mkdir -p "$RAW"; chown "$IR_OS_USER:" "$RAW"
echo "rawlog_dir = $RAW" >> "$SRC_CONF"
ir_stop_instance "$IR_WORK/src"
ir_start_instance "$SRC_CONF" "$IR_WORK/src"
ir_wait_port "$SRC_IMAPS_PORT" || ir_die "source IMAPS port did not open"
SRCADM=(doveadm -c "$SRC_CONF")
selectable=$(python3 -c 'import json,sys
print(len(json.load(open(sys.argv[1]))["folders"]))' "$MANIFEST")

# a folder whose newest message is gone before the first run: its UIDNEXT
# is above the last UID the import sees
printf 'From: a@example.org\nSubject: gone\nMessage-ID: <gone@example.org>\n\ngone\n' |
	"${SRCADM[@]}" save -u srcuser -m Folders.F030
"${SRCADM[@]}" expunge -u srcuser mailbox Folders.F030 header Message-ID '<gone@example.org>'

field() { flow_field "$OUT/$1.out" "$2"; }
# session NAME: the commands of the run's source session (waits until it
# has logged out), one per line without tag
session() {
	local i
	for i in $(seq 1 100); do
		grep -qs ' LOGOUT' "$RAW"/*.in && break
		sleep 0.1
	done
	cat "$RAW"/*.in 2>/dev/null | tr -d '\r' |
		sed -E 's/^[0-9]+\.[0-9]+ //' | cut -d' ' -f2- > "$OUT/$1.cmds"
	rm -f "$RAW"/*
}
# count NAME VERB: commands of that verb in the session
count() { grep -ci "^$2 " "$OUT/$1.cmds"; }
# opened NAME: the folders the session opened, one per line
opened() { grep -iE '^(EXAMINE|SELECT) ' "$OUT/$1.cmds" | cut -d' ' -f2- | tr -d '"'; }

rm -f "$RAW"/*
import sd first --port "$SRC_IMAPS_PORT"
session first
check_eq "first run: exit code 0" 0 "$(rc first)"
check "first run: every message there once" verify sd first-v --map "Sent Items=Sent"
check_eq "first run: every selectable folder opened once" "$selectable" "$(count first EXAMINE)"
check_eq "first run: no header fetched (its 3 messages without a Message-ID are known by their bodies)" \
	0 "$(grep -ci 'BODY.PEEK\[HEADER\]' "$OUT/first.cmds")"
check_eq "first run: every folder's STATUS with the LIST (LIST-STATUS), no STATUS command" "1 0" \
	"$(grep -c '^LIST .*RETURN (.*STATUS (MESSAGES UIDNEXT UIDVALIDITY))' "$OUT/first.cmds") $(count first STATUS)"
# a small folder copied for the first time has its bodies asked for right
# behind its EXAMINE and list (UID FETCH 1:UIDNEXT-1), not a round trip
# after the list: every non-empty folder so, and no other body fetch
nonempty=$(python3 -c 'import json,sys
print(sum(1 for v in json.load(open(sys.argv[1]))["folders"].values() if v))' "$MANIFEST")
with_list=$(awk 'prev2 ~ /^EXAMINE / && prev1 ~ /^FETCH 1:[0-9]+ / &&
		 $0 ~ /^UID FETCH 1:[0-9]+ \(BODY\.PEEK\[\]\)$/ { n++ }
		 { prev2 = prev1; prev1 = $0 } END { print n + 0 }' "$OUT/first.cmds")
check_eq "first run: each non-empty folder's bodies asked for with its list, and no more body fetches" \
	"$nonempty $nonempty" "$with_list $(grep -ci 'BODY.PEEK\[\])' "$OUT/first.cmds")"

# --- a reconnect asks again for the bodies it lost with its EXAMINE (and
# the probe of its place, a sequence command, before them), not a round
# trip or two after its answers: a 50 ms link cut once in the middle of
# the bodies; the session after the cut, as the source received it ---
"$TOOLS/faultproxy" --target "127.0.0.1:$SRC_IMAPS_PORT" --cut-after 1500k \
	--rst --delay 25 --report "$OUT/cut.proxy" > "$OUT/cut.pport" &
cut_pid=$!
ir_kill_on_exit "$cut_pid"
ir_dest_reset_user md
rm -f "$RAW"/*
# (one connection: the second session is the reconnected one)
import md cut --port "$(port_of "$OUT/cut.pport")" --connections 1
kill "$cut_pid"; wait "$cut_pid" 2>/dev/null
check_eq "cut: exit code 0, reconnected once" "0 1" "$(rc cut) $(field cut reconnects)"
check "cut: every message there once" verify md cut-v --map "Sent Items=Sent"
# the reconnected session: the ms from its EXAMINE to its first body
# fetch, and the commands between them
python3 - "$RAW" > "$OUT/cut.burst" <<'PY'
import glob, os, re, sys
sessions = []
for path in glob.glob(os.path.join(sys.argv[1], "*.in")):
    lines = [l.rstrip("\r\n").split(" ", 2) for l in open(path, errors="replace")]
    lines = [(float(l[0]), l[2]) for l in lines if len(l) == 3 and re.match(r"^[0-9.]+$", l[0])]
    if lines:
        sessions.append(lines)
sessions.sort()
if len(sessions) < 2:
    sys.exit("one session only")
cmds = sessions[1]
exam = next(i for i, (t, c) in enumerate(cmds) if c.upper().startswith("EXAMINE "))
body = next(i for i, (t, c) in enumerate(cmds) if "BODY.PEEK[]" in c.upper())
print("%d %s" % ((cmds[body][0] - cmds[exam][0]) * 1000,
                 " ".join(c.split(" ")[0] for t, c in cmds[exam:body + 1])))
PY
check_eq "cut: the reconnected session asks for its bodies with its EXAMINE, the probe between (not a round trip after)" \
	"True EXAMINE FETCH UID" \
	"$(read -r ms words < "$OUT/cut.burst"; python3 -c "print($ms < 25)") $(cut -d' ' -f2- "$OUT/cut.burst")"
rm -f "$RAW"/*

import sd second --port "$SRC_IMAPS_PORT"
session second
check_eq "unchanged re-run: exit code 0" 0 "$(rc second)"
check_eq "unchanged re-run: imports nothing" 0 "$(field second imported)"
check_eq "unchanged re-run: no folder opened (EXAMINE)" 0 "$(count second EXAMINE)"
check_eq "unchanged re-run: no SELECT" 0 "$(count second SELECT)"
check_eq "unchanged re-run: one LIST and nothing else but LOGOUT" "LIST LOGOUT" \
	"$(grep -viE '^(CAPABILITY|NAMESPACE|ID|ENABLE)( |$)' "$OUT/second.cmds" | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//')"
check_eq "unchanged re-run: no FETCH" 0 "$(grep -ciE '^(UID )?FETCH ' "$OUT/second.cmds")"

# new mail in one folder, flags changed in another, a message expunged in
# a third
printf 'From: b@example.org\nSubject: new\nMessage-ID: <new1@example.org>\n\nnew\n' |
	"${SRCADM[@]}" save -u srcuser -m Folders.F007
"${SRCADM[@]}" flags add -u srcuser '\Flagged' mailbox Folders.F011 all
"${SRCADM[@]}" expunge -u srcuser mailbox Folders.F012 1
import sd third --port "$SRC_IMAPS_PORT"
session third
check_eq "changed re-run: exit code 0" 0 "$(rc third)"
check_eq "changed re-run: the new message imported" 1 "$(field third imported)"
check_eq "changed re-run: only the folder with new mail opened" "Folders.F007" "$(opened third)"
check_eq "changed re-run: the new message is in the destination" 1 \
	"$(doveadm -c "$DEST_CONF" search -u sd mailbox Folders/F007 header Message-ID '<new1@example.org>' | wc -l)"

# a new UIDVALIDITY: the checkpoint is void, the folder opened and its mail
# found there already
uv=$("${SRCADM[@]}" -f flow mailbox status -u srcuser uidvalidity Folders.F020 | sed 's/.*uidvalidity=//')
"${SRCADM[@]}" mailbox update -u srcuser --uid-validity $((uv + 1000)) Folders.F020
before=$(dest_messages sd)
import sd fourth --port "$SRC_IMAPS_PORT"
session fourth
check_eq "UIDVALIDITY changed: exit code 0" 0 "$(rc fourth)"
check_eq "UIDVALIDITY changed: that folder opened, no other" "Folders.F020" "$(opened fourth)"
check_eq "UIDVALIDITY changed: imports nothing" 0 "$(field fourth imported)"
check_eq "UIDVALIDITY changed: nothing doubled" "$before" "$(dest_messages sd)"

import sd fifth --port "$SRC_IMAPS_PORT"
session fifth
check_eq "after that: no folder opened" 0 "$(count fifth EXAMINE)"

# --mirror (its own checkpoint): the first opens everything, the re-run
# nothing
ir_dest_reset_user md
import md mirror1 --port "$SRC_IMAPS_PORT" --mirror
session mirror1
import md mirror2 --port "$SRC_IMAPS_PORT" --mirror
session mirror2
check_eq "--mirror: first run opens every folder" "$selectable" "$(count mirror1 EXAMINE)"
check_eq "--mirror: unchanged re-run opens none" 0 "$(count mirror2 EXAMINE)"

# a date filter makes the checkpoint unused: folders are opened as before
import sd dated --port "$SRC_IMAPS_PORT" --since 2000-01-01
session dated
check_eq "--since: folders opened (no checkpoint to judge by)" "$selectable" "$(count dated EXAMINE)"

# --- mail without a Message-ID: into an empty destination folder its
# identity comes from its body (no header fetch, a round trip less); a
# byte-identical copy in the same folder is still imported once. Into a
# folder with mail, its header is fetched first, as a copy is not. ---
nomsgid() { printf 'From: n@example.org\nSubject: %s\n\nbody of %s\n' "$1" "$1"; }
"${SRCADM[@]}" mailbox create -u srcuser NoId
for m in a a b; do nomsgid "$m" | "${SRCADM[@]}" save -u srcuser -m NoId; done
printf 'From: n@example.org\nSubject: c\nMessage-ID: <c@example.org>\n\nc\n' |
	"${SRCADM[@]}" save -u srcuser -m NoId
ir_dest_reset_user md
import md noid1 --port "$SRC_IMAPS_PORT"
session noid1
noid_subjects() {
	doveadm -c "$DEST_CONF" -f tab fetch -u md hdr.subject mailbox NoId 2>/dev/null |
		tail -n +2 | sort | tr '\n' ' ' | sed 's/ $//'
}
check_eq "no Message-ID, empty destination: exit code 0" 0 "$(rc noid1)"
check_eq "no Message-ID, empty destination: no header fetched" \
	0 "$(grep -ci 'BODY.PEEK\[HEADER\]' "$OUT/noid1.cmds")"
check_eq "no Message-ID, empty destination: the byte-identical copy imported once" \
	"a b c" "$(noid_subjects)"
for m in a d; do nomsgid "$m" | "${SRCADM[@]}" save -u srcuser -m NoId; done
import md noid2 --port "$SRC_IMAPS_PORT"
session noid2
check_eq "no Message-ID, folder with mail: exit code 0, one imported" "0 1" \
	"$(rc noid2) $(field noid2 imported)"
check "no Message-ID, folder with mail: the new ones' headers fetched" \
	grep -qi 'BODY.PEEK\[HEADER\]' "$OUT/noid2.cmds"
check_eq "no Message-ID, folder with mail: the copy of one there not imported again" \
	"a b c d" "$(noid_subjects)"

# --- the first list behind the EXAMINE (fakeimapd: one INBOX of 20) ---
report_field() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$OUT/$1.report" "$2"
}
echo fakepass > "$IR_WORK/fake.pw"; chmod 600 "$IR_WORK/fake.pw"
FAKE_OPTS=(--status-uidvalidity 42 --hold-examine)
fake early ok
check_eq "early list: exit code 0" 0 "$(rc early)"
check_eq "early list: the list arrived before the EXAMINE's answer" 1 "$(report_field early early_lists)"
check_eq "early list: every message imported once" "20 20" \
	"$(field early imported) $(dest_messages sd)"
FAKE_OPTS=(--status-uidvalidity 42 --status-extra 5 --hold-examine)
fake fewer ok
check_eq "STATUS told more than EXAMINE: exit code 0" 0 "$(rc fewer)"
check_eq "STATUS told more than EXAMINE: the early list was sent" 1 "$(report_field fewer early_lists)"
check_eq "STATUS told more than EXAMINE: every message imported once" "20 20" \
	"$(field fewer imported) $(dest_messages sd)"
FAKE_OPTS=(--status-uidvalidity 7 --hold-examine)
fake otheruv ok
check_eq "another UIDVALIDITY in STATUS: exit code 0" 0 "$(rc otheruv)"
check_eq "another UIDVALIDITY in STATUS: the early list was sent" 1 "$(report_field otheruv early_lists)"
check_eq "another UIDVALIDITY in STATUS: every message imported once" "20 20" \
	"$(field otheruv imported) $(dest_messages sd)"

# --- a failed message holds the checkpoint (chunks of 5: UID 7 refused
# in the second, three more chunks done after it) ---
"$TOOLS/fakeimapd" --scenario no-one-uid --count 20 --timeout 120 \
	--status-uidvalidity 42 --report "$OUT/held.report" \
	> "$OUT/held.port" &
ir_kill_on_exit $!
ir_dest_reset_user sd
hport=$(port_of "$OUT/held.port")
heldrun() {
	doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 \
		--port "$hport" --ssl none --user fake \
		--password-file "$IR_WORK/fake.pw" --timeout 5 --fetch-chunk 5 \
		>"$OUT/$1.out" 2>"$OUT/$1.err" </dev/null
	echo $? > "$OUT/$1.rc"
}
heldrun held1
check_eq "failed message: the first run records it (failed=1, 19 there)" "1 19" \
	"$(field held1 failed) $(dest_messages sd)"
# (a re-run against this server can't show it: it refuses every UID FETCH
# that would send UID 7, also UID FETCH 7:* (UID))
check_eq "failed message: the checkpoint stays before it (UID 6)" "42 6 INBOX" \
	"$(tail -n +3 "$IR_WORK"/dst/home/sd/.dovecot-import-remote/127.0.0.1_"$hport"_fake.checkpoint | tr '\t' ' ')"
