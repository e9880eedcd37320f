"""ONNX export parity with torch, int8 drift bound, and a serving path free of torch/transformers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signals.models import ModelInfo  # noqa: E402
from signals.models.onnx import CONFIG_FILE, OnnxModel, export_onnx  # noqa: E402
from signals.models.transformer import (  # noqa: E402
    TrainedNetwork,
    TransformerConfig,
    build_network,
    encode,
)
from signals.normalize import normalize  # noqa: E402
from signals.schema import SIGNALS  # noqa: E402
from signals.scoring import DEFAULT_MODEL_DIR, load_scorer  # noqa: E402

TEXTS = [
    "hi",
    "You people are vermin and should be deported, every last one of you.",
    "The council finally fixed the potholes on Main Street; thanks to everyone who reported them!",
    "a " * 300,  # longer than the serving length: truncated the same way on both sides
    "Ünïcödé, emojis 🙂 and numbers 1234 still tokenise",
]


@pytest.fixture(scope="module")
def trained() -> TrainedNetwork:
    config = TransformerConfig(
        random_init=True,
        base_sha256="",
        encoder_overrides={
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 128,
        },
        max_length=64,
        serve_max_length=64,
    )
    torch.manual_seed(0)
    net, tokenizer, encoder_config = build_network(config)
    # Random heads give probabilities near 0.5; scale them up so drift is measured on a real spread.
    with torch.no_grad():
        net.signal_head.weight.mul_(20)
        net.target_head.weight.mul_(20)
    return TrainedNetwork(net.eval(), tokenizer, encoder_config, config, [], 0.0)


def _torch_probs(trained: TrainedNetwork, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    ids = encode(trained.tokenizer, texts, trained.config.serve_max_length)
    out_s, out_t = [], []
    with torch.no_grad():
        for row in ids:  # one at a time: no padding involved on the torch side
            x = torch.tensor([row])
            s, t = trained.net(x, torch.ones_like(x))
            out_s.append(torch.sigmoid(s)[0].numpy())
            out_t.append(torch.sigmoid(t)[0].numpy())
    return np.stack(out_s), np.stack(out_t)


def test_fp32_export_matches_torch_with_padding(trained: TrainedNetwork, tmp_path: Path) -> None:
    export_onnx(trained, tmp_path, quantize=False)
    model = OnnxModel.load(tmp_path, threads=1)
    texts = [normalize(t) for t in TEXTS]
    want_s, want_t = _torch_probs(trained, texts)
    # Batched with dynamic padding on the ONNX side: the mask must make padding irrelevant.
    np.testing.assert_allclose(model.predict_proba(texts), want_s, atol=1e-4)
    np.testing.assert_allclose(model.predict_targets(texts), want_t, atol=1e-4)
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["quantized"] is False


def test_int8_drift_is_bounded(trained: TrainedNetwork, tmp_path: Path) -> None:
    export_onnx(trained, tmp_path, quantize=True)
    model = OnnxModel.load(tmp_path, threads=1)
    texts = [normalize(t) for t in TEXTS]
    want_s, _ = _torch_probs(trained, texts)
    got = model.predict_proba(texts)
    # Activations are quantised per call, per text: a small random network with sharpened heads
    # drifts by up to ~0.1 on one text, a few hundredths on average.
    assert np.abs(got - want_s).mean() < 0.03
    assert np.abs(got - want_s).max() < 0.15
    fp32_size = sum(p.numel() for p in trained.net.parameters()) * 4
    assert (tmp_path / "model.onnx").stat().st_size < 0.4 * fp32_size


def test_a_score_does_not_depend_on_its_batch(trained: TrainedNetwork, tmp_path: Path) -> None:
    export_onnx(trained, tmp_path, quantize=True)
    model = OnnxModel.load(tmp_path, threads=2)
    texts = [normalize(t) for t in TEXTS]
    together = model.predict_proba(texts)
    alone = np.concatenate([model.predict_proba([t]) for t in texts])
    np.testing.assert_array_equal(together, alone)  # alone = the all-threads session, one text
    assert model.threads == 2
    assert model.solo_session is not model.session


def test_serving_never_imports_torch(trained: TrainedNetwork, tmp_path: Path) -> None:
    export_onnx(trained, tmp_path)
    code = (
        "import sys\n"
        "from signals.models import load_model_dir, ModelInfo\n"
        "from pathlib import Path\n"
        f"ModelInfo(name='t', version='1', format='onnx').save(Path({str(tmp_path)!r}))\n"
        f"model, info = load_model_dir({str(tmp_path)!r})\n"
        "assert model.predict_proba(['hello there']).shape == (1, 4)\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_files_give_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model.onnx is missing"):
        OnnxModel.load(tmp_path)


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "model.onnx").is_file(), reason="no shipped champion")
def test_shipped_champion_artifact() -> None:
    files = list(DEFAULT_MODEL_DIR.iterdir())
    assert sum(f.stat().st_size for f in files if f.is_file()) <= 30 * 1024 * 1024
    info = ModelInfo.load(DEFAULT_MODEL_DIR)
    assert info.format == "onnx"
    assert set(info.calibration) == set(SIGNALS)
    for signal in SIGNALS:
        assert 0 < info.thresholds["review"][signal] <= info.thresholds["flag"][signal] < 1
    scorer = load_scorer(DEFAULT_MODEL_DIR)
    threat, benign, insult = scorer.score(
        ["I am going to find you and kill you", "Thanks for fixing the library roof so quickly", "you 1d10t"]
    )
    assert threat.scores["threat"] > benign.scores["threat"]
    assert insult.scores["offensive"] > benign.scores["offensive"]
    assert not any(benign.flags.values())
