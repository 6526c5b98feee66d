# shellcheck shell=bash
# A throwaway PostgreSQL server for the tests: its own cluster in a temp
# dir, listening only on a unix socket in that dir (no TCP at all).
#
#   ir_pgsql_start DIR   # sets PGSQL_CONNECT (a libpq connect string)
#   ir_pgsql_stop DIR
#   ir_pgsql_stop_all    # every cluster this shell started (on exit)

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
