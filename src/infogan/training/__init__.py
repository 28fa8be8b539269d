"""Training, one concern a module; the data's way through reads top to bottom:

- :mod:`~infogan.training.step`: one InfoGAN iteration (D and Q, then G, then a measuring pass);
- :mod:`~infogan.training.objectives`: the information term, and what the project adds to
  the paper's objective (the clustering term, codes read from transformed copies);
- :mod:`~infogan.training.loop`: batches, metrics on the device, signals, callbacks;
- :mod:`~infogan.training.writer`: the callback that writes grids, metrics and checkpoints;
- :mod:`~infogan.training.rundir`: the run directory's files (read by the report too);
- :mod:`~infogan.training.preflight`: what a run checks before it writes (the run to resume,
  the data);
- :mod:`~infogan.training.reseed`: the starved-code reseed callback;
- :mod:`~infogan.training.run`: ``train`` and ``resume``: build everything, under torchrun too.

This file imports none of them, so that reading a run directory loads no trainer.
"""
