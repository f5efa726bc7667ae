"""What one run leaves, and how it ends: its record (``record``: RunRecord, result.json, the
MLflow names of its numbers), its name (``names``), its per-epoch series thinned for MLflow
(``thinning``) and the signals that stop it cleanly (``signals``).  Nothing here composes a
config or talks to MLflow."""
