"""`signals calibrate --source`: a source's operating point from its labels, measured on a held-back part.

The acceptance point of issue 18 item 4: on a synthetic source whose answers carry hate in milder words
than the training corpus (so the model scores them lower), the source's own thresholds improve F1 at
``flag`` over the global ones on the labels held back, and the command reports it.
"""

from __future__ import annotations

import json
import os
import random
import stat
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from signals.calibration import apply_offset
from signals.cli import app
from signals.db import migrate
from signals.models import ModelInfo
from signals.models.baseline import BaselineModel
from signals.schema import SIGNALS
from signals.scoring import load_scorer
from signals.sources import SOURCES_FILE
from signals.triage import store
from signals.triage.store import NewDecision, NewItem

runner = CliRunner()

HATE_WORDS = ["vermin", "subhuman", "parasites", "invaders", "filth"]
THREAT_WORDS = ["shoot", "hurt", "kill"]
INSULT_WORDS = ["idiot", "stupid", "moron"]
POLAR_WORDS = ["traitors", "enemies", "destroying"]
BENIGN_WORDS = ["bus", "park", "road", "library", "school", "lights", "bins", "trees", "bridge", "water",
                "council", "street", "late", "clean", "repair", "children", "market", "noise"]  # fmt: skip


def _corpus(rng: random.Random) -> tuple[list[str], np.ndarray]:
    texts, rows = [], []
    groups = [(HATE_WORDS, 0), (THREAT_WORDS, 1), (INSULT_WORDS, 2), (POLAR_WORDS, 3), ([], None)]
    for _ in range(60):
        for words, signal in groups:
            picked = rng.sample(BENIGN_WORDS, 4) + (rng.sample(words, 2) if words else [])
            rng.shuffle(picked)
            texts.append(" ".join(picked))
            rows.append([1 if j == signal else 0 for j in range(len(SIGNALS))])
    return texts, np.array(rows)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (small) baseline model, global thresholds as if chosen on the corpora."""
    texts, y = _corpus(random.Random(0))
    directory = tmp_path_factory.mktemp("baseline")
    BaselineModel(min_df=1, word_max_features=2000, char_max_features=2000).fit(texts, y).save(directory)
    thresholds = {"review": {s: 0.3 for s in SIGNALS}, "flag": {s: 0.7 for s in SIGNALS}}
    ModelInfo(name="baseline-test", version="7", format="baseline", thresholds=thresholds).save(directory)
    return directory


def _source(db: str, model_dir: Path, n: int = 360, seed: int = 5) -> None:
    """A survey whose answers mention at most one hate word among many benign ones; analysts confirm hate
    far more often than the model's scores say (a 2.5 logit shift), half of them from a random sample."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        words = rng.sample(BENIGN_WORDS, rng.randint(3, 9)) + rng.sample(HATE_WORDS, rng.choice([0, 0, 1]))
        rng.shuffle(words)
        items.append(NewItem("city-2025", f"r{i}", " ".join(words)))
    scorer = load_scorer(model_dir)
    results = store.add_items(items, scorer, url=db, redact_pii=False)
    p = np.array([s.scores["hate"] for s in scorer.score([it.text for it in items])])
    truth = np.random.default_rng(seed).uniform(size=n) < apply_offset(p, 2.5)
    ids = [r.id for r in results]
    store.draw_sample("city-2025", n // 2, seed=1, url=db)
    decisions = [
        NewDecision(i, "hate", "confirm" if t else "reject") for i, t in zip(ids, truth, strict=True)
    ]
    decisions += [NewDecision(i, "threat", "reject") for i in ids[:12]]  # too few for threat
    store.record_decisions(decisions, "ana", url=db)


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    migrate(url)
    return url


def _calibrate(db: str, model: Path | str, *extra: str) -> object:
    return runner.invoke(
        app, ["calibrate", "--source", "city-2025", "--model", str(model), "--database-url", db, *extra]
    )


def test_source_thresholds_improve_f1_at_flag_on_the_held_back_labels(
    db: str, model_dir: Path, tmp_path: Path
) -> None:
    _source(db, model_dir)
    result = _calibrate(db, model_dir)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    said = " ".join(result.output.split())  # type: ignore[attr-defined]
    assert "keeps the global thresholds" in said and "12 labels, fewer than 30" in said
    entry = json.loads((model_dir / SOURCES_FILE).read_text())["sources"]["city-2025"]
    assert entry["model"] == {"name": "baseline-test", "version": "7"}
    hate = entry["signals"]["hate"]
    back = hate["held_back"]
    print(f"held-back hate F1 at flag: global {back['f1_global']:.3f} -> source {back['f1_source']:.3f} "
          f"({back['n']} labels, {back['positives']} positive)")  # fmt: skip
    assert back["n"] == 108 and back["f1_source"] > back["f1_global"] + 0.05
    assert f"{back['f1_source']:.3f}" in said and f"{back['f1_global']:.3f}" in said
    assert hate["offset"] > 0 and hate["review_from"] == "random sample"
    assert not entry["signals"]["threat"]["fitted"]

    # Scoring that source now uses its point, everywhere: the library, `score --source`, the store.
    scorer = load_scorer(model_dir)
    text = "the bus was late again vermin"
    assert scorer.score(text, source="city-2025").operating_point == "source:city-2025"
    assert scorer.score(text).operating_point == "global"
    out = runner.invoke(app, ["score", "--text", text, "--model", str(model_dir), "--source", "city-2025"])
    assert out.exit_code == 0 and json.loads(out.stdout)["operating_point"] == "source:city-2025"
    (added,) = store.add_items([NewItem("city-2025", "late", text)], scorer, url=db)
    assert store.items_by_id([added.id], url=db)[added.id].operating_point == "source:city-2025"
    (other,) = store.add_items([NewItem("forum", "late", text)], scorer, url=db)
    assert store.items_by_id([other.id], url=db)[other.id].operating_point == "global"


def test_calibrate_source_errors_are_one_line_with_exit_2(db: str, model_dir: Path, tmp_path: Path) -> None:
    unknown = _calibrate(db, model_dir)
    assert unknown.exit_code == 2 and "no items of source 'city-2025'" in unknown.output  # type: ignore[attr-defined]
    store.add_items([NewItem("city-2025", "a", "the park is lovely")], load_scorer(model_dir), url=db)
    unlabelled = _calibrate(db, model_dir)
    said = " ".join(unlabelled.output.split())  # type: ignore[attr-defined]
    assert unlabelled.exit_code == 2 and "no confirm/reject decisions" in said  # type: ignore[attr-defined]
    registry = _calibrate(db, "models:/signals@champion")
    assert registry.exit_code == 2 and "needs a model directory" in registry.output  # type: ignore[attr-defined]
    not_a_model = _calibrate(db, tmp_path)
    assert not_a_model.exit_code == 2 and "not a signals model directory" in not_a_model.output  # type: ignore[attr-defined]
    for result in (unknown, unlabelled, registry, not_a_model):
        assert "Traceback" not in result.output  # type: ignore[attr-defined]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_model_directory_is_refused_and_left_as_it_was(db: str, model_dir: Path) -> None:
    _source(db, model_dir, n=80)
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    mode = model_dir.stat().st_mode
    model_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = _calibrate(db, model_dir)
    finally:
        model_dir.chmod(mode)
    assert result.exit_code == 2 and "cannot write into the model directory" in result.output  # type: ignore[attr-defined]
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
