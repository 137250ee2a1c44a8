"""Kills at random points (issue 35, item 3): a run killed (SIGKILL, no cleanup) again and again,
at moments a seeded ``random.Random`` picks, and resumed with ``--resume`` after each kill,
finishes as a run never killed does.

The moments are of five kinds, so that every stage of a run is hit, not only the long ones:
starting (a random delay after the command starts: parsing, building, loading data, taking the
run's lock, restoring the checkpoint), training (a random delay after the session's k-th
``last.ckpt``), saving (the moment a checkpoint's hidden ``.<name>.<pid>.partial`` file appears:
a checkpoint half-written), logging (the moment ``metrics.csv`` grows: a row written that the
next checkpoint does not yet cover) and testing (a random delay after training's last row:
testing the best checkpoint, writing ``results.json``).

After every kill, ``last.ckpt`` loads and its global step has not gone back; every resume
succeeds; at the end the run has trained every step once (the throughput counters say so too),
``last.ckpt`` and ``best.ckpt`` load and test, and ``metrics.csv`` holds each row once, with
none missing: the same rows, step for step, as a run never killed.

One process: each session of the command is forked from a server that has imported foveate
already (``multiprocessing``'s forkserver), so that a dozen sessions do not each pay for
importing torch and Lightning; it runs ``foveate.cli.main`` with the command's arguments, as
``python -m foveate.cli`` would. Two processes (``--devices 2``): the command itself, in its own
session, whose process group (the launcher and the worker it starts) is killed together.
"""

import csv
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from foveate.training.checkpointing import read_checkpoint
from foveate.training.fit import evaluate

EPOCHS = 3
TESTING_ATTEMPTS = 6  # sessions started, at most, to kill one while it tests
BATCHES = 60  # training batches an epoch; a checkpoint every 3 steps falls on each epoch's last
EVERY = 3  # checkpoint_every_n_steps: 50 (Lightning's logging interval) is not a multiple of it
DEADLINE_S = 600  # for any one wait: far beyond what a session needs, short of a hung test


def train_args(run_dir: Path, *extra: str) -> list[str]:
    """`foveate train`'s arguments for a small RAM run on the shipped digits."""
    return [
        "train",
        "ram",
        "--run-dir",
        str(run_dir),
        "--sample",
        "--val-size",
        "64",
        "--batch-size",
        "16",
        "--glimpses",
        "2",
        "--max-epochs",
        str(EPOCHS),
        "--limit-train-batches",
        str(BATCHES),
        "--limit-eval-batches",
        "4",
        "--checkpoint-every-n-steps",
        str(EVERY),
        "--threads",
        "1",
        "--no-progress-bar",
        *extra,
    ]


def run_cli(argv: list[str], log: str) -> None:
    """``foveate`` with ``argv`` in this process, its output appended to ``log``; the process's
    exit status is the command's."""
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(out, 1)
    os.dup2(out, 2)
    from foveate.cli import main

    sys.exit(main(argv))


class Forked:
    """A session of the command forked from the preloaded server."""

    def __init__(self, argv: list[str], log: Path) -> None:
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(["foveate.cli", "foveate.training.fit", "lightning"])
        self.process = context.Process(target=run_cli, args=(argv, str(log)))
        self.process.start()

    def poll(self) -> int | None:
        return self.process.exitcode

    def kill(self) -> int:
        """SIGKILL the session; its exit status (its own, if it ended first)."""
        try:
            os.kill(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.join()
        return self.process.exitcode

    def wait(self) -> int:
        self.process.join(DEADLINE_S)
        if self.process.exitcode is None:
            self.kill()
            raise AssertionError(f"a session ran past {DEADLINE_S} s")
        return self.process.exitcode


class Group:
    """A session of the command as its own process group (``--devices 2``: the launcher, and
    the worker Lightning starts beside it), killed together."""

    def __init__(self, argv: list[str], log: Path) -> None:
        with open(log, "a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "foveate.cli", *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def poll(self) -> int | None:
        return self.process.poll()

    def kill(self) -> int:
        """SIGKILL the session's processes; the launcher's exit status (its own, if it ended
        first)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.process.wait()

    def wait(self) -> int:
        try:
            return self.process.wait(DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"a session ran past {DEADLINE_S} s") from None


# -- the moments: each waits, from a session's start, until its moment has come --------------


def until(condition: Callable[[], bool], session, pause: float = 0.002) -> bool:
    """Wait until ``condition()``: True, or False if the session ended first."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if session.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise AssertionError("a moment never came")
        if pause:
            time.sleep(pause)
    return True


def version(path: Path) -> int | None:
    """Which write of ``path`` is there now (each save renames a new file over it)."""
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def saves_counter(last: Path) -> Callable[[], int]:
    """A function counting the new versions of ``last`` since it was made."""
    seen, count = [version(last)], [0]

    def saves() -> int:
        now = version(last)
        if now != seen[0]:
            seen[0], count[0] = now, count[0] + 1
        return count[0]

    return saves


def partial_files(run_dir: Path) -> list[Path]:
    return list((run_dir / "checkpoints").glob(".*.partial"))


def csv_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def training_done(run_dir: Path) -> bool:
    """Whether training's last row (the last epoch's training error) is in the log."""
    return any(
        row["epoch"] == str(EPOCHS - 1) and row.get("train/error_pct")
        for row in csv_rows(run_dir / "metrics.csv")
    )


def reach(kind: str, session, run_dir: Path, rng: random.Random, shrink: float = 1.0) -> bool:
    """Wait for a moment of ``kind``, its details drawn from ``rng``; False if the session
    ended before it came. ``shrink`` scales the drawn wait after testing began."""
    last, log = run_dir / "checkpoints" / "last.ckpt", run_dir / "metrics.csv"
    saves = saves_counter(last)
    if kind == "starting":
        return _sleep(rng.uniform(0.0, 1.5), session)
    if kind == "training":
        k = rng.randint(1, 3)
        return until(lambda: saves() >= k, session) and _sleep(rng.uniform(0, 0.05), session)
    if kind == "saving":
        # after the session's first save (it has started training), the next save, half-written
        return until(lambda: saves() >= 1, session) and until(
            lambda: bool(partial_files(run_dir)), session, pause=0
        )
    if kind == "logging":
        size = log.stat().st_size if log.is_file() else 0
        return until(lambda: log.is_file() and log.stat().st_size > size, session, pause=0.0005)
    if kind == "testing":
        return until(lambda: training_done(run_dir), session, pause=0.005) and _sleep(
            shrink * rng.uniform(0.0, 0.5), session
        )
    raise ValueError(kind)


def _sleep(seconds: float, session) -> bool:
    end = time.monotonic() + seconds
    return until(lambda: time.monotonic() >= end, session)


# -- the run ------------------------------------------------------------------------------------


def killed_and_resumed(run_dir: Path, logs: Path, kinds: list[str], seed: int, start) -> dict:
    """Start the run, kill it at a moment of each of ``kinds`` in turn (the first a training
    one: before the first checkpoint there is nothing to resume), resuming after each kill, and
    let the last session finish. Returns what was seen on the way."""
    rng = random.Random(seed)
    last = run_dir / "checkpoints" / "last.ckpt"
    steps, partial_left = [], 0
    for i, kind in enumerate(kinds):
        for attempt in range(TESTING_ATTEMPTS if kind == "testing" else 1):
            log = logs / f"session{i}.{attempt}.log"
            session = start(train_args(run_dir, *(("--resume",) if i else ())), log)
            reached = reach(kind, session, run_dir, rng, shrink=0.5**attempt)
            status = session.kill() if reached else session.wait()
            if status == -signal.SIGKILL:
                break
            # A resumed session whose training was done may test and end within the drawn
            # wait; the finished run is resumed again and killed sooner.
            if kind != "testing" or status != 0 or attempt == TESTING_ATTEMPTS - 1:
                raise AssertionError(
                    f"session {i} ended (status {status}) before its {kind} moment:\n"
                    + log.read_text()[-3000:]
                )
        partial_left += kind == "saving" and bool(partial_files(run_dir))
        steps.append(read_checkpoint(last)["global_step"])  # whole, whatever was cut short
    log = logs / "finish.log"
    status = start(train_args(run_dir, "--resume"), log).wait()
    assert status == 0, log.read_text()[-3000:]
    return {"steps": steps, "partial_left": partial_left, "log": log}


def row_keys(rows: list[dict]) -> list[tuple[str, str, str]]:
    """(what a row logs, its epoch, its step) of each row, in the order written."""
    keys = []
    for row in rows:
        logged = ",".join(sorted(k for k, v in row.items() if v and k not in ("epoch", "step")))
        keys.append((logged, row["epoch"], row["step"]))
    return keys


def check_finished(run_dir: Path, seen: dict, *, images_per_step: int) -> None:
    steps = seen["steps"]
    assert steps == sorted(steps), f"the global step went back across kills: {steps}"
    last = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    # saved at the last epoch's end, before Lightning counts that epoch done
    assert last["global_step"] == EPOCHS * BATCHES and last["epoch"] == EPOCHS - 1
    (speed,) = [v for k, v in last["callbacks"].items() if k.startswith("TrainingSpeed")]
    assert speed["images"] == last["global_step"] * images_per_step  # each step counted once
    read_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    tested = evaluate(run_dir / "checkpoints" / "best.ckpt", limit_batches=2)
    assert 0 <= tested["test_error_pct"] <= 100
    assert "test error" in seen["log"].read_text()
    assert (run_dir / "results.json").is_file()
    assert not partial_files(run_dir)


def check_log(rows: list[dict], expected: list[tuple[str, str, str]]) -> None:
    keys = row_keys(rows)
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    assert not repeated, f"rows written twice: {repeated}"
    missing = [k for k in expected if k not in keys]
    assert not missing, f"rows missing: {missing}"
    assert keys == expected, "rows out of order"


@pytest.mark.slow
def test_a_run_killed_at_random_moments_resumes_each_time_and_finishes_whole(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    # A run never killed: the rows the log must hold.
    never = tmp_path / "never"
    assert Forked(train_args(never), logs / "never.log").wait() == 0
    expected = row_keys(csv_rows(never / "metrics.csv"))
    assert len(expected) > 2 * EPOCHS  # training losses, validation and training error

    kinds = ["starting"] + ["training"] * 2 + ["saving"] * 3 + ["logging"] * 2
    random.Random(35).shuffle(kinds)
    kinds = ["training", *kinds, "testing", "testing"]  # 11 kills
    run_dir = tmp_path / "run"
    seen = killed_and_resumed(run_dir, logs, kinds, seed=3, start=Forked)
    # At least one kill cut a checkpoint short mid-write (its partial file was left behind).
    assert seen["partial_left"] >= 1, seen
    check_finished(run_dir, seen, images_per_step=16)
    check_log(csv_rows(run_dir / "metrics.csv"), expected)


@pytest.mark.slow
def test_a_data_parallel_run_killed_at_random_moments_resumes_and_finishes(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    kinds = ["starting", "saving", "logging"]
    random.Random(36).shuffle(kinds)
    kinds = ["training", *kinds, "testing"]  # 5 kills of the launcher and its worker

    def start(argv: list[str], log: Path) -> Group:
        return Group([*argv, "--devices", "2", "--accelerator", "cpu"], log)

    run_dir = tmp_path / "run"
    seen = killed_and_resumed(run_dir, logs, kinds, seed=4, start=start)
    check_finished(run_dir, seen, images_per_step=2 * 16)
    rows = csv_rows(run_dir / "metrics.csv")
    keys = row_keys(rows)
    assert len(set(keys)) == len(keys), "rows written twice"
    assert sum("val_error_pct" in k[0] for k in keys) == EPOCHS
