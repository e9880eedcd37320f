"""One-step smoke training through a config override, then ONNX export and the serving model.

A tiny random-weight BERT (real tokenizer) keeps this fast; one test loads the real base weights to
check the sha256 verification and key mapping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")

from signals.models import ModelInfo, load_model_dir  # noqa: E402
from signals.models.transformer import (  # noqa: E402
    EMA_EVERY,
    TrainedNetwork,
    TransformerConfig,
    build_network,
    fit_transformer,
    load_checkpoint,
    masked_bce,
    save_checkpoint,
    teacher_labels,
    template_rows,
    train_network,
)
from signals.schema import DATASET_COLUMNS, SIGNALS, TARGET_COLUMNS, UNKNOWN  # noqa: E402
from signals.scoring import Scorer  # noqa: E402

pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).parents[2] / "training" / "configs"
CONFIG = CONFIGS / "minilm.v1.toml"
STUDENT_CONFIG = CONFIGS / "minilm3.v2.toml"
RETRAIN_CONFIG = CONFIGS / "minilm3.retrain.toml"
TINY = {
    "random_init": True,
    "base_sha256": "",
    "encoder_overrides": {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
    },
    "max_steps": 1,
    "batch_size": 4,
    "device": "cpu",
}


def synthetic_dataset() -> datasets.DatasetDict:
    """Two corpora that label different signals; the rest is masked (-1)."""
    texts = [
        ("those people are vermin, deport them all", "a", {"hate": 1, "offensive": 1}),
        ("what a lovely day at the park", "a", {"hate": 0, "offensive": 0}),
        ("I will hurt you tomorrow", "b", {"threat": 1, "polarization": 0}),
        ("our city council fixed the road", "b", {"threat": 0, "polarization": 0}),
        ("all of them are traitors destroying our city", "b", {"threat": 0, "polarization": 1}),
        ("you absolute idiot", "a", {"hate": 0, "offensive": 1}),
    ]
    rows = []
    for i, (text, source, labels) in enumerate(texts * 3):
        row = {"id": f"{source}-{i}", "text": text, "source": source, "lang": "en"}
        row.update({s: labels.get(s, UNKNOWN) for s in SIGNALS})
        row.update({c: UNKNOWN for c in TARGET_COLUMNS})
        row["target_religion"] = 0 if source == "a" else UNKNOWN
        rows.append(row)
    cols = {c: [r[c] for r in rows] for c in DATASET_COLUMNS}
    ds = datasets.Dataset.from_dict(cols)
    return datasets.DatasetDict({"train": ds, "validation": ds, "test": ds})


def test_config_file_loads_with_overrides() -> None:
    config = TransformerConfig.from_toml(CONFIG, {"max_steps": 1})
    assert config.max_steps == 1
    assert config.max_length <= 128  # the CPU budget depends on it
    with pytest.raises(ValueError, match="unknown transformer config"):
        TransformerConfig.from_dict({"learning_rat": 1e-5})


def test_masked_loss_ignores_unknown_labels() -> None:
    import torch

    logits = torch.tensor([[5.0, -5.0], [0.0, 0.0]])
    known_only = masked_bce(logits[:1, :1], torch.tensor([[1]]))
    with_unknown = masked_bce(logits, torch.tensor([[1, -1], [-1, -1]]))
    assert torch.isclose(known_only, with_unknown)
    all_unknown = masked_bce(logits, torch.full((2, 2), -1))
    assert float(all_unknown) == 0.0


def test_masked_loss_takes_a_weight_per_cell() -> None:
    import torch

    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    labels = torch.tensor([[1, 0], [0, 1]])
    rows = torch.tensor([2.0, 1.0])
    per_row = masked_bce(logits, labels, rows)
    assert torch.isclose(per_row, masked_bce(logits, labels, rows.unsqueeze(1).expand(2, 2)))
    # a zero cell drops that label, like an unknown one
    cells = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert torch.isclose(
        masked_bce(logits, labels, cells), masked_bce(logits, torch.tensor([[1, -1], [0, 1]]))
    )


def test_template_signal_weights_name_known_signals() -> None:
    config = TransformerConfig.from_dict({"template_signal_weights": {"polarization": 0.25}})
    assert config.template_signal_weights == {"polarization": 0.25}
    with pytest.raises(ValueError, match="unknown signal"):
        TransformerConfig.from_dict({"template_signal_weights": {"polarisation": 0.25}})


def test_base_weights_are_verified() -> None:
    with pytest.raises(RuntimeError, match="sha256"):
        build_network(TransformerConfig(base_sha256="deadbeef"))
    net, tokenizer, cfg = build_network(TransformerConfig())
    assert cfg["hidden_size"] == 384
    assert tokenizer.encode("hello").ids[0] == 101


def test_one_step_smoke_training_exports_a_serving_model(tmp_path: Path) -> None:
    dd = synthetic_dataset()
    config = TransformerConfig.from_toml(CONFIG, TINY)
    epochs: list[tuple[int, dict[str, float]]] = []
    model = fit_transformer(config, dd, tmp_path, callback=lambda e, m: epochs.append((e, m)))
    assert [e for e, _ in epochs] == [1]
    assert "val_mean_pr_auc" in epochs[0][1]

    probs = model.predict_proba(["hello there", "you absolute idiot"])
    assert probs.shape == (2, len(SIGNALS))
    assert np.all((probs >= 0) & (probs <= 1))
    assert model.predict_targets(["hello there"]).shape == (1, 7)

    out = tmp_path / "model"
    model.save(out)
    ModelInfo(name="smoke", version="1", format="onnx").save(out)
    loaded, info = load_model_dir(out)
    scorer = Scorer(loaded, info)
    score = scorer.score("hello there")
    assert set(score.scores) == set(SIGNALS)
    assert set(score.targets) == set(info.targets)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    import torch

    trained = train_network(TransformerConfig.from_toml(CONFIG, TINY), synthetic_dataset())
    save_checkpoint(trained, tmp_path / "ckpt")
    again = load_checkpoint(tmp_path / "ckpt")
    ids = torch.tensor([[101, 7592, 102]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        a = torch.sigmoid(trained.net(ids, mask)[0])
        b = torch.sigmoid(again.net(ids, mask)[0])
    assert torch.allclose(a, b, atol=2e-3)  # fp16 storage


def test_callbacks_see_every_epoch_and_the_end() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.epochs: list[int] = []
            self.trained: TrainedNetwork | None = None

        def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
            self.epochs.append(epoch)

        def on_train_end(self, trained: TrainedNetwork) -> None:
            self.trained = trained

    recorder, plain = Recorder(), []
    config = TransformerConfig.from_toml(CONFIG, {**TINY, "max_steps": 0, "epochs": 2, "patience": 2})
    trained = train_network(config, synthetic_dataset(), [recorder, lambda e, m: plain.append(e)])
    assert recorder.epochs == plain == [1, 2]
    assert recorder.trained is trained and len(trained.history) == 2


def test_keep_layers_builds_a_student_from_chosen_base_layers() -> None:
    from safetensors.numpy import load_file

    from signals.models.transformer import base_model_dir

    net, _, cfg = build_network(TransformerConfig(keep_layers=[0, 2, 4]))
    assert cfg["num_hidden_layers"] == 3
    assert len(net.encoder.encoder.layer) == 3
    base = load_file(str(base_model_dir() / "model.safetensors"))
    key = next(k for k in base if k.endswith("layer.2.attention.self.query.weight"))
    student = net.encoder.encoder.layer[1].attention.self.query.weight.detach().numpy()
    np.testing.assert_allclose(student, base[key].astype(np.float32), atol=1e-6)
    assert not np.allclose(student, net.encoder.encoder.layer[0].attention.self.query.weight.detach().numpy())


def test_template_rows_are_labelled_and_never_the_suite() -> None:
    from signals.functional.suite import suite_cases

    texts, labels, targets = template_rows()
    assert len(texts) == len(labels) == len(targets) > 100
    assert labels.shape[1] == len(SIGNALS) and set(np.unique(labels)) <= {-1, 0, 1}
    assert (labels[:, SIGNALS.index("threat")] == 1).any()
    assert not set(texts) & {c.text for c in suite_cases()}
    # the multilingual model's: Arabic templates only, hate labelled, every other signal of a twin unknown
    ar_texts, ar_labels, _ = template_rows(english=False, languages=["ar"])
    assert ar_texts and not set(ar_texts) & set(texts)
    assert (
        set(ar_labels[:, SIGNALS.index("hate")]) == {0, 1}
        and (ar_labels[:, SIGNALS.index("threat")] == -1).all()
    )


def test_student_recipe_trains_with_teacher_and_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNALS_TEACHER_CACHE", str(tmp_path / "cache"))
    dd = synthetic_dataset()
    teacher_dir = tmp_path / "teacher"
    fit_transformer(TransformerConfig.from_toml(CONFIG, TINY), dd, tmp_path / "t").save(teacher_dir)
    sig, tgt = teacher_labels(str(teacher_dir), ["hello there", "you absolute idiot"])
    assert sig.shape == (2, len(SIGNALS)) and tgt.shape == (2, len(TARGET_COLUMNS))
    assert np.all((sig >= 0) & (sig <= 1))
    none_sig, _ = teacher_labels("", ["hello"])
    assert np.all(none_sig == -1)

    student = TransformerConfig.from_toml(STUDENT_CONFIG, {**TINY, "teacher": str(teacher_dir)})
    assert student.augment_templates and student.keep_layers
    trained = train_network(student, dd)
    assert trained.history and trained.history[0]["steps"] == 1.0


def test_weight_average_is_what_training_returns() -> None:
    import torch

    def weights(ema_decay: float) -> torch.Tensor:
        config = TransformerConfig.from_toml(
            CONFIG, {**TINY, "batch_size": 1, "epochs": 1, "max_steps": 2 * EMA_EVERY, "ema_decay": ema_decay}
        )
        net = train_network(config, synthetic_dataset()).net
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    torch.manual_seed(TransformerConfig.from_toml(CONFIG, TINY).seed)
    init = torch.cat(
        [
            p.detach().flatten()
            for p in build_network(TransformerConfig.from_toml(CONFIG, TINY))[0].parameters()
        ]
    )
    raw, averaged = weights(0.0), weights(0.9)
    assert init.shape == raw.shape == averaged.shape
    # the same seed takes the same steps; the average lags behind the last step, between it and the start
    assert not torch.allclose(averaged, raw)
    assert 0 < torch.dist(averaged, raw) < torch.dist(init, raw)


def test_teacher_labels_are_cached_per_teacher_and_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signals.models.onnx import OnnxModel

    monkeypatch.setenv("SIGNALS_TEACHER_CACHE", str(tmp_path / "cache"))
    teacher_dir = tmp_path / "teacher"
    fit_transformer(TransformerConfig.from_toml(CONFIG, TINY), synthetic_dataset(), tmp_path / "t").save(
        teacher_dir
    )
    texts = ["hello there", "you absolute idiot"]
    first = teacher_labels(str(teacher_dir), texts)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the teacher was run again")

    monkeypatch.setattr(OnnxModel, "load", no_model)
    again = teacher_labels(str(teacher_dir), texts)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    with pytest.raises(AssertionError, match="run again"):  # other texts: not in the cache
        teacher_labels(str(teacher_dir), [*texts, "a third text"])


def test_retrain_config_starts_from_the_shipped_champion() -> None:
    import json

    from signals.training import load_config

    config = load_config(RETRAIN_CONFIG)
    warm = TransformerConfig.from_dict(config.transformer)
    student = TransformerConfig.from_toml(STUDENT_CONFIG)
    shipped = json.loads((CONFIGS.parents[1] / warm.init_from / "onnx.json").read_text())
    # the champion's architecture and lengths, so its weights fit and its tokens mean the same
    assert warm.keep_layers == shipped["kept_base_layers"] and len(warm.keep_layers) == shipped["layers"]
    assert (warm.max_length, warm.serve_max_length) == (shipped["train_max_length"], shipped["max_length"])
    # a short, gentle schedule, the champion's recipe otherwise
    assert warm.epochs == 1 and warm.max_minutes <= 20 and warm.max_train_rows > 0
    assert warm.learning_rate < student.learning_rate and warm.head_learning_rate < student.head_learning_rate
    assert (warm.teacher, warm.augment_templates) == (student.teacher, student.augment_templates)
    assert config.model == "minilm" and config.civic


def test_warm_start_trains_from_an_exported_model(tmp_path: Path) -> None:
    from signals.models.onnx import export_onnx
    from signals.models.warm_start import shipped_state_dict

    fresh = TransformerConfig.from_dict(TINY)
    net, tokenizer, encoder_config = build_network(fresh)
    export_onnx(TrainedNetwork(net.eval(), tokenizer, encoder_config, fresh, [], 0.0), tmp_path / "shipped")

    config = TransformerConfig.from_dict({**TINY, "init_from": str(tmp_path / "shipped")})
    warm, _, _ = build_network(config)
    start = shipped_state_dict(tmp_path / "shipped")
    assert all(np.array_equal(v.numpy(), start[k]) for k, v in warm.state_dict().items())

    dd = synthetic_dataset()
    analyst = dd["train"].select(range(2)).map(lambda r: {"source": "analyst"})
    dd["train"] = datasets.concatenate_datasets([dd["train"], analyst])
    model = fit_transformer({**TINY, "init_from": str(tmp_path / "shipped")}, dd, tmp_path / "work")
    assert model.predict_proba(["hello there"]).shape == (1, len(SIGNALS))


def test_frozen_word_embeddings_stay_as_the_base_has_them() -> None:
    from signals.models.transformer_loop import _optimizer

    config = TransformerConfig(**{**TINY, "freeze_word_embeddings": True})
    net, _, _ = build_network(config)
    optimizer = _optimizer(net, config)
    word = net.encoder.embeddings.word_embeddings.weight
    assert not word.requires_grad
    assert all(p is not word for group in optimizer.param_groups for p in group["params"])
    trained = train_network(config, synthetic_dataset())
    assert trained.config.freeze_word_embeddings


def test_attention_entropy_is_that_of_the_unpadded_tokens() -> None:
    import torch

    from signals.models.transformer_net import mean_attention_entropy

    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]])
    uniform = mask[:, None, None, :].float().expand(2, 2, 6, 6)  # every token looks at every real token
    one_hot = torch.zeros(2, 2, 6, 6)
    one_hot[..., 0] = 1.0  # every token looks at the first token only
    # padding rows and columns do not count; the uniform layer's entropy is ln(4) and ln(2) per row
    expected = (np.log(4) + np.log(2)) / 2
    assert float(mean_attention_entropy([uniform], mask)) == pytest.approx(expected, abs=1e-6)
    assert float(mean_attention_entropy([uniform, one_hot], mask)) == pytest.approx(expected, abs=1e-6)
    # heads are averaged before the entropy: two heads that each attend to one token spread it
    split = torch.zeros(2, 2, 6, 6)
    split[:, 0, :, 0] = 1.0
    split[:, 1, :, 1] = 1.0
    assert float(mean_attention_entropy([split], mask)) == pytest.approx(np.log(2), abs=1e-6)


def test_attention_entropy_regularisation_spreads_attention() -> None:
    import torch

    from signals.models.transformer_data import _collate

    def entropy_after(weight: float) -> tuple[float, str]:
        config = TransformerConfig.from_toml(
            CONFIG,
            {
                **TINY,
                "max_steps": 30,
                "epochs": 10,
                "learning_rate": 0.01,
                "attention_entropy_weight": weight,
            },
        )
        net = train_network(config, synthetic_dataset()).net
        built_with = net.encoder.config._attn_implementation
        input_ids, mask = _collate(
            [[101, 2216, 2111, 2024, 102], [101, 2054, 102]], [0, 1], torch.device("cpu")
        )
        net.encoder.set_attn_implementation("eager")
        with torch.no_grad():
            *_, entropy = net(input_ids, mask, attention_entropy=True)
        return float(entropy), built_with

    plain, regularised = entropy_after(0.0), entropy_after(1.0)
    assert regularised[0] > plain[0]  # plain training narrows the attention, the regulariser keeps it wide
    # the trained network is handed back with the attention it was built with
    assert plain[1] == regularised[1] == "sdpa"


def test_group_negatives_weigh_more_in_the_hate_loss_only() -> None:
    import random

    from tokenizers import Tokenizer

    from signals.models.transformer_data import build_training_rows
    from signals.models.transformer_net import base_model_dir

    texts = [  # told apart below by their labels: the offensive label differs
        ("Muslims run the bakery on our street", {"hate": 0, "offensive": 0}),
        ("Muslims are vermin", {"hate": 1, "offensive": 1}),
        ("the bakery on our street is lovely", {"hate": 0}),
    ]
    rows = []
    for i, (text, labels) in enumerate(texts):
        row = {"id": f"a-{i}", "text": text, "source": "a", "lang": "en"}
        row.update({s: labels.get(s, UNKNOWN) for s in SIGNALS})
        row.update({c: UNKNOWN for c in TARGET_COLUMNS})
        rows.append(row)
    train = datasets.Dataset.from_dict({c: [r[c] for r in rows] for c in DATASET_COLUMNS})
    tokenizer = Tokenizer.from_file(str(base_model_dir() / "tokenizer.json"))
    hate, offensive = SIGNALS.index("hate"), SIGNALS.index("offensive")

    def scale(factor: float) -> dict[str, np.ndarray]:
        config = TransformerConfig(**{**TINY, "augment_rate": 0.0, "group_negative_factor": factor})
        encoded, signal_scale = build_training_rows(
            config, {"train": train}, tokenizer, np.random.default_rng(0), random.Random(0)
        )
        assert len(encoded.ids) == len(texts)
        by_label = {(0, 0): "benign group", (1, 1): "hateful group", (0, UNKNOWN): "benign"}
        return {
            by_label[(int(y[hate]), int(y[offensive]))]: signal_scale[i] for i, y in enumerate(encoded.labels)
        }

    assert all((row == 1.0).all() for row in scale(1.0).values())
    weighted = scale(3.0)
    # only the benign row that names a group, and only in its hate loss
    assert weighted["benign group"][hate] == 3.0
    assert (np.delete(weighted["benign group"], hate) == 1.0).all()
    assert (weighted["hateful group"] == 1.0).all() and (weighted["benign"] == 1.0).all()
