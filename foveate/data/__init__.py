"""MNIST-style datasets, the shipped sample, task generators, and the DataModules models learn from."""

from foveate.data import datamodule, games, reading, scenes, sets  # noqa: F401  (registers the data sources)
