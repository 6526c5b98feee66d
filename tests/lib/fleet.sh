# shellcheck shell=bash
# Worker services sharing one job store, and what a source server sees of
# them: for test-fleet.sh and test-caps.sh (sourced after integration.sh).
#
#   fleet_service_conf SLOTS PROCS TAKEOVER   # config lines: store settings
#                                             # come from the caller
#   fleet_add_users N                         # dst users f001..fNNN (homes)
#   fleet_add_source_accounts N               # source accounts s001..sNNN
#   fleet_proxy                               # $PROXY_PORT in front of the
#                                             # source's IMAPS port
#   fleet_peak                                # most connections at once
#   fleet_second_instance                     # $DEST2_CONF, $DEST2_DIR
WORKER=${IR_BUILDDIR:-$TESTS_DIR/..}/src/import-remote-worker

# the worker service: PROCS processes, SLOTS jobs live in the whole store,
# a dead worker's job (and its connections) taken over after TAKEOVER s
fleet_service_conf() {
	cat <<CONF
service import-remote-worker {
  executable = $WORKER -t $3
  user = $IR_OS_USER
  process_min_avail = $2
  process_limit = $2
}
CONF
	ir_conf_settings "import_remote_workers = $1"
}

# fleet_add_users N: destination users f001… (before the destination
# starts, or a passwd-file reload)
fleet_add_users() {
	local i u h
	for i in $(seq -f '%03g' 1 "$1"); do
		u=f$i h=$IR_WORK/dst/home/f$i
		mkdir -p "$h"; chown "$IR_OS_USER:" "$h"
		echo "$u:{PLAIN}destpass:$IR_UID:$IR_GID::$h::$(ir_userdb_mail sdbox '~/sdbox')" >> "$IR_WORK/dst/passwd"
	done
}

# fleet_add_source_accounts N: source accounts s001… (password srcpass),
# each reading srcuser's mail
fleet_add_source_accounts() {
	local i
	for i in $(seq -f '%03g' 1 "$1"); do
		echo "s$i:{PLAIN}srcpass:$IR_UID:$IR_GID::$IR_WORK/src/home/srcuser::"
	done >> "$IR_WORK/src/passwd"
}

# fleet_proxy [faultproxy options]: a proxy that sees every connection to
# the source (its report's timeline: when each began and ended)
fleet_proxy() {
	"$TOOLS/faultproxy" --target "127.0.0.1:$SRC_IMAPS_PORT" \
		--report "$OUT/proxy.json" --timeout 900 "$@" > "$OUT/proxy.port" &
	PROXY_PID=$!
	ir_kill_on_exit "$PROXY_PID"
	PROXY_PORT=$(port_of "$OUT/proxy.port")
}

# fleet_proxy_stop: the report written
fleet_proxy_stop() {
	kill -TERM "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
}

# fleet_peak: the most connections open at once, and how many there were
# ("PEAK COUNT"), from the proxy's report
fleet_peak() {
	python3 - "$OUT/proxy.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ev = []
for t in r["timeline"]:
    ev.append((t["start"], 1))
    ev.append((t["end"], -1))
# an end before a start at the same moment
ev.sort(key=lambda e: (e[0], e[1]))
cur = peak = 0
for _, d in ev:
    cur += d
    peak = max(peak, cur)
print(peak, r["connections"])
PY
}

# fleet_second_instance: another Dovecot of the destination's config, its
# own base_dir, state, logs and ports, the same users and homes (a backend
# of the same fleet); $DEST2_CONF, $DEST2_DIR
fleet_second_instance() {
	local w=$IR_WORK/dst p1 p2
	DEST2_DIR=$IR_WORK/dst2
	mkdir -p "$DEST2_DIR"/{run,state,log}
	chown dovecot: "$DEST2_DIR/state"
	p1=$(ir_free_port) p2=$(ir_free_port)
	DEST2_CONF=$DEST2_DIR/dovecot.conf
	sed -e "s|^base_dir = $w/run|base_dir = $DEST2_DIR/run|" \
		-e "s|^state_dir = $w/state|state_dir = $DEST2_DIR/state|" \
		-e "s|^log_path = $w/log/|log_path = $DEST2_DIR/log/|" \
		-e "s|^info_log_path = $w/log/|info_log_path = $DEST2_DIR/log/|" \
		-e "s|^instance_name = .*|instance_name = ir-dst2|" \
		-e "s|port = $DEST_IMAP_PORT\$|port = $p1|" \
		-e "s|port = $DEST_IMAPS_PORT\$|port = $p2|" \
		"$DEST_CONF" > "$DEST2_CONF"
	ir_start_instance "$DEST2_CONF" "$DEST2_DIR"
	ir_wait_port "$p1" || ir_die "the second instance's IMAP port did not open"
}

# fleet_worker_pids CONF_DIR: the import-remote-worker processes of the
# instance whose master's pid is in CONF_DIR/run/master.pid
fleet_worker_pids() {
	local m
	m=$(cat "$1/run/master.pid" 2>/dev/null) || return 0
	ps -o pid=,args= --ppid "$m" | awk '/import-remote-worker/ {print $1}'
}
