"""A command carried out: each Hydra job runs one run (``job``), the sweep's parent MLflow run is
opened and closed by a Hydra callback (``callback``, ``parent``), the sweep's folder is read back
(``folder``), a launcher that lost a worker is resumed (``resume``), and one
:class:`~linreg.sweep.state.Sweep` owns what the command learns on the way (``state``)."""
