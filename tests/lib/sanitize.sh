# shellcheck shell=bash
# The sanitizer build's settings, shared by tests/run-sanitize and whoever
# wants to run a test by hand under it:
#
#   . tests/lib/sanitize.sh
#   ir_sanitize_env REPORT_DIR    # then tests/run-tests --builddir build-sanitize/asan ...
#
# The system's Dovecot is not instrumented: the gcc sanitizer runtime is
# preloaded into doveadm (a doveadm first in $PATH that execs the real one)
# and, through import_environment, into every process the test servers'
# master starts (servers.sh adds $IR_SANITIZE_CONF to their configuration);
# the modules and binaries of the sanitizer build need it, Dovecot's own
# code then runs with its malloc. Reports go to files in REPORT_DIR (not to
# the logs, which tests read): an empty REPORT_DIR after a run is the bar.

# -O1 keeps the runs fast enough for CI; any finding aborts the process
IR_SAN_CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
IR_FUZZ_CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
# the harnesses of tests/fuzz/: fuzz-NAME.c, seeds in NAME/
IR_FUZZ_TARGETS="imap-reply batch-csv folder-plan checkpoint trigger-state"

ir_sanitize_env() {
	local reports=$1 bin asan ubsan
	asan=$(gcc -print-file-name=libasan.so)
	ubsan=$(gcc -print-file-name=libubsan.so)
	[ -e "$asan" ] && [ -e "$ubsan" ] ||
		{ echo "sanitize.sh: no libasan/libubsan (gcc)" >&2; return 1; }
	# Leaks are not checked in the processes of the uninstrumented Dovecot
	# (its processes end without freeing what lives until exit); doveadm,
	# the unit tests and the fuzzers check them.
	export ASAN_OPTIONS="log_path=$reports/asan:halt_on_error=1:detect_leaks=0:detect_odr_violation=0:allow_user_segv_handler=1"
	export UBSAN_OPTIONS="log_path=$reports/ubsan:halt_on_error=1:print_stacktrace=1"
	export IR_SANITIZE=1
	bin=$reports/../bin
	mkdir -p "$bin"
	# doveadm (the import itself, the queue commands) is checked for
	# leaks too: it frees what it allocates
	cat > "$bin/doveadm" <<SH
#!/bin/sh
ASAN_OPTIONS="${ASAN_OPTIONS/detect_leaks=0/detect_leaks=1}" \\
LD_PRELOAD="$asan $ubsan" exec /usr/bin/doveadm "\$@"
SH
	chmod 755 "$bin/doveadm"
	PATH=$(cd "$bin" && pwd):$PATH
	export PATH
	export IR_SANITIZE_PRELOAD="$asan:$ubsan"
	# the children of the test servers' master: no address space limit
	# (the sanitizer maps terabytes of shadow memory) and the runtime
	case $(/usr/sbin/dovecot --version 2>/dev/null) in
	2.3*)
		export IR_SANITIZE_CONF="default_vsz_limit = 0
import_environment = TZ CORE_OUTOFMEM CORE_ERROR LD_PRELOAD=$asan:$ubsan ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS"
		;;
	*)
		export IR_SANITIZE_CONF="default_vsz_limit = unlimited
import_environment {
  LD_PRELOAD = \"$asan:$ubsan\"
  ASAN_OPTIONS = \"$ASAN_OPTIONS\"
  UBSAN_OPTIONS = \"$UBSAN_OPTIONS\"
}"
		;;
	esac
}

# ir_fuzz_run BINARY SEEDS WORKDIR [libFuzzer options...]: the harness
# over its seeds; new inputs are kept in WORKDIR/corpus, a crash in
# WORKDIR/crash-*. Exits as libFuzzer does (0: no crash).
ir_fuzz_run() {
	local bin=$1 seeds=$2 work=$3
	shift 3
	mkdir -p "$work/corpus"
	ASAN_OPTIONS=detect_leaks=1:detect_odr_violation=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$bin" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/" "$@" "$work/corpus" "$seeds"
}
