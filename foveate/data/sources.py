"""The registry of data sources: what a registered model learns from.

A data source is a ``LightningDataModule`` whose typed ``__init__`` is the config's ``data``
section. A model's registry entry names one (``@register_model(..., data="tasks")``); a source
registers with ``@DATA_SOURCES.register("name")``. Besides Lightning's loaders, the harness
uses these optional members of a source:

- ``input_shape``: (C, H, W) of its images, checked against the model before training;
- ``model_defaults()``: model arguments the data decides (``image_size``, ``channels``,
  ``num_classes``), filled in where a model takes them and the config leaves them out;
- ``record()``: the data section's settings that identify the data (the dataset, the task),
  written into every run record even when the config left them at their defaults;
- ``smoke_settings()`` (a classmethod): data settings that make any run over the source take
  seconds (a shipped sample, a few games), for the smoke runs of every benchmark and config.

A source with no dataset (an environment to act in) simply has neither.
"""

from __future__ import annotations

import lightning as L

from foveate.registry import Registry

DATA_SOURCES: Registry[type[L.LightningDataModule]] = Registry("data source")
