"""linreg: linear regression by gradient descent, from a walkthrough to a DVC + Hydra + MLflow lab.

The library is ``linreg.core`` (data, losses, backends, optimiser, evaluation: plain functions on
arrays).  The pipeline stages are the modules ``linreg.generate``, ``linreg.train`` and
``linreg.evaluate``, named as their DVC stages.
"""

__version__ = "0.1.0"
