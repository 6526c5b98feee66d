# shellcheck shell=bash
# A throwaway PostgreSQL server for the tests: its own cluster in a temp
# dir, listening only on a unix socket in that dir (no TCP at all).
#
#   ir_pgsql_start DIR   # sets PGSQL_CONNECT (a libpq connect string)
#   ir_pgsql_stop DIR
#   ir_pgsql_stop_all    # every cluster this shell started (on exit)
#   ir_pgsql_activity DIR  # what each session is doing and waiting for

IR_PGSQL_DIRS=()

ir_pgsql_bin() {
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

ir_pgsql_start() {
	local dir=$1 bin
	bin=$(ir_pgsql_bin)
	[ -n "$bin" ] || { echo "pgsql.sh: PostgreSQL is not installed" >&2; return 1; }
	mkdir -p "$dir"
	IR_PGSQL_DIRS+=("$dir")
	chown postgres: "$dir"
	su postgres -s /bin/sh -c "'$bin/initdb' -D '$dir/data' -A trust -U postgres" \
		>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
	su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' \
		-o \"-k '$dir' -c listen_addresses=''\" -w start" >/dev/null 2>&1 ||
		{ cat "$dir/server.log" >&2; return 1; }
	PGSQL_CONNECT="host=$dir dbname=postgres user=postgres"
	export PGSQL_CONNECT
}

ir_pgsql_stop() {
	local dir=$1 bin
	bin=$(ir_pgsql_bin)
	[ -f "$dir/data/postmaster.pid" ] || return 0
	su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop" >/dev/null 2>&1
}

ir_pgsql_stop_all() {
	local dir
	for dir in "${IR_PGSQL_DIRS[@]}"; do
		ir_pgsql_stop "$dir"
	done
}

# ir_pgsql_activity DIR: every session of the cluster, its state, what it
# waits for and its query (a test that gave up waiting says what was stuck)
ir_pgsql_activity() {
	[ -f "$1/data/postmaster.pid" ] || return 0
	timeout 10 psql -X -A -F ' | ' -h "$1" -U postgres -d postgres -c \
		"SELECT pid, state, wait_event_type, wait_event, now() - xact_start AS in_xact, left(query, 160) FROM pg_stat_activity WHERE backend_type = 'client backend'" 2>&1
}
