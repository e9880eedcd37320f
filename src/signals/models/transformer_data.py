"""Data and sampling for the transformer trainer: from dataset splits to encoded, weighted training rows.

Corpus rows are sampled per corpus in proportion (``max_train_rows``), weighted per corpus (big corpora
must not drown small ones) and per positive class (rare signals must not be ignored), given the
teacher's soft labels when distilling (cached per teacher and texts), and a share of them is added
again in an obfuscated spelling. The functional module's augmentation templates and the weak civic
negatives can be added too. Texts are normalised with ``signals.normalize`` (the function serving
uses), tokenised once and later grouped into batches of similar length, padded per batch.

``build_training_rows`` and ``validation_rows`` are what the training loop
(``signals.models.transformer_loop``) reads its rows from; nothing here imports torch at import time.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from signals.normalize import normalize
from signals.schema import SIGNALS, TARGET_COLUMNS, TARGETS

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from signals.models.transformer import TransformerConfig

log = logging.getLogger(__name__)


def _column(split: Any, name: str) -> np.ndarray:
    return np.asarray(list(split[name]))


def _labels(split: Any, names: Sequence[str]) -> np.ndarray:
    columns = getattr(split, "column_names", None) or list(getattr(split, "columns", []))
    n = len(split)
    return np.stack(
        [_column(split, c).astype(np.int64) if c in columns else np.full(n, -1) for c in names], axis=1
    ).reshape(n, len(names))


#: Sources whose rows ``max_train_rows`` never samples down: the analysts' labels
#: (``signals.triage.export.LABEL_SOURCE``), the reason a retrain runs at all.
KEPT_SOURCES = frozenset({"analyst"})


def _sample_rows(
    sources: np.ndarray, limit: int, rng: np.random.Generator, kept: frozenset[str] = frozenset()
) -> np.ndarray:
    """At most ``limit`` row indices, every corpus reduced in the same proportion; plus every row of
    the ``kept`` sources, which are neither sampled nor counted against ``limit``."""
    n = len(sources)
    whole = np.isin(sources, sorted(kept)) if kept else np.zeros(n, dtype=bool)
    if not limit or n - int(whole.sum()) <= limit:
        return np.arange(n)
    keep = [np.flatnonzero(whole)]
    share = limit / (n - int(whole.sum()))
    for source in np.unique(sources[~whole]):
        idx = np.flatnonzero(sources == source)
        take = max(1, int(round(len(idx) * share)))
        keep.append(rng.choice(idx, size=min(take, len(idx)), replace=False))
    return np.sort(np.concatenate(keep))


def corpus_weights(
    sources: np.ndarray, power: float, factors: Mapping[str, float] | None = None
) -> np.ndarray:
    """Per-row weight ``n_corpus ** -power`` (times the corpus's factor, if any) rescaled to mean 1."""
    names, inverse, counts = np.unique(sources, return_inverse=True, return_counts=True)
    factors = dict(factors or {})
    negative = sorted(name for name, factor in factors.items() if factor < 0)
    if negative:
        raise ValueError(f"corpus_weight_factors must not be negative: {negative}")
    unknown = set(factors) - set(names.tolist())
    if unknown:
        # A dataset built without a corpus (e.g. `signals data build --sources` for licence reasons)
        # must still train with the committed config, so this warns instead of failing.
        log.warning(
            "corpus_weight_factors names corpora not in the training rows %s (ignored); the corpora are %s",
            sorted(unknown),
            sorted(names.tolist()),
        )
    w = counts.astype(float) ** -power * np.array([factors.get(str(n), 1.0) for n in names])
    rows = w[inverse]
    return rows / rows.mean()


def positive_weights(labels: np.ndarray, cap: float) -> np.ndarray:
    """``sqrt(neg/pos)`` per column over known labels, between 1 and ``cap``."""
    out = []
    for j in range(labels.shape[1]):
        pos = float((labels[:, j] == 1).sum())
        neg = float((labels[:, j] == 0).sum())
        out.append(min(cap, max(1.0, math.sqrt(neg / pos))) if pos else 1.0)
    return np.asarray(out)


_AUG_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "$", "t": "7"}


def obfuscate(text: str, rng: random.Random) -> str:
    """A disguised spelling of ``text``: leet, masked vowels, spaced letters or stretching in some words.

    Used for augmentation: the model sees disguises that ``normalize`` does not undo (words outside
    its lexicon), and learns that they carry the same meaning.
    """
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    for i in rng.sample(candidates, k=max(1, len(candidates) // 4)):
        w = words[i]
        trick = rng.randrange(4)
        if trick == 0:
            words[i] = "".join(_AUG_LEET.get(c, c) if rng.random() < 0.6 else c for c in w)
        elif trick == 1:
            vowels = [k for k, c in enumerate(w) if c in "aeiou" and 0 < k < len(w) - 1]
            if vowels:
                k = rng.choice(vowels)
                words[i] = w[:k] + "*" + w[k + 1 :]
        elif trick == 2:
            words[i] = " ".join(w)
        else:
            k = rng.randrange(len(w))
            words[i] = w[:k] + w[k] * 4 + w[k + 1 :]
    return " ".join(words)


@dataclass
class Encoded:
    """A tokenised split: token ids per row, gold and soft (teacher) labels, row weights.

    Unknown cells are -1 in every label array (the masked loss skips them).
    """

    ids: list[list[int]]
    labels: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    soft: np.ndarray
    soft_targets: np.ndarray


def template_rows(
    english: bool = True, languages: Sequence[str] = ()
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, signal labels and target labels of ``functional.augment.augmentation_templates()``
    (``english``) and of ``functional.augment_languages.language_templates(languages)``.

    Any text that collides with an evaluation case (``evaluation_overlap``) is
    dropped, so the functional suite stays unseen whatever the templates become.
    """
    from signals.functional.augment import augmentation_templates, evaluation_overlap
    from signals.functional.augment_languages import language_templates

    records = list(augmentation_templates()) if english else []
    leaks = set(evaluation_overlap([r.text for r in records]))
    if leaks:
        log.warning("dropping %d augmentation rows that collide with the functional suite", len(leaks))
    records = [r for i, r in enumerate(records) if i not in leaks]
    records += language_templates(languages) if languages else []
    labels = np.array([[r.labels.get(s, -1) for s in SIGNALS] for r in records], dtype=np.int64)
    targets = np.array([[r.targets.get(t, -1) for t in TARGETS] for r in records], dtype=np.int64)
    return [r.text for r in records], labels.reshape(-1, len(SIGNALS)), targets.reshape(-1, len(TARGETS))


def civic_negative_rows(
    corpora: str = "",
    negative: Sequence[str] = ("hate", "threat"),
    draws: Sequence[str] = (),
    dev_labels: Path | None = None,
    train_labels: Path | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, signal labels and target labels of the weak civic negatives: 0 for `negative`, else unknown.

    ``draws`` and the two label files: as ``polis_opendata.weak_negatives`` (default: the packaged
    files, every draw counted as labelled).
    """
    from signals.corpora import corpora_dir
    from signals.corpora.polis_opendata import weak_negatives

    records = weak_negatives(corpora_dir(corpora), dev_labels, train_labels, draws)
    labels = np.array([[0 if s in negative else -1 for s in SIGNALS] for _ in records], dtype=np.int64)
    targets = np.full((len(records), len(TARGETS)), -1, dtype=np.int64)
    return [r.text for r in records], labels.reshape(-1, len(SIGNALS)), targets


def civic_labelled_rows(
    corpora: str = "",
    labels: Path | None = None,
    dev_labels: Path | None = None,
    draws: Sequence[str] = (),
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, signal labels (all four known) and target labels (unknown) of the civic training labels
    (only the rows of ``draws``, when given)."""
    from signals.corpora import corpora_dir
    from signals.corpora.polis_opendata import load_civic_train

    records = [e.record for e in load_civic_train(corpora_dir(corpora), labels, dev_labels, draws)]
    known = np.array([[r.labels[s] for s in SIGNALS] for r in records], dtype=np.int64)
    targets = np.full((len(records), len(TARGETS)), -1, dtype=np.int64)
    return [r.text for r in records], known.reshape(-1, len(SIGNALS)), targets


def civic_negative_weights(texts: Sequence[str], weight: float, group_factor: float = 1.0) -> np.ndarray:
    """Row weights of the weak civic negatives: ``weight``, times ``group_factor`` where a text names a group.

    >>> civic_negative_weights(["Fix the potholes.", "I identify as a Muslim woman."], 0.5, 4.0).tolist()
    [0.5, 2.0]
    """
    weights = np.full(len(texts), float(weight))
    weights[names_a_group(texts)] *= group_factor
    return weights


def names_a_group(texts: Sequence[str]) -> np.ndarray:
    """Whether each text names a group (``polis_opendata.GROUP_WORDS``)."""
    from signals.corpora.polis_opendata import GROUP_WORDS

    return np.array([bool(GROUP_WORDS.search(t)) for t in texts], dtype=bool)


def no_soft_labels(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Soft signal and target labels for ``n`` rows no teacher was asked about: all -1 (ignored)."""
    return (
        np.full((n, len(SIGNALS)), -1.0, dtype=np.float32),
        np.full((n, len(TARGETS)), -1.0, dtype=np.float32),
    )


#: Where ``teacher_labels`` keeps what a teacher said ($SIGNALS_TEACHER_CACHE overrides; "" turns it off).
TEACHER_CACHE = Path("data/cache/teacher")


def teacher_labels(teacher: str, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Soft labels: the ``teacher`` ONNX model's raw signal and target probabilities (-1 without one).

    Labelling the corpus takes a minute or two on 2 cores, out of a retrain's 30-minute budget, and
    gives the same answer for the same teacher files and texts: the result is kept in
    ``TEACHER_CACHE`` under a hash of both, so a retrain on unchanged rows starts training at once.
    """
    if not teacher:
        return no_soft_labels(len(texts))
    from signals.models.onnx import OnnxModel

    cache_dir = os.environ.get("SIGNALS_TEACHER_CACHE", str(TEACHER_CACHE))
    cached = Path(cache_dir) / f"{_teacher_key(teacher, texts)}.npz" if cache_dir else None
    if cached is not None and cached.is_file():
        with np.load(cached) as saved:
            log.info("teacher %s labels for %d rows from %s", teacher, len(texts), cached)
            return saved["signals"], saved["targets"]
    model = OnnxModel.load(teacher)
    if list(model.signals) != list(SIGNALS) or list(model.targets) != list(TARGETS):
        raise ValueError(f"teacher {teacher} has labels {model.signals}/{model.targets}, not this schema's")
    started = time.perf_counter()
    sig, tgt = model._run([normalize(t) for t in texts])
    log.info("teacher %s labelled %d rows in %.0f s", teacher, len(texts), time.perf_counter() - started)
    sig, tgt = sig.astype(np.float32), tgt.astype(np.float32)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".tmp.npz")
        np.savez(partial, signals=sig, targets=tgt)
        partial.replace(cached)  # a run killed while writing leaves no half file behind
    return sig, tgt


def _teacher_key(teacher: str, texts: Sequence[str]) -> str:
    """A hash of the teacher's files and the texts (in order)."""
    digest = hashlib.sha256()
    for path in sorted(Path(teacher).iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    for text in texts:
        digest.update(text.encode() + b"\x1e")
    return digest.hexdigest()[:24]


def encode(tokenizer: Tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids of normalised texts, truncated to ``max_length`` (no padding: that is per batch)."""
    tok = copy.deepcopy(tokenizer)
    tok.no_padding()
    tok.enable_truncation(max_length=max_length)
    return [e.ids for e in tok.encode_batch([normalize(t) for t in texts])]


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random, shuffle: bool) -> list[list[int]]:
    """Batches of similar-length rows: sorting within shuffled chunks keeps padding (and time) low."""
    order = list(range(len(lengths)))
    if shuffle:
        rng.shuffle(order)
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[k : k + batch_size] for k in range(0, len(part), batch_size))
    if shuffle:
        rng.shuffle(batches)
    return batches


def _collate(ids: list[list[int]], rows: list[int], device: Any) -> tuple[Any, Any]:
    """Token ids and attention mask of ``rows``, padded to the longest of them, on ``device``."""
    import torch

    width = max(len(ids[i]) for i in rows)
    input_ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, i in enumerate(rows):
        row = ids[i]
        input_ids[k, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[k, : len(row)] = 1
    return input_ids.to(device), mask.to(device)


# ------------------------------------------------------------------------------------ training rows


def _append(columns: tuple[np.ndarray, ...], extra: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Each of ``columns`` with the matching array of ``extra`` appended below it."""
    return tuple(np.concatenate([a, b]) for a, b in zip(columns, extra, strict=True))


def build_training_rows(
    config: TransformerConfig,
    dataset: Mapping[str, Any],
    tokenizer: Tokenizer,
    rng: np.random.Generator,
    pyrng: random.Random,
) -> tuple[Encoded, np.ndarray]:
    """The encoded, weighted training rows, and a factor per (row, signal) on the signal loss's row weight.

    In order: the rows of ``dataset["train"]`` (at most ``max_train_rows``, every corpus reduced in
    the same proportion, plus every analyst label), weighted per corpus, with the teacher's soft
    labels; an obfuscated copy of ``augment_rate`` of them; the augmentation templates
    (``augment_templates``, weight ``template_weight``, their signal factors
    ``template_signal_weights``); the weak civic negatives (``civic_negative_weight``); the team's
    civic training labels (``civic_label_weight``). Neither templates nor civic rows get soft labels.
    ``rng`` and ``pyrng`` are drawn from in that order, so a seed gives the same rows.
    """
    train = dataset["train"]
    sources = _column(train, "source").astype(str)
    rows = _sample_rows(sources, config.max_train_rows, rng, KEPT_SOURCES)
    texts = [str(t) for t in _column(train, "text")[rows]]
    labels = _labels(train, SIGNALS)[rows]
    targets = _labels(train, TARGET_COLUMNS)[rows]
    weights = corpus_weights(sources[rows], config.corpus_weight_power, config.corpus_weight_factors)
    soft, soft_targets = teacher_labels(config.teacher, texts)
    # labels, targets, weights, soft, soft_targets: one row each per text
    columns: tuple[np.ndarray, ...] = (labels, targets, weights, soft, soft_targets)
    n_aug = int(round(len(texts) * config.augment_rate))
    if n_aug:
        aug = rng.choice(len(texts), size=n_aug, replace=False)
        texts += [obfuscate(normalize(texts[i]), pyrng) for i in aug]
        columns = _append(columns, [a[aug] for a in columns])
    signal_scale = np.ones((len(texts), len(SIGNALS)), dtype=np.float32)
    if config.group_negative_factor != 1.0:
        hate = SIGNALS.index("hate")
        signal_scale[names_a_group(texts) & (columns[0][:, hate] == 0), hate] = config.group_negative_factor
    n_templates = 0
    if config.augment_templates or config.language_templates:
        t_texts, t_labels, t_targets = template_rows(config.augment_templates, config.language_templates)
        n_templates = len(t_texts)
        texts += t_texts
        # The teacher is not asked about template rows (no soft labels): they exist because it gets
        # them wrong.
        columns = _append(
            columns,
            [t_labels, t_targets, np.full(n_templates, config.template_weight), *no_soft_labels(n_templates)],
        )
        t_scale = np.ones((n_templates, len(SIGNALS)), dtype=np.float32)
        for name, factor in config.template_signal_weights.items():
            t_scale[:, SIGNALS.index(name)] = factor
        signal_scale = np.concatenate([signal_scale, t_scale])
    n_civic = 0
    if config.civic_negative_weight > 0:
        c_texts, c_labels, c_targets = civic_negative_rows(
            config.corpora, config.civic_negative_signals, config.civic_label_draws
        )
        n_civic = len(c_texts)
        texts += c_texts
        c_weights = civic_negative_weights(c_texts, config.civic_negative_weight, config.civic_group_factor)
        columns = _append(columns, [c_labels, c_targets, c_weights, *no_soft_labels(n_civic)])
        signal_scale = np.concatenate([signal_scale, np.ones((n_civic, len(SIGNALS)), dtype=np.float32)])
    n_labelled = 0
    if config.civic_label_weight > 0:
        l_texts, l_labels, l_targets = civic_labelled_rows(config.corpora, draws=config.civic_label_draws)
        n_labelled = len(l_texts)
        texts += l_texts
        columns = _append(
            columns,
            [
                l_labels,
                l_targets,
                np.full(n_labelled, config.civic_label_weight),
                *no_soft_labels(n_labelled),
            ],
        )
        signal_scale = np.concatenate([signal_scale, np.ones((n_labelled, len(SIGNALS)), dtype=np.float32)])
    labels, targets, weights, soft, soft_targets = columns
    log.info(
        "training on %d rows (%d obfuscated, %d template rows, %d civic negatives, %d civic labelled, "
        "teacher %s)",
        len(texts),
        n_aug,
        n_templates,
        n_civic,
        n_labelled,
        config.teacher or "none",
    )
    ids = encode(tokenizer, texts, config.max_length)
    return Encoded(ids, labels, targets, weights, soft, soft_targets), signal_scale


def validation_rows(
    config: TransformerConfig, dataset: Mapping[str, Any], tokenizer: Tokenizer, rng: np.random.Generator
) -> tuple[list[list[int]], np.ndarray]:
    """Token ids and signal labels of ``dataset["validation"]`` (at most ``max_eval_rows``, per corpus)."""
    val = dataset["validation"]
    rows = _sample_rows(_column(val, "source").astype(str), config.max_eval_rows, rng)
    ids = encode(tokenizer, [str(t) for t in _column(val, "text")[rows]], config.max_length)
    return ids, _labels(val, SIGNALS)[rows]
