#!/bin/sh
# Generate ./configure from configure.ac (needs autoconf, automake, libtool
# and dovecot-dev's dovecot.m4 in aclocal's search path).
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf -fi
