"""Run every benchmark module's ``main()`` (``python -m bench``), or the ones named on the command line."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    known = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name[0] != "_")
    if argv and argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench [NAME ...]   (names: {', '.join(known)}; none = all)")
        return 0
    unknown = [name for name in argv or [] if name not in known]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; expected one of {', '.join(known)}", file=sys.stderr)
        return 2
    names = argv if argv else known
    failed = []
    for name in names:
        if name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{name}")
        entry = getattr(module, "main", None)
        if entry is None:
            continue
        logging.getLogger("bench").info("running bench.%s", name)
        try:
            entry()
        except Exception:  # one broken benchmark must not hide the others' results
            logging.getLogger("bench").exception("bench.%s failed", name)
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
