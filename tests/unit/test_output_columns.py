"""``signals.batch.output_columns``: the one builder of the ``p_*``/``flag_*`` batch contract."""

from __future__ import annotations

import pandas as pd

from signals.batch import OUTPUT_COLUMNS, output_columns
from signals.schema import SIGNALS, Score


def _score(p: float) -> Score:
    return Score(
        scores=dict.fromkeys(SIGNALS, p),
        review={s: p >= 0.3 for s in SIGNALS},
        flags={s: p >= 0.5 for s in SIGNALS},
        priority=p,
    )


def test_text_cells_for_csv() -> None:
    out = output_columns([_score(0.9), None, _score(0.1)], index=pd.Index([5, 6, 7]), as_text=True)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert list(out.index) == [5, 6, 7]
    assert out.loc[5, "p_hate"] == "0.900000" and out.loc[5, "flag_hate"] == "1"
    assert out.loc[6, "p_hate"] == "" and out.loc[6, "flag_threat"] == ""
    assert out.loc[7, "p_hate"] == "0.100000" and out.loc[7, "flag_hate"] == "0"


def test_numbers_for_pyfunc() -> None:
    out = output_columns([_score(0.9), _score(0.1)])
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out["p_hate"].dtype == float and out["flag_hate"].dtype == "int64"
    assert out["flag_hate"].tolist() == [1, 0]


def test_numbers_with_a_missing_score() -> None:
    out = output_columns([None, _score(0.9)])
    assert pd.isna(out.loc[0, "p_hate"]) and pd.isna(out.loc[0, "flag_hate"])
    assert out.loc[1, "flag_hate"] == 1
