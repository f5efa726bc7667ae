"""The code of linreg's MLflow model (MLflow's "models from code"): MLflow copies this file into
the model and runs it when the model is loaded, so the model needs mlflow, numpy and pandas, not
linreg.  Its one artifact, ``theta.json``, holds the learned line in the data's original units
(a standardised run's standardisation is folded into θ; its mean and scale are kept there too,
for the record):  prediction = bias + Σ_j weights[j] · x_j."""

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd


class LinearModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        theta = json.loads(Path(context.artifacts["theta"]).read_text())
        self.features = theta["features"]
        self.target = theta["target"]
        self.bias = float(theta["bias"])
        self.weights = np.asarray(theta["weights"], dtype=np.float64)

    # the hint is the input's type (MLflow infers no schema from it: the signature holds one)
    def predict(self, context, model_input: pd.DataFrame, params=None):
        if isinstance(model_input, pd.DataFrame):  # by name: the columns may come in any order
            X = model_input[self.features].to_numpy(np.float64)
        else:
            X = np.asarray(model_input, dtype=np.float64).reshape(-1, len(self.features))
        return pd.Series(self.bias + X @ self.weights, name=self.target)


mlflow.models.set_model(LinearModel())
