#!/bin/sh
# Generate ./configure from configure.ac (needs autoconf, automake, libtool
# and dovecot-dev's dovecot.m4 in aclocal's search path).
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
# Dovecot 2.4's dovecot.m4 requires this aux file of Dovecot's own test
# wrapper; the project's tests run through tests/run-tests instead
[ -f build-aux/run-test.sh.in ] ||
	echo '# not used: the tests run through tests/run-tests' > build-aux/run-test.sh.in
autoreconf -fi
