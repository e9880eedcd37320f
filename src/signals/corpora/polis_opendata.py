"""Polis open data: real, unlabelled public deliberation comments, and the team's civic development set.

Each conversation is a folder ``<corpora>/polis-opendata/<conversation>/comments.csv`` with the columns
``timestamp, datetime, comment-id, author-id, agrees, disagrees, moderated, comment-body``. The comments
carry no label for any signal (``moderated`` is a moderator's accept/reject for any reason), so
``read_comments`` yields Records whose signals are all unknown. They are not in the training registry
(``signals.corpora.ADAPTERS``): they are what users will score, not training data.

The civic development set (docs/civic-labels.md) is the team's labels for a sample of the English
comments. Only ids and labels are committed (``polis_civic_labels.csv`` beside this module);
``load_civic_dev`` joins them to the shared files and refuses a label whose comment is missing or
changed.

>>> sorted(ENGLISH_CONVERSATIONS)[:2]
['15-per-hour-seattle', 'american-assembly.bowling-green']
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from signals.corpora._base import CorpusFormatError, CorpusNotFoundError, read_table
from signals.schema import SIGNALS, Record

NAME = "polis-opendata"
FILE = "comments.csv"
TEXT_COLUMN = "comment-body"
ID_COLUMN = "comment-id"

#: Conversation folders whose comments are English (the others: German climate assemblies, Taiwanese).
ENGLISH_CONVERSATIONS: frozenset[str] = frozenset(
    {
        "15-per-hour-seattle",
        "american-assembly.bowling-green",
        "bg2050-volunteers",
        "brexit-consensus",
        "canadian-electoral-reform",
        "football-concussions",
        "london.youth.policing",
        "march-on.operation-marchin-orders",
        "scoop-hivemind.affordable-housing",
        "scoop-hivemind.biodiversity",
        "scoop-hivemind.freshwater",
        "scoop-hivemind.taxes",
        "scoop-hivemind.ubi",
        "ssis.land-bank-farmland.2rumnecbeh.2021-08-01",
    }
)
GERMAN_PREFIX = "austria-climate."

#: Words that name a protected group or speak about one (case-insensitive, whole words). The civic set's
#: ``group-mention`` draw is every held-out comment that matches; training can weigh the weak negatives
#: that match more (``TransformerConfig.civic_group_factor``): the comments the models flag for naming
#: a group ("I identify as an American-Muslim woman.", "Black Lives Matter").
GROUP_WORDS = re.compile(
    r"\b(immigra\w*|migrant\w*|refugee\w*|asylum|muslim\w*|islam\w*|jew\w*|christian\w*|catholic\w*"
    r"|black\w*|white (people|men|man|folks|person)|african\w*|mexican\w*|latin[oax]\w*|hispanic\w*"
    r"|asian\w*|chinese|indian\w*|maori|m[aā]ori|pacific|pakeha|p[aā]keh[aā]|aborigin\w*|native\w*"
    r"|indigenous|gay\w*|lesbian\w*|homosexual\w*|queer\w*|lgbt\w*|trans\b|transgender\w*|women|woman"
    r"|females?|girls?|feminis\w*|men\b|males?\b|disab\w*|handicap\w*|foreigner\w*|illegals?|aliens?"
    r"|race|racis\w*|ethnic\w*|religio\w*|atheis\w*)\b",
    re.IGNORECASE,
)

#: Columns of the committed label file.
LABEL_COLUMNS: tuple[str, ...] = ("conversation", "comment_id", "sha", "draw", *SIGNALS, "note")
LABELS_FILE = "polis_civic_labels.csv"
#: The team's labels for comments of the training half (same columns), trained on with their full labels
#: (``TransformerConfig.civic_label_weight``); never in the development set.
TRAIN_LABELS_FILE = "polis_civic_train_labels.csv"


def conversation_language(conversation: str) -> str | None:
    """ISO 639-1 code of a conversation's comments, or ``None`` when mixed or not known.

    >>> conversation_language("austria-climate.5twd2jsnkf.2022-08-08"), conversation_language("vtaiwan.uberx")
    ('de', None)
    """
    if conversation in ENGLISH_CONVERSATIONS:
        return "en"
    if conversation.startswith(GERMAN_PREFIX):
        return "de"
    return None


def text_sha(text: str) -> str:
    """Short fingerprint of a comment's text, stored with each label to detect a changed source file.

    >>> text_sha("  Hello ")
    '185f8db3'
    """
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:8]


def comment_id(conversation: str, cid: str) -> str:
    """Record id of one comment: ``polis-opendata:<conversation>:<comment-id>``."""
    return f"{NAME}:{conversation}:{cid}"


def read_comments(corpora_dir: Path, languages: Sequence[str] = ("en",)) -> Iterator[Record]:
    """Yield every non-empty comment of the conversations in ``languages`` as an unlabelled Record.

    Every signal and target is unknown. ``corpora_dir`` is the folder holding ``polis-opendata/``.
    """
    folder = Path(corpora_dir) / NAME
    if not folder.is_dir():
        raise CorpusNotFoundError(
            f"{NAME}: folder {folder} is missing (set --corpora or SIGNALS_CORPORA_DIR)"
        )
    wanted = set(languages)
    for conv_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        lang = conversation_language(conv_dir.name)
        if lang is None or lang not in wanted:
            continue
        frame = read_table(conv_dir / FILE, NAME, [ID_COLUMN, TEXT_COLUMN])
        for cid, text in zip(frame[ID_COLUMN], frame[TEXT_COLUMN], strict=True):
            if text.strip():
                yield Record(id=comment_id(conv_dir.name, cid.strip()), text=text, source=NAME, lang=lang)


def in_training_half(record_id: str) -> bool:
    """Whether a Polis comment may be used for training (weak negatives): a fixed half by id hash.

    The other half is never trained on: the review budget is fitted on it, so a model that has seen
    some comments as negatives cannot make the budget look easier than it is on unseen text. The
    labelled civic development set is never trained on, whichever half it falls in.

    >>> in_training_half("polis-opendata:x:1") in (True, False)
    True
    """
    return hashlib.sha256(record_id.encode("utf-8")).digest()[0] % 2 == 0


def _labelled_ids(labels: pd.DataFrame) -> set[str]:
    return {comment_id(c, i) for c, i in zip(labels["conversation"], labels["comment_id"], strict=True)}


def weak_negatives(
    corpora_dir: Path,
    labels_path: Path | None = None,
    train_labels_path: Path | None = None,
    draws: Sequence[str] = (),
) -> list[Record]:
    """English Polis comments of the training half, minus the labelled ones, as hate 0 / threat 0.

    Real civic comments almost never carry hate or a threat (2 of 450 random ones in the civic set
    carry hate, none a threat), so they are negatives for those two signals; about 1 % insult or
    polarise, so offensive and polarization stay unknown. Comments of either label file (the
    development set, the training labels) are left out: they have real labels. ``draws``: count only
    the training labels of these draws as labelled (empty: all), as ``load_civic_train``.
    """
    labelled = _labelled_ids(read_label_file(labels_path))
    train = read_label_file(train_labels_path or _packaged(TRAIN_LABELS_FILE))
    if draws:
        train = train[train["draw"].isin(list(draws))]
    labelled |= _labelled_ids(train)
    return [
        Record(id=r.id, text=r.text, source=NAME, lang=r.lang, labels={"hate": 0, "threat": 0})
        for r in read_comments(corpora_dir)
        if in_training_half(r.id) and r.id not in labelled
    ]


@dataclass(frozen=True)
class CivicExample:
    """One labelled civic comment: its record (text and the four labels), how it was drawn, the note."""

    record: Record
    conversation: str
    draw: str
    note: str


def _packaged(name: str) -> Path:
    """Path of a label file shipped beside this module."""
    with resources.as_file(resources.files("signals.corpora") / name) as p:
        return Path(p)


def read_label_file(path: Path | None = None) -> pd.DataFrame:
    """Committed civic labels (ids and labels; default: the development set), checked column by column."""
    if path is None:
        return read_label_file(_packaged(LABELS_FILE))
    frame = read_table(Path(path), "civic labels", LABEL_COLUMNS)
    for row, values in enumerate(frame[list(SIGNALS)].itertuples(index=False)):
        for signal, value in zip(SIGNALS, values, strict=True):
            if value not in ("0", "1"):
                raise CorpusFormatError(
                    f"civic labels: {Path(path).name} data row {row + 1}, column {signal!r}: "
                    f"expected 0 or 1, got {value!r}"
                )
    dupes = frame.duplicated(["conversation", "comment_id"])
    if dupes.any():
        first = int(dupes.to_numpy().argmax())
        raise CorpusFormatError(f"civic labels: data row {first + 1} repeats a (conversation, comment_id)")
    return frame


def load_civic_dev(corpora_dir: Path, labels_path: Path | None = None) -> list[CivicExample]:
    """Join the committed civic labels to the shared Polis comments.

    Raises ``CorpusNotFoundError`` when the Polis folder is missing and ``CorpusFormatError`` naming the
    label row when its comment is gone or its text changed (sha mismatch).
    """
    labels = read_label_file(labels_path)
    folder = Path(corpora_dir) / NAME
    if not folder.is_dir():
        raise CorpusNotFoundError(
            f"{NAME}: folder {folder} is missing (set --corpora or SIGNALS_CORPORA_DIR)"
        )
    texts: dict[str, dict[str, str]] = {}
    out: list[CivicExample] = []
    for row, lab in enumerate(labels.itertuples(index=False)):
        conv = str(lab.conversation)
        if conv not in texts:
            path = folder / conv / FILE
            if not path.is_file():
                raise CorpusFormatError(f"civic labels: data row {row + 1}: no conversation file {path}")
            with path.open(encoding="utf-8", newline="") as fh:
                texts[conv] = {r[ID_COLUMN].strip(): r[TEXT_COLUMN] for r in csv.DictReader(fh)}
        text = texts[conv].get(str(lab.comment_id))
        if text is None:
            raise CorpusFormatError(
                f"civic labels: data row {row + 1}: {conv} has no comment {lab.comment_id}"
            )
        if text_sha(text) != lab.sha:
            raise CorpusFormatError(
                f"civic labels: data row {row + 1}: the text of {conv}/{lab.comment_id} changed "
                f"(sha {text_sha(text)} != {lab.sha})"
            )
        record = Record(
            id=comment_id(conv, str(lab.comment_id)),
            text=text,
            source=NAME,
            lang="en",
            labels={s: int(getattr(lab, s)) for s in SIGNALS},
        )
        out.append(CivicExample(record=record, conversation=conv, draw=str(lab.draw), note=str(lab.note)))
    return out


def load_civic_train(
    corpora_dir: Path,
    labels_path: Path | None = None,
    dev_labels_path: Path | None = None,
    draws: Sequence[str] = (),
) -> list[CivicExample]:
    """The team's labelled comments of the training half, joined to their texts (as ``load_civic_dev``).

    ``draws``: only the rows of these draws (empty: all), so a recipe trained before a draw was
    labelled keeps its rows. Raises ``CorpusFormatError`` naming the row when a comment is in the
    held-out half or in the development set: the budget is fitted on the first and recipes are judged
    on the second.
    """
    examples = load_civic_dev(corpora_dir, labels_path or _packaged(TRAIN_LABELS_FILE))
    dev = _labelled_ids(read_label_file(dev_labels_path))
    for row, example in enumerate(examples):
        if not in_training_half(example.record.id):
            raise CorpusFormatError(
                f"civic training labels: data row {row + 1}: {example.record.id} is in the held-out half"
            )
        if example.record.id in dev:
            raise CorpusFormatError(
                f"civic training labels: data row {row + 1}: {example.record.id} is in the development set"
            )
    return [e for e in examples if not draws or e.draw in draws]
