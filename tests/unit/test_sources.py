"""Operating points per source: the fit on synthetic scores, the file beside the model, scoring with it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from keyword_model import KeywordModel
from signals.calibration import apply_offset, choose_thresholds, fit_offset
from signals.models import ModelInfo
from signals.schema import SIGNALS
from signals.scoring import Scorer, load_scorer
from signals.sources import (
    SOURCES_FILE,
    Labels,
    SourceError,
    SourcePoint,
    Targets,
    fit_signal,
    fit_source,
    load_sources,
    write_source_entry,
)


def shifted_source(n: int = 400, shift: float = 2.0, seed: int = 0) -> Labels:
    """Scores a model gives a source whose true rate is ``shift`` logits above them (mild wording)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 3.0, n)
    y = (rng.uniform(size=n) < apply_offset(p, shift)).astype(int)
    sampled = rng.uniform(size=n) < 0.5
    return Labels(y, p, sampled)


def test_fit_offset_recovers_a_shift_and_keeps_order() -> None:
    labels = shifted_source(n=4000, shift=1.5, seed=1)
    c = fit_offset(labels.y, labels.p)
    assert c == pytest.approx(1.5, abs=0.2)
    q = apply_offset(labels.p, c)
    assert np.array_equal(np.argsort(q, kind="stable"), np.argsort(labels.p, kind="stable"))
    assert q.sum() == pytest.approx(labels.y.sum(), rel=1e-6)  # the source's rate, matched
    assert fit_offset(np.ones(5), np.full(5, 0.3)) == 0.0  # one class: no finite optimum


def test_source_thresholds_beat_the_global_ones_at_flag_on_the_held_back_part() -> None:
    labels = shifted_source()
    fit = fit_signal(labels, global_review=0.3, global_flag=0.7, targets=Targets())
    assert fit["fitted"] and fit["offset"] > 1
    back = fit["held_back"]
    assert back["n"] == 120 and back["fitted_on"] == 280
    assert back["f1_source"] > back["f1_global"] + 0.1
    assert back["global"]["tp"] + back["global"]["fn"] == back["positives"]
    assert fit["flag"] >= fit["review"]
    assert fit["review_from"] == "random sample"


def test_the_fit_reuses_the_global_rules() -> None:
    labels = shifted_source(seed=3)
    fit = fit_signal(labels, 0.3, 0.7, Targets(holdout=0))
    q = apply_offset(labels.p, fit["offset"])
    flag = choose_thresholds(labels.y, q, 0.9, 0.8)["flag"]
    review = choose_thresholds(labels.y[labels.sampled], q[labels.sampled], 0.9, 0.8)["review"]
    assert fit["review"] == pytest.approx(review, abs=1e-6)
    assert fit["flag"] == pytest.approx(max(flag, review), abs=1e-6)
    assert fit["held_back"] is None


def test_review_needs_random_sample_labels_else_keeps_the_global_one_through_the_offset() -> None:
    labels = shifted_source()
    ranked = Labels(labels.y, labels.p, np.zeros(len(labels.y), dtype=bool))
    fit = fit_signal(ranked, 0.3, 0.7, Targets())
    assert fit["fitted"] and fit["review_from"] == "global"
    assert fit["review"] == pytest.approx(float(apply_offset(np.array([0.3]), fit["offset"])[0]), abs=1e-6)


def test_too_few_labels_keep_the_global_thresholds() -> None:
    few = shifted_source(n=20)
    fit = fit_signal(few, 0.3, 0.7, Targets(min_labels=30))
    assert not fit["fitted"] and "fewer than 30" in fit["reason"]
    one_sided = Labels(np.r_[np.ones(3), np.zeros(60)].astype(int), np.linspace(0.01, 0.9, 63))
    fit = fit_signal(one_sided, 0.3, 0.7, Targets())
    assert not fit["fitted"] and "3 confirmed" in fit["reason"]


def _info() -> ModelInfo:
    return ModelInfo(name="keyword-test", version="1", format="keyword")


def test_file_beside_the_model_keeps_other_sources_and_ignores_other_versions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    entry = fit_source({"hate": shifted_source()}, _info(), Targets())
    assert entry["signals"]["hate"]["fitted"] and not entry["signals"]["threat"]["fitted"]
    write_source_entry(tmp_path, "city", entry)
    stale = {**entry, "model": {"name": "keyword-test", "version": "0"}}
    write_source_entry(tmp_path, "forum", stale)
    data = json.loads((tmp_path / SOURCES_FILE).read_text())
    assert set(data["sources"]) == {"city", "forum"}
    assert not list(tmp_path.glob(".sources-*"))  # no temporary file left behind
    with caplog.at_level(logging.WARNING):
        points = load_sources(tmp_path, _info())
    assert set(points) == {"city"}
    assert "fitted for keyword-test 0" in caplog.text
    city = points["city"]
    assert city.fitted == ("hate",) and city.offset["threat"] == 0.0
    assert city.flag["threat"] == _info().thresholds["flag"]["threat"]  # unfitted: global


def test_an_unreadable_file_is_ignored_when_scoring_and_never_overwritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / SOURCES_FILE).write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert load_sources(tmp_path, _info()) == {}
    assert "per-source operating points ignored" in caplog.text
    with pytest.raises(SourceError, match="cannot read"):
        write_source_entry(tmp_path, "city", {"model": {}})
    assert (tmp_path / SOURCES_FILE).read_text() == "{not json"


def test_scoring_with_and_without_a_source() -> None:
    info = _info()
    point = SourcePoint(
        "city",
        review={**info.thresholds["review"], "offensive": 0.06},
        flag={**info.thresholds["flag"], "offensive": 0.07},
        offset={s: 0.0 for s in SIGNALS} | {"offensive": 0.5},
        fitted=("offensive",),
    )
    scorer = Scorer(KeywordModel(), info, sources={"city": point})
    text = "the bus was late"  # no keyword: 0.05 for every signal
    plain = scorer.score(text)
    assert plain.operating_point == "global" and not plain.flags["offensive"]
    own = scorer.score(text, source="city")
    assert own.operating_point == "source:city"
    assert own.scores["offensive"] == pytest.approx(float(apply_offset(np.array([0.05]), 0.5)[0]))
    assert own.flags["offensive"] and own.review["offensive"]
    assert own.scores["hate"] == plain.scores["hate"] and not own.flags["hate"]
    assert scorer.score([text], source="elsewhere")[0].operating_point == "global"


def test_load_scorer_reads_the_file_and_ignores_a_stale_one_with_a_warning(
    keyword_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    entry = fit_source({"hate": shifted_source()}, _info(), Targets())
    write_source_entry(keyword_model_dir, "city", entry)
    assert load_scorer(keyword_model_dir).score("x", source="city").operating_point == "source:city"
    write_source_entry(
        keyword_model_dir, "city", {**entry, "model": {"name": "keyword-test", "version": "9"}}
    )
    with caplog.at_level(logging.WARNING):
        scorer = load_scorer(keyword_model_dir)
    assert scorer.sources == {} and "ignored" in caplog.text
    assert scorer.score("x", source="city").operating_point == "global"


def test_report_method_note_names_the_operating_point() -> None:
    import pandas as pd

    from signals.report import operating_point_note

    assert "global thresholds" in operating_point_note(pd.DataFrame({"operating_point": ["global"]}))
    note = operating_point_note(pd.DataFrame({"operating_point": ["source:city", "source:city", "global"]}))
    assert "'city' (2 answers)" in note and "1 answers scored before it was fitted" in note
    assert operating_point_note(pd.DataFrame({"text": ["x"]})) == ""
