"""Training with Lightning: the registered training modules, checkpoints, configs, fit/evaluate."""

from foveate.training import classification, games, generation, reading, scenes, sets  # noqa: F401  (registers their modules)
