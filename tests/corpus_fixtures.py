"""The corpus fixtures laid out as the adapters expect them.

The invented fixture files are stored as ``<name>.fixture.<ext>`` so that no file in the repository
carries the name of a shared corpus file; ``corpora_dir()`` copies them once per test process into a
temporary folder under their real names (``davidson2017/labeled_data.csv`` ...), which is what
``signals.corpora`` reads.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "fixtures" / "corpora"


@lru_cache(maxsize=1)
def corpora_dir() -> Path:
    """A temporary corpora folder holding every fixture under its corpus file name."""
    root = Path(tempfile.mkdtemp(prefix="signals-corpora-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    for path in SOURCE.rglob("*.fixture.*"):
        target = root / path.relative_to(SOURCE)
        target = target.with_name(target.name.replace(".fixture", "", 1))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return root
