"""The weights a benchmark seed trained, kept where git keeps them: a safetensors file and its config.

Runs (``runs/``) do not outlive a session; a record's figure should still be checkable from its
weights. After each seed the runner exports the model of its best checkpoint as
``<folder>/seed<k>.safetensors`` (the plain ``nn.Module``'s state dict, with the run config in
the file's metadata) and ``seed<k>.yaml`` (the same config, for people), and the record names
the file with its SHA-256 and size.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import yaml
from safetensors.torch import load_model, save_model
from torch import nn

import foveate
from foveate.models import create_model
from foveate.training.checkpointing import WEIGHTS_CONFIG_KEY, read_weights_config
from foveate.training.config import RunConfig


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_weights(checkpoint: str | os.PathLike, path: str | os.PathLike) -> dict[str, Any]:
    """Write the model of ``checkpoint`` to ``path`` (.safetensors) and its config beside it
    (.yaml); returns ``{"path", "sha256", "bytes"}``."""
    model, config = foveate.load(checkpoint)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    resolved = yaml.safe_dump(config.as_dict(), sort_keys=False)
    save_model(model, str(path), metadata={WEIGHTS_CONFIG_KEY: resolved})
    path.with_suffix(".yaml").write_text(resolved)
    return {"path": str(path), "sha256": sha256(path), "bytes": path.stat().st_size}


SOURCE_KEY = "foveate_source_sha256"  # a compact copy's metadata: the weights it was made from


def compact_copy_path(path: str | os.PathLike, dtype: str) -> Path:
    """Where the ``dtype`` copy of the weights at ``path`` goes: seed0.float16.safetensors."""
    path = Path(path)
    return path.with_name(f"{path.stem}.{dtype}{path.suffix}")


def write_compact_copy(path: str | os.PathLike, dtype: str) -> Path:
    """Write the weights at ``path`` with every floating tensor in ``dtype`` ('float16'), the
    config kept and the source's SHA-256 in the metadata; returns the copy's path. Loading casts
    back to the model's float32 (``load_state_dict`` copies across dtypes)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = Path(path)
    with safe_open(str(path), framework="pt") as file:
        metadata = dict(file.metadata() or {})
        tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    wanted = getattr(torch, dtype)
    tensors = {k: v.to(wanted) if v.is_floating_point() else v for k, v in tensors.items()}
    copy = compact_copy_path(path, dtype)
    save_file(tensors, str(copy), metadata={**metadata, SOURCE_KEY: sha256(path)})
    return copy


def copy_source(path: str | os.PathLike) -> str | None:
    """The SHA-256 of the weights a compact copy was made from (None for weights as trained)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as file:
        return (file.metadata() or {}).get(SOURCE_KEY)


def weights_config(path: str | os.PathLike) -> RunConfig:
    """The run config saved in the metadata of weights written by ``export_weights`` (the file
    alone is enough: a downloaded one has no .yaml beside it)."""
    return RunConfig.from_dict(read_weights_config(path), source=str(path))


def load_weights(path: str | os.PathLike) -> tuple[nn.Module, RunConfig]:
    """The model (in eval mode) and run config of weights written by ``export_weights``."""
    path = Path(path)
    config = weights_config(path)
    model = create_model(config.model, **config.model_args)
    load_model(model, str(path))
    return model.eval(), config
