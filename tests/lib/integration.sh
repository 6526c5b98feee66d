# shellcheck shell=bash
# Sourced first by every integration test: helpers, a fresh work dir that
# is removed on exit (with its servers stopped), $OUT for outputs.
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TESTS_DIR/lib/servers.sh"
. "$TESTS_DIR/lib/check.sh"
TOOLS=$TESTS_DIR/tools

ir_setup_workdir
trap ir_cleanup EXIT
OUT=$IR_WORK/out
mkdir -p "$OUT"

# import USER NAME [options...]: "doveadm import-remote run" from the source
# server's srcuser, stdout/stderr/exit code kept as $OUT/NAME.{out,err,rc}.
# doveadm's own options (-o) go in $DOVEADM_OPTS.
DOVEADM_OPTS=()
import() {
	local u=$1 name=$2; shift 2
	doveadm -c "$DEST_CONF" "${DOVEADM_OPTS[@]}" import-remote run -u "$u" --host 127.0.0.1 \
		--user srcuser --password-file "$SRC_PASSWORD_FILE" "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	echo $? > "$OUT/$name.rc"
}
rc() { cat "$OUT/$1.rc"; }

# verify USER NAME [imapverify options]: the destination against
# $MANIFEST; byte-identical copies within a folder are expected once
# (import-remote's default --dedup folder) unless $VERIFY_DEDUP says else.
VERIFY_DEDUP=folder
verify() {
	local u=$1 name=$2; shift 2
	"$TOOLS/imapverify" --port "$DEST_IMAP_PORT" --user "$u" \
		--manifest "$MANIFEST" --dedup "$VERIFY_DEDUP" "$@" > "$OUT/$name.verify" 2>&1
}

# manifest_count [TAG]: messages in $MANIFEST (with TAG)
manifest_count() {
	python3 -c 'import json,sys
m=json.load(open(sys.argv[1])); tag=sys.argv[2] if len(sys.argv)>2 else None
print(sum(1 for v in m["folders"].values() for e in v if tag is None or tag in e["tags"]))' "$MANIFEST" "$@"
}
