"""Import python-escpos without its side effects; call `escpos_ready()` before any `import escpos`.

On import, `escpos.capabilities` pickles its printer database into the directory named by
ESCPOS_CAPABILITIES_PICKLE_DIR, and without it into a fresh temporary directory per process,
which a kiosk restarted for years would pile up. It also evaluates `mkdtemp()` even when the
variable is set (the default argument of `environ.get`), and calls `logging.basicConfig()`,
which would turn the kiosk's own later logging set-up into a no-op. `escpos_ready()` points the
pickle at a persistent cache directory and performs that first import in a way that leaves
neither an empty temporary directory nor a root log handler behind. It also makes the pickle
safe to share: escpos writes it in place, so a second process (pytest-xdist, `preview` beside
`run`) could read it half-written, and a process killed mid-write would leave a truncated pickle
that breaks every later import; hence a file lock around the import and one retry without it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import os
import pickle
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escpos.escpos import Escpos

PICKLE_DIR_VAR = "ESCPOS_CAPABILITIES_PICKLE_DIR"


def cache_dir() -> Path:
    """systemd's CacheDirectory= if set, else ~/.cache/wartemarke/escpos."""
    systemd = os.environ.get("CACHE_DIRECTORY", "")
    if systemd:
        return Path(systemd.split(":")[0])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "wartemarke" / "escpos"


def _writable_cache_dir() -> Path:
    """The cache directory, created; a per-user temporary one if that fails (escpos must write there)."""
    try:
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):
        directory = Path(tempfile.gettempdir()) / f"wartemarke-escpos-{os.getuid()}"
        directory.mkdir(mode=0o700, exist_ok=True)
    return directory


@contextlib.contextmanager
def _contained_side_effects(scratch_parent: Path) -> Iterator[None]:
    """Send stray mkdtemp() calls into a scratch dir that is removed, and undo new root log handlers."""
    root = logging.getLogger()
    handlers_before = list(root.handlers)
    scratch = tempfile.mkdtemp(prefix="import-", dir=scratch_parent)
    saved_tempdir = tempfile.tempdir
    tempfile.tempdir = scratch
    try:
        yield
    finally:
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(scratch, ignore_errors=True)
        for handler in list(root.handlers):
            if handler not in handlers_before:
                root.removeHandler(handler)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an advisory lock so that only one of our processes imports escpos (writes the pickle) at a time."""
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _pickle_path() -> Path:
    """Where escpos.capabilities keeps its pickle (mirrors its own naming)."""
    return Path(os.environ[PICKLE_DIR_VAR]) / f"{platform.python_version()}.capabilities.pickle"


def escpos_ready() -> None:
    """Make importing escpos cheap and clean; idempotent."""
    if "escpos.capabilities" in sys.modules:
        return
    directory = _writable_cache_dir()
    os.environ.setdefault(PICKLE_DIR_VAR, str(directory))
    with _exclusive(directory / "import.lock"), _contained_side_effects(directory):
        try:
            importlib.import_module("escpos.capabilities")
        except (EOFError, pickle.UnpicklingError):
            _pickle_path().unlink(missing_ok=True)  # truncated by a killed process; escpos rebuilds it
            importlib.import_module("escpos.capabilities")


def dummy_printer(profile: str) -> Escpos:
    """An in-memory printer whose `.output` holds the bytes; used by tests and the preview."""
    escpos_ready()
    from escpos.printer import Dummy

    return Dummy(profile=profile)
