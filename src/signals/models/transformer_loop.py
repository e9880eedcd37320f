"""The training loop of the transformer trainer: epochs, early stopping, the time budget, callbacks.

A plain torch loop (CPU or CUDA): AdamW with a linear warm-up and linear decay, bf16 autocast on CUDA,
gradient clipping. Validation mean PR-AUC is computed after every epoch, handed to the callbacks
(``Callback``: ``on_epoch_end``, and ``on_train_end`` once at the end; MLflow logging is one of them,
``MLflowCallback``) and drives early stopping; the best epoch's weights are kept. Under a ``max_minutes``
budget the rest of the learning-rate schedule is fitted to the time left (``steps_within_budget``).
With ``ema_decay``, validation, early stopping and the returned network use a moving average of the
weights.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from signals.models.transformer_data import (
    Encoded,
    _batches,
    _collate,
    build_training_rows,
    positive_weights,
    validation_rows,
)
from signals.models.transformer_net import (
    TrainedNetwork,
    _resolve_device,
    build_network,
    masked_bce,
    predict_logits,
)
from signals.schema import SIGNALS

if TYPE_CHECKING:
    import torch

    from signals.models.transformer import TransformerConfig

    #: How ``AveragedModel`` hands a group of weights to its ``multi_avg_fn``.
    _Tensors = tuple[torch.Tensor, ...] | list[torch.Tensor]

log = logging.getLogger(__name__)

#: The weight average (``ema_decay``) is updated every this many steps, with the decay compounded.
EMA_EVERY = 8
#: With ``max_minutes``, the schedule's length is fitted to the time left every this many steps.
BUDGET_EVERY = 100
#: Share of the time left kept in reserve when fitting the schedule (step times vary with load).
BUDGET_MARGIN = 0.03

# ------------------------------------------------------------------------------------------- callbacks

#: A plain function called after every epoch with (epoch number from 1, metrics).
EpochCallback = Callable[[int, dict[str, float]], None]


@runtime_checkable
class Callback(Protocol):
    """What the loop calls: after every epoch, and once with the finished network."""

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        """``epoch`` counts from 1; ``metrics`` are that epoch's (train loss, validation PR-AUC, ...)."""

    def on_train_end(self, trained: TrainedNetwork) -> None:
        """The network training returns (best epoch's weights), with its history."""


#: One callback, a plain epoch function, or a sequence of them.
Callbacks = Callback | EpochCallback | Sequence[Callback | EpochCallback]


@dataclass
class EpochFunction:
    """A plain ``EpochCallback`` function as a ``Callback``."""

    fn: EpochCallback

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        self.fn(epoch, metrics)

    def on_train_end(self, trained: TrainedNetwork) -> None:
        pass


class MLflowCallback:
    """Logs every epoch's metrics as ``epoch_<name>`` (NaN left out) to the active MLflow run, if any."""

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        try:
            import mlflow
        except ImportError:  # pragma: no cover - mlflow is a core dependency
            return
        if mlflow.active_run() is not None:
            mlflow.log_metrics({f"epoch_{k}": v for k, v in metrics.items() if not math.isnan(v)}, step=epoch)

    def on_train_end(self, trained: TrainedNetwork) -> None:
        pass


def as_callbacks(callbacks: Callbacks | None) -> list[Callback]:
    """``callbacks`` as a list of ``Callback`` objects (plain functions wrapped in ``EpochFunction``)."""
    if callbacks is None:
        return []
    items = callbacks if isinstance(callbacks, Sequence) else [callbacks]
    return [c if isinstance(c, Callback) else EpochFunction(c) for c in items]


def replay_history(trained: TrainedNetwork, callbacks: Callbacks | None) -> None:
    """Call ``callbacks`` with the epochs of a network trained earlier (a loaded checkpoint)."""
    hooks = as_callbacks(callbacks)
    for entry in trained.history:
        metrics = {k: v for k, v in entry.items() if k != "epoch"}
        for hook in hooks:
            hook.on_epoch_end(int(entry["epoch"]), metrics)
    for hook in hooks:
        hook.on_train_end(trained)


# -------------------------------------------------------------------------------------------- schedule


@dataclass
class _Schedule:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total``.

    ``total`` may be lowered during training to fit a time budget; the decay follows at once.
    """

    warmup: int
    total: int

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))


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


def _optimizer(net: Any, config: TransformerConfig) -> Any:
    """AdamW: encoder weights with weight decay, encoder biases and LayerNorm without, heads faster."""
    import torch

    if config.freeze_word_embeddings:
        net.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    head_params = [p for n, p in net.named_parameters() if not n.startswith("encoder.")]
    encoder = [p for p in net.encoder.parameters() if p.requires_grad]
    decay = [p for p in encoder if p.ndim > 1]
    no_decay = [p for p in encoder if p.ndim <= 1]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay, "lr": config.learning_rate},
            {"params": no_decay, "weight_decay": 0.0, "lr": config.learning_rate},
            {"params": head_params, "weight_decay": 0.0, "lr": config.head_learning_rate},
        ]
    )


def weight_average(net: Any, decay: float) -> Any:
    """An exponential moving average of ``net``'s weights (``AveragedModel``), starting at them.

    Call ``update_parameters(net)`` every ``EMA_EVERY`` steps: the average moves ``1 - decay **
    EMA_EVERY`` of the way to the current weights, less while few steps have been taken (at most
    ``(1 + step) / (10 + step)`` is kept), so the start does not weigh for long. Buffers go along
    (``use_buffers``); MiniLM's are integer position and token-type ids, which are copied, not averaged.
    Its ``module`` is a copy of ``net`` holding the average.
    """
    from torch.optim.swa_utils import AveragedModel

    average = AveragedModel(net, multi_avg_fn=_ema_update(decay), use_buffers=True)
    average.update_parameters(net)  # the first update copies: the average starts at ``net``
    return average


def _ema_update(decay: float) -> Callable[[_Tensors, _Tensors, torch.Tensor | int], None]:
    """``AveragedModel``'s ``multi_avg_fn`` for ``weight_average``.

    It is called with the number of updates so far, counting the first copy: update ``n`` comes
    after ``step = n * EMA_EVERY`` optimisation steps.
    """
    import torch

    compounded = decay**EMA_EVERY

    @torch.no_grad()
    def update(averaged: _Tensors, current: _Tensors, n_averaged: torch.Tensor | int) -> None:
        if not (torch.is_floating_point(averaged[0]) or torch.is_complex(averaged[0])):
            for a, c in zip(averaged, current, strict=True):  # ids: nothing to average
                a.copy_(c)
            return
        step = EMA_EVERY * int(n_averaged)
        keep = min(compounded, (1 + step) / (10 + step))
        torch._foreach_lerp_(averaged, current, 1.0 - keep)

    return update


# ----------------------------------------------------------------------------------- loss, validation


@dataclass
class _Loss:
    """The training loss of a batch: masked signal and target BCE on gold labels, plus distillation."""

    config: TransformerConfig
    rows: Encoded
    signal_scale: np.ndarray
    pos_weight: Any
    device: Any
    amp: bool

    def __call__(self, net: Any, batch: list[int]) -> torch.Tensor:
        import torch

        config, rows, device = self.config, self.rows, self.device
        input_ids, mask = _collate(rows.ids, batch, device)
        y = torch.as_tensor(rows.labels[batch], device=device)
        yt = torch.as_tensor(rows.targets[batch], device=device)
        w = torch.as_tensor(rows.weights[batch], dtype=torch.float32, device=device)
        regularise = bool(config.attention_entropy_weight)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=self.amp):
            sig_logits, tgt_logits, *entropy = net(input_ids, mask, attention_entropy=regularise)
        ws = w.unsqueeze(1) * torch.as_tensor(self.signal_scale[batch], device=device)
        loss = masked_bce(sig_logits.float(), y, ws, self.pos_weight)
        if regularise:
            loss = loss - config.attention_entropy_weight * entropy[0]
        if config.target_loss_weight:
            loss = loss + config.target_loss_weight * masked_bce(tgt_logits.float(), yt, w)
        if config.teacher and config.distill_weight:
            ys = torch.as_tensor(rows.soft[batch], device=device)
            yts = torch.as_tensor(rows.soft_targets[batch], device=device)
            distill = masked_bce(sig_logits.float(), ys, w)
            if config.target_loss_weight:
                distill = distill + config.target_loss_weight * masked_bce(tgt_logits.float(), yts, w)
            loss = loss + config.distill_weight * distill
        return loss


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


def _validate(
    net: Any, ids: list[list[int]], labels: np.ndarray, config: TransformerConfig, device: Any, amp: bool
) -> tuple[float, dict[str, float]]:
    """Mean PR-AUC over the signals a split can score (0 when none), and PR-AUC per signal."""
    probs, _ = predict_logits(net, ids, config.eval_batch_size, device, amp)
    aucs = pr_auc(labels, probs)
    known = [v for v in aucs.values() if not math.isnan(v)]
    return (float(np.mean(known)) if known else 0.0), aucs


# ------------------------------------------------------------------------------------------------ loop


def train_network(
    config: TransformerConfig,
    dataset: Mapping[str, Any],
    callbacks: Callbacks | None = None,
) -> TrainedNetwork:
    """Fine-tune on ``dataset["train"]``, early-stopping on ``dataset["validation"]`` mean PR-AUC.

    ``dataset`` is a ``datasets.DatasetDict`` (or any mapping of splits whose columns can be read by
    name, e.g. pandas frames) with the columns of ``signals.schema.DATASET_COLUMNS``. ``callbacks``
    see every epoch's metrics; nothing is logged to MLflow unless ``MLflowCallback`` is among them.
    """
    import torch

    started = time.perf_counter()
    hooks = as_callbacks(callbacks)
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
    attention = net.encoder.config._attn_implementation
    if config.attention_entropy_weight:
        net.encoder.set_attn_implementation("eager")  # sdpa does not return attention weights
    net.to(device)
    train, signal_scale = build_training_rows(config, dataset, tokenizer, rng, pyrng)
    val_ids, val_labels = validation_rows(config, dataset, tokenizer, rng)
    log.info("validating on %d rows, device %s", len(val_ids), device)

    pos_weight = torch.tensor(positive_weights(train.labels, config.pos_weight_cap), dtype=torch.float32)
    batch_loss = _Loss(config, train, signal_scale, pos_weight.to(device), device, amp)
    optimizer = _optimizer(net, config)
    total_steps = math.ceil(len(train.ids) / config.batch_size) * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    schedule = _Schedule(warmup=max(1, int(total_steps * config.warmup_ratio)), total=total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    planned_steps = total_steps
    lengths = [len(x) for x in train.ids]
    average = weight_average(net, config.ema_decay) if config.ema_decay else None
    # what is validated and kept as the best epoch: the average where there is one
    evaluated = net if average is None else average.module
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
            loss = batch_loss(net, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            if average is not None and step % EMA_EVERY == 0:  # a pass over all weights costs
                average.update_parameters(net)
            running += float(loss.detach()) * len(batch)
            seen += len(batch)
            if step % 200 == 0:
                log.info("epoch %d step %d/%d loss %.4f", epoch, step, schedule.total, running / seen)
            if deadline < math.inf and step % BUDGET_EVERY == 0 and step > schedule.warmup:
                # Fit the rest of the schedule to the time left, so the learning rate has decayed
                # when the budget ends (a run cut at the deadline stops at a high learning rate).
                now = time.perf_counter()
                validations_left = config.epochs - epoch + 1
                schedule.total = steps_within_budget(
                    step,
                    step_seconds + now - tick,
                    deadline - now,
                    planned_steps,
                    validations_left * (val_seconds / max(epoch - 1, 1) if val_seconds else 60.0),
                )
            if step >= schedule.total or time.perf_counter() > deadline:
                out_of_time = time.perf_counter() > deadline
                break
        step_seconds += time.perf_counter() - tick
        tick = time.perf_counter()
        score, aucs = _validate(evaluated, val_ids, val_labels, config, device, amp)
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
        for hook in hooks:
            hook.on_epoch_end(epoch, metrics)
        if score > best_score:
            best_score, bad_epochs = score, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in evaluated.state_dict().items()}
        else:
            bad_epochs += 1
        if bad_epochs >= max(1, config.patience):
            log.info("early stop after epoch %d (best mean PR-AUC %.4f)", epoch, best_score)
            break
        if step >= schedule.total or out_of_time:
            if out_of_time:
                log.warning("stopped at the %.0f-minute budget after %d steps", config.max_minutes, step)
            elif schedule.total < planned_steps:
                log.info(
                    "schedule fitted to the %.0f-minute budget: %d of %d steps",
                    config.max_minutes,
                    step,
                    planned_steps,
                )
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.encoder.set_attn_implementation(attention)
    net.to("cpu").eval()
    trained = TrainedNetwork(net, tokenizer, encoder_config, config, history, time.perf_counter() - started)
    for hook in hooks:
        hook.on_train_end(trained)
    return trained
