"""The unified dataset: corpora -> normalised, deduplicated, split Hugging Face ``DatasetDict`` + data card.

``build_dataset`` is the one way training data is made, so every model sees the same rows:

1. read Records from the corpus adapters (``signals.corpora.iter_records``);
2. normalise each text with ``signals.normalize.normalize`` (the function serving uses) and drop rows that
   are empty afterwards;
3. merge exact duplicates (same normalised text, compared lowercased with whitespace collapsed). Labels
   merge per column: known values win over unknown; when known values disagree the majority wins and a
   tie is masked (``UNKNOWN``). A tie means two annotations of the same text contradict each other, so
   neither a 0 nor a 1 is evidence; masking drops one column of one row instead of inventing a label
   (ties-to-positive would teach the model that e.g. Davidson "offensive" rows are hate). The merged
   row keeps the id, source and language of the first record in registry order;
4. split into train/validation/test, stratified by source x strongest known signal (threat > hate >
   polarization > offensive, else "negative" or "unknown") with a fixed seed, and grouped by a looser
   key (letters and digits only, without ``rt``/``@user``/``@url``) so near-copies such as retweets
   cannot straddle splits;
5. save with ``DatasetDict.save_to_disk`` (columns exactly ``schema.DATASET_COLUMNS``, labels int64)
   and write ``data_card.md`` + ``data_card.json`` (counts, mask rates, lengths, dedup/conflict counts,
   and a sha256 fingerprint of the saved rows).

The same inputs and seed give byte-identical rows and the same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import datasets
import numpy as np
from datasets import Dataset, DatasetDict, Features, Value, load_from_disk

from signals.corpora import ADAPTERS, iter_records, resolve_languages
from signals.normalize import normalize
from signals.schema import DATASET_COLUMNS, SIGNALS, TARGET_COLUMNS, TARGETS, UNKNOWN, Record, target_column

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "validation", "test")
DEFAULT_OUTPUT = Path("data/processed")
CARD_JSON = "data_card.json"
CARD_MD = "data_card.md"
#: Priority used to name a row's stratum: the rarest, most severe signal first.
STRATUM_PRIORITY: tuple[str, ...] = ("threat", "hate", "polarization", "offensive")
LABEL_COLUMNS: tuple[str, ...] = (*SIGNALS, *TARGET_COLUMNS)

FEATURES = Features(
    {
        col: Value("string") if col in ("id", "text", "source", "lang") else Value("int64")
        for col in DATASET_COLUMNS
    }
)

T = TypeVar("T")


class DatasetError(Exception):
    """The dataset cannot be built or loaded; the message says what to do."""


class DatasetNotBuiltError(DatasetError, FileNotFoundError):
    """No built dataset at the given path."""


@dataclass
class BuildStats:
    """Counts collected while building, written into the data card."""

    rows_read: int = 0
    dropped_empty: int = 0
    duplicate_rows_merged: int = 0
    duplicate_groups: int = 0
    cross_source_duplicate_groups: int = 0
    #: column -> {"disagreeing": n, "majority": n, "masked_tie": n}
    conflicts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {c: {"disagreeing": 0, "majority": 0, "masked_tie": 0} for c in LABEL_COLUMNS}
    )


# --------------------------------------------------------------------------------------------- keys


def dedup_key(text: str) -> str:
    """Key for exact duplicates after normalisation: lowercased, whitespace collapsed.

    >>> dedup_key("Hello   World ") == dedup_key("hello world")
    True
    """
    return " ".join(text.lower().split())


_GROUP_NOISE = re.compile(r"@user|@url|\brt\b")
_NON_WORD = re.compile(r"[\W_]+")


def group_key(text: str) -> str:
    """Looser key used only for splitting: near-copies (retweets, punctuation variants) share a split.

    >>> group_key("RT @user: Hello, world!!") == group_key("hello world")
    True
    """
    key = _NON_WORD.sub("", _GROUP_NOISE.sub(" ", text.lower()))
    return key or dedup_key(text)


# ------------------------------------------------------------------------------------------ merging


def _merge_values(values: Sequence[int]) -> tuple[int, str | None]:
    """Merge one column over duplicates: (value, None | "majority" | "masked_tie")."""
    known = [v for v in values if v != UNKNOWN]
    if not known:
        return UNKNOWN, None
    ones = sum(known)
    zeros = len(known) - ones
    if ones == 0 or zeros == 0:
        return known[0], None
    if ones == zeros:
        return UNKNOWN, "masked_tie"
    return (1 if ones > zeros else 0), "majority"


def merge_duplicates(records: Sequence[Record], stats: BuildStats | None = None) -> Record:
    """Merge records with the same normalised text into one (rule in the module docstring).

    >>> a = Record(id="a", text="x", source="s", labels={"hate": 1})
    >>> b = Record(id="b", text="x", source="t", labels={"hate": 0, "offensive": 1})
    >>> merged = merge_duplicates([a, b])
    >>> merged.id, merged.labels["hate"], merged.labels["offensive"]
    ('a', -1, 1)
    """
    first = records[0]
    if len(records) == 1:
        return first
    labels: dict[str, int] = {}
    targets: dict[str, int] = {}
    for name in SIGNALS:
        labels[name], outcome = _merge_values([r.labels[name] for r in records])
        if outcome and stats is not None:
            stats.conflicts[name]["disagreeing"] += 1
            stats.conflicts[name][outcome] += 1
    for name in TARGETS:
        targets[name], outcome = _merge_values([r.targets[name] for r in records])
        if outcome and stats is not None:
            col = target_column(name)
            stats.conflicts[col]["disagreeing"] += 1
            stats.conflicts[col][outcome] += 1
    return Record(
        id=first.id, text=first.text, source=first.source, lang=first.lang, labels=labels, targets=targets
    )


# ------------------------------------------------------------------------------------------ splitting


def stratum(record: Record) -> str:
    """Stratum of a row: ``source|<strongest positive signal>`` or ``source|negative``/``source|unknown``.

    A row in another language than English adds ``|lang``: each language of a multilingual corpus is
    split on its own, so building more or fewer languages reshuffles neither the English rows (their
    strata are those of an English-only build) nor the other languages'.
    """
    suffix = "" if record.lang == "en" else f"|{record.lang}"
    for name in STRATUM_PRIORITY:
        if record.labels[name] == 1:
            return f"{record.source}|{name}{suffix}"
    if any(record.labels[name] == 0 for name in SIGNALS):
        return f"{record.source}|negative{suffix}"
    return f"{record.source}|unknown{suffix}"


def _stable_int(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16)


def assign_splits(
    records: Sequence[Record], seed: int = 13, val_frac: float = 0.1, test_frac: float = 0.1
) -> list[str]:
    """Return the split name of each record: stratified, grouped by ``group_key``, deterministic.

    Groups (near-copies) are the unit: each group takes the stratum of its first record. Inside a
    stratum the groups are permuted by a generator seeded from ``seed`` and the stratum name (so adding a
    corpus does not reshuffle the others) and laid on [0, 1) with a random offset: positions below
    ``test_frac`` go to test, the next ``val_frac`` to validation. Expected split sizes are then exact
    even for tiny strata, which get a test row with probability proportional to their size.
    """
    if not (0 <= val_frac < 1 and 0 <= test_frac < 1 and val_frac + test_frac < 1):
        raise DatasetError(
            f"val_frac ({val_frac}) and test_frac ({test_frac}) must be in [0, 1) with sum < 1"
        )
    group_of: list[str] = []
    strata: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for record in records:
        key = group_key(record.text)
        group_of.append(key)
        if key not in seen:
            seen.add(key)
            strata[stratum(record)].append(key)
    split_of_group: dict[str, str] = {}
    for name in sorted(strata):
        keys = sorted(strata[name])
        rng = np.random.default_rng([seed, _stable_int(name)])
        order = rng.permutation(len(keys))
        offset = rng.random()
        for position, idx in enumerate(order):
            u = (position + offset) / len(keys)
            split_of_group[keys[idx]] = (
                "test" if u < test_frac else "validation" if u < test_frac + val_frac else "train"
            )
    return [split_of_group[key] for key in group_of]


# ------------------------------------------------------------------------------------------ progress


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as progress:
        yield progress


def _track(progress: Any, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    if progress is None:
        yield from items
        return
    task = progress.add_task(description, total=total)
    for item in items:
        yield item
        progress.advance(task)


# ------------------------------------------------------------------------------------------ building


def _check_output_dir(output_dir: Path) -> None:
    """Refuse to replace a directory that is not a previous build (it would be deleted)."""
    if output_dir.exists():
        if not output_dir.is_dir():
            raise DatasetError(f"output path {output_dir} exists and is not a directory")
        contents = list(output_dir.iterdir())
        if (
            contents
            and not (output_dir / CARD_JSON).exists()
            and not (output_dir / "dataset_dict.json").exists()
        ):
            raise DatasetError(
                f"output directory {output_dir} is not empty and holds no previous dataset build; "
                "choose an empty or new directory"
            )


def _rows_fingerprint(dataset: DatasetDict) -> str:
    digest = hashlib.sha256()
    for split in SPLITS:
        if split not in dataset:
            continue
        columns = dataset[split].to_dict()
        for i in range(dataset[split].num_rows):
            row = [split, *(columns[c][i] for c in DATASET_COLUMNS)]
            digest.update(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
            digest.update(b"\n")
    return digest.hexdigest()


def build_dataset(
    corpora_dir: Path | str,
    output_dir: Path | str = DEFAULT_OUTPUT,
    languages: Sequence[str] = ("en",),
    sources: Sequence[str] | None = None,
    seed: int = 13,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    progress: bool = False,
) -> DatasetDict:
    """Build the unified dataset from the corpora and save it (plus its data card) to ``output_dir``.

    Returns the saved ``DatasetDict`` (splits ``train``, ``validation``, ``test``). ``progress=True``
    shows rich progress bars (the CLI does); the library default is quiet. An existing previous build in
    ``output_dir`` is replaced only after the new one was written completely.

    Example: ``build_dataset("../shared/data", "data/processed", languages=("en", "es"))``.
    """
    corpora_dir = Path(corpora_dir)
    output_dir = Path(output_dir)
    langs = resolve_languages(languages)
    _check_output_dir(output_dir)
    stats = BuildStats()

    groups: dict[str, list[Record]] = {}
    with _progress(progress) as bar:
        for record in _track(bar, iter_records(corpora_dir, langs, sources), "reading + normalising"):
            stats.rows_read += 1
            text = normalize(record.text)
            if not text:
                stats.dropped_empty += 1
                continue
            if text != record.text:
                record = Record(
                    id=record.id,
                    text=text,
                    source=record.source,
                    lang=record.lang,
                    labels=record.labels,
                    targets=record.targets,
                )
            groups.setdefault(dedup_key(text), []).append(record)
        merged: list[Record] = []
        for group in _track(bar, groups.values(), "deduplicating", total=len(groups)):
            if len(group) > 1:
                stats.duplicate_groups += 1
                stats.duplicate_rows_merged += len(group) - 1
                if len({r.source for r in group}) > 1:
                    stats.cross_source_duplicate_groups += 1
            merged.append(merge_duplicates(group, stats))
    if not merged:
        raise DatasetError(
            f"no rows left to build a dataset from {corpora_dir} (languages {', '.join(langs)})"
        )
    splits = assign_splits(merged, seed=seed, val_frac=val_frac, test_frac=test_frac)

    columns: dict[str, dict[str, list[Any]]] = {s: {c: [] for c in DATASET_COLUMNS} for s in SPLITS}
    for record, split in zip(merged, splits, strict=True):
        for col, value in record.to_row().items():
            columns[split][col].append(value)
    dataset = DatasetDict({s: Dataset.from_dict(columns[s], features=FEATURES) for s in SPLITS})

    # Write next to the destination, then swap, so a failed build never destroys the previous one.
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    bars_were_on = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        # One shard per split: the data is small, and datasets cannot reload a 0-shard (empty) split.
        dataset.save_to_disk(str(staging), num_shards=dict.fromkeys(SPLITS, 1))
        saved = load_from_disk(str(staging))
        assert isinstance(saved, DatasetDict)
        card = data_card(
            saved,
            stats,
            config={
                "corpora_dir": str(corpora_dir),
                "languages": list(langs),
                "sources": list(sources) if sources is not None else None,
                "seed": seed,
                "val_frac": val_frac,
                "test_frac": test_frac,
            },
        )
        (staging / CARD_JSON).write_text(
            json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
        (staging / CARD_MD).write_text(render_card_markdown(card))
        if output_dir.exists():
            shutil.rmtree(output_dir)
        staging.rename(output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()
    logger.info(
        "built %s: %s; fingerprint %s",
        output_dir,
        ", ".join(f"{s} {dataset[s].num_rows}" for s in SPLITS),
        card["fingerprint"][:12],
    )
    return load_dataset_dict(output_dir)


# ------------------------------------------------------------------------------------------ data card


def _percentiles(lengths: Sequence[int]) -> dict[str, float]:
    if not lengths:
        return {"n": 0}
    arr = np.asarray(lengths)
    out: dict[str, float] = {"n": int(arr.size), "mean": round(float(arr.mean()), 2), "max": int(arr.max())}
    for q in (50, 90, 95, 99):
        out[f"p{q}"] = round(float(np.percentile(arr, q)), 1)
    return out


def _counts(values: Iterable[int]) -> dict[str, int]:
    c = Counter(values)
    return {"pos": c.get(1, 0), "neg": c.get(0, 0), "unknown": c.get(UNKNOWN, 0)}


def data_card(dataset: DatasetDict, stats: BuildStats, config: Mapping[str, Any]) -> dict[str, Any]:
    """The data card as a JSON-able dict: counts per column x split x source, mask rates, lengths, dedup."""
    per_split: dict[str, Any] = {}
    for split in SPLITS:
        frame = dataset[split].to_pandas()
        sources = sorted(frame["source"].unique()) if len(frame) else []
        entry: dict[str, Any] = {"rows": int(len(frame)), "rows_per_source": {}, "rows_per_lang": {}}
        entry["rows_per_source"] = {s: int(n) for s, n in frame["source"].value_counts().sort_index().items()}
        entry["rows_per_lang"] = {s: int(n) for s, n in frame["lang"].value_counts().sort_index().items()}
        entry["labels"] = {
            col: {
                "all": _counts(frame[col].tolist()),
                "by_source": {s: _counts(frame.loc[frame["source"] == s, col].tolist()) for s in sources},
            }
            for col in LABEL_COLUMNS
        }
        langs = sorted(frame["lang"].unique()) if len(frame) else []
        entry["labels_by_lang"] = {
            sig: {lang: _counts(frame.loc[frame["lang"] == lang, sig].tolist()) for lang in langs}
            for sig in SIGNALS
        }
        entry["mask_rate"] = {
            col: round(float((frame[col] == UNKNOWN).mean()), 4) if len(frame) else None
            for col in LABEL_COLUMNS
        }
        entry["tokens"] = _percentiles([len(t.split()) for t in frame["text"]])
        per_split[split] = entry
    return {
        "schema": {
            "columns": list(DATASET_COLUMNS),
            "signals": list(SIGNALS),
            "targets": list(TARGETS),
            "unknown": UNKNOWN,
        },
        "config": dict(config),
        "corpora": {name: ADAPTERS[name].description for name in ADAPTERS},
        "build": {
            "rows_read": stats.rows_read,
            "dropped_empty_after_normalize": stats.dropped_empty,
            "duplicate_groups": stats.duplicate_groups,
            "duplicate_rows_merged": stats.duplicate_rows_merged,
            "cross_source_duplicate_groups": stats.cross_source_duplicate_groups,
            "rows_kept": sum(dataset[s].num_rows for s in SPLITS),
            "conflicts": stats.conflicts,
            "conflict_rule": "per column: known beats unknown; disagreement -> majority; tie -> unknown",
            "split_rule": "stratified by source x strongest known signal, grouped by loose text key, seeded",
        },
        "splits": per_split,
        "fingerprint": _rows_fingerprint(dataset),
    }


def _fmt_counts(c: Mapping[str, int]) -> str:
    return f"{c['pos']} / {c['neg']} / {c['unknown']}"


def render_card_markdown(card: Mapping[str, Any]) -> str:
    """Render the data card JSON as Markdown (the human-readable ``data_card.md``)."""
    build = card["build"]
    cfg = card["config"]
    lines = [
        "# Data card: signals unified dataset",
        "",
        f"Fingerprint (sha256 over saved rows): `{card['fingerprint']}`",
        "",
        f"Built from `{cfg['corpora_dir']}`, languages {', '.join(cfg['languages'])}, "
        f"sources {', '.join(cfg['sources']) if cfg['sources'] else 'all available'}, seed {cfg['seed']}, "
        f"validation {cfg['val_frac']}, test {cfg['test_frac']}. Label values: 1 positive, 0 negative, "
        f"{card['schema']['unknown']} unknown (masked: the corpus says nothing about it). "
        "Mapping and rules: docs/data.md.",
        "",
        "## Build",
        "",
        "| step | count |",
        "| --- | ---: |",
        f"| rows read | {build['rows_read']} |",
        f"| dropped (empty after normalisation) | {build['dropped_empty_after_normalize']} |",
        f"| duplicate groups | {build['duplicate_groups']} |",
        f"| duplicate rows merged away | {build['duplicate_rows_merged']} |",
        f"| duplicate groups spanning sources | {build['cross_source_duplicate_groups']} |",
        f"| rows kept | {build['rows_kept']} |",
        "",
        f"Conflicts ({build['conflict_rule']}):",
        "",
        "| column | disagreeing groups | majority | masked tie |",
        "| --- | ---: | ---: | ---: |",
    ]
    for col, c in build["conflicts"].items():
        if c["disagreeing"]:
            lines.append(f"| {col} | {c['disagreeing']} | {c['majority']} | {c['masked_tie']} |")
    lines += [
        "",
        "## Splits",
        "",
        "| split | rows | tokens p50 | p90 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for split, entry in card["splits"].items():
        tok = entry["tokens"]
        lines.append(
            f"| {split} | {entry['rows']} | {tok.get('p50', '-')} | {tok.get('p90', '-')} | "
            f"{tok.get('p99', '-')} | {tok.get('max', '-')} |"
        )
    lines += ["", "## Labels (positive / negative / unknown) and mask rate", ""]
    lines += ["| column | " + " | ".join(card["splits"]) + " | mask rate (train) |"]
    lines += ["| --- |" + " ---: |" * (len(card["splits"]) + 1)]
    for col in LABEL_COLUMNS:
        cells = [_fmt_counts(entry["labels"][col]["all"]) for entry in card["splits"].values()]
        lines.append(f"| {col} | " + " | ".join(cells) + f" | {card['splits']['train']['mask_rate'][col]} |")
    lines += ["", "## Per source (all splits; positive / negative / unknown)", ""]
    sources = sorted({s for e in card["splits"].values() for s in e["rows_per_source"]})
    lines += ["| source | rows | " + " | ".join(SIGNALS) + " |", "| --- | ---: |" + " --- |" * len(SIGNALS)]
    for source in sources:
        rows = sum(e["rows_per_source"].get(source, 0) for e in card["splits"].values())
        cells = []
        for sig in SIGNALS:
            total = Counter[str]()
            for e in card["splits"].values():
                total.update(e["labels"][sig]["by_source"].get(source, {}))
            cells.append(_fmt_counts({k: total.get(k, 0) for k in ("pos", "neg", "unknown")}))
        lines.append(f"| {source} | {rows} | " + " | ".join(cells) + " |")
    lines += ["", "## Languages", "", "| split | " + " | ".join(card["config"]["languages"]) + " |"]
    lines += ["| --- |" + " ---: |" * len(card["config"]["languages"])]
    for split, entry in card["splits"].items():
        lines.append(
            f"| {split} | "
            + " | ".join(str(entry["rows_per_lang"].get(lang, 0)) for lang in cfg["languages"])
            + " |"
        )
    lines += ["", "## Per language and signal (all splits; positive / negative / unknown)", ""]
    lines += ["| language | rows | " + " | ".join(SIGNALS) + " |", "| --- | ---: |" + " --- |" * len(SIGNALS)]
    for lang in sorted({lang for e in card["splits"].values() for lang in e["rows_per_lang"]}):
        rows = sum(e["rows_per_lang"].get(lang, 0) for e in card["splits"].values())
        cells = []
        for sig in SIGNALS:
            total = Counter[str]()
            for e in card["splits"].values():
                total.update(e.get("labels_by_lang", {}).get(sig, {}).get(lang, {}))
            cells.append(_fmt_counts({k: total.get(k, 0) for k in ("pos", "neg", "unknown")}))
        lines.append(f"| {lang} | {rows} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ loading


def load_dataset_dict(path: Path | str = DEFAULT_OUTPUT) -> DatasetDict:
    """Load a built dataset; a missing directory raises ``DatasetNotBuiltError`` saying how to build it.

    Example: ``train = load_dataset_dict()["train"]``.
    """
    path = Path(path)
    if not (path / "dataset_dict.json").is_file():
        raise DatasetNotBuiltError(f"no built dataset at {path}; run `signals data build` first")
    loaded = load_from_disk(str(path))
    if not isinstance(loaded, DatasetDict) or set(loaded) != set(SPLITS):
        raise DatasetError(f"{path} is not a signals dataset (expected splits {SPLITS}); rebuild it")
    for split in SPLITS:
        if tuple(loaded[split].column_names) != DATASET_COLUMNS:
            raise DatasetError(
                f"{path} split {split!r} has columns {loaded[split].column_names}, expected "
                f"{list(DATASET_COLUMNS)}; it was built by another version: run `signals data build` again"
            )
    return loaded


def read_data_card(path: Path | str = DEFAULT_OUTPUT) -> dict[str, Any]:
    """Return the data card JSON of a built dataset."""
    card = Path(path) / CARD_JSON
    if not card.is_file():
        raise DatasetNotBuiltError(f"no data card at {card}; run `signals data build` first")
    result: dict[str, Any] = json.loads(card.read_text())
    return result


def dataset_fingerprint(path: Path | str = DEFAULT_OUTPUT) -> str:
    """sha256 over the saved rows (split, then columns in ``DATASET_COLUMNS`` order), recomputed from disk.

    Equal to the data card's ``fingerprint`` unless the files were changed after the build.
    """
    return _rows_fingerprint(load_dataset_dict(path))
