"""Build the checkpoint kept in tests/data that tests/test_checkpoint_versions.py loads.

    python scripts/build_test_checkpoint.py

Trains the smallest registered classifier (``shallow_cnn`` at its ``tiny`` size, about 600
weights) for two steps on the shipped MNIST sample, on the CPU with seed 0, and copies its
``last.ckpt`` to ``tests/data/checkpoint_format<F>.ckpt``, F being the checkpoint format this
foveate writes (``foveate.training.checkpointing.FORMAT``). Run it once whenever FORMAT is bumped,
and keep the files of the older formats this foveate still reads: they are what proves that it
does. The run directory's paths recorded inside (Lightning's callback states) are those of a
temporary directory, which nothing reads back.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from foveate.training.checkpointing import FORMAT, read_checkpoint
from foveate.training.checks import tiny_config
from foveate.training.fit import fit

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / f"checkpoint_format{FORMAT}.ckpt"
MODEL = "shallow_cnn"


def build(out: Path = OUT) -> Path:
    """Train the tiny model two steps in a temporary directory; copy its last checkpoint to
    ``out``."""
    config = tiny_config(
        MODEL,
        accelerator="cpu",
        limit_train_batches=2,
        checkpoint_every_n_steps=0,
        test_checkpoint="last",
    ).updated({"data": {"val_size": 64}})
    with tempfile.TemporaryDirectory() as run_dir:
        result = fit(config, run_dir)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(result.last_checkpoint, out)
    read_checkpoint(out)  # it reads back, its format checked
    return out


if __name__ == "__main__":
    path = build()
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
