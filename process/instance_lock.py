"""One running instance per state directory: a second `wartemarke-hub run` with the same config would
connect with the same broker account and client id and throw the running hub off the broker, and write
the same SQLite file. It takes an exclusive `flock` on a file in the state directory *first*, before
it opens the database or connects, and refuses to start when another process holds it. The kernel
drops the lock when its holder exits in any way (kill -9 included), so a stale lock file never
blocks a restart.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO


class AlreadyRunning(Exception):
    """Another process holds the lock: its message names the lock file and the holder's pid."""


def hold_instance_lock(path: Path) -> IO[str]:
    """Lock `path` for this process (keep the returned file open for as long as it runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held open for the process's life)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()[:20] or "unknown"
        handle.close()
        raise AlreadyRunning(f"another instance is running with this state directory ({path} is locked by "
                             f"pid {holder}); stop it first") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
