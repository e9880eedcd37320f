"""Run the real app on 127.0.0.1 with a keyword fake model: the durability test and bench start it
as a subprocess so they can kill -9 it.

    python tests/integration/triage_live_server.py --database-url sqlite:///x.db --port 8765
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import uvicorn
from serve.main import create_app
from serve.settings import Settings

from signals.models import ModelInfo
from signals.schema import SIGNALS, TARGETS
from signals.scoring import Scorer

WORDS = {"hate": "vermin", "threat": "kill", "offensive": "idiot", "polarization": "traitors"}


class KeywordModel:
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full((len(texts), len(SIGNALS)), 0.05)
        for i, text in enumerate(texts):
            for j, signal in enumerate(SIGNALS):
                if WORDS[signal] in text.lower():
                    out[i, j] = 0.9
        return out

    def predict_targets(self, texts: Sequence[str]) -> np.ndarray:
        return np.full((len(texts), len(TARGETS)), 0.1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    scorer = Scorer(KeywordModel(), ModelInfo(name="keyword", version="1", format="fake"))
    app = create_app(Settings(database_url=args.database_url, rate_limit=0), loader=lambda _uri: scorer)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
