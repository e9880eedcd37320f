"""Polis open data: the unlabelled-comment adapter, the civic development set's loader and its halves."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from corpus_fixtures import corpora_dir
from signals.corpora import CorpusFormatError, CorpusNotFoundError
from signals.corpora.polis_opendata import (
    GROUP_WORDS,
    LABEL_COLUMNS,
    comment_id,
    in_training_half,
    load_civic_dev,
    load_civic_train,
    read_comments,
    read_label_file,
    weak_negatives,
)
from signals.schema import SIGNALS, UNKNOWN
from signals.training import CivicData

LABELS = Path(__file__).resolve().parents[1] / "fixtures" / "civic" / "labels.csv"
TRAIN_LABELS = LABELS.with_name("train_labels.csv")


def test_comments_are_read_per_language_without_labels() -> None:
    english = list(read_comments(corpora_dir()))
    assert len(english) == 19  # 20 rows, one empty
    assert all(r.lang == "en" and set(r.labels.values()) == {UNKNOWN} for r in english)
    assert english[0].id == "polis-opendata:15-per-hour-seattle:0"
    german = list(read_comments(corpora_dir(), ["de"]))
    assert [r.lang for r in german] == ["de"] * 3


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusNotFoundError, match="polis-opendata"):
        list(read_comments(tmp_path))


def test_civic_dev_joins_labels_to_texts() -> None:
    examples = load_civic_dev(corpora_dir(), LABELS)
    assert len(examples) == 6
    insult = next(e for e in examples if e.record.id.endswith(":7"))
    assert insult.record.text.startswith("Those idiots")
    assert insult.record.labels == {"hate": 0, "threat": 0, "offensive": 1, "polarization": 0}
    assert insult.draw == "top-offensive" and insult.note


def test_changed_text_is_refused_naming_the_row(tmp_path: Path) -> None:
    root = tmp_path / "corpora"
    shutil.copytree(corpora_dir() / "polis-opendata", root / "polis-opendata")
    path = root / "polis-opendata" / "15-per-hour-seattle" / "comments.csv"
    path.write_text(path.read_text().replace("Those idiots", "Those people"))
    with pytest.raises(CorpusFormatError, match=r"data row 5: the text of 15-per-hour-seattle/7 changed"):
        load_civic_dev(root, LABELS)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s.replace(",random,0,0,0,0,\n", ",random,0,2,0,0,\n", 1),
            "column 'threat': expected 0 or 1",
        ),
        (lambda s: s + s.splitlines()[1] + "\n", "repeats a"),
        (lambda s: s.replace("draw,", "drawn,", 1), "lacks column"),
    ],
)
def test_bad_label_files_are_refused(tmp_path: Path, edit: object, message: str) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text(edit(LABELS.read_text()))  # type: ignore[operator]
    with pytest.raises(CorpusFormatError, match=message):
        read_label_file(bad)


def test_committed_labels_are_complete() -> None:
    frame = read_label_file()
    assert list(frame.columns) == list(LABEL_COLUMNS)
    assert len(frame) >= 600
    assert (frame["draw"] == "random").sum() >= 400
    assert {d.split("-")[0] for d in frame["draw"]} <= {"random", "top", "baseline", "group"}


@pytest.mark.parametrize(
    ("text", "names_a_group"),
    [
        ("I identify as an American-Muslim woman.", True),
        ("Refugee neighbors enrich our city.", True),
        ("Trans women are women", True),
        ("Men have no business making these laws.", True),
        ("Fix the potholes on Main Street.", False),
        ("The transit plan is late again.", False),  # "trans" only as a whole word
        ("Our mentors and womenswear shops", False),
    ],
)
def test_group_words(text: str, names_a_group: bool) -> None:
    assert bool(GROUP_WORDS.search(text)) is names_a_group


def test_weak_negatives_are_the_unlabelled_training_half() -> None:
    negatives = weak_negatives(corpora_dir(), LABELS, TRAIN_LABELS)
    labelled = {f"polis-opendata:15-per-hour-seattle:{i}" for i in (0, 1, 14, 11, 7, 8)}
    assert negatives and all(in_training_half(r.id) and r.id not in labelled for r in negatives)
    assert all(
        r.labels == {"hate": 0, "threat": 0, "offensive": UNKNOWN, "polarization": UNKNOWN} for r in negatives
    )


def test_civic_training_labels_are_training_half_rows_outside_the_dev_set(tmp_path: Path) -> None:
    examples = load_civic_train(corpora_dir(), TRAIN_LABELS, LABELS)
    assert [e.record.id.rsplit(":", 1)[1] for e in examples] == ["4", "10"]
    assert all(set(e.record.labels.values()) == {0} for e in examples)
    negatives = {r.id for r in weak_negatives(corpora_dir(), LABELS, TRAIN_LABELS)}
    assert negatives and not negatives & {e.record.id for e in examples}
    none = tmp_path / "none.csv"
    none.write_text(TRAIN_LABELS.read_text().splitlines()[0] + "\n")
    assert negatives < {r.id for r in weak_negatives(corpora_dir(), LABELS, none)}


def test_civic_training_labels_of_chosen_draws_leave_the_rest_weak_negatives() -> None:
    kept = load_civic_train(corpora_dir(), TRAIN_LABELS, LABELS, draws=["top-hate"])
    assert [e.record.id.rsplit(":", 1)[1] for e in kept] == ["10"]
    negatives = {r.id for r in weak_negatives(corpora_dir(), LABELS, TRAIN_LABELS, draws=["top-hate"])}
    assert "polis-opendata:15-per-hour-seattle:4" in negatives
    assert "polis-opendata:15-per-hour-seattle:10" not in negatives


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("15-per-hour-seattle,2,efe018e8,random,0,0,0,0,", "data row 3: .*:2 is in the held-out half"),
        ("15-per-hour-seattle,0,e090c56e,random,0,0,0,0,", "data row 3: .*:0 is in the development set"),
    ],
)
def test_civic_training_labels_refuse_held_out_and_dev_rows(tmp_path: Path, row: str, message: str) -> None:
    bad = tmp_path / "train_labels.csv"
    bad.write_text(TRAIN_LABELS.read_text() + row + "\n")
    with pytest.raises(CorpusFormatError, match=message):
        load_civic_train(corpora_dir(), bad, LABELS)


def test_committed_training_labels_load() -> None:
    frame = read_label_file(
        Path(__file__).resolve().parents[2] / "src/signals/corpora/polis_civic_train_labels.csv"
    )
    assert len(frame) >= 400 and list(frame.columns) == list(LABEL_COLUMNS)
    ids = [comment_id(c, i) for c, i in zip(frame["conversation"], frame["comment_id"], strict=True)]
    assert all(in_training_half(i) for i in ids)
    dev = read_label_file()
    assert not set(ids) & {
        comment_id(c, i) for c, i in zip(dev["conversation"], dev["comment_id"], strict=True)
    }


def test_civic_data_pool_is_the_held_out_half() -> None:
    civic = CivicData.load(corpora_dir(), LABELS)
    assert civic.labels.shape == (6, len(SIGNALS))
    assert civic.sample.tolist() == [True, True, True, True, False, False]
    held_out = [r.text for r in read_comments(corpora_dir()) if not in_training_half(r.id)]
    assert civic.pool == held_out
    assert not set(civic.pool) & {r.text for r in weak_negatives(corpora_dir(), LABELS, TRAIN_LABELS)}
    assert np.isin(civic.labels, (0, 1)).all()
