"""Sentence splitting: spaCy's sentencizer (blank English pipeline), loaded without torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from signals import scoring
from signals.scoring import DEFAULT_MODEL_DIR, blocked_imports, sentence_spans

TEXT = "Fix the road. Thanks!  Really?\nYes, the bus is late again"


def test_spans_are_trimmed_sentences_and_lines() -> None:
    spans = sentence_spans(TEXT)
    assert [TEXT[b:e] for b, e in spans] == [
        "Fix the road.",
        "Thanks!",
        "Really?",
        "Yes, the bus is late again",
    ]


def test_regex_fallback_without_spacy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring, "_sentencizer", lambda: None)
    assert [TEXT[b:e] for b, e in sentence_spans(TEXT)] == [
        "Fix the road.",
        "Thanks!",
        "Really?",
        "Yes, the bus is late again",
    ]


def test_blocked_imports_is_temporary() -> None:
    name = "signals_test_never_a_module"
    with blocked_imports([name]), pytest.raises(ImportError):
        __import__(name)
    assert name not in sys.modules


CHILD = textwrap.dedent(
    """
    import sys
    from signals import scoring
    scorer = scoring.load_scorer(sys.argv[1])
    text = "The bus is late again. " * 400 + "Those immigrants are vermin."
    score = scorer.score(text, spans=True)
    nlp = scoring._sentencizer()
    assert nlp is not None and nlp.pipe_names == ["sentencizer"], nlp
    assert len(score.spans) > 1
    print(",".join(m for m in ("torch", "transformers") if m in sys.modules) or "-")
    """
)


def test_scoring_process_never_imports_torch() -> None:
    """A fresh process that loads the shipped scorer and scores long text uses spaCy without torch."""
    if not (DEFAULT_MODEL_DIR / "signals.json").is_file():
        pytest.skip("no shipped model in models/default")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(DEFAULT_MODEL_DIR)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "-"
