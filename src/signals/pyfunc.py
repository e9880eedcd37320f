"""The MLflow pyfunc flavour of a signals model (kept apart so importing tracking stays light).

``mlflow.pyfunc.load_model("models:/signals@champion").predict(df)`` takes a frame with a ``text``
column and returns ``p_<signal>`` and ``flag_<signal>`` columns, the same contract as ``signals score``
and ``mlflow.pyfunc.spark_udf``.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd

from signals.tracking import score_frame


class SignalsPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """Pyfunc over a signals model directory logged as the artifact ``model_dir``."""

    def load_context(self, context: Any) -> None:
        from signals.scoring import load_scorer

        self.model_dir = context.artifacts["model_dir"]
        self.scorer = load_scorer(self.model_dir)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        if isinstance(model_input, pd.Series):
            model_input = model_input.to_frame("text")
        if "text" not in model_input.columns:
            model_input = model_input.rename(columns={model_input.columns[0]: "text"})
        return score_frame(self.scorer, model_input)
