#!/bin/sh
# Makes sure Debian's `chromium` is installed, for the console's browser test
# (tests/console). Called by `make test`; does nothing when /usr/bin/chromium exists.
# Installs with apt-get when running as root on a Debian-like system; otherwise says
# what to do and leaves the decision to the test (it fails under CI=true, skips
# otherwise). Playwright drives this browser; `playwright install` is never needed.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: installing the Debian package 'chromium' (takes a few minutes)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [ -x /usr/bin/chromium ] && exit 0
fi

echo "ensure-chromium: /usr/bin/chromium not found; install it (apt-get install chromium)" >&2
echo "ensure-chromium: the console browser test will be skipped (or fail with CI=true)" >&2
exit 0
