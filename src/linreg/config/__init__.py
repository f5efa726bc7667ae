"""What a command asks for, checked: conf/ composed with Hydra's public API, typed into plain
dataclasses for the core, and every value checked before anything runs.

``schema`` (each key's type) · ``paths`` (the project, conf/, the stages' folders, the store's
place) · ``compose`` (Hydra's compose) · ``typed`` (a composed config as a :class:`RunConfig`) ·
``data`` (a run's data) · ``params`` (params.yaml as overrides) · ``checks`` (fail fast) ·
``writable`` (the folders a command will write) · ``hydra_errors`` (Hydra's and OmegaConf's errors
as one line) · ``plugins`` (the launchers and sweepers linreg knows) · ``resolvers``
(``${linreg.run_folder:}``, ``${linreg.critical_lr:k}``).
"""

from linreg.config import resolvers

resolvers.register()
