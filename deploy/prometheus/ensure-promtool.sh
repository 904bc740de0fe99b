#!/bin/sh
# Makes sure `promtool` and `prometheus` (Debian package "prometheus") are installed, for
# the rule tests and the end-to-end alert test (tests/deploy/test_prometheus_e2e.py).
# Called by `make test`; does nothing when both are already on PATH. Installs with
# apt-get when running as root on a Debian-like system; otherwise says what to do and
# leaves the decision to the tests (they fail under CI=true, skip otherwise).
set -eu

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-promtool: installing the Debian package 'prometheus' (provides promtool)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && exit 0
fi

echo "ensure-promtool: promtool/prometheus not found; install them (apt-get install prometheus)" >&2
echo "ensure-promtool: the Prometheus rule tests will be skipped (or fail with CI=true)" >&2
exit 0
