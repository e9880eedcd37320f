"""The scorer's routes (issue 17): a second model for other languages inside one model directory."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from keyword_model import KeywordModel
from signals.models import ModelInfo
from signals.schema import SIGNALS
from signals.scoring import Route, Scorer, load_scorer

SPANISH = "Los inmigrantes son una plaga y hay que echarlos de aquí, son vermin."
ARABIC = "المهاجرون حشرات يجب طردهم من البلاد vermin"
GERMAN = "Diese Leute zerstören unsere Stadt, those people, und niemand tut etwas dagegen."


class ConstantModel:
    """Every signal 0.7 (a stand-in for the multilingual network)."""

    def predict_proba(self, texts: Any) -> np.ndarray:
        return np.full((len(texts), len(SIGNALS)), 0.7)


def second_info() -> ModelInfo:
    return ModelInfo(
        name="multi",
        version="m1",
        format="fake",
        languages=["es", "ar", "de"],
        signals_by_language={
            "es": ["hate", "polarization"],
            "ar": ["hate", "offensive", "polarization"],
            "de": ["polarization"],
        },
        thresholds={"review": dict.fromkeys(SIGNALS, 0.6), "flag": dict.fromkeys(SIGNALS, 0.65)},
    )


def routed_scorer(tmp_path: Path, sha256: str = "") -> tuple[Scorer, list[Path]]:
    (tmp_path / "model.onnx").write_bytes(b"fake onnx")
    # the route's sha256 is of the weights file its manifest's format names (model.onnx)
    dataclasses.replace(second_info(), format="onnx").save(tmp_path)
    loads: list[Path] = []

    def loader(directory: Path) -> tuple[Any, ModelInfo]:
        loads.append(directory)
        return ConstantModel(), second_info()

    route = Route(tmp_path, ["es", "ar", "de"], sha256, loader=loader)
    english = ModelInfo(name="kw", version="1", format="keyword")
    return Scorer(KeywordModel(), english, routes=[route]), loads


def test_texts_go_to_the_model_for_their_language(tmp_path: Path) -> None:
    scorer, loads = routed_scorer(tmp_path)
    assert scorer.languages == ("en", "es", "ar", "de") and scorer.supports("es-MX")
    english = scorer.score("you people are vermin")
    assert loads == []  # English alone never loads the second model
    es, en, ar, de, fr = scorer.score(
        [SPANISH, "you people are vermin", ARABIC, GERMAN, "Bonjour"],
        languages=[None, None, None, "de", "fr"],
    )
    assert len(loads) == 1
    assert en == english and set(en.scores) == set(SIGNALS) and en.flags["hate"]
    assert (es.language, ar.language, de.language) == ("es", "ar", "de")
    assert es.supported and set(es.scores) == {"hate", "polarization"} and es.scores["hate"] == 0.7
    assert es.flags == {"hate": True, "threat": False, "offensive": False, "polarization": True}
    assert set(ar.scores) == {"hate", "offensive", "polarization"} and ar.flags["offensive"]
    assert set(de.scores) == {"polarization"} and not de.flags["hate"] and not de.review["hate"]
    assert not fr.supported and fr.scores == {}
    # Each score names the model that made it: the route's own version, not the manifest's.
    assert (en.model_version, es.model_version, ar.model_version, de.model_version, fr.model_version) == (
        "1",
        "m1",
        "m1",
        "m1",
        "",
    )
    # Priority counts the scored signals only; spans carry them only.
    spans = scorer.score(GERMAN, spans=True, languages="de").spans
    assert spans and all(set(sp.scores) == {"polarization"} for sp in spans)
    scorer.score([SPANISH, ARABIC])
    assert len(loads) == 1  # loaded once


def test_signals_for_reads_the_manifest_without_loading(tmp_path: Path) -> None:
    scorer, loads = routed_scorer(tmp_path)
    second_info().save(tmp_path)
    assert scorer.signals_for("en") == SIGNALS
    assert scorer.signals_for("de") == ("polarization",) and loads == []
    assert scorer.signals_for("fr") == ()


def test_a_changed_model_file_is_refused(tmp_path: Path) -> None:
    scorer, _ = routed_scorer(tmp_path, sha256="0" * 64)
    assert scorer.score("you people are vermin").supported
    with pytest.raises(ValueError, match="sha256"):
        scorer.score(SPANISH, languages="es")
    good = hashlib.sha256(b"fake onnx").hexdigest()
    assert routed_scorer(tmp_path, sha256=good)[0].score(SPANISH, languages="es").scores["hate"] == 0.7


def test_english_scores_unchanged_by_a_route(tmp_path: Path) -> None:
    plain = Scorer(KeywordModel(), ModelInfo(name="kw", version="1", format="keyword"))
    scorer, _ = routed_scorer(tmp_path)
    texts = ["you people are vermin", "fix the potholes, you idiot. " * 40, "those people are traitors"]
    assert scorer.score(texts, spans=True) == plain.score(texts, spans=True)


def test_load_scorer_builds_routes_from_the_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from signals.models.baseline import BaselineModel

    texts = ["you are vermin", "nice park", "fix the road", "I hate those people"] * 5
    labels = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 1]] * 5)
    main, sub = tmp_path / "model", tmp_path / "model" / "multilingual"
    for directory, info in (
        (main, ModelInfo(name="en", version="1", format="baseline")),
        (sub, second_info()),
    ):
        BaselineModel(min_df=1).fit(texts, labels).save(directory)
        info.format = "baseline"
        info.save(directory)
    manifest = json.loads((main / "signals.json").read_text())
    manifest["routes"] = [{"path": "multilingual", "languages": ["es", "ar", "de"]}]
    (main / "signals.json").write_text(json.dumps(manifest))
    scorer = load_scorer(main)
    assert scorer.languages == ("en", "es", "ar", "de") and not scorer.routes[0].loaded
    assert set(scorer.score(GERMAN, languages="de").scores) == {"polarization"}
    assert scorer.routes[0].loaded
    # A deployment limited to some languages (SIGNALS_LANGUAGES): the others are unsupported and
    # their model never loads; the main model's own languages stay.
    monkeypatch.setenv("SIGNALS_LANGUAGES", "es, en")
    limited = load_scorer(main)
    assert limited.languages == ("en", "es") and limited.routes[0].languages == ("es",)
    german = limited.score(GERMAN, languages="de")
    assert not german.supported and not german.scores and not limited.routes[0].loaded
    monkeypatch.setenv("SIGNALS_LANGUAGES", "en")
    assert load_scorer(main).routes == [] and load_scorer(main).languages == ("en",)


def test_perspective_attributes_follow_the_signals_of_a_language(tmp_path: Path) -> None:
    from serve.errors import APIError
    from serve.routes.perspective import ATTRIBUTES, _languages

    scorer, loads = routed_scorer(tmp_path)
    second_info().save(tmp_path)
    assert _languages(["es"], ["IDENTITY_ATTACK", "TOXICITY"], scorer, "x") == (["es"], None)
    assert _languages(["de"], ["POLARIZATION"], scorer, "x") == (["de"], None)
    with pytest.raises(APIError) as raised:
        _languages(["de"], ["POLARIZATION", "INSULT"], scorer, "x")
    detail = raised.value.details[0]
    assert detail["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE" and "INSULT" in str(raised.value)
    # the languages that support the attribute, not every language of the model
    assert detail["languageNotSupportedByAttributeError"]["supportedLanguages"] == ["en", "ar"]
    assert loads == []  # deciding never loads the second model
    # TOXICITY of an Arabic text: the maximum of the signals scored there (no threat).
    assert ATTRIBUTES["TOXICITY"]({"hate": 0.2, "offensive": 0.6, "polarization": 0.9}) == 0.6
    assert ATTRIBUTES["TOXICITY"]({"hate": 0.2, "threat": 0.7, "offensive": 0.6}) == 0.7


def test_language_suites_score_through_the_routes(tmp_path: Path) -> None:
    from signals.functional import languages

    scorer, _ = routed_scorer(tmp_path)
    second_info().save(tmp_path)
    result = languages.run(scorer)
    assert set(result) == {"es", "ar"}
    # es scores hate and polarization only; every case scores 0.7 >= flag 0.65, so flagged.
    assert all(c["signal"] in {"hate", "polarization"} for c in result["es"]["cases"])
    positives = sum(c["expected"] for c in result["es"]["cases"])
    assert result["es"]["accuracy"] == positives / result["es"]["n"]
    assert languages.to_metrics(result)["func_ar_acc"] == result["ar"]["accuracy"]
    english = Scorer(KeywordModel(), ModelInfo(name="kw", version="1", format="keyword"))
    assert languages.run(english) == {}
    assert languages.training_leaks(["Hoy hace un día precioso para pasear por el parque!", "otra cosa"]) == [
        0
    ]


def test_a_language_uses_its_own_calibration_and_thresholds() -> None:
    info = second_info()
    # Arabic: its own flag point above the constant 0.7; German: calibration c=+2 on the logit.
    info.thresholds_by_language = {
        "ar": {"review": dict.fromkeys(SIGNALS, 0.5), "flag": dict.fromkeys(SIGNALS, 0.9)},
    }
    info.calibration_by_language = {"de": {"polarization": {"kind": "beta", "a": 1.0, "b": 1.0, "c": 2.0}}}
    scorer = Scorer(ConstantModel(), info)
    es, ar, de = scorer.score(["uno", "اثنان", "drei"], languages=["es", "ar", "de"])
    assert es.flags["hate"] and es.scores["hate"] == pytest.approx(0.7)
    assert ar.review["hate"] and not ar.flags["hate"] and ar.scores["hate"] == pytest.approx(0.7)
    expected = 1 / (1 + np.exp(-(np.log(0.7 / 0.3) + 2.0)))
    assert de.scores["polarization"] == pytest.approx(expected) and de.flags["polarization"]
    # Without languages, predict_proba calibrates globally; with them, per language.
    assert scorer.predict_proba(["drei"])[0, SIGNALS.index("polarization")] == pytest.approx(0.7)
    assert scorer.predict_proba(["drei"], ["de"])[0, SIGNALS.index("polarization")] == pytest.approx(expected)
