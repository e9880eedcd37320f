"""``signals.language.detect``: the rules, and the Scorer's routing on the language it gives."""

from __future__ import annotations

import numpy as np
import pytest

from keyword_model import KeywordModel
from signals.language import (
    DEFAULT_LANGUAGE,
    IDENTIFIER_BATCH,
    IDENTIFIER_CHARS,
    IDENTIFIER_WINDOW,
    LANGUAGES,
    _identifier,
    detect,
    detect_many,
    normalize_code,
)
from signals.models import ModelInfo
from signals.schema import SIGNALS
from signals.scoring import Scorer

SPANISH = "Los inmigrantes son una plaga y hay que echarlos."
ARABIC = "المهاجرون حشرات يجب طردهم"


@pytest.mark.parametrize(
    ("text", "language", "rule"),
    [
        (SPANISH, "es", "identified"),
        (ARABIC, "ar", "identified"),
        ("Die Busse kommen immer zu spät, das ist ein Skandal.", "de", "identified"),
        ("The bus is always late and nobody at the council cares.", "en", "identified"),
        ("No.", "en", "short"),  # too few letters to tell: the default language
        ("Sí, claro", "en", "short"),
        ("حشرات", "ar", "script"),  # short, but Arabic script is never English
        ("Tôi không gặp vấn đề gì ở khu phố này, hàng xóm của tôi đều rất thân thiện.", "en", "uncertain"),
        # Burmese and Hausa: languages the identifier does not know, told by their script and words
        ("မြို့တော်ဝန်က ဘတ်စ်ကားတွေကို ပြင်ဆင်ရမယ်", "my", "script"),
        ("ဘတ်စ်ကား", "my", "script"),  # short, but Myanmar letters are Burmese
        ("Wannan gwamnati ba ta damu da mutane ba, kuma duk abin da suke yi karya ne.", "ha", "words"),
        # scripts no served language is written in: their own language, which no model scores
        ("ภาษาไทยเป็นภาษาที่สวยงามมาก และคนไทยใจดี", "th", "script"),
        ("한국어는 아름다운 언어입니다 그리고 사람들은 친절합니다", "ko", "script"),
        ("日本語はとても美しい言語です。人々は親切です。", "ja", "script"),
        ("עברית היא שפה יפה מאוד והאנשים נחמדים", "he", "script"),
        ("ਪੰਜਾਬੀ ਬੋਲੀ ਬਹੁਤ ਮਿੱਠੀ ਹੈ ਅਤੇ ਲੋਕ ਚੰਗੇ ਹਨ", "pa-Guru", "script"),
        ("中国政府应该改善公共交通", "zh", "identified"),  # Chinese characters without kana
        ("The café in Αθήνα was great and the staff were friendly to everyone.", "en", "identified"),
        # English with a Hausa-looking word or two stays English
        ("Ya know, da bus is late again and nobody at the council cares.", "en", "identified"),
    ],
)
def test_rules(text: str, language: str, rule: str) -> None:
    found = detect(text)
    assert (found.language, found.rule) == (language, rule)
    assert found.rule == "short" or 0.0 < found.confidence <= 1.0


def test_capitals_stay_english() -> None:
    for text in [
        "THE COUNCIL NEVER LISTENS TO US ABOUT THE POTHOLES ON MAIN STREET",
        "STOP WASTING OUR TAX MONEY ON STUPID PROJECTS!!!",
        "MORE BIKE LANES PLEASE, AND FIX THE LIGHTS ON ELM AVENUE",
    ]:
        assert detect(text).language == "en", text
    assert detect(SPANISH.upper()).language == "es"


def test_mixed_text_takes_the_language_of_most_of_it() -> None:
    english = "The park is lovely and the staff are kind. We go every weekend with the children. "
    spanish = "El parque es precioso y el personal es amable. Vamos cada fin de semana con los niños. "
    assert detect(english * 3 + spanish).language == "en"
    assert detect(english + spanish * 3).language == "es"


def test_batch_identifier_answers_as_py3langid() -> None:
    """The vectorized identifier gives py3langid's own answers, at every batch size and text length."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    texts = [
        SPANISH, ARABIC, "", " ", "a", "ÄÖÜ!", "12345", "\ud800 lone surrogate", "THE BUS IS LATE AGAIN",
        "Die Busse kommen immer zu spät, das ist ein Skandal.", "中国政府应该改善公共交通", "ok " * 400,
        "The park is lovely and the staff are kind, we go every weekend.", "Ça coûte cher, très cher.",
    ]  # fmt: skip
    py3langid = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    py3langid.set_languages(list(LANGUAGES))
    reference = [py3langid.classify(t) for t in texts]
    identifier = _identifier()
    for batch in (texts, texts[:1], texts * (IDENTIFIER_BATCH // len(texts) + 1)):
        got = identifier.classify(batch)
        expected = [reference[i % len(texts)] for i in range(len(batch))]
        assert [c for c, _ in got] == [c for c, _ in expected]
        assert np.allclose([p for _, p in got], [p for _, p in expected], atol=1e-5)
    # its automaton, kept in 2 bytes and 1 bit a transition, is py3langid's
    index = np.arange(0, len(py3langid.tk_nextmove), 997)
    assert (identifier.next_state(index) == np.asarray(py3langid.tk_nextmove)[index]).all()
    # more than one chunk of ``IDENTIFIER_BATCH`` texts, and one of ``IDENTIFIER_CHARS`` characters
    long = "The bus is late again. " * (IDENTIFIER_CHARS // 20)
    batch = texts * 30 + [long] + texts
    assert detect_many(batch) == [detect(t) for t in texts] * 30 + [detect(long)] + [detect(t) for t in texts]


def test_identifier_window_covers_the_automaton() -> None:
    """Every state of py3langid's automaton is reached within ``IDENTIFIER_WINDOW`` bytes from the start,
    so a byte's state depends on the last ``IDENTIFIER_WINDOW`` bytes only (what the batch relies on)."""
    model = _identifier()
    depth = np.full(len(model.row_base), -1)
    depth[0], frontier, steps = 0, np.array([0]), 0
    while len(frontier):
        steps += 1
        reached = np.unique(model.next_state((model.row_base[frontier][:, None] + np.arange(256)).ravel()))
        frontier = reached[depth[reached] < 0]
        depth[frontier] = steps
    assert depth.min() >= 0 and depth.max() <= IDENTIFIER_WINDOW


def test_default_and_codes() -> None:
    assert DEFAULT_LANGUAGE == "en" and DEFAULT_LANGUAGE in LANGUAGES
    assert detect("Ok", default="de").language == "de"
    assert [normalize_code(c) for c in ("en-US", "EN_gb", " es ")] == ["en", "en", "es"]
    # a script the language's model does not read is kept, so the tag is not scored as that language
    assert [normalize_code(c) for c in ("pa-Guru", "pa_guru", "pa-Arab")] == ["pa-Guru", "pa-Guru", "pa"]


def test_scorer_scores_only_its_languages() -> None:
    scorer = Scorer(KeywordModel(), ModelInfo(name="kw", version="1", format="keyword"))
    english, spanish = scorer.score(["you people are vermin", "esos inmigrantes son una plaga, vermin"])
    assert english.supported and english.language == "en" and english.flags["hate"]
    assert not spanish.supported and spanish.language == "es"
    assert spanish.scores == {} and spanish.targets == {} and spanish.spans == []
    assert not any(spanish.flags.values()) and not any(spanish.review.values()) and spanish.priority == 0.0
    # A language the caller knows is not detected again; a model that declares Spanish scores it.
    assert not scorer.score("vermin everywhere", languages="es-MX").supported
    bilingual = Scorer(
        KeywordModel(), ModelInfo(name="kw", version="1", format="keyword", languages=["en", "es"])
    )
    both = bilingual.score(["esos inmigrantes son una plaga, vermin"])[0]
    assert (
        both.supported and both.language == "es" and set(both.scores) == set(SIGNALS) and both.flags["hate"]
    )
    with pytest.raises(ValueError, match="2 languages for 1 texts"):
        scorer.score(["one"], languages=["en", "es"])


def test_manifest_without_languages_is_english(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    ModelInfo(name="kw", version="1", format="keyword").save(tmp_path)
    data = json.loads((tmp_path / "signals.json").read_text())
    assert data["languages"] == ["en"]
    del data["languages"]
    (tmp_path / "signals.json").write_text(json.dumps(data))
    assert ModelInfo.load(tmp_path).languages == ["en"]
