"""One process at a time in a run directory: an advisory lock on ``<run_dir>/.lock``.

Two ``foveate train`` commands started at once into one run directory would both find it empty,
both train, and write over each other's checkpoints and logs. The first to take the lock
(``fcntl.flock``) trains; the second is refused in one line naming the directory and the process
that holds it. The operating system frees the lock of a process that dies however it dies
(killed, out of memory), so no stale lock is ever left to remove by hand; the file itself stays,
holding the last owner's process id and host, which only a live lock makes mean anything.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".lock"

# The run directories this process holds, with how many nested ``hold_run_dir`` blocks hold
# each: ``train_and_test`` holds its directory across ``fit`` (which holds it too) and the test.
_held: dict[Path, int] = {}


class RunDirInUse(FileExistsError):
    """Another live process holds the run directory (one-line message)."""


def _is_first_process() -> bool:
    """Whether this is the process that claims run directories: not a worker that Lightning
    started for data-parallel training (LOCAL_RANK > 0), nor the first process of another node
    (NODE_RANK or GROUP_RANK > 0); those train in the directory their first process holds."""
    return all(
        os.environ.get(name, "0") == "0" for name in ("LOCAL_RANK", "NODE_RANK", "GROUP_RANK")
    )


@contextmanager
def hold_run_dir(run_dir: str | os.PathLike) -> Iterator[None]:
    """Hold ``run_dir`` (created if missing) for this process while the block runs.

    Raises RunDirInUse at once, without waiting, if another process holds it. Nested blocks of
    one process over the same directory share the one lock. A directory this block created is
    removed again if the block fails and leaves nothing in it but the lock file (a refused
    config leaves no empty run behind).
    """
    run_dir = Path(run_dir)
    key = run_dir.resolve()
    if key in _held or not _is_first_process():
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
            if not _held[key]:
                del _held[key]
        return
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = run_dir / LOCK_FILE
    file = open(lock, "a+")  # noqa: SIM115 (held open for the whole block)
    try:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            owner = file.read().strip()
            who = f"process {owner}" if owner else "another process"
            raise RunDirInUse(
                f"{run_dir} is in use: {who} is training in it; wait for it to finish, or "
                "choose another --run-dir"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()} on {socket.gethostname()}\n")
        file.flush()
        _held[key] = 1
        failed = True
        try:
            yield
            failed = False
        finally:
            del _held[key]
            if failed and created and [p.name for p in run_dir.iterdir()] == [LOCK_FILE]:
                lock.unlink()
                run_dir.rmdir()
            fcntl.flock(file, fcntl.LOCK_UN)
    finally:
        file.close()
