"""The serving form of the fine-tuned transformer: an int8 ONNX graph plus its tokenizer.

``export_onnx`` (training side, needs torch) traces the network with ``torch.onnx.export`` into a graph
whose outputs are already probabilities (sigmoid inside), then quantises it with onnxruntime's dynamic
per-channel int8 quantisation (the most faithful variant in a probe: weights int8 per output channel,
activations quantised on the fly). ``OnnxModel`` (serving side) needs only onnxruntime, tokenizers and
numpy, so a serving process never imports torch or transformers and stays small.

A model directory holds ``model.onnx``, ``tokenizer.json`` and ``onnx.json`` (input length, label
order, how the graph was made); the ``signals.json`` manifest is written beside them by the pipeline.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from signals.schema import SIGNALS, TARGETS

if TYPE_CHECKING:
    from signals.models.transformer import TrainedNetwork

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "onnx.json"
#: Characters per token on English comments is about 4; a window must fit ``max_length`` tokens.
CHARS_PER_TOKEN = 3.5


#: The heads' nodes in the exported graph, kept fp32 by the int8 quantisation.
HEAD_NODES = (
    "/net/signal_head/Gemm",
    "/net/target_head/Gemm",
    # the quantiser first splits a Gemm into a MatMul and an Add, named after it
    "/net/signal_head/Gemm_MatMul",
    "/net/target_head/Gemm_MatMul",
)


def export_onnx(trained: TrainedNetwork, directory: str | Path, quantize: bool | None = None) -> Path:
    """Export a trained network to ``directory`` (``model.onnx`` int8 unless ``quantize`` is False)."""
    import torch

    from signals.models.transformer_net import base_description

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = trained.config
    quantize = config.quantize if quantize is None else quantize

    class _Probabilities(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[Any, Any]:
            signals, targets = self.net(input_ids, attention_mask)
            return torch.sigmoid(signals), torch.sigmoid(targets)

    wrapper = _Probabilities(trained.net.to("cpu").eval()).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["signals", "targets"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "signals": {0: "batch"},
                "targets": {0: "batch"},
            },
            opset_version=18,
            dynamo=False,
        )
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # The two heads stay fp32: quantised, their few output levels put different texts on the very
            # same probability in the low tail (1.0 % of 1,000 civic sentences shared a threat score).
            quantize_dynamic(
                str(fp32),
                str(directory / MODEL_FILE),
                per_channel=True,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=list(HEAD_NODES),
            )
        else:
            shutil.copy(fp32, directory / MODEL_FILE)
    tokenizer = _plain_tokenizer(trained.tokenizer)
    tokenizer.save(str(directory / TOKENIZER_FILE))
    meta = {
        "max_length": config.serve_max_length,
        "train_max_length": config.max_length,
        "signals": list(SIGNALS),
        "targets": list(TARGETS),
        "quantized": bool(quantize),
        # Sentence windows as long as the training texts: a hateful sentence packed with many benign
        # ones is diluted by mean pooling, the more so the smaller the network.
        "window_chars": int(min(config.max_length, config.serve_max_length) * CHARS_PER_TOKEN),
        "base": base_description(config),
        "layers": int(trained.encoder_config.get("num_hidden_layers", 0)),
        "kept_base_layers": list(config.keep_layers),
    }
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    log.info("exported %s (%.1f MB)", directory / MODEL_FILE, (directory / MODEL_FILE).stat().st_size / 1e6)
    return directory


def _plain_tokenizer(tokenizer: Any) -> Any:
    """A copy without built-in padding/truncation: the serving side sets both per call."""
    import copy

    tok = copy.deepcopy(tokenizer)
    tok.no_padding()
    tok.no_truncation()
    return tok


class OnnxModel:
    """Serving scorer over an exported directory: texts -> signal and target probabilities.

    Texts are expected already normalised (the ``Scorer`` does that). Each text runs on its own (no
    padding at all) and the texts of a call are spread over ``threads`` workers that share one
    session whose operators run single-threaded: on 2 cores and real comment lengths this beat one
    2-thread session over length-sorted sub-batches by about half (docs/benchmarks.md), because short
    comments give the operators too little work to split across threads. A call with a single text
    (one comment scored alone, the common case behind a single-comment request) has nothing to
    spread, so it runs on a second session whose operators use all ``threads`` instead: 1.5-1.7x
    faster for one text of 32-256 tokens on 2 cores. ``batch_size`` > 1 groups length-sorted texts
    instead (fewer session calls, some padding).

    >>> model = OnnxModel.load("models/default")          # doctest: +SKIP
    >>> model.predict_proba(["you people are vermin"]).shape  # doctest: +SKIP
    (1, 4)
    """

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        meta: dict[str, Any],
        directory: Path,
        batch_size: int = 1,
        threads: int = 1,
        solo_session: Any = None,
    ) -> None:
        self.session = session
        #: Session whose operators use every thread, for calls with one text (None: use ``session``).
        self.solo_session = solo_session or session
        self.threads = max(1, threads)
        self._pool: ThreadPoolExecutor | None = None
        self.tokenizer = tokenizer
        self.meta = meta
        self.directory = directory
        self.batch_size = batch_size
        self.signals: list[str] = list(meta.get("signals", SIGNALS))
        self.targets: list[str] = list(meta.get("targets", TARGETS))
        #: Longest text the scorer should send in one piece (sentence windows split the rest).
        self.max_window_chars: int = int(meta.get("window_chars", 900))
        self.history: list[dict[str, float]] = []
        self.train_seconds: float | None = None
        self._targets_cache: dict[str, np.ndarray] = {}

    @classmethod
    def load(cls, directory: str | Path, threads: int | None = None, batch_size: int = 1) -> OnnxModel:
        """Open ``directory``; ``threads`` parallel workers (default ``$SIGNALS_ONNX_THREADS``, else the
        number of CPU cores)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        directory = Path(directory)
        for name in (MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"{directory} is not an ONNX signals model: {name} is missing")
        meta = json.loads((directory / CONFIG_FILE).read_text())
        threads = threads if threads is not None else int(os.environ.get("SIGNALS_ONNX_THREADS", "0"))
        threads = threads or os.cpu_count() or 1

        def session(intra_op_threads: int) -> Any:
            options = ort.SessionOptions()
            options.intra_op_num_threads = intra_op_threads
            options.inter_op_num_threads = 1
            # Idle operator threads sleep instead of spinning. Spinning shaves about 1 ms off a
            # median lone comment but doubles the p99 behind HTTP, because a spinning thread holds a
            # core that the event loop and the next call need (docs/benchmarks.md).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            return ort.InferenceSession(
                str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )

        tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=int(meta["max_length"]))
        return cls(
            session(1),
            tokenizer,
            meta,
            directory,
            batch_size=batch_size,
            threads=threads,
            solo_session=session(threads) if threads > 1 else None,
        )

    def _run(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        sig = np.zeros((len(texts), len(self.signals)), dtype=np.float32)
        tgt = np.zeros((len(texts), len(self.targets)), dtype=np.float32)
        if not texts:
            return sig, tgt
        encodings = self.tokenizer.encode_batch(list(texts))
        # Longest first, so the last pieces of work handed out are the short ones and the workers
        # finish together.
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        chunks = [order[k : k + self.batch_size] for k in range(0, len(order), self.batch_size)]
        session = self.solo_session if len(chunks) == 1 else self.session

        def run(rows: np.ndarray) -> None:
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for k, i in enumerate(rows):
                row = encodings[i].ids
                ids[k, : len(row)] = row
                mask[k, : len(row)] = 1
            s, t = session.run(["signals", "targets"], {"input_ids": ids, "attention_mask": mask})
            sig[rows] = s  # each chunk owns its rows: workers never write the same cells
            tgt[rows] = t

        if len(chunks) > 1 and self.threads > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx")
            # Each worker takes the next chunk from one shared queue until none is left: two tasks
            # per call instead of one future per text (about 10 % more texts/s at batch 32).
            pending: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
            for rows in chunks:
                pending.put(rows)

            def drain(_: int) -> None:
                with contextlib.suppress(queue.Empty):
                    while True:
                        run(pending.get_nowait())

            list(self._pool.map(drain, range(min(self.threads, len(chunks)))))
        else:
            for rows in chunks:
                run(rows)
        return sig, tgt

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Raw (uncalibrated) signal probabilities ``(len(texts), len(SIGNALS))`` in manifest order."""
        texts = list(texts)
        sig, tgt = self._run(texts)
        # The scorer asks for targets of the same texts right after; keep them instead of a second pass.
        self._targets_cache = {t: tgt[i] for i, t in enumerate(texts[:1024])}
        return sig.astype(float)

    def predict_targets(self, texts: Sequence[str]) -> np.ndarray:
        """Target-group probabilities ``(len(texts), len(TARGETS))``."""
        texts = list(texts)
        cached = self._targets_cache
        if texts and all(t in cached for t in texts):
            return np.stack([cached[t] for t in texts]).astype(float)
        return self._run(texts)[1].astype(float)

    def save(self, directory: str | Path) -> None:
        """Copy the model files into ``directory`` (the pipeline writes ``signals.json`` beside them)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if directory.resolve() == self.directory.resolve():
            return
        for name in (MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE):
            shutil.copy(self.directory / name, directory / name)
