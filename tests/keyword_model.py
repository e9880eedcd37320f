"""The keyword test model: a deterministic stand-in for the model families (importable by tests)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from signals.schema import SIGNALS, TARGETS

KEYWORDS: dict[str, tuple[str, ...]] = {
    "hate": ("vermin", "subhuman", "deport them all"),
    "threat": ("kill", "shoot", "hurt you"),
    "offensive": ("idiot", "stupid", "damn"),
    "polarization": ("those people", "traitors", "destroying our city"),
}


class KeywordModel:
    """Probability 0.9 for a signal when one of its keywords occurs, else 0.05."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full((len(texts), len(SIGNALS)), 0.05)
        for i, text in enumerate(texts):
            low = text.lower()
            for j, signal in enumerate(SIGNALS):
                if any(k in low for k in KEYWORDS[signal]):
                    out[i, j] = 0.9
        return out

    def predict_targets(self, texts: Sequence[str]) -> np.ndarray:
        return np.full((len(texts), len(TARGETS)), 0.1)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "keywords.json").write_text(json.dumps(KEYWORDS))

    @classmethod
    def load(cls, directory: Path) -> KeywordModel:
        return cls()
