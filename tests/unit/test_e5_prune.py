"""Vocabulary pruning of a converted e5 folder (signals.models.e5_prune) on a tiny Unigram tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import AddedToken, Tokenizer, pre_tokenizers, processors
from tokenizers.models import Unigram

from signals.models.e5_prune import ID_MAP_FILE, compare, prune

PIECES = [
    ("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0),
    ("▁passage", -1.0), (":", -1.0),
    ("▁hola", -2.0), ("▁mundo", -2.5), ("▁ho", -4.0), ("la", -4.0), ("▁", -3.0),
    ("h", -6.0), ("o", -6.0), ("l", -6.0), ("a", -6.0), ("m", -6.0), ("u", -6.0), ("n", -6.0), ("d", -6.0),
    ("▁casa", -2.0), ("▁ca", -4.5), ("sa", -4.5), ("▁perro", -2.2), ("▁gato", -9.0), ("▁sol", -9.5),
]  # fmt: skip


def converted_folder(path: Path) -> Path:
    from safetensors.numpy import save_file

    tok = Tokenizer(Unigram(PIECES, unk_id=3, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False) for p, _ in PIECES[:4]])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> prefix $A </s>",
        special_tokens=[
            ("<s>", 0),
            ("</s>", 2),
            {"id": "prefix", "ids": [4, 5], "tokens": ["▁passage", ":"]},
        ],
    )
    path.mkdir()
    tok.save(str(path / "tokenizer.json"))
    weights = np.arange(len(PIECES) * 4, dtype=np.float32).reshape(len(PIECES), 4)
    save_file({"embeddings.word_embeddings.weight": weights}, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps({"vocab_size": len(PIECES), "pad_token_id": 1}))
    (path / "conversion.json").write_text(json.dumps({"model_sha256": "abc", "layers": 1}))
    return path


def test_pruned_folder_keeps_the_used_pieces_and_their_rows(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    base = converted_folder(tmp_path / "full")
    done = prune(base, tmp_path / "pruned", ["hola mundo", "hola casa"], top=2)
    kept = json.loads((tmp_path / "pruned" / ID_MAP_FILE).read_text())
    # specials, the prefix, the used pieces and the 2 best-scored others (▁perro, ▁)
    assert kept == done.kept and kept[:6] == [0, 1, 2, 3, 4, 5]
    assert {6, 7, 19} <= set(kept) and 22 in kept and 23 not in kept and 24 not in kept
    rows = load_file(str(tmp_path / "pruned" / "model.safetensors"))["embeddings.word_embeddings.weight"]
    full = load_file(str(base / "model.safetensors"))["embeddings.word_embeddings.weight"]
    assert np.array_equal(rows, full[kept])
    config = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert config["vocab_size"] == len(kept) and config["pad_token_id"] == 1
    record = json.loads((tmp_path / "pruned" / "conversion.json").read_text())
    assert record["pruned_from_sha256"] == "abc" and record["vocab_kept"] == len(kept)


def test_pruned_tokenizer_segments_like_the_full_one(tmp_path: Path) -> None:
    base = converted_folder(tmp_path / "full")
    prune(base, tmp_path / "pruned", ["hola mundo", "casa hola"], top=0)
    full = Tokenizer.from_file(str(base / "tokenizer.json"))
    pruned = Tokenizer.from_file(str(tmp_path / "pruned" / "tokenizer.json"))
    for text in ["hola mundo", "mundo casa hola"]:
        assert full.encode(text).tokens == pruned.encode(text).tokens
    assert pruned.encode("hola").ids[:3] == [0, 4, 5]  # template ids remapped (unchanged here)
    # A pruned piece: "gato" (no kept piece covers its letters) is <unk>, never another piece's id.
    assert pruned.encode("gato").ids == [0, 4, 5, pruned.token_to_id("<unk>"), 2]
    agreement = compare(base, tmp_path / "pruned", ["hola mundo", "casa", "gato"])
    assert (agreement.texts, agreement.same, agreement.unk_full, agreement.unk_pruned) == (3, 3, 1, 1)
