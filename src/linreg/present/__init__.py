"""What a run and a sweep show at once: a run's files and figures (``run_folder``, ``figures``,
``graphs``), the sweep's summary table (``summary``) and what its numbers say (``findings``)."""
