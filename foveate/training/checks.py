"""Checks every registered model passes, through the training module's public contract alone.

Each check takes a registered model's name (or a run config) and raises ``CheckFailed``, naming
the model and what failed. What a check uses is the contract and nothing else: the registry
entry's ``tiny`` arguments, the data source (its ``smoke_settings()`` where it offers them),
``build``, and the training module's ``batch_losses``, ``metrics`` and ``monitor``
(``foveate.training.module``). So a model registered from outside the package is checked the
same way as the library's own: ``tests/test_zoo.py`` runs these over every registered model and
config file, ``tests/test_extension.py`` over a model of a new kind registered by a test.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from foveate.models import model_entry
from foveate.training.config import RunConfig
from foveate.training.fit import build, data_source_class, training_module_class
from foveate.training.schema import signature_of


class CheckFailed(AssertionError):
    """A model that fails a check: the message names it and what went wrong."""


def smoke_data(model: str) -> dict[str, Any]:
    """Data settings that make a run over ``model``'s data source take seconds (the digits
    shipped in the package, a few games): the source's ``smoke_settings()``, else none."""
    source = data_source_class(model)
    return source.smoke_settings() if hasattr(source, "smoke_settings") else {}


def takes_compile(model: str) -> bool:
    """Whether ``model``'s training module can be built compiled (it takes ``compile``)."""
    parameters, _ = signature_of(training_module_class(model))
    return "compile" in parameters


def tiny_config(name: str, **trainer: Any) -> RunConfig:
    """A registered model at its ``tiny`` size, on its data source's smoke settings, one epoch."""
    return RunConfig.from_dict(
        {
            "model": name,
            "model_args": model_entry(name).tiny,
            "data": smoke_data(name),
            "trainer": {"max_epochs": 1, "progress_bar": False, **trainer},
        }
    )


def smoke_config(config: RunConfig) -> RunConfig:
    """``config`` on its data source's smoke settings (the shipped digits stand in for any
    dataset), nothing compiled."""
    optim = {"compile": False} if takes_compile(config.model) else {}
    return config.updated({"data": smoke_data(config.model), "optim": optim})


def first_batch(data: L.LightningDataModule) -> Any:
    """The first training batch of a data source."""
    data.setup("fit")
    return next(iter(data.train_dataloader()))


def _total(name: str, losses: dict[str, torch.Tensor]) -> torch.Tensor:
    total = losses.get("total")
    if not isinstance(total, torch.Tensor) or total.dim() != 0:
        raise CheckFailed(f"{name}: batch_losses(batch) has no scalar 'total' ({list(losses)})")
    if not torch.isfinite(total):
        raise CheckFailed(f"{name}: batch_losses(batch)['total'] is {total.item()}")
    return total


def check_trains_every_parameter(name: str, *, steps: int = 3, seed: int = 0) -> None:
    """On a tiny batch, every parameter gets a finite gradient from ``batch_losses(batch)
    ["total"]``, and ``steps`` Adam steps move every parameter (a gradient may be zero at the
    start by design: the STN's localisation network sits behind a zero-initialised layer)."""
    torch.manual_seed(seed)
    data, module, _ = build(tiny_config(name))
    batch = first_batch(data)
    _total(name, module.batch_losses(batch)).backward()
    for parameter_name, parameter in module.named_parameters():
        if parameter.grad is None:
            raise CheckFailed(f"{name}: {parameter_name} gets no gradient")
        if not torch.isfinite(parameter.grad).all():
            raise CheckFailed(f"{name}: {parameter_name} gets a gradient that is not finite")
    initial = {k: p.detach().clone() for k, p in module.named_parameters()}
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-3)
    for _ in range(steps):
        optimiser.zero_grad()
        _total(name, module.batch_losses(batch)).backward()
        optimiser.step()
    for parameter_name, parameter in module.named_parameters():
        if torch.equal(initial[parameter_name], parameter):
            raise CheckFailed(f"{name}: {steps} Adam steps leave {parameter_name} where it was")


def check_compiled_matches_eager(
    name: str, *, seed: int = 0, rtol: float = 1e-4, atol: float = 1e-4
) -> None:
    """With the same seed and the same state, the training module built with ``compile=True``
    and with ``compile=False`` give the same loss parts on a tiny batch. (A module that takes no
    ``compile`` is built twice alike: the check is then that its losses follow the seed.)"""
    config = tiny_config(name)
    compiles = takes_compile(name)
    torch.manual_seed(seed)
    data, eager, _ = build(config.updated({"optim": {"compile": False}} if compiles else {}))
    _, compiled, _ = build(config.updated({"optim": {"compile": True}} if compiles else {}))
    # A loss may update running statistics (AIR's NVIL signal normalisation): both passes
    # start from the same ones.
    compiled.load_state_dict(eager.state_dict())
    batch = first_batch(data)
    torch.manual_seed(seed)
    expected = eager.batch_losses(batch)
    torch.manual_seed(seed)
    got = compiled.batch_losses(batch)
    if expected.keys() != got.keys():
        raise CheckFailed(f"{name}: compiled parts {list(got)}, eager parts {list(expected)}")
    for key in expected:
        try:
            torch.testing.assert_close(got[key], expected[key], rtol=rtol, atol=atol)
        except AssertionError as error:
            first = str(error).strip().splitlines()[0]
            raise CheckFailed(f"{name}: compiled and eager {key!r} differ: {first}") from None


def _check_logged(name: str, logged: dict[str, Any], stage: str, declared: dict) -> None:
    prefix = f"{stage}_"
    for key in logged:
        if not key.startswith(prefix) or key[len(prefix) :] not in declared:
            raise CheckFailed(
                f"{name}: its {stage} logs {key!r}, which is not '{prefix}' + one of the "
                f"metrics its training module declares ({', '.join(declared)})"
            )


def check_reports_its_metrics(name: str) -> None:
    """On a batch of validation and one of test, the training module logs its ``monitor`` and
    nothing under ``val_`` or ``test_`` but its declared ``metrics``."""
    torch.manual_seed(0)
    data, module, _ = build(tiny_config(name))
    trainer = L.Trainer(
        accelerator="cpu",
        limit_val_batches=1,
        limit_test_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    (validated,) = trainer.validate(module, datamodule=data, verbose=False)
    if module.monitor not in validated:
        raise CheckFailed(f"{name}: validation does not log {module.monitor} (it logs {validated})")
    _check_logged(name, validated, "val", module.metrics)
    (tested,) = trainer.test(module, datamodule=data, verbose=False)
    if not tested:
        raise CheckFailed(f"{name}: its test logs nothing")
    _check_logged(name, tested, "test", module.metrics)


def check_config_trains_one_step(config: RunConfig) -> None:
    """``config`` builds and trains one step on its data source's smoke settings, uncompiled
    (``smoke_config``): some parameter moves, and its validation logs the module's monitor."""
    config = smoke_config(config)
    settings = config.trainer_settings()
    data, module, resolved = build(config)
    if resolved.model != config.model:
        raise CheckFailed(f"{config.source}: resolved to {resolved.model}, not {config.model}")
    trainer = L.Trainer(
        accelerator="cpu",
        fast_dev_run=1,
        precision=settings.precision,
        gradient_clip_val=settings.gradient_clip_val,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    before = [p.detach().clone() for p in module.parameters()]
    trainer.fit(module, datamodule=data)
    if all(torch.equal(b, p) for b, p in zip(before, module.parameters(), strict=True)):
        raise CheckFailed(f"{config.source}: a training step moves no parameter")
    if module.monitor not in trainer.callback_metrics:
        raise CheckFailed(f"{config.source}: its validation does not log {module.monitor}")
    validated = {k: v for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
    _check_logged(config.source, validated, "val", module.metrics)
