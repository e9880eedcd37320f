"""Prune a converted multilingual-e5 folder to the vocabulary of the languages a model serves (issue 17).

multilingual-e5-small's XLM-R vocabulary has 250,002 pieces for 100 languages; its word embeddings
(250,037 x 384) are 96 M of the model's 118 M parameters. A model that serves a few languages needs a
small share of them. ``prune`` keeps

* the special pieces (``<s>``, ``<pad>``, ``</s>``, ``<unk>``, ``<mask>``) and the input prefix's pieces,
* every piece the full tokenizer produces on the given texts (the training texts of the served
  languages), and
* the ``top`` pieces with the highest unigram score (the most frequent pieces of the whole vocabulary),

and writes a folder that ``build_network`` loads like the converted one: the embedding rows of the kept
pieces only (``model.safetensors``), ``config.json`` with the new ``vocab_size``, and a ``tokenizer.json``
whose Unigram vocabulary holds the kept pieces with their scores. The id map is deterministic: the kept
pieces keep their original order, so new id ``i`` is original id ``kept[i]`` (``vocab_ids.json``; the
special pieces 0-3 keep their ids, so ``pad_token_id`` stays 1).

Segmentation: a text whose full-vocabulary segmentation uses kept pieces only segments the same way
with the pruned vocabulary (Viterbi over a subset of the lattice that still holds the best path), so every
training text is tokenised exactly as before. Another text may use a pruned piece; the pruned tokenizer
then segments that word into kept pieces (smaller ones), or into ``<unk>`` for a character no kept piece
covers. ``compare`` measures how often that happens on held-out texts.

``python -m signals.models.e5_prune --base data/cache/multilingual-e5-small-l6 --dataset
data/processed-all --languages es,ar,de --out data/cache/multilingual-e5-small-pruned``
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from signals.models.e5_convert import _sha256

log = logging.getLogger(__name__)

#: The file that lists, for each new id, the original id.
ID_MAP_FILE = "vocab_ids.json"
#: Pieces kept by score in addition to the ones the texts use.
DEFAULT_TOP = 5000


@dataclass(frozen=True)
class Pruned:
    """What ``prune`` wrote."""

    directory: Path
    kept: list[int]
    from_texts: int
    model_sha256: str


def kept_ids(tokenizer_json: dict[str, Any], used: Iterable[int], top: int = DEFAULT_TOP) -> list[int]:
    """Sorted original ids to keep: special and template pieces, ``used`` and the ``top`` best-scored."""
    vocab = tokenizer_json["model"]["vocab"]
    keep = {int(tokenizer_json["model"]["unk_id"])}
    keep |= {int(t["id"]) for t in tokenizer_json.get("added_tokens", [])}
    for special in (tokenizer_json.get("post_processor") or {}).get("special_tokens", {}).values():
        keep |= {int(i) for i in special["ids"]}
    keep |= {int(i) for i in used}
    if top > 0:
        scores = np.array([float(score) for _, score in vocab])
        scores[list(keep)] = -np.inf
        keep |= {int(i) for i in np.argsort(-scores, kind="stable")[:top]}
    return sorted(i for i in keep if 0 <= i < len(vocab))


def pruned_tokenizer_json(tokenizer_json: dict[str, Any], kept: Sequence[int]) -> dict[str, Any]:
    """The tokenizer JSON with only ``kept`` pieces, ids renumbered in their original order."""
    new_id = {old: new for new, old in enumerate(kept)}
    out = json.loads(json.dumps(tokenizer_json))
    vocab = tokenizer_json["model"]["vocab"]
    out["model"]["vocab"] = [vocab[i] for i in kept]
    out["model"]["unk_id"] = new_id[int(tokenizer_json["model"]["unk_id"])]
    for token in out.get("added_tokens", []):
        token["id"] = new_id[int(token["id"])]
    post = out.get("post_processor") or {}
    for special in post.get("special_tokens", {}).values():
        special["ids"] = [new_id[int(i)] for i in special["ids"]]
    return out


def used_ids(tokenizer: Any, texts: Sequence[str], batch: int = 2048) -> set[int]:
    """Every id the tokenizer produces on ``texts``."""
    used: set[int] = set()
    for k in range(0, len(texts), batch):
        for encoding in tokenizer.encode_batch(list(texts[k : k + batch])):
            used.update(encoding.ids)
    return used


def prune(base: str | Path, out: str | Path, texts: Sequence[str], top: int = DEFAULT_TOP) -> Pruned:
    """Write the pruned copy of the converted folder ``base`` into ``out`` (see the module docstring)."""
    from safetensors.numpy import load_file, save_file
    from tokenizers import Tokenizer

    base, out = Path(base), Path(out)
    full = json.loads((base / "tokenizer.json").read_text())
    tokenizer = Tokenizer.from_str(json.dumps(full))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    kept = kept_ids(full, used_ids(tokenizer, texts), top)
    out.mkdir(parents=True, exist_ok=True)
    state = load_file(str(base / "model.safetensors"))
    key = "embeddings.word_embeddings.weight"
    state[key] = np.ascontiguousarray(state[key][kept])
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((base / "config.json").read_text())
    config["vocab_size"] = len(kept)
    config["pad_token_id"] = kept.index(int(config.get("pad_token_id", 1)))
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "tokenizer.json").write_text(json.dumps(pruned_tokenizer_json(full, kept), ensure_ascii=False))
    for name in ("tokenizer_config.json",):
        if (base / name).is_file():
            (out / name).write_text((base / name).read_text())
    (out / ID_MAP_FILE).write_text(json.dumps(kept) + "\n")
    record = (
        json.loads((base / "conversion.json").read_text()) if (base / "conversion.json").is_file() else {}
    )
    record.update(
        {
            "model_sha256": _sha256(out / "model.safetensors"),
            "pruned_from": str(base),
            "pruned_from_sha256": record.get("model_sha256", ""),
            "vocab_kept": len(kept),
            "vocab_top": top,
            "vocab_texts": len(texts),
        }
    )
    (out / "conversion.json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("wrote %s: %d of %d pieces kept", out, len(kept), len(full["model"]["vocab"]))
    return Pruned(out, kept, len(texts), record["model_sha256"])


@dataclass(frozen=True)
class Agreement:
    """How the pruned tokenizer compares with the full one on some texts."""

    texts: int
    same: int
    tokens: int
    unk_full: int
    unk_pruned: int

    @property
    def share_same(self) -> float:
        return self.same / self.texts if self.texts else 1.0


def compare(full_dir: str | Path, pruned_dir: str | Path, texts: Sequence[str]) -> Agreement:
    """Texts whose pruned pieces equal the full tokenizer's pieces (pruned pieces read as ``<unk>``).

    The full tokenizer's pieces are mapped through the id map: a piece the pruned vocabulary lacks
    counts as ``<unk>``; a text is "same" when the pruned tokenizer gives exactly that sequence.
    """
    from tokenizers import Tokenizer

    full = Tokenizer.from_file(str(Path(full_dir) / "tokenizer.json"))
    pruned = Tokenizer.from_file(str(Path(pruned_dir) / "tokenizer.json"))
    for tok in (full, pruned):
        tok.no_truncation()
        tok.no_padding()
    kept = json.loads((Path(pruned_dir) / ID_MAP_FILE).read_text())
    new_id = {old: new for new, old in enumerate(kept)}
    unk = pruned.token_to_id("<unk>")
    same = tokens = unk_full = unk_pruned = 0
    for a, b in zip(full.encode_batch(list(texts)), pruned.encode_batch(list(texts)), strict=True):
        mapped = [new_id.get(i, unk) for i in a.ids]
        same += mapped == b.ids
        tokens += len(b.ids)
        unk_full += sum(i == unk for i in mapped)
        unk_pruned += sum(i == unk for i in b.ids)
    return Agreement(len(texts), same, tokens, unk_full, unk_pruned)


def training_texts(dataset: str | Path, languages: Sequence[str], split: str = "train") -> list[str]:
    """The texts of ``split`` of a built dataset (``signals data build``) in ``languages``."""
    from signals.dataset import load_dataset_dict

    rows = load_dataset_dict(dataset)[split]
    wanted = set(languages)
    return [t for t, lang in zip(rows["text"], rows["lang"], strict=True) if lang in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prune a converted multilingual-e5 folder's vocabulary.")
    parser.add_argument("--base", required=True, help="converted folder (signals.models.e5_convert)")
    parser.add_argument("--dataset", required=True, help="built dataset (signals data build)")
    parser.add_argument("--languages", required=True, help="comma-separated languages served")
    parser.add_argument("--out", required=True)
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, help="pieces kept by score besides the used")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    languages = [c.strip() for c in args.languages.split(",") if c.strip()]
    done = prune(args.base, args.out, training_texts(args.dataset, languages), args.top)
    print(f"kept {len(done.kept)} pieces; model.safetensors sha256 {done.model_sha256}")
    for split in ("validation", "test"):
        texts = training_texts(args.dataset, languages, split)
        agreement = compare(args.base, args.out, texts)
        print(
            f"{split}: {agreement.same}/{agreement.texts} texts segmented as by the full vocabulary "
            f"({agreement.share_same:.2%}); <unk> {agreement.unk_pruned} of {agreement.tokens} tokens"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
