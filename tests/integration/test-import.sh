#!/bin/bash
# Integration tests for "doveadm import-remote run": a real Dovecot IMAP
# server on 127.0.0.1 as the remote, a real Dovecot destination with the
# quota plugin, every result checked message by message over IMAP.
set -u
. "$(dirname "$0")/../lib/integration.sh"
plan 63

"$TOOLS/mkcorpus" -n 300 -s 7 -o "$IR_WORK/corpus" >/dev/null || { fail "mkcorpus"; exit 1; }
MANIFEST=$IR_WORK/corpus/manifest.json
ir_source_start "$IR_WORK/corpus/Maildir" .
ir_source_subscribe INBOX "Sent Items" Lists.dovecot "Folder with spaces"
ir_dest_start 200k

# --- IMAPS into sdbox: everything lands byte-identical (--dedup off: even
# the duplicates of the source) ---
VERIFY_DEDUP=off
import sd imaps --port "$SRC_IMAPS_PORT" --ssl imaps --dedup off
check_eq "imaps: exit code 0" 0 "$(rc imaps)"
check_eq "imaps: result completed" completed "$(flow_field "$OUT/imaps.out" result)"
total=$(manifest_count)
check_eq "imaps: summary counts every message" "$total" "$(flow_field "$OUT/imaps.out" imported)"
check "imaps: sdbox destination equals the source (content, flags, keywords, dates, names)" \
	verify sd imaps-sd --map "Sent Items=Sent"
VERIFY_DEDUP=folder
check_contains "imaps: progress line shown" "$OUT/imaps.err" "msgs,"
check "imaps: the progress line is the run's (no partial MB total), the folder named in its count" \
	grep -qE '^progress: [0-9]+/[0-9]+ msgs, [0-9.]+ [kMG]B, [0-9.]+ [kMG]B/s.* \[folder [0-9]+/[0-9]+\]$' "$OUT/imaps.err"
subs=$(doveadm -c "$DEST_CONF" mailbox list -u sd -s | sort | tr '\n' '|')
check_eq "imaps: subscriptions copied (special-use mapped)" "Folder with spaces|INBOX|Lists/dovecot|Sent|" "$subs"
check_exit "imaps: \\Noselect parent not created as a mailbox (68, not found)" 68 \
	doveadm -c "$DEST_CONF" mailbox status -u sd messages Lists
check_eq "imaps: empty folder created" 0 \
	"$(doveadm -c "$DEST_CONF" -f tab mailbox status -u sd messages Junk | awk -F'\t' 'NR > 1 { print $NF }')"
check_not_contains "imaps: password not in output" "$OUT/imaps.out" srcpass
check_not_contains "imaps: password not in errors" "$OUT/imaps.err" srcpass
check_not_logged "imaps: password not in any log of the source or the destination (error, info, debug)" srcpass \
	"$IR_WORK/src/log/dovecot.log" "$IR_WORK/src/log/dovecot-info.log" "$IR_WORK/src/log" "$IR_WORK/dst/log"

# --- many small FETCH chunks: pipelining across chunk boundaries ---
ir_dest_reset_user sd
import sd chunks --port "$SRC_IMAPS_PORT" --fetch-chunk 7
check_eq "--fetch-chunk 7: exit code 0" 0 "$(rc chunks)"
check "--fetch-chunk 7: destination equals the source" verify sd chunks-sd --map "Sent Items=Sent"

# --- STARTTLS into maildir ---
import md starttls --port "$SRC_IMAP_PORT" --ssl starttls
check_eq "starttls: exit code 0" 0 "$(rc starttls)"
check "starttls: maildir destination equals the source" \
	verify md starttls-md --map "Sent Items=Sent"

# --- plain IMAP, password from stdin ---
ir_dest_reset_user sd
doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --port "$SRC_IMAP_PORT" \
	--ssl none --user srcuser --password-stdin <"$SRC_PASSWORD_FILE" \
	>"$OUT/plain.out" 2>"$OUT/plain.err"
check_eq "plain + --password-stdin: exit code 0" 0 "$?"
check "plain: destination equals the source" verify sd plain-sd --map "Sent Items=Sent"

# --- certificate checks ---
DOVEADM_OPTS=(-o ssl_client_ca_file="$IR_WORK/ssl-other/ca.pem")
import sd wrongca --port "$SRC_IMAPS_PORT"
check_eq "untrusted certificate: exit code 78" 78 "$(rc wrongca)"
check_eq "untrusted certificate: error tls_failed" tls_failed "$(flow_field "$OUT/wrongca.out" error)"
check_contains "untrusted certificate: says why" "$OUT/wrongca.err" "certificate"
ir_dest_reset_user sd
import sd insecure --port "$SRC_IMAPS_PORT" --tls-insecure
check_eq "--tls-insecure: accepted, exit code 0" 0 "$(rc insecure)"
check_contains "--tls-insecure: said loudly" "$OUT/insecure.err" "NOT verified"
import sd starttls-wrongca --port "$SRC_IMAP_PORT" --ssl starttls
DOVEADM_OPTS=()
check_eq "starttls untrusted certificate: tls_failed" tls_failed "$(flow_field "$OUT/starttls-wrongca.out" error)"

# --- errors name their cause ---
echo wrongpass > "$IR_WORK/wrong.pw"
doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--user srcuser --password-file "$IR_WORK/wrong.pw" >"$OUT/badpw.out" 2>"$OUT/badpw.err"
check_eq "wrong password: exit code 77" 77 "$?"
check_eq "wrong password: error auth_failed" auth_failed "$(flow_field "$OUT/badpw.out" error)"
check_contains "wrong password: title shown" "$OUT/badpw.err" "Authentication failed"
check_contains "wrong password: hint shown" "$OUT/badpw.out" "App Password"
closed=$(ir_free_port)
import sd closed --port "$closed"
check_eq "closed port: exit code 75" 75 "$(rc closed)"
check_eq "closed port: error host_unreachable (not auth)" host_unreachable "$(flow_field "$OUT/closed.out" error)"
check_contains "closed port: says refused" "$OUT/closed.err" "refused"
check_contains "closed port: titled Connection refused (not Host unreachable)" "$OUT/closed.out" \
	"error_title=Connection refused error_detail="
check_contains "closed port: the hint names the port" "$OUT/closed.out" \
	"nothing listens on port $closed:"
check_not_contains "closed port: ... not \"993 (or the port given)\"" "$OUT/closed.out" "or the port given"
doveadm -c "$DEST_CONF" import-remote run -u sd --host no-such-host.invalid \
	--user srcuser --password-file "$SRC_PASSWORD_FILE" >"$OUT/dns.out" 2>"$OUT/dns.err"
check_eq "unknown host name: error host_unreachable" host_unreachable "$(flow_field "$OUT/dns.out" error)"
check_contains "unknown host name: says it can't resolve" "$OUT/dns.err" "resolve"
# a listener that accepts but never greets
python3 -c '
import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(5)
print(s.getsockname()[1], flush=True)
c=[]
t=time.time()
while time.time()-t < 20:
    s.settimeout(1)
    try: c.append(s.accept())
    except socket.timeout: pass
' > "$IR_WORK/silent.port" &
silent_pid=$!
ir_kill_on_exit "$silent_pid"
import sd silent --port "$(port_of "$IR_WORK/silent.port")" --ssl none --timeout 2
kill $silent_pid 2>/dev/null
check_eq "silent server: error connect_timeout" connect_timeout "$(flow_field "$OUT/silent.out" error)"
check_eq "silent server: exit code 75" 75 "$(rc silent)"

# --- usage errors ---
doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	>"$OUT/nopw.out" 2>"$OUT/nopw.err" </dev/null
check_eq "no password option: exit code 64" 64 "$?"
doveadm -c "$DEST_CONF" import-remote run -u sd --host 127.0.0.1 --user srcuser \
	--password-file "$SRC_PASSWORD_FILE" --ssl bogus >"$OUT/badssl.out" 2>"$OUT/badssl.err"
check_eq "bad --ssl: exit code 64" 64 "$?"
doveadm -c "$DEST_CONF" import-remote run -u nosuchuser --host 127.0.0.1 --port "$SRC_IMAPS_PORT" \
	--user srcuser --password-file "$SRC_PASSWORD_FILE" >"$OUT/nouser.out" 2>"$OUT/nouser.err"
check_eq "unknown local user: exit code 67" 67 "$?"

# --- dry run writes nothing ---
ir_dest_reset_user sd
import sd dryrun --port "$SRC_IMAPS_PORT" --dry-run
check_eq "dry-run: exit code 0" 0 "$(rc dryrun)"
check_not_contains "dry-run: no transfer progress line" "$OUT/dryrun.err" "progress:"
check_contains "dry-run: plan shows the special-use mapping" "$OUT/dryrun.out" "source=Sent Items destination=Sent"
check_contains "dry-run: plan shows the \\Noselect parent" "$OUT/dryrun.out" "source=Lists destination=-"
check_eq "dry-run: no mailbox created (INBOX only)" "INBOX" \
	"$(doveadm -c "$DEST_CONF" mailbox list -u sd)"

# --- folder selection and --dest-parent ---
ir_dest_reset_user sd
import sd select --port "$SRC_IMAPS_PORT" --folder 'Lists/*' --folder INBOX --exclude 'Lists/debian*'
check_eq "--folder/--exclude: exit code 0" 0 "$(rc select)"
check "--folder/--exclude: selected folders complete" \
	verify sd select-v --only INBOX --only Lists/dovecot
boxes=$(doveadm -c "$DEST_CONF" mailbox list -u sd | sort | tr '\n' '|')
check_eq "--folder/--exclude: nothing else imported" "INBOX|Lists|Lists/dovecot|" "$boxes"
ir_dest_reset_user sd
import sd parent --port "$SRC_IMAPS_PORT" --dest-parent Imported
check_eq "--dest-parent: exit code 0" 0 "$(rc parent)"
check "--dest-parent: everything under Imported/, names kept" verify sd parent-v --parent Imported

# --- quota is enforced (the user sdq has 200 kB) ---
import sdq quota-dry --port "$SRC_IMAPS_PORT" --dry-run
check_contains "quota pre-flight: dry-run warns the mail won't fit" "$OUT/quota-dry.err" "more than the 200.0 kB left in the user's quota"
# INBOX comes first and alone holds more than the quota: with small chunks
# (each committed) some of it is in before the quota is full
import sdq quota --port "$SRC_IMAPS_PORT" --fetch-chunk 20
check_contains "quota pre-flight: the run warns too" "$OUT/quota.err" "left in the user's quota"
check_eq "quota: exit code 73" 73 "$(rc quota)"
check_eq "quota: error quota_exceeded" quota_exceeded "$(flow_field "$OUT/quota.out" error)"
check_contains "quota: title" "$OUT/quota.err" "Mailbox quota exceeded"
check_contains "quota: hint" "$OUT/quota.out" "--since"
used=$(doveadm -c "$DEST_CONF" -f tab quota get -u sdq | awk -F'\t' '$2=="STORAGE"{print $3}')
check "quota: user not above the limit ($used kB of 200)" test "${used:-999}" -le 200
check "quota: what was saved is intact" verify sdq quota-v --allow-missing --map "Sent Items=Sent"

# --- a message larger than 50 MB is streamed, not buffered ---
"$TOOLS/mkcorpus" -n 5 -s 9 --big-mb 60 -o "$IR_WORK/bigcorpus" >/dev/null
ir_source_replace "$IR_WORK/bigcorpus/Maildir"
ir_dest_reset_user sd
# --fetch-chunk 1: the next chunk's list is requested while the 60 MB body
# is still on its way, the case where a badly ordered pipeline makes the
# server complain (and corrupt the literal)
/usr/bin/time -f '%M' -o "$OUT/big.rss" doveadm -c "$DEST_CONF" import-remote run -u sd \
	--host 127.0.0.1 --port "$SRC_IMAPS_PORT" --user srcuser --fetch-chunk 1 \
	--password-file "$SRC_PASSWORD_FILE" >"$OUT/big.out" 2>"$OUT/big.err"
check_eq "60 MB message: exit code 0" 0 "$?"
MANIFEST=$IR_WORK/bigcorpus/manifest.json
check "60 MB message: lands byte-identical" verify sd big-v --map "Sent Items=Sent"
check_not_contains "60 MB message: no ambiguous pipelining" "$OUT/big.err" "Server complained"
rss_kb=$(tail -1 "$OUT/big.rss")
# (tests/run-sanitize: the sanitizer's shadow memory and quarantine are not
# the plugin's)
if [ "${IR_SANITIZE:-0}" = 1 ]; then
	skip 1 "60 MB message: peak RSS ${rss_kb} kB is the sanitizer's"
else
	check "60 MB message: peak RSS ${rss_kb} kB stays under 32 MB" test "${rss_kb:-999999}" -lt 32768
fi
exit 0
