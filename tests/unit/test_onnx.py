"""ONNX export parity with torch, int8 drift bound, a serving path free of torch/transformers, and the
warm start that rebuilds the torch network from an exported graph."""

from __future__ import annotations

import dataclasses
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
from signals.models.warm_start import shipped_state_dict, warm_start_network  # noqa: E402
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


# ------------------------------------------------------------------------------------------ warm start


def _warm(trained: TrainedNetwork, directory: Path) -> TrainedNetwork:
    net, tokenizer, encoder_config = warm_start_network(
        dataclasses.replace(trained.config, init_from=str(directory))
    )
    return TrainedNetwork(net.eval(), tokenizer, encoder_config, trained.config, [], 0.0)


def test_warm_start_recovers_the_int8_weights_and_outputs(trained: TrainedNetwork, tmp_path: Path) -> None:
    export_onnx(trained, tmp_path, quantize=True)
    rebuilt = shipped_state_dict(tmp_path)
    original = {k: v.numpy() for k, v in trained.net.state_dict().items()}
    assert set(rebuilt) == set(original)
    for name, want in original.items():
        err = np.abs(rebuilt[name] - want).max()
        if want.ndim == 2:
            # int8 per output channel (Linear) or uint8 per table (embeddings): at most half a step,
            # a step being at most max|w| / 127 (symmetric) or range / 255 (asymmetric, 0 in range)
            assert err <= np.abs(want).max() / 250, name
        else:
            assert err == 0, name  # LayerNorm and biases stay fp32
    # Every Linear weight was named, oriented torch's way ([out, in]) and really dequantised (not zero).
    query = "encoder.encoder.layer.1.attention.self.query.weight"
    assert rebuilt["signal_head.weight"].shape == (len(SIGNALS), 64)
    assert np.corrcoef(rebuilt[query].ravel(), original[query].ravel())[0, 1] > 0.99

    warm = _warm(trained, tmp_path)
    texts = [normalize(t) for t in TEXTS]
    want_s, want_t = _torch_probs(trained, texts)
    got_s, got_t = _torch_probs(warm, texts)
    served = OnnxModel.load(tmp_path, threads=1).predict_proba(texts)
    # the rebuilt network carries the weights' quantisation error only, the served graph also the
    # activations': both within the int8 drift bound above
    for other in (want_s, served):
        assert np.abs(got_s - other).mean() < 0.03
        assert np.abs(got_s - other).max() < 0.15
    assert np.abs(got_t - want_t).max() < 0.15


def test_warm_start_from_an_fp32_export_is_exact(trained: TrainedNetwork, tmp_path: Path) -> None:
    export_onnx(trained, tmp_path, quantize=False)
    rebuilt = shipped_state_dict(tmp_path)
    for name, want in trained.net.state_dict().items():
        np.testing.assert_allclose(rebuilt[name], want.numpy(), atol=1e-6, err_msg=name)


def test_warm_start_refuses_what_does_not_map(trained: TrainedNetwork, tmp_path: Path) -> None:
    import onnx

    export_onnx(trained, tmp_path, quantize=True)
    ModelInfo(name="t", version="1", format="baseline").save(tmp_path)
    with pytest.raises(ValueError, match="format is 'baseline'"):
        shipped_state_dict(tmp_path)
    ModelInfo(name="t", version="1", format="onnx").save(tmp_path)

    # a Linear whose bias lost its torch name cannot be named: the error names the weight
    model = onnx.load(str(tmp_path / "model.onnx"))
    for tensor in model.graph.initializer:
        if tensor.name == "net.signal_head.bias":
            tensor.name = "mystery"
    for node in model.graph.node:
        node.input[:] = ["mystery" if i == "net.signal_head.bias" else i for i in node.input]
    onnx.save(model, str(tmp_path / "model.onnx"))
    with pytest.raises(ValueError, match=r"tensor 'net\.signal_head\.weight.*'mystery'"):
        shipped_state_dict(tmp_path)

    # a parameter the graph does not hold
    export_onnx(trained, tmp_path, quantize=True)
    model = onnx.load(str(tmp_path / "model.onnx"))
    kept = [t for t in model.graph.initializer if t.name != "net.encoder.embeddings.LayerNorm.weight"]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.save(model, str(tmp_path / "model.onnx"))
    with pytest.raises(ValueError, match="'encoder.embeddings.LayerNorm.weight'"):
        _warm(trained, tmp_path)

    # another architecture than the one the config builds
    export_onnx(trained, tmp_path, quantize=True)
    with pytest.raises(ValueError, match="2 encoder layers and the config builds 3"):
        warm_start_network(
            dataclasses.replace(trained.config, init_from=str(tmp_path), keep_layers=[0, 1, 2])
        )
    (tmp_path / "model.onnx").unlink()
    with pytest.raises(ValueError, match="model.onnx is missing"):
        shipped_state_dict(tmp_path)


# -------------------------------------------------------------------------------------- weight average


def test_average_models_is_the_mean_of_the_members(trained: TrainedNetwork, tmp_path: Path) -> None:
    from signals.models.warm_start import average_models

    members = []
    for k, scale in enumerate((1.0, -0.5, 2.0)):
        net, tokenizer, encoder_config = warm_start_network(
            dataclasses.replace(trained.config, init_from=str(_exported(trained, tmp_path / "start")))
        )
        with torch.no_grad():
            for p in net.parameters():
                p.add_(scale * 0.01)
        member = TrainedNetwork(net.eval(), tokenizer, encoder_config, trained.config, [], 0.0)
        directory = export_onnx(member, tmp_path / f"seed{k}", quantize=False)
        ModelInfo(name="tiny", version=f"tiny+{k}", format="onnx").save(directory)
        members.append(directory)

    soup = average_models(members, tmp_path / "soup", trained.config)
    want = [shipped_state_dict(d) for d in members]
    got = shipped_state_dict(soup)
    for name, value in got.items():
        np.testing.assert_allclose(value, np.mean([w[name] for w in want], axis=0), atol=1e-6, err_msg=name)
    # not the first member's weights under another name
    assert np.abs(got["signal_head.bias"] - want[0]["signal_head.bias"]).max() > 1e-3
    info = ModelInfo.load(soup)
    assert info.extra["soup_of"] == ["tiny+0", "tiny+1", "tiny+2"]
    assert OnnxModel.load(soup, threads=1).predict_proba(["hello there"]).shape == (1, len(SIGNALS))


def test_average_models_refuses_members_of_different_recipes(trained: TrainedNetwork, tmp_path: Path) -> None:
    from signals.models.warm_start import average_models

    a = _exported(trained, tmp_path / "a")
    b = export_onnx(trained, tmp_path / "b", quantize=True)
    ModelInfo(name="tiny", version="tiny+b", format="onnx").save(b)
    with pytest.raises(ValueError, match="quantized is True"):
        average_models([a, b], tmp_path / "soup", trained.config)
    with pytest.raises(ValueError, match="at least two"):
        average_models([a], tmp_path / "soup", trained.config)
    assert not (tmp_path / "soup").exists()


def _exported(trained: TrainedNetwork, directory: Path) -> Path:
    export_onnx(trained, directory, quantize=False)
    ModelInfo(name="tiny", version="tiny+0", format="onnx").save(directory)
    return directory
