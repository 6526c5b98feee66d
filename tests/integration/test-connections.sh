#!/bin/bash
# Several connections per import (--connections K): folders are opened
# ahead on connections of their own (or, all of them busy, behind a folder
# whose bodies are all asked for), decided and their bodies asked for
# while the current folder's bodies come over another; the extra
# connections are opened together. Counted at the source (Dovecot's rawlog:
# one file a session that logged in; a proxy's report where the
# connections are cut). Every import is checked message by message (flags
# and dates too): K=4 brings every message once and a re-run nothing (and
# opens no second connection); a source that allows 2 connections per user
# makes the import go on with 2 (said once in the log); connections cut
# mid-import, or at random places, lose and double nothing; the quota stops
# a K=4 import cleanly and a re-run with room finishes it; a queued job
# asking for 4 under a host cap of 2 opens 2, and one whose source refuses
# more gives the leases back.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 81
script_timeout 400
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

"$TOOLS/mkcorpus" -n 240 -s 7 -o "$IR_WORK/corpus" >/dev/null ||
	{ fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
JOBS=$IR_WORK/jobs
mkdir -p "$JOBS"
STORE=sqlite:$JOBS/jobs.db
KEY=$JOBS/key
IR_DEST_EXTRA_CONF="$(ir_conf_settings \
	"import_remote_store = $STORE" \
	"import_remote_key_file = $KEY" \
	"import_remote_host_connection_limits = 127.0.0.1=2/2 localhost=8/8")"
export IR_DEST_EXTRA_CONF
# sdq and mdq: 2 MB of quota (the corpus is about 5 MB)
ir_dest_start 2M
chown "$IR_OS_USER:" "$JOBS"
folders=$(python3 -c 'import json,sys
print(len(json.load(open(sys.argv[1]))["folders"]))' "$MANIFEST")

# every session that logged in to the source, as the source received it
RAW=$IR_WORK/src/rawlog
mkdir -p "$RAW"; chown "$IR_OS_USER:" "$RAW"
echo "rawlog_dir = $RAW" >> "$SRC_CONF"
src_restart() {
	ir_stop_instance "$IR_WORK/src"
	ir_start_instance "$SRC_CONF" "$IR_WORK/src"
	ir_wait_port "$SRC_IMAPS_PORT" || ir_die "source IMAPS port did not open"
}
src_restart

field() { flow_field "$OUT/$1.out" "$2"; }
# sessions NAME: how many sessions logged in since the last call (after
# they all logged out); their commands in $OUT/NAME.s<N>
sessions() {
	local i f n=0 open
	for i in $(seq 1 100); do
		open=0
		for f in "$RAW"/*.in; do
			[ -e "$f" ] || continue
			grep -qs ' LOGOUT' "$f" || open=1
		done
		[ "$open" = 0 ] && break
		sleep 0.1
	done
	for f in "$RAW"/*.in; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		tr -d '\r' < "$f" > "$OUT/$1.s$n"
	done
	rm -f "$RAW"/*
	echo "$n"
}
# examined NAME N: how many of the N sessions opened at least one folder
examined() {
	local i n=0
	for i in $(seq 1 "$2"); do
		grep -qiE '^[0-9.]+ [^ ]+ EXAMINE ' "$OUT/$1.s$i" && n=$((n + 1))
	done
	echo "$n"
}

# --- the option's bounds ---
import sd k0 --port "$SRC_IMAPS_PORT" --connections 0
check_eq "--connections 0: usage error (64)" 64 "$(rc k0)"
check_contains "--connections 0: says the range" "$OUT/k0.err" "use 1 to 16"
import sd k17 --port "$SRC_IMAPS_PORT" --connections 17
check_eq "--connections 17: usage error (64)" 64 "$(rc k17)"
rm -f "$RAW"/*
opts=()
ir_set_opt opts "import_remote_connections=0"
DOVEADM_OPTS=("${opts[@]}")
import sd set0 --port "$SRC_IMAPS_PORT"
DOVEADM_OPTS=()
check_contains "import_remote_connections = 0: refused, naming the setting" "$OUT/set0.err" \
	"import_remote_connections: Invalid value 0: use 1 to 16"
rm -f "$RAW"/*

# --- K = 4: every message once, over 4 connections ---
DOVEADM_OPTS=(-D)
import sd k4 --port "$SRC_IMAPS_PORT" --connections 4
DOVEADM_OPTS=()
n=$(sessions k4)
check_eq "K=4: exit code 0" 0 "$(rc k4)"
check "K=4: every message there once, flags and dates right" verify sd k4-v --map "Sent Items=Sent"
check_eq "K=4: every message counted once" "$(dest_messages sd)" "$(field k4 imported)"
check_eq "K=4: 4 connections logged in at the source" 4 "$n"
ex=$(cat "$OUT"/k4.s* | grep -ciE '^[0-9.]+ [^ ]+ EXAMINE ')
check_eq "K=4: each folder opened once ($folders)" "$folders" "$ex"
# (on loopback the run may end before the extra connections are all
# logged in: they then log in to log out. That each of them takes folders,
# and their bodies ahead, is checked over a long link below)
check_eq "K=4: the extra connections opened together" 1 \
	"$(grep -c 'Connections to the source opened: 3 more, 4 of 4' "$OUT/k4.err")"
# (what the log says of them, where a check above failed)
grep -qs "^FAIL K=4" "$IR_RESULTS" &&
	grep -E 'Connections to the source|refused|logged in|timed out' "$OUT/k4.err" | sed 's/^/# /'

# --- a re-run: nothing new, no second connection ---
import sd k4again --port "$SRC_IMAPS_PORT" --connections 4
n=$(sessions k4again)
check_eq "re-run: exit code 0" 0 "$(rc k4again)"
check_eq "re-run: nothing imported" 0 "$(field k4again imported)"
check "re-run: still every message once" verify sd k4again-v --map "Sent Items=Sent"
check_eq "re-run: unchanged folders need one connection" 1 "$n"

# the setting as the default (2.3: plugin, 2.4: the settings module)
ir_dest_reset_user sd
DOVEADM_OPTS=()
ir_set_opt DOVEADM_OPTS "import_remote_connections=3"
import sd set3 --port "$SRC_IMAPS_PORT"
DOVEADM_OPTS=()
n=$(sessions set3)
check_eq "import_remote_connections = 3: exit code 0" 0 "$(rc set3)"
check_eq "import_remote_connections = 3: 3 connections" 3 "$n"
check "import_remote_connections = 3: every message once" verify sd set3-v --map "Sent Items=Sent"

# --- a source that allows 2 connections per user and address ---
cp "$SRC_CONF" "$SRC_CONF.orig"
printf 'protocol imap {\n  mail_max_userip_connections = 2\n}\n' >> "$SRC_CONF"
src_restart
ir_dest_reset_user sd
import sd lim --port "$SRC_IMAPS_PORT" --connections 4
n=$(sessions lim)
check_eq "source allows 2: exit code 0" 0 "$(rc lim)"
check "source allows 2: every message there once" verify sd lim-v --map "Sent Items=Sent"
check_eq "source allows 2: every message counted" "$(dest_messages sd)" "$(field lim imported)"
check_eq "source allows 2: 2 sessions at the source" 2 "$n"
check_eq "source allows 2: said once in the log" 1 "$(grep -c 'The source refused connection 3 of 4' "$OUT/lim.err")"
check_contains "source allows 2: ... going on with 2" "$OUT/lim.err" "going on with 2"
check_eq "source allows 2: no reconnects" 0 "$(field lim reconnects)"

# a queued job asking for 4 with no cap (localhost=8/8) whose source
# allows 2: it goes on with 2 and gives the other leases back
DOVEADM_OPTS=()
ir_set_opt DOVEADM_OPTS "import_remote_store=$STORE" "import_remote_key_file=$KEY"
ir_dest_reset_user md
doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote start -u md --host localhost \
	--port "$SRC_IMAPS_PORT" --user srcuser --password-file "$SRC_PASSWORD_FILE" \
	--connections 4 > "$OUT/jlim.out" 2>&1 </dev/null
check_eq "job, source allows 2: queued" 0 "$?"
jlim=$(field jlim job)
timeout -k 5 180 "$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker-jlim.log" 2>&1
n=$(sessions jlim)
check_eq "job, source allows 2: completed" completed \
	"$(sqlite_value "$JOBS/jobs.db" "SELECT status FROM import_remote_jobs WHERE id = $jlim")"
check_eq "job, source allows 2: 2 sessions at the source" 2 "$n"
check_eq "job, source allows 2: leases given back (4 asked, 2 held)" "4 2" \
	"$(sqlite_value "$JOBS/jobs.db" "SELECT connections || ' ' || leases FROM import_remote_jobs WHERE id = $jlim")"
check "job, source allows 2: every message once" verify md jlim-v --map "Sent Items=Sent"
cp "$SRC_CONF.orig" "$SRC_CONF"
src_restart

# --- a queued job asking for 4 under a host cap of 2 (127.0.0.1=2/2) ---
ir_dest_reset_user md
doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote start -u md --host 127.0.0.1 \
	--port "$SRC_IMAPS_PORT" --user srcuser --password-file "$SRC_PASSWORD_FILE" \
	--connections 4 > "$OUT/jcap.out" 2>&1 </dev/null
check_eq "job under a cap of 2: queued" 0 "$?"
jcap=$(field jcap job)
timeout -k 5 180 "$WORKER" -c "$DEST_CONF" -s "$STORE" -K "$KEY" -1 > "$OUT/worker-jcap.log" 2>&1
n=$(sessions jcap)
check_eq "job under a cap of 2: completed" completed \
	"$(sqlite_value "$JOBS/jobs.db" "SELECT status FROM import_remote_jobs WHERE id = $jcap")"
check_eq "job under a cap of 2: 2 sessions at the source (4 asked for)" 2 "$n"
check_eq "job under a cap of 2: it asked for 4 and held 2" "4 2" \
	"$(sqlite_value "$JOBS/jobs.db" "SELECT connections || ' ' || leases FROM import_remote_jobs WHERE id = $jcap")"
check "job under a cap of 2: every message once" verify md jcap-v --map "Sent Items=Sent"
DOVEADM_OPTS=()

# cut_import NAME IMPORT-OPTIONS -- PROXY-OPTIONS: a K=4 import of sd from
# scratch through a faultproxy; the sessions it had in $n, the proxy's cuts
# in $cuts
cut_import() {
	local name=$1 opts=() ppid
	shift
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	"$TOOLS/faultproxy" --target "127.0.0.1:$SRC_IMAPS_PORT" "$@" \
		--report "$OUT/$name.proxy" --timeout 300 > "$OUT/$name.port" &
	ppid=$!
	ir_kill_on_exit "$ppid"
	ir_dest_reset_user sd
	import sd "$name" --port "$(port_of "$OUT/$name.port")" --connections 4 "${opts[@]}"
	kill -TERM "$ppid"; wait "$ppid" 2>/dev/null
	n=$(sessions "$name")
	cuts=$(python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1]))["cuts"]))' \
		"$OUT/$name.proxy" 2>/dev/null)
}

# --- connections cut mid-import: the first two to carry 100 kB (past
# their login; a connection may carry less in all: small folders come
# whole behind others) ---
cut_import cut -- --cut-every 100k --max-cuts 2
check_eq "cut: the proxy cut 2 connections" 2 "$cuts"
check_eq "cut: exit code 0" 0 "$(rc cut)"
check "cut: every message there once, byte for byte" verify sd cut-v --map "Sent Items=Sent"
check_eq "cut: every message counted once" "$(dest_messages sd)" "$(field cut imported)"
check "cut: reconnected ($(field cut reconnects))" test "$(field cut reconnects)" -ge 1
check "cut: the others went on (more than 2 sessions: $n)" test "$n" -gt 2

# --- a long link (100 ms round trip): the extra connections are opened
# while the first folder runs; its bodies do not wait for their logins ---
DOVEADM_OPTS=(-D)
cut_import slow -- --delay 50
DOVEADM_OPTS=()
check_eq "long link: exit code 0" 0 "$(rc slow)"
check "long link: every message there once, byte for byte" verify sd slow-v --map "Sent Items=Sent"
check_eq "long link: 4 connections logged in at the source" 4 "$n"
first_bodies=$(grep -nm1 -E 'C: [^ ]+ UID FETCH [0-9,:]+ \(BODY\.PEEK\[\]\)' "$OUT/slow.err" | cut -d: -f1)
opened=$(grep -n 'Connections to the source opened: 3 more, 4 of 4' "$OUT/slow.err" | cut -d: -f1)
check "long link: the first bodies asked for (log line ${first_bodies:-none}) before the extra connections were all logged in (line ${opened:-none})" \
	test "${first_bodies:-99999}" -lt "${opened:-0}"
check_eq "long link: each of them opened folders" 4 "$(examined slow "$n")"
ex=$(cat "$OUT"/slow.s* | grep -ciE '^[0-9.]+ [^ ]+ EXAMINE ')
check_eq "long link: each folder opened once ($folders)" "$folders" "$ex"
# folders opened ahead are decided and have their bodies asked for while
# the folder before them runs, or (small ones) have them asked for with
# their list when they are opened (the debug log says which)
ahead=$(grep -cE 'bodies \([0-9]* bytes\) asked for ahead$|opened ahead, every body asked for with its list' "$OUT/slow.err")
check "long link: folders had their bodies asked for ahead ($ahead)" test "$ahead" -ge 3
# with every connection holding a folder, the next ones are opened behind
# a folder whose bodies are all asked for, on its connection (their
# answers come while its bodies are read); "each folder opened once" above
# says none of them had to be opened again
behind=$(grep -c 'opened behind the folder before it' "$OUT/slow.err")
check "long link: folders opened behind another on its connection ($behind)" \
	test "$behind" -ge 1

# --- the long link, 1 MB/s a connection, with a connection for every
# folder (16, the most):
# each folder opened ahead on one of its own, none behind another (there,
# it is not looked at before the folder ahead of it is done). Those with
# mail without a Message-ID (its identity hashed from its header) are
# decided ahead of their turn too, from the answers that are there, also
# when TLS or the read ahead took them from the socket already (poll()
# does not see them there) ---
DOVEADM_OPTS=(-D)
cut_import slow16 --connections 16 -- --delay 50 --rate 1M
DOVEADM_OPTS=()
check_eq "long link, 16 connections: exit code 0" 0 "$(rc slow16)"
check "long link, 16 connections: every message there once, byte for byte" verify sd slow16-v --map "Sent Items=Sent"
check_eq "long link, 16 connections: no folder opened behind another" 0 \
	"$(grep -c 'opened behind the folder before it' "$OUT/slow16.err")"
hashed=$(python3 -c 'import json,sys
m=json.load(open(sys.argv[1]))["folders"]
print("\n".join(k for k, v in m.items()
                if any("no-msgid" in x["tags"] for x in v)))' "$MANIFEST" |
	while IFS= read -r f; do
		grep -c "Folder $f: [0-9]* bodies ([0-9]* bytes) asked for ahead" "$OUT/slow16.err"
	done | grep -c '^[1-9]')
check "long link, 16 connections: folders with mail without a Message-ID decided ahead ($hashed)" \
	test "$hashed" -ge 1
# ... and what came for the folders opened ahead while the run waited for
# another connection (here 1 MB/s a connection: their mail trickles in)
# was read into their connections' buffers meanwhile: their servers went
# on sending, not stopped by a full socket
read_ahead=$(sed -nE 's/.*: ([0-9]+) bytes read ahead on its connection while the run waited for another$/\1/p' \
	"$OUT/slow16.err" | awk '{ s += $1 } END { print s + 0 }')
check "long link, 16 connections: answers of folders opened ahead read ahead while the run waited ($read_ahead bytes)" \
	test "$read_ahead" -gt 100000

# --- a link of 800 ms round trip and --timeout 2: each answer an opening
# connection waits for comes within 2 s, though its login (the last of
# three, one after another) is sent more than 2 s after its connect ---
cut_import slowlogin --timeout 2 -- --delay 400
check_eq "slow logins: exit code 0" 0 "$(rc slowlogin)"
check "slow logins: every message there once" verify sd slowlogin-v --map "Sent Items=Sent"
check_eq "slow logins: 4 connections logged in at the source" 4 "$n"
check_not_contains "slow logins: none taken for refused" "$OUT/slowlogin.err" "refused connection"

# --- a greeting without capabilities (Gmail, Exchange), over plain IMAP
# and a 100 ms round trip: the extra connections ask for them as soon as
# they are greeted, and log in without holding the run up ---
"$TOOLS/faultproxy" --target "127.0.0.1:$SRC_IMAP_PORT" --delay 50 \
	--greeting-without-caps --report "$OUT/nocaps.proxy" --timeout 300 \
	> "$OUT/nocaps.port" &
ppid=$!
ir_kill_on_exit "$ppid"
ir_dest_reset_user sd
DOVEADM_OPTS=(-D)
import sd nocaps --port "$(port_of "$OUT/nocaps.port")" --ssl none --connections 4
DOVEADM_OPTS=()
kill -TERM "$ppid"; wait "$ppid" 2>/dev/null
n=$(sessions nocaps)
check_eq "greeting without capabilities: exit code 0" 0 "$(rc nocaps)"
check "greeting without capabilities: every message there once" verify sd nocaps-v --map "Sent Items=Sent"
check_eq "greeting without capabilities: 4 connections logged in at the source" 4 "$n"
# (the import's debug log, after the first connection's login): the three
# extra ones ask together, then log in one after another; in each one's
# login turn it would be CAPABILITY, AUTHENTICATE, CAPABILITY, ...
seq=$(sed -n '/Logged in as/,$p' "$OUT/nocaps.err" |
	sed -nE 's/.* C: [^ ]+ (CAPABILITY|AUTHENTICATE).*/\1/p' | tr '\n' ' ')
check_eq "greeting without capabilities: the extra connections asked for them together, then logged in" \
	"CAPABILITY CAPABILITY CAPABILITY AUTHENTICATE AUTHENTICATE AUTHENTICATE " "$seq"
first_bodies=$(grep -nm1 -E 'C: [^ ]+ UID FETCH [0-9,:]+ \(BODY\.PEEK\[\]\)' "$OUT/nocaps.err" | cut -d: -f1)
opened=$(grep -n 'Connections to the source opened: 3 more, 4 of 4' "$OUT/nocaps.err" | cut -d: -f1)
check "greeting without capabilities: the first bodies asked for (log line ${first_bodies:-none}) before the extra connections were all logged in (line ${opened:-none})" \
	test "${first_bodies:-99999}" -lt "${opened:-0}"

# --- cuts at random places, six of them, on any of the connections:
# folders opened ahead are cut while their answers wait, while they are
# decided and while their bodies come ahead of their turn ---
# (each connection cut after 10 to 60 kB, past its login, until 6 are:
# a connection may carry less in all, small folders come whole behind
# others)
DOVEADM_OPTS=(-D)
cut_import rnd --reconnects 20 -- --cut-random 10k 60k --max-cuts 6 --seed 11
DOVEADM_OPTS=()
check_eq "random cuts: the proxy cut 6 times" 6 "$cuts"
check_eq "random cuts: exit code 0" 0 "$(rc rnd)"
check "random cuts: every message there once, byte for byte" verify sd rnd-v --map "Sent Items=Sent"
check_eq "random cuts: every message counted once" "$(dest_messages sd)" "$(field rnd imported)"
# folders that were behind the current one on a cut connection go out
# behind it again with its EXAMINE, and stay there: the probe's answer
# says it has listed all there is (no mail comes meanwhile)
check "random cuts: folders lost with a cut connection sent again behind the current one ($(grep -c 'sent again behind the current folder' "$OUT/rnd.err"))" \
	grep -q 'sent again behind the current folder' "$OUT/rnd.err"
check_eq "random cuts: none of them dropped again for nothing" 0 \
	"$(grep -c 'to be sent again (the folder before it asks for more)' "$OUT/rnd.err")"

# --- a server that serves one connection at a time (fakeimapd): the
# extra connection gets no greeting; given up after 10 s (not the 60 s of
# --timeout), the import goes on with one ---
"$TOOLS/fakeimapd" --scenario many-folders --folders 3 --count 5 --max-conns 3 \
	--timeout 120 --report "$OUT/serial.report" > "$OUT/serial.port" &
fpid=$!
ir_kill_on_exit "$fpid"
echo fakepass > "$IR_WORK/fake.pw"
ir_dest_reset_user md
doveadm -c "$DEST_CONF" import-remote run -u md --host 127.0.0.1 \
	--port "$(port_of "$OUT/serial.port")" --ssl none --user fake \
	--password-file "$IR_WORK/fake.pw" --timeout 60 --connections 2 \
	> "$OUT/serial.out" 2> "$OUT/serial.err" < /dev/null
echo $? > "$OUT/serial.rc"
kill "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null
check_eq "no greeting on the extra connection: exit code 0" 0 "$(rc serial)"
check_contains "no greeting on the extra connection: given up after 10 s" "$OUT/serial.err" \
	"The source refused connection 2 of 2 ("
check_contains "no greeting on the extra connection: ... its cause" "$OUT/serial.err" \
	"no greeting in 10 seconds"

# --- the quota (2 MB) with K = 4: stops cleanly, a re-run finishes ---
import sdq quota --port "$SRC_IMAPS_PORT" --connections 4 --fetch-chunk 10
n=$(sessions quota)
check_eq "quota, K=4: exit code 73" 73 "$(rc quota)"
check_eq "quota, K=4: error quota_exceeded" quota_exceeded "$(field quota error)"
used=$(doveadm -c "$DEST_CONF" -f tab quota get -u sdq | awk -F'\t' '$2=="STORAGE"{print $3}')
check "quota, K=4: not above the limit ($used kB of 2048)" test "${used:-9999}" -le 2048
check "quota, K=4: what was saved is intact, none twice" verify sdq quota-v --allow-missing --map "Sent Items=Sent"
check "quota, K=4: every connection logged out ($n)" test "$n" -ge 1
python3 - "$IR_WORK/dst/passwd" "$(ir_userdb_quota 2M)" "$(ir_userdb_quota 100M)" <<'PY'
import sys
p, old, new = sys.argv[1:]
lines = open(p).read().split("\n")
lines = [l.replace(old, new) if l.startswith("sdq:") else l for l in lines]
open(p, "w").write("\n".join(lines))
PY
# (the auth process looks at the passwd-file again at most once a second)
sleep 1.2
import sdq quota2 --port "$SRC_IMAPS_PORT" --connections 4
n=$(sessions quota2)
if [ "$(rc quota2)" = 0 ]; then
	pass "quota raised: the re-run's exit code 0"
else
	fail "quota raised: the re-run's exit code 0" "exit code $(rc quota2):" \
		"$(tail -5 "$OUT/quota2.err")" "$(doveadm -c "$DEST_CONF" quota get -u sdq 2>&1)"
fi
check "quota raised: every message there once" verify sdq quota2-v --map "Sent Items=Sent"

# --- two source folders that land in one (Sent and Sent Items both go to
# Sent): the second is not decided ahead, before the first one's mail is
# saved there; K=4 stores what K=1 does ---
SRCADM=(doveadm -c "$SRC_CONF")
"${SRCADM[@]}" mailbox create -u srcuser Sent
"${SRCADM[@]}" copy -u srcuser Sent mailbox "Sent Items" all
src_sent=$("${SRCADM[@]}" -f flow mailbox status -u srcuser messages "Sent Items" | sed 's/.*messages=//')
ir_dest_reset_user sd
ir_dest_reset_user md
import sd merged4 --port "$SRC_IMAPS_PORT" --connections 4
import md merged1 --port "$SRC_IMAPS_PORT" --connections 1
sent4=$(doveadm -c "$DEST_CONF" -f flow mailbox status -u sd messages Sent | sed 's/.*messages=//')
sent1=$(doveadm -c "$DEST_CONF" -f flow mailbox status -u md messages Sent | sed 's/.*messages=//')
check_eq "merged folders: exit codes 0" "0 0" "$(rc merged4) $(rc merged1)"
check "merged folders: K=1 stored the copies once ($sent1, source $src_sent)" \
	test "${sent1:-0}" -gt 0 -a "${sent1:-0}" -le "${src_sent:-0}"
check_eq "merged folders: K=4 stores what K=1 does in Sent" "$sent1" "$sent4"
