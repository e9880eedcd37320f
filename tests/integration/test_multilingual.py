"""The shipped model directory routes Spanish, Arabic and German to its multilingual model (issue 17)."""

from __future__ import annotations

import json

import pytest

from signals.scoring import DEFAULT_MODEL_DIR, load_scorer

pytestmark = pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "multilingual" / "signals.json").is_file(),
    reason="no shipped multilingual model",
)


def test_shipped_routes_score_the_issue_sentences() -> None:
    scorer = load_scorer(DEFAULT_MODEL_DIR)
    assert set(scorer.languages) >= {"en", "es", "ar", "de"} and not scorer.routes[0].loaded
    english = scorer.score("The immigrants are a plague and must be thrown out.")
    assert english.language == "en" and english.flags["hate"] and not scorer.routes[0].loaded
    spanish = scorer.score("Los inmigrantes son una plaga y hay que echarlos.")
    assert scorer.routes[0].loaded
    assert spanish.language == "es" and spanish.supported and spanish.flags["hate"]
    assert set(spanish.scores) == {"hate", "polarization"} and not spanish.flags["threat"]
    arabic = scorer.score("المهاجرون حشرات يجب طردهم")
    # Arabic hate is not served (docs/languages.md): absent, never a low score; offensive is.
    assert arabic.language == "ar" and set(arabic.scores) == {"offensive", "polarization"}
    assert arabic.flags["offensive"] and not arabic.flags["hate"]
    assert scorer.score("Bonjour à tous, la réunion est reportée à jeudi prochain.").supported is False


def test_manifest_records_the_routed_model_hash() -> None:
    import hashlib

    from signals.models import weights_file

    routes = json.loads((DEFAULT_MODEL_DIR / "signals.json").read_text())["routes"]
    assert [r["path"] for r in routes] == ["multilingual", "polar"]
    for route in routes:
        weights = weights_file(DEFAULT_MODEL_DIR / route["path"])
        assert hashlib.sha256(weights.read_bytes()).hexdigest() == route["sha256"]
        assert weights.stat().st_size < 40e6
    # the polarization route is arrays scored with numpy, not a pickle that needs scikit-learn
    assert weights_file(DEFAULT_MODEL_DIR / "polar").name == "baseline.npz"


def test_other_polar_languages_get_polarization_only() -> None:
    scorer = load_scorer(DEFAULT_MODEL_DIR)
    hostile = scorer.score("Либералы — предатели, которые ненавидят нашу страну.")
    calm = scorer.score("Городской совет обсудит новый автобусный маршрут в четверг вечером.")
    for score in (hostile, calm):
        assert score.language == "ru" and score.supported and set(score.scores) == {"polarization"}
        assert score.model_version.startswith("polar-baseline.v2") and not score.flags["hate"]
    assert hostile.scores["polarization"] > calm.scores["polarization"]
    italian = scorer.score("I politici di sinistra sono traditori che vogliono distruggere il paese.")
    assert italian.language == "it" and set(italian.scores) == {"polarization"}
    # Languages the identifier does not know: Burmese by its script, Hausa by its words, Punjabi when
    # the caller says so (its POLAR rows are in Shahmukhi, which reads as Urdu).
    burmese = scorer.score("မြို့တော်ဝန်က ဘတ်စ်ကားတွေကို ပြင်ဆင်ရမယ်")
    hausa = scorer.score("Wannan gwamnati ba ta damu da mutane ba, kuma duk abin da suke yi karya ne.")
    punjabi = scorer.score("ایہہ سیاست دان سارے چور نیں", languages="pa")
    for score, language in ((burmese, "my"), (hausa, "ha"), (punjabi, "pa")):
        assert score.language == language and score.supported and set(score.scores) == {"polarization"}
    # A script no model reads is not scored as the identifier's nearest language (Thai read as Khmer,
    # Gurmukhi as Swahili, which sent it to review), whether detected or given.
    thai = scorer.score("ภาษาไทยเป็นภาษาที่สวยงามมาก และคนไทยใจดี")
    gurmukhi = scorer.score("ਸਰਕਾਰ ਦੇ ਲੋਕ ਚੋਰ ਹਨ ਅਤੇ ਝੂਠ ਬੋਲਦੇ ਹਨ")
    given = scorer.score("ਸਰਕਾਰ ਦੇ ਲੋਕ ਚੋਰ ਹਨ ਅਤੇ ਝੂਠ ਬੋਲਦੇ ਹਨ", languages="pa-Guru")
    for score, language in ((thai, "th"), (gurmukhi, "pa-Guru"), (given, "pa-Guru")):
        assert score.language == language and not score.supported and not any(score.review.values())
