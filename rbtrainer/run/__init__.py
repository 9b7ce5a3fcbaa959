"""The training loop: :class:`~rbtrainer.run.loop.TrainingRun` with its statistics
(:mod:`rbtrainer.run.stats`), hooks (:mod:`rbtrainer.run.hooks`) and typed state
(:mod:`rbtrainer.run.state`). The package imports nothing itself, so that its leaf modules can be
imported on their own; ``rbtrainer`` re-exports the public names."""
