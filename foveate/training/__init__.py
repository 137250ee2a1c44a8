"""Training with Lightning: the registered training modules, checkpoints, configs, fit/evaluate."""

from foveate.registry import import_submodules

import_submodules(__name__)  # each module registers its training modules; no import list to join
