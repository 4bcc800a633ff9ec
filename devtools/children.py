"""Child processes of tests, benchmarks and the demo: they die with the process that started them, and
are stopped as systemd stops a service (SIGTERM, then SIGKILL after a timeout).
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from typing import Any

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent() -> None:
    """In the forked child (`preexec_fn`): SIGTERM it when its parent dies (no leaked children after kill -9).

    Linux ties this to the *thread* that started the child; start children from a thread that outlives them.
    """
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop(proc: subprocess.Popen[Any], timeout: float = 10.0, sig: signal.Signals = signal.SIGTERM) -> None:
    """Send `sig` (SIGTERM: a clean shutdown) and wait; SIGKILL after `timeout` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10.0)
