"""MNIST-style datasets, the shipped sample, task generators, and the DataModules models learn from."""

from foveate.registry import import_submodules

import_submodules(__name__)  # each module registers its data sources; no import list to join
