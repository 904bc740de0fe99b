"""`traceacs serve --workers N`: N ACS processes on consecutive ports, one supervisor.

Why processes on their own ports (worker i on ``--cwmp-port + i``, ``--api-port + i``
and ``--files-port + i``) rather than one port shared with SO_REUSEPORT: the balancer
in front (nginx, see deploy/nginx/traceacs.conf) then lists each process as an
upstream, health-checks it and spreads POSTs evenly, and a test can tell which process
answered. The kernel's SO_REUSEPORT hashing would pin each CPE connection to one
process, hiding whether sessions really move. Each worker is a plain ``traceacs serve`` with
``--session-store database``: sessions live in the shared PostgreSQL database, so any
worker continues any session, and a worker can stop without ending the sessions it
served (the CPEs' next POSTs go to the others).

The supervisor only starts, stops and watches: SIGINT/SIGTERM go to every worker; when
one worker exits, the others are stopped and the supervisor exits with an error, so a
service manager (systemd) restarts the whole set.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from traceacs.config import Settings

log = logging.getLogger("traceacs.workers")

STOP_GRACE_SECONDS = 15.0


def worker_arguments(argv: Sequence[str], settings: Settings, index: int) -> list[str]:
    """The command line of worker ``index``: the serve options given, then its own.

    argparse keeps the last occurrence of an option, so the appended ones win.
    """
    own = [
        "--workers", "1",
        "--worker-name", str(index),
        "--session-store", "database",
        "--cwmp-port", str(settings.cwmp_port + index),
        "--api-port", str(settings.api_port + index),
        "--files-port", str(settings.files_port + index),
    ]  # fmt: skip
    if index > 0:
        own += ["--stun-port", "0"]  # one STUN listener (UDP port) for the set
    return [sys.executable, "-m", "traceacs.cli", "serve", *argv, *own]


def run_workers(settings: Settings, argv: Sequence[str]) -> int:
    """Run ``settings.workers`` ACS processes until a signal or a worker's exit."""
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(settings.workers):
            workers.append(subprocess.Popen(worker_arguments(argv, settings, index)))  # noqa: S603
            log.info(
                "worker %d (pid %d): CWMP port %d",
                index,
                workers[-1].pid,
                settings.cwmp_port + index,
            )
        while not stopping and all(w.poll() is None for w in workers):
            time.sleep(0.2)
        failed = [i for i, w in enumerate(workers) if w.returncode not in (None, 0)]
        if failed and not stopping:
            log.error("worker(s) %s exited; stopping the others", failed)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in workers:
            try:
                worker.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping else 1


def serve_argv(argv: Sequence[str] | None = None) -> list[str]:
    """The options after ``serve`` on this process's command line (handed to workers)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return args[args.index("serve") + 1 :] if "serve" in args else args
