"""Warm start from a shipped model: the torch weights of an exported signals network, rebuilt.

The champion ships as an int8 ONNX graph only (``signals.models.onnx``); no torch weights of it are
kept anywhere. To fine-tune it further (``TransformerConfig.init_from``, what ``signals retrain`` uses
to stay within its 30 minutes on 2 cores) its ``state_dict`` is rebuilt from the graph:

* every quantised initializer is dequantised, ``w = (q - zero_point) * scale`` (per output column for
  the int8 ``MatMulInteger`` weights, one scale for the uint8 embedding tables);
* LayerNorm weights and biases stay fp32 under their torch names (``net.encoder...``);
* the Linear weights lose their names in the export (``onnx::MatMul_554``), so each is named by walking
  the graph: its ``MatMulInteger`` (or fp32 ``MatMul``) feeds, through ``Cast`` and ``Mul`` by the scales,
  an ``Add`` with a named bias (``net.encoder.encoder.layer.0.attention.self.query.bias``), and the
  weight is that bias's ``weight``, transposed from ONNX ``[in, out]`` to torch ``[out, in]``.

A graph that does not map completely (a weight without a named bias, a tensor the network does not
have, a parameter the graph does not hold) is refused with a ``ValueError`` naming the tensor, and so is
a directory that is not an exported signals transformer (a TF-IDF baseline, a foreign ONNX file).

The rebuilt network is the int8 model's weights in fp32: it differs from the served int8 graph only by
the activations, which the int8 graph quantises on the fly. ``parity`` measures that difference on real
texts (``python -m signals.models.warm_start``; figures in docs/minilm.md, "Retrain from the champion").

>>> state = shipped_state_dict("models/default")                    # doctest: +SKIP
>>> state["encoder.encoder.layer.0.attention.self.query.weight"].shape  # doctest: +SKIP
(384, 384)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from signals.models.onnx import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE
from signals.schema import SIGNALS, TARGETS

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from signals.models.transformer import TransformerConfig

log = logging.getLogger(__name__)

#: The export wraps the network in a module whose attribute is ``net`` (``export_onnx``).
_PREFIX = "net."
#: What ``onnxruntime.quantization`` appends to the names of what it quantises.
_QUANTIZED, _SCALE, _ZERO_POINT = "_quantized", "_scale", "_zero_point"


def _refuse(directory: Path, why: str) -> ValueError:
    return ValueError(f"{directory} cannot be a warm start: {why}")


def shipped_meta(directory: str | Path) -> dict[str, Any]:
    """``onnx.json`` of an exported signals transformer, after checking that it is one.

    Refused (``ValueError``): a model directory whose manifest is another family (the TF-IDF
    ``baseline``), a directory without the export's files, or labels that are not this schema's.
    """
    directory = Path(directory)
    manifest = directory / "signals.json"
    if manifest.is_file():
        fmt = json.loads(manifest.read_text()).get("format")
        if fmt != "onnx":
            raise _refuse(directory, f"its format is {fmt!r}, not the transformer student's 'onnx'")
    for name in (MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE):
        if not (directory / name).is_file():
            raise _refuse(directory, f"{name} is missing (not an exported signals transformer)")
    meta: dict[str, Any] = json.loads((directory / CONFIG_FILE).read_text())
    if not meta.get("layers"):
        raise _refuse(directory, f"{CONFIG_FILE} does not say how many encoder layers it has")
    if list(meta.get("signals", [])) != list(SIGNALS) or list(meta.get("targets", [])) != list(TARGETS):
        raise _refuse(
            directory, f"its labels {meta.get('signals')}/{meta.get('targets')} are not this schema's"
        )
    return meta


class _Graph:
    """An ONNX graph's initializers, producers and consumers, for walking from a weight to its bias."""

    def __init__(self, path: Path) -> None:
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(path))
        self.path = path
        self.nodes = list(model.graph.node)
        self.init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        # The exporter keeps one initializer for equal tensors (the zero biases of a fresh network) and
        # names the others through Identity nodes: every constant name -> the initializer holding it.
        self.source = {name: name for name in self.init}
        grown = True
        while grown:
            grown = False
            for node in self.nodes:
                if (
                    node.op_type == "Identity"
                    and node.input[0] in self.source
                    and node.output[0] not in self.source
                ):
                    self.source[node.output[0]] = self.source[node.input[0]]
                    grown = True
        self.producer = {out: node for node in self.nodes for out in node.output}
        self.consumers: dict[str, list[Any]] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def value(self, name: str) -> np.ndarray:
        return self.init[self.source[name]]

    def error(self, tensor: str, why: str) -> ValueError:
        return ValueError(f"{self.path}: tensor {tensor!r} {why}; the graph does not map onto the network")

    def only_consumer(self, value: str, op: str, tensor: str) -> Any:
        found = [n for n in self.consumers.get(value, []) if n.op_type == op]
        if len(found) != 1:
            raise self.error(tensor, f"is not followed by exactly one {op} (found {len(found)})")
        return found[0]

    def constant_input(self, node: Any, skip: str) -> str | None:
        """The one input of ``node`` other than ``skip`` that is a constant, if any."""
        names = [i for i in node.input if i != skip and i in self.source]
        return names[0] if len(names) == 1 else None

    def bias_of(self, value: str, tensor: str) -> str:
        """The torch name of the Linear whose product is ``value``: from the named bias its Add adds."""
        add = self.only_consumer(value, "Add", tensor)
        bias = self.constant_input(add, value)
        if bias is None or not bias.startswith(_PREFIX) or not bias.endswith(".bias"):
            raise self.error(tensor, f"is added to {bias!r}, not a named Linear bias")
        return bias[len(_PREFIX) : -len("bias")] + "weight"

    def dequantized_matmul(self, node: Any) -> np.ndarray:
        """The fp32 ``[in, out]`` weight of a ``MatMulInteger``: ``(q - zero_point) * scale`` per column."""
        tensor = node.input[1]
        q = self.value(tensor).astype(np.float32)
        zero_point = self.value(node.input[3]) if len(node.input) > 3 and node.input[3] else np.zeros(())
        cast = self.only_consumer(node.output[0], "Cast", tensor)
        rescale = self.only_consumer(cast.output[0], "Mul", tensor)
        scales = self.producer.get(next((i for i in rescale.input if i != cast.output[0]), ""))
        weight_scale = None
        if scales is not None and scales.op_type == "Mul":
            weight_scale = self.constant_input(scales, "")
        if weight_scale is None:
            raise self.error(tensor, "has no weight scale among the inputs of its rescaling Mul")
        scale = self.value(weight_scale).astype(np.float32)
        return (q - np.asarray(zero_point, dtype=np.float32)) * scale

    def bias_after_rescale(self, node: Any) -> str:
        tensor = node.input[1]
        cast = self.only_consumer(node.output[0], "Cast", tensor)
        rescale = self.only_consumer(cast.output[0], "Mul", tensor)
        return self.bias_of(rescale.output[0], tensor)


def _dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    return (q.astype(np.float32) - zero_point.astype(np.float32)) * scale.astype(np.float32)


def shipped_state_dict(directory: str | Path) -> dict[str, np.ndarray]:
    """The network's ``state_dict`` (torch names, fp32 numpy arrays) rebuilt from an exported model.

    Works on the int8 graph that ships and on an unquantised export. Raises ``ValueError`` naming the
    tensor when a weight cannot be named or a name comes twice, and for directories that are not an
    exported signals transformer (``shipped_meta``). Whether every parameter of the network is there
    is checked when it is loaded (``load_shipped_weights``).
    """
    directory = Path(directory)
    shipped_meta(directory)
    graph = _Graph(directory / MODEL_FILE)
    state: dict[str, np.ndarray] = {}
    consumed: set[str] = set()  # constant names taken as a tensor
    used: set[str] = set()  # the initializers behind them

    def put(name: str, value: np.ndarray, *sources: str) -> None:
        if name in state:
            raise graph.error(sources[0], f"maps to {name!r}, which another tensor already holds")
        state[name] = np.ascontiguousarray(value, dtype=np.float32)
        consumed.update(sources)
        used.update(graph.source[s] for s in sources)

    for node in graph.nodes:
        weight = node.input[1] if len(node.input) > 1 else ""
        if node.op_type == "MatMulInteger" and weight in graph.source:
            name = graph.bias_after_rescale(node)
            put(name, graph.dequantized_matmul(node).T, weight)
        elif node.op_type == "MatMul" and weight in graph.source:
            put(graph.bias_of(node.output[0], weight), graph.value(weight).T, weight)
        elif node.op_type == "Gemm" and weight in graph.source:
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            bias = node.input[2] if len(node.input) > 2 else ""
            if not (bias.startswith(_PREFIX) and bias.endswith(".bias")):
                raise graph.error(weight, f"is a Gemm weight whose bias {bias!r} is not a named Linear bias")
            value = graph.value(weight)
            put(bias[len(_PREFIX) : -len("bias")] + "weight", value if trans_b else value.T, weight)
    for name in graph.source:
        if not name.startswith(_PREFIX) or name in consumed or name[len(_PREFIX) :] in state:
            continue
        value = graph.value(name)
        if name.endswith(_QUANTIZED):  # an embedding table (Gather of int8 rows, then DequantizeLinear)
            base = name[: -len(_QUANTIZED)]
            if base + _SCALE not in graph.source or base + _ZERO_POINT not in graph.source:
                raise graph.error(name, "has no scale or zero point beside it")
            scale, zero_point = graph.value(base + _SCALE), graph.value(base + _ZERO_POINT)
            put(base[len(_PREFIX) :], _dequantize(value, scale, zero_point), name)
        elif not name.endswith((_SCALE, _ZERO_POINT)) and np.issubdtype(value.dtype, np.floating):
            put(name[len(_PREFIX) :], value, name)
    # What is left must be bookkeeping (scales, zero points, shape constants), never a weight.
    left = sorted(
        name
        for name, value in graph.init.items()
        if name not in used
        and value.size > 1
        and not name.endswith((_SCALE, _ZERO_POINT))
        and (name.endswith(_QUANTIZED) or np.issubdtype(value.dtype, np.floating))
    )
    if left:
        raise graph.error(left[0], f"is a weight no network parameter takes ({len(left)} such tensors)")
    return state


def load_shipped_weights(net: Any, state: dict[str, np.ndarray], directory: str | Path) -> None:
    """Load ``state`` into ``net`` strictly: a missing, extra or mis-shaped tensor is a ``ValueError``."""
    import torch

    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ValueError(
            f"{directory}: the graph holds no tensor for the network's {missing[0]!r} "
            f"({len(missing)} missing)"
        )
    extra = sorted(set(state) - set(expected))
    if extra:
        raise ValueError(
            f"{directory}: tensor {extra[0]!r} is not a parameter of the network ({len(extra)} extra)"
        )
    for name, value in state.items():
        if tuple(value.shape) != tuple(expected[name].shape):
            raise ValueError(
                f"{directory}: tensor {name!r} has shape {tuple(value.shape)}, the network's "
                f"{tuple(expected[name].shape)}"
            )
    net.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=True)


def warm_start_network(config: TransformerConfig) -> tuple[Any, Tokenizer, dict[str, Any]]:
    """``build_network`` for ``config.init_from``: the shipped model's network, weights and tokenizer.

    The encoder's configuration is the base encoder's ``config.json`` (with ``encoder_overrides`` and
    ``keep_layers``, as for a fresh student), which must give the shipped model's layer count; its
    weights are the shipped model's, never the base's. ``init_from`` is a model directory or an MLflow
    URI (``models:/signals@champion``).
    """
    from tokenizers import Tokenizer

    from signals.models.transformer_net import SignalsNet, base_model_dir
    from signals.registry import resolve

    directory = resolve(config.init_from)
    meta = shipped_meta(directory)
    base = Path(config.base_model) if config.base_model else base_model_dir()
    encoder_config = json.loads((base / "config.json").read_text())
    encoder_config.update(config.encoder_overrides)
    if config.keep_layers:
        encoder_config["num_hidden_layers"] = len(config.keep_layers)
    if int(meta["layers"]) != int(encoder_config["num_hidden_layers"]):
        raise _refuse(
            directory,
            f"it has {meta['layers']} encoder layers and the config builds "
            f"{encoder_config['num_hidden_layers']}: set keep_layers = {meta.get('kept_base_layers')}",
        )
    kept = meta.get("kept_base_layers") or []
    if kept and list(kept) != list(config.keep_layers):
        raise _refuse(
            directory, f"it kept base layers {kept}, the config says keep_layers = {config.keep_layers}"
        )
    if meta.get("train_max_length") and int(meta["train_max_length"]) != config.max_length:
        log.warning(
            "%s was trained on %s tokens per text, this run uses max_length %d",
            directory,
            meta["train_max_length"],
            config.max_length,
        )
    net = SignalsNet.create(encoder_config, dropout=config.dropout)
    load_shipped_weights(net, shipped_state_dict(directory), directory)
    tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
    log.info(
        "warm start from %s (%s layers, weights dequantised from %s)", directory, meta["layers"], MODEL_FILE
    )
    return net, tokenizer, encoder_config


# ------------------------------------------------------------------------------------------ weight average


def average_models(
    directories: Sequence[str | Path], out: str | Path, config: TransformerConfig | None = None
) -> Path:
    """Export the uniform weight average of trained models ("model soup") to ``out``.

    The members must be students of one recipe, fine-tuned from the same start (seeds of one config):
    the same architecture, kept layers, lengths and tokenizer, or a ``ValueError`` names the first that
    differs. Each member's ``state_dict`` is rebuilt from its graph (``shipped_state_dict``), the tensors
    are averaged, and the network is exported as the members were (int8 or fp32, ``export_onnx``). The
    manifest is the first member's with ``extra.soup_of`` naming every member's version; its calibration
    and thresholds are the first member's until ``signals soup`` (``training.soup``) fits them again.
    ``config`` is the recipe's (its encoder: ``base_model``, ``encoder_overrides``); by default the
    MiniLM base with the members' kept layers and lengths.
    """
    import dataclasses

    from signals.models import ModelInfo
    from signals.models.onnx import export_onnx
    from signals.models.transformer import TransformerConfig
    from signals.models.transformer_net import TrainedNetwork

    members = [Path(d) for d in directories]
    if len(members) < 2:
        raise ValueError("a weight average needs at least two models")
    metas = [shipped_meta(d) for d in members]
    tokenizers = [(d / TOKENIZER_FILE).read_bytes() for d in members]
    same = ("layers", "kept_base_layers", "max_length", "train_max_length", "quantized", "base")
    for d, meta, tok in zip(members[1:], metas[1:], tokenizers[1:], strict=True):
        for key in same:
            if meta.get(key) != metas[0].get(key):
                raise ValueError(f"{d}: {key} is {meta.get(key)!r}, {members[0]}'s is {metas[0].get(key)!r}")
        if tok != tokenizers[0]:
            raise ValueError(f"{d}: its tokenizer is not {members[0]}'s")
    meta = metas[0]
    config = dataclasses.replace(
        config or TransformerConfig(),
        init_from=str(members[0]),
        keep_layers=list(meta.get("kept_base_layers") or []),
        max_length=int(meta.get("train_max_length", 128)),
        serve_max_length=int(meta["max_length"]),
    )
    net, tokenizer, encoder_config = warm_start_network(config)
    states = [shipped_state_dict(d) for d in members]
    average = {name: np.mean([s[name] for s in states], axis=0) for name in states[0]}
    load_shipped_weights(net, average, "the weight average")
    out = Path(out)
    averaged = TrainedNetwork(net.eval(), tokenizer, encoder_config, config, [], 0.0)
    export_onnx(averaged, out, quantize=meta["quantized"])
    info = ModelInfo.load(members[0])
    info.extra = {**info.extra, "soup_of": [ModelInfo.load(d).version for d in members]}
    info.save(out)
    log.info("averaged %d models into %s", len(members), out)
    return out


# ----------------------------------------------------------------------------------------------- parity


@dataclass
class Parity:
    """How far two models' signal probabilities are apart over texts x signals (absolute difference)."""

    n_texts: int
    mean: float
    p99: float
    max: float

    @classmethod
    def of(cls, a: np.ndarray, b: np.ndarray) -> Parity:
        diff = np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).ravel()
        return cls(len(a), float(diff.mean()), float(np.quantile(diff, 0.99)), float(diff.max()))

    def __str__(self) -> str:
        return f"{self.n_texts} texts: mean {self.mean:.4f}, p99 {self.p99:.4f}, max {self.max:.4f}"


def parity(
    directory: str | Path, texts: Sequence[str], requantize: bool = False
) -> tuple[Parity, Parity | None]:
    """The rebuilt fp32 torch network against the shipped graph on ``texts``, and optionally the rebuilt
    network exported and quantised again (``export_onnx``) against the shipped graph.

    The first is what a warm start starts from compared with what served: the int8 graph also quantises
    activations on the fly, the torch network does not. The second checks the mapping itself: the same
    weights quantised the same way give the same graph, so a misplaced or transposed weight would show.
    Texts are normalised and tokenised as the scorer does (``max_length`` of ``onnx.json``) and run one
    at a time on every side (no padding).
    """
    import tempfile

    import torch

    from signals.models.onnx import OnnxModel, export_onnx
    from signals.models.transformer import TransformerConfig
    from signals.models.transformer_data import encode
    from signals.models.transformer_net import TrainedNetwork, predict_logits
    from signals.normalize import normalize

    directory = Path(directory)
    meta = shipped_meta(directory)
    config = TransformerConfig(
        init_from=str(directory),
        keep_layers=list(meta.get("kept_base_layers") or []),
        max_length=int(meta.get("train_max_length", 128)),
        serve_max_length=int(meta["max_length"]),
    )
    net, tokenizer, encoder_config = warm_start_network(config)
    ids = encode(tokenizer, list(texts), int(meta["max_length"]))
    rebuilt, _ = predict_logits(net, ids, 1, torch.device("cpu"))
    normalised = [normalize(t) for t in texts]
    served = OnnxModel.load(directory, threads=1).predict_proba(normalised)
    again = None
    if requantize:
        with tempfile.TemporaryDirectory() as tmp:
            trained = TrainedNetwork(net, tokenizer, encoder_config, config, [], 0.0)
            export_onnx(trained, tmp, quantize=bool(meta.get("quantized", True)))
            again = Parity.of(OnnxModel.load(tmp, threads=1).predict_proba(normalised), served)
    return Parity.of(rebuilt, served), again


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m signals.models.warm_start [--model models/default] [--data data/processed] [--n 300]``.

    Rebuilds the model's network and prints its parity with the served graph on ``n`` validation texts.
    """
    import argparse

    from signals.models.transformer import load_splits

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--data", default="data/processed")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    validation = [str(t) for t in load_splits(args.data)["validation"]["text"]]
    rng = np.random.default_rng(args.seed)
    texts = [
        validation[int(i)] for i in rng.choice(len(validation), min(args.n, len(validation)), replace=False)
    ]
    rebuilt, again = parity(args.model, texts, requantize=True)
    log.info("%s, rebuilt fp32 torch network vs the served graph: %s", args.model, rebuilt)
    log.info("%s, rebuilt network exported and quantised again vs the served graph: %s", args.model, again)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
