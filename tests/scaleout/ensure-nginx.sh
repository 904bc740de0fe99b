#!/bin/sh
# Makes sure Debian's `nginx` is installed, for the scale-out test (tests/scaleout):
# two ACS processes behind a real nginx on 127.0.0.1. Called by `make test`; does
# nothing when /usr/sbin/nginx exists. Installs with apt-get when running as root on a
# Debian-like system; otherwise says what to do and leaves the decision to the test
# (it fails under CI=true, skips otherwise). The test runs its own nginx master as the
# current user on ephemeral ports; the system service is never started or touched.
set -eu

if [ -x /usr/sbin/nginx ]; then
    exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-nginx: installing the Debian package 'nginx'" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends; the package's service may start: the test does not use it.
    apt-get install -y -qq --no-install-recommends nginx >/dev/null
    [ -x /usr/sbin/nginx ] && exit 0
fi

echo "ensure-nginx: /usr/sbin/nginx not found; install it (apt-get install nginx)" >&2
echo "ensure-nginx: the scale-out test will be skipped (or fail with CI=true)" >&2
exit 0
