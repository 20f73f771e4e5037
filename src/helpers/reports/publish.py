"""Publishing: one build at a time (a lock), atomic swap of the ``site`` link, pruning, I/O errors.

The lock is an ``flock`` on ``<out>/.build.lock``, opened close-on-exec and taken in the builder only: the
workers are started with ``spawn`` and never inherit it, so it dies with the builder. The lock file also
records its owner (pid, process start time, host); a lock whose recorded owner is gone but which something
still holds (an old build's stray child) is taken over on a fresh file, under a second lock so that two
builds can never both take it over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
from pathlib import Path

SITE_LINK = "site"
#: In the output folder of a shard (``--shard I/N``): the shard's last finished build, for the merge.
SHARD_LINK = "shard"
BUILDS_DIR = "builds"
LOCK_NAME = ".build.lock"
KEEP_BUILDS = 4


class BuildLockedError(RuntimeError):
    """Another build holds the lock on the output folder."""


class BuildIOError(RuntimeError):
    """Reading or writing a file failed (read-only folder, disk full...); names the path and the cause."""

    def __init__(self, path: object, cause: str):
        self.path, self.cause = str(path), cause
        super().__init__(f"cannot write {self.path}: {cause}")


def io_error(error: OSError, fallback: Path) -> BuildIOError:
    """A :class:`BuildIOError` from an ``OSError``: its path (or ``fallback``) and its cause in words."""
    cause = error.strerror or (errno.errorcode.get(error.errno or 0) if error.errno else "") or str(error)
    return BuildIOError(error.filename or fallback, cause)


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or ``None`` when there is no such process."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return -1.0  # it exists, we may not look at it: treat it as alive


def _owner_record() -> dict:
    return {
        "pid": os.getpid(),
        "started": _process_started(os.getpid()),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "command": " ".join(sys.argv[:4]),
    }


def _read_owner(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def owner_is_gone(owner: dict) -> bool:
    """Whether the build that wrote ``owner`` has ended (same host; pid gone or reused by another process)."""
    if owner.get("host") != socket.gethostname() or not isinstance(owner.get("pid"), int):
        return False  # another machine's build (shared folder): never take it over
    started = _process_started(owner["pid"])
    if started is None:
        return True
    recorded = owner.get("started")
    return started != -1.0 and isinstance(recorded, int | float) and abs(started - recorded) > 1.0


def _try_lock(path: Path) -> int | None:
    """An open, locked descriptor of ``path``; ``None`` when another process holds the lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def build_lock(out_dir: Path):
    """Exclusive, non-blocking lock on the output folder for the whole build (see the module docstring)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / LOCK_NAME
        fd = _try_lock(path)
        if fd is None:
            fd = _take_over_stale_lock(out_dir, path)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_owner_record()).encode("utf-8"), 0)
    except OSError as error:
        raise io_error(error, out_dir / LOCK_NAME) from None
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _take_over_stale_lock(out_dir: Path, path: Path) -> int:
    takeover = os.open(out_dir / f"{LOCK_NAME}.takeover", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(takeover, fcntl.LOCK_EX)  # one build at a time decides on a stale lock
        fd = _try_lock(path)  # the holder may have ended meanwhile
        if fd is not None:
            return fd
        probe = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            owner = _read_owner(probe)
            examined = os.fstat(probe).st_ino
        finally:
            os.close(probe)
        if not owner_is_gone(owner):
            described = f" (pid {owner['pid']} on {owner.get('host')}, since {owner.get('since')})" if owner else ""
            raise BuildLockedError(f"another report build is running in {out_dir}{described}; lock {path}")
        if os.stat(path).st_ino != examined:
            raise BuildLockedError(f"another report build has just started in {out_dir}; lock {path}")
        stale = path.with_name(f"{LOCK_NAME}.stale-{owner.get('pid')}")
        os.replace(path, stale)  # the stray holder keeps its lock on the old file; it can publish nothing
        print(
            f"warning: the lock {path} was left by a build that has ended (pid {owner.get('pid')}, since "
            f"{owner.get('since')}) and is still held by a leftover process; taken over (old lock: {stale.name})",
            file=sys.stderr,
        )
        fd = _try_lock(path)
        if fd is None:
            raise BuildLockedError(f"another report build has just started in {out_dir}; lock {path}")
        return fd
    finally:
        fcntl.flock(takeover, fcntl.LOCK_UN)
        os.close(takeover)


def current_site(out_dir: Path) -> Path | None:
    site = out_dir / SITE_LINK
    return site.resolve() if site.exists() else None


def read_manifest(site: Path | None) -> dict:
    if site is None or not (site / "manifest.json").is_file():
        return {}
    return json.loads((site / "manifest.json").read_text(encoding="utf-8"))


def publish(build_dir: Path, out_dir: Path, name: str = SITE_LINK) -> None:
    """Point ``out_dir/site`` (or ``out_dir/<name>``) at ``build_dir`` in one atomic rename of a symlink."""
    link = out_dir / name
    if link.exists() and not link.is_symlink():
        raise BuildIOError(link, "exists and is not a symlink; move it away to publish")
    temporary = out_dir / f".{name}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    temporary.symlink_to(build_dir.relative_to(out_dir))
    os.replace(temporary, link)


def prune_builds(out_dir: Path, keep: int = KEEP_BUILDS) -> None:
    """Remove old build folders, never the published one (nor a shard's last finished build)."""
    live = {(out_dir / name).resolve() for name in (SITE_LINK, SHARD_LINK) if (out_dir / name).exists()}
    builds = sorted((out_dir / BUILDS_DIR).iterdir())
    for old in builds[:-keep]:
        if old.resolve() not in live:
            shutil.rmtree(old, ignore_errors=True)


def discard(build_dir: Path) -> None:
    """Remove a build folder that will never be published (an interrupted build, an I/O failure)."""
    shutil.rmtree(build_dir, ignore_errors=True)
