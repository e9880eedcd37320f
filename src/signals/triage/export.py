"""Analyst decisions back to training: a versioned dataset in the unified schema.

``export_labels`` turns the latest decision per (item, signal) into one ``Record`` per item with
source ``analyst``: ``confirm`` -> 1, ``reject`` -> 0, and ``unsure`` or undecided -> masked (-1), as
the training losses expect. A target group named on a confirmed signal becomes 1 for that group;
other target groups stay masked. Items without a single confirm/reject are left out.

The dataset lands in ``<output_dir>/<version>/`` as ``labels.parquet`` (columns exactly
``signals.schema.DATASET_COLUMNS``) plus ``manifest.json`` (version, fingerprint, row and label
counts, the last decision id included, creation time). The version is ``labels-<fingerprint>`` where
the fingerprint is a hash of the rows, so exporting twice without new decisions gives the same
version and directory (nothing is rewritten), and any change gives a new one.

>>> path, version, n_rows = export_labels("data/labels")   # doctest: +SKIP
>>> import pandas as pd; pd.read_parquet(path / "labels.parquet").columns.tolist()[:4]  # doctest: +SKIP
['id', 'text', 'source', 'lang']
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import func, select

from signals.db import session_scope
from signals.schema import DATASET_COLUMNS, SIGNALS, TARGETS, UNKNOWN, Record
from signals.triage.models import TriageDecision, utcnow
from signals.triage.store import items_by_id, latest_decisions

log = logging.getLogger(__name__)

LABEL_SOURCE = "analyst"
DEFAULT_LABELS_DIR = Path("data/labels")
_VALUES = {"confirm": 1, "reject": 0}


class ExportResult(NamedTuple):
    """Where the export went, its version (``labels-<fingerprint>``) and how many rows it has."""

    path: Path
    version: str
    n_rows: int


def label_records(*, sources: Sequence[str] | None = None, url: str | None = None) -> list[Record]:
    """One ``Record`` per item with at least one confirm/reject, ordered by item id."""
    decided = latest_decisions(url=url)
    by_item: dict[int, dict[str, Any]] = defaultdict(dict)
    for (item_id, signal), decision in decided.items():
        by_item[item_id][signal] = decision
    wanted = {i for i, ds in by_item.items() if any(d.decision in _VALUES for d in ds.values())}
    if not wanted:
        return []
    items = items_by_id(wanted, url=url)
    records = []
    for item_id in sorted(items):
        item = items[item_id]
        if sources and item.source not in sources:
            continue
        decisions = by_item[item_id]
        labels = {s: _VALUES.get(decisions[s].decision, UNKNOWN) for s in SIGNALS if s in decisions}
        targets = {
            d.target: 1
            for d in decisions.values()
            if d.decision == "confirm" and d.target in TARGETS and d.target is not None
        }
        lang = str(item.context.get("language") or item.context.get("lang") or "en")
        records.append(
            Record(
                id=f"analyst-{item.id}",
                text=item.text,
                source=LABEL_SOURCE,
                lang=lang,
                labels=labels,
                targets=targets,
            )
        )
    return records


def _fingerprint(frame: pd.DataFrame) -> str:
    canonical = json.dumps(frame.to_dict(orient="records"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def export_labels(
    output_dir: str | os.PathLike[str] = DEFAULT_LABELS_DIR,
    *,
    sources: Sequence[str] | None = None,
    url: str | None = None,
) -> ExportResult:
    """Write the analysts' labels as a versioned dataset; returns ``(path, version, n_rows)``.

    ``sources`` keeps only items from those submission sources. See the module docstring for the
    layout and the versioning rule.
    """
    records = label_records(sources=sources, url=url)
    frame = pd.DataFrame([r.to_row() for r in records], columns=list(DATASET_COLUMNS))
    for col in (*SIGNALS, *(f"target_{t}" for t in TARGETS)):
        frame[col] = frame[col].astype("int64")
    fingerprint = _fingerprint(frame)
    version = f"labels-{fingerprint[:12]}"
    root = Path(output_dir)
    path = root / version
    if (path / "manifest.json").is_file():
        log.info("labels %s already exported at %s", version, path)
        return ExportResult(path, version, len(frame))
    with session_scope(url) as session:
        last_decision = session.scalar(select(func.max(TriageDecision.id)))
    manifest = {
        "version": version,
        "fingerprint": fingerprint,
        "n_rows": len(frame),
        "created": utcnow().isoformat(),
        "source": LABEL_SOURCE,
        "columns": list(DATASET_COLUMNS),
        "last_decision_id": last_decision,
        "positives": {s: int((frame[s] == 1).sum()) for s in SIGNALS},
        "negatives": {s: int((frame[s] == 0).sum()) for s in SIGNALS},
        "masked": {s: int((frame[s] == UNKNOWN).sum()) for s in SIGNALS},
        "files": {"labels": "labels.parquet"},
    }
    root.mkdir(parents=True, exist_ok=True)
    # Write into a temporary sibling and rename, so a crash never leaves a half-written version.
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    frame.to_parquet(tmp / "labels.parquet", index=False)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    try:
        tmp.rename(path)
    except OSError:
        # A concurrent export of the same version won the rename: theirs is identical.
        for child in tmp.iterdir():
            child.unlink()
        tmp.rmdir()
    log.info("exported %d labelled item(s) as %s to %s", len(frame), version, path)
    return ExportResult(path, version, len(frame))


def load_labels(path: str | os.PathLike[str]) -> list[Record]:
    """Read an exported labels directory back into ``Record`` objects."""
    frame = pd.read_parquet(Path(path) / "labels.parquet")
    return [Record.from_row(row) for row in frame.to_dict(orient="records")]
