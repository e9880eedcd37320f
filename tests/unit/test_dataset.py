"""Dataset build on the corpus fixtures: normalisation, dedup + conflicts, splits, data card, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import DatasetDict
from typer.testing import CliRunner

from corpus_fixtures import corpora_dir
from signals.cli import app
from signals.corpora import ALL_LANGUAGES
from signals.dataset import (
    SPLITS,
    BuildStats,
    DatasetError,
    DatasetNotBuiltError,
    assign_splits,
    build_dataset,
    dataset_fingerprint,
    dedup_key,
    group_key,
    load_dataset_dict,
    merge_duplicates,
    read_data_card,
)
from signals.schema import DATASET_COLUMNS, SIGNALS, TARGET_COLUMNS, UNKNOWN, Record

FIXTURES = corpora_dir()
SHARED = "shared text across corpora appears here"
TIED = "exactly tied text between two corpora"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DatasetDict]:
    out = tmp_path_factory.mktemp("build") / "processed"
    return out, build_dataset(FIXTURES, out, languages=("all",))


def all_rows(dataset: DatasetDict) -> list[dict]:
    return [dict(row, split=split) for split in SPLITS for row in dataset[split]]


def test_columns_and_int_labels(built: tuple[Path, DatasetDict]) -> None:
    _, dataset = built
    assert set(dataset) == set(SPLITS)
    for split in SPLITS:
        assert tuple(dataset[split].column_names) == DATASET_COLUMNS
        for col in (*SIGNALS, *TARGET_COLUMNS):
            assert dataset[split].features[col].dtype == "int64"


def test_texts_are_normalised_and_empty_rows_dropped(built: tuple[Path, DatasetDict]) -> None:
    path, dataset = built
    texts = [r["text"] for r in all_rows(dataset)]
    first = next(t for t in texts if "lovely weather" in t)
    assert "@parkfan" not in first and "&amp;" not in first and "@user" in first
    assert all(t.strip() for t in texts)
    assert read_data_card(path)["build"]["dropped_empty_after_normalize"] == 1


def test_duplicates_merged_by_majority_and_ties_masked(built: tuple[Path, DatasetDict]) -> None:
    path, dataset = built
    rows = all_rows(dataset)
    shared = [r for r in rows if dedup_key(r["text"]) == SHARED]
    assert len(shared) == 1  # davidson + hatexplain + gab, different case and spacing
    row = shared[0]
    assert row["id"] == "davidson2017:3" and row["source"] == "davidson2017"  # first in registry order
    assert row["hate"] == 0  # 0, 0, 1 -> majority 0
    assert row["offensive"] == 1  # 1, 1, 0 -> majority 1
    assert row["threat"] == 0  # only gab knows it
    assert row["target_race_ethnicity"] == 0  # only hatexplain knows it
    tied = [r for r in rows if dedup_key(r["text"]) == TIED]
    assert len(tied) == 1
    assert tied[0]["hate"] == UNKNOWN  # davidson 0 vs hateval 1: masked
    assert tied[0]["offensive"] == 0  # hateval says nothing, davidson's 0 stands

    build = read_data_card(path)["build"]
    assert build["duplicate_groups"] == 2 and build["duplicate_rows_merged"] == 3
    assert build["cross_source_duplicate_groups"] == 2
    assert build["conflicts"]["hate"] == {"disagreeing": 2, "majority": 1, "masked_tie": 1}
    assert build["conflicts"]["offensive"] == {"disagreeing": 1, "majority": 1, "masked_tie": 0}
    assert build["conflicts"]["threat"]["disagreeing"] == 0


def test_merge_duplicates_rule() -> None:
    stats = BuildStats()
    a = Record(id="a", text="x", source="s", labels={"hate": 1, "threat": 1}, targets={"religion": 1})
    b = Record(id="b", text="x", source="t", labels={"hate": 0, "offensive": 1}, targets={"religion": 1})
    c = Record(id="c", text="X", source="t", labels={"hate": 1})
    merged = merge_duplicates([a, b, c], stats)
    assert merged.id == "a"
    assert merged.labels == {"hate": 1, "threat": 1, "offensive": 1, "polarization": UNKNOWN}
    assert merged.targets["religion"] == 1 and merged.targets["political"] == UNKNOWN
    assert stats.conflicts["hate"] == {"disagreeing": 1, "majority": 1, "masked_tie": 0}
    assert merge_duplicates([a, b], stats).labels["hate"] == UNKNOWN
    assert stats.conflicts["hate"]["masked_tie"] == 1


def test_no_duplicate_or_near_duplicate_straddles_splits(built: tuple[Path, DatasetDict]) -> None:
    _, dataset = built
    split_of: dict[str, str] = {}
    keys = []
    for row in all_rows(dataset):
        keys.append(dedup_key(row["text"]))
        assert split_of.setdefault(group_key(row["text"]), row["split"]) == row["split"]
    assert len(keys) == len(set(keys))


def _synthetic(n: int, source: str = "s") -> list[Record]:
    return [
        Record(id=f"{source}:{i}", text=f"text number {i}", source=source, labels={"hate": i % 3 == 0})
        for i in range(n)
    ]


def test_split_is_deterministic_seeded_and_sized() -> None:
    records = _synthetic(300)
    first = assign_splits(records, seed=13)
    assert first == assign_splits(records, seed=13)
    assert first != assign_splits(records, seed=14)
    # two strata (hate 1 / 0) of 100 and 200 groups: 10% each, exactly, per stratum
    assert first.count("test") == 30 and first.count("validation") == 30
    hate_rows = [s for r, s in zip(records, first, strict=True) if r.labels["hate"] == 1]
    assert hate_rows.count("test") == 10


def test_split_stratum_independent_of_other_sources() -> None:
    alone = assign_splits(_synthetic(100, "a"), seed=5)
    together = assign_splits(_synthetic(100, "a") + _synthetic(50, "b"), seed=5)
    assert together[:100] == alone


def test_near_duplicates_share_a_split() -> None:
    records = []
    for i in range(60):
        records.append(Record(id=f"a:{i}", text=f"hello world number {i}", source="a", labels={"hate": 0}))
        records.append(
            Record(id=f"b:{i}", text=f"RT @user: Hello, world number {i}!!", source="b", labels={"hate": 1})
        )
    splits = assign_splits(records, seed=3)
    assert all(splits[2 * i] == splits[2 * i + 1] for i in range(60))
    assert set(splits) == set(SPLITS)


def test_bad_fractions() -> None:
    with pytest.raises(DatasetError, match="val_frac"):
        assign_splits(_synthetic(5), val_frac=0.6, test_frac=0.5)


def test_rebuild_same_fingerprint_other_seed_differs(tmp_path: Path, built: tuple[Path, DatasetDict]) -> None:
    path, _ = built
    card = read_data_card(path)
    again = tmp_path / "again"
    build_dataset(FIXTURES, again, languages=("all",))
    assert read_data_card(again)["fingerprint"] == card["fingerprint"] == dataset_fingerprint(path)
    other = tmp_path / "other"
    build_dataset(FIXTURES, other, languages=("all",), seed=99)
    assert read_data_card(other)["fingerprint"] != card["fingerprint"]


def test_data_card_contents(built: tuple[Path, DatasetDict]) -> None:
    path, dataset = built
    card = json.loads((path / "data_card.json").read_text())
    assert card["schema"]["columns"] == list(DATASET_COLUMNS)
    assert card["config"]["languages"] == list(ALL_LANGUAGES) and "ar" in ALL_LANGUAGES
    total = 0
    for split in SPLITS:
        entry = card["splits"][split]
        assert entry["rows"] == dataset[split].num_rows
        total += entry["rows"]
        for col in (*SIGNALS, *TARGET_COLUMNS):
            counts = entry["labels"][col]["all"]
            assert counts["pos"] + counts["neg"] + counts["unknown"] == entry["rows"]
            assert counts["pos"] == sum(1 for v in dataset[split][col] if v == 1)
            by_source = entry["labels"][col]["by_source"]
            assert sum(c["pos"] + c["neg"] + c["unknown"] for c in by_source.values()) == entry["rows"]
        if entry["rows"]:
            assert entry["tokens"]["max"] >= entry["tokens"]["p50"] > 0
            assert 0 <= entry["mask_rate"]["polarization"] <= 1
    assert total == card["build"]["rows_kept"] == card["build"]["rows_read"] - 1 - 3
    assert card["splits"]["train"]["labels"]["polarization"]["by_source"]["davidson2017"]["unknown"] > 0
    markdown = (path / "data_card.md").read_text()
    assert card["fingerprint"] in markdown and "masked tie" in markdown and "davidson2017" in markdown


def test_load_errors(tmp_path: Path, built: tuple[Path, DatasetDict]) -> None:
    path, dataset = built
    assert load_dataset_dict(path)["train"].num_rows == dataset["train"].num_rows
    with pytest.raises(DatasetNotBuiltError, match="signals data build"):
        load_dataset_dict(tmp_path / "nothing")
    with pytest.raises(DatasetNotBuiltError):
        dataset_fingerprint(tmp_path / "nothing")


def test_refuses_to_replace_a_foreign_directory(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not empty"):
        build_dataset(FIXTURES, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_language_default_is_english(tmp_path: Path) -> None:
    dataset = build_dataset(
        FIXTURES, tmp_path / "en", sources=["polar-semeval2026", "l-hsab-arabic"], languages=("ar",)
    )
    assert {lang for s in SPLITS for lang in dataset[s]["lang"]} == {"ar"}
    dataset = build_dataset(FIXTURES, tmp_path / "en")
    assert {lang for s in SPLITS for lang in dataset[s]["lang"]} == {"en"}


runner = CliRunner()


def test_cli_data_build(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = runner.invoke(
        app, ["data", "build", "--corpora", str(FIXTURES), "--output", str(out), "--languages", "en,es"]
    )
    assert result.exit_code == 0, result.output
    assert "train" in result.output and "validation" in result.output and "hate" in result.output
    dataset = load_dataset_dict(out)
    assert {lang for s in SPLITS for lang in dataset[s]["lang"]} == {"en", "es"}


def test_cli_data_build_env_and_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALS_CORPORA_DIR", str(FIXTURES))
    out = tmp_path / "env"
    result = runner.invoke(app, ["data", "build", "--output", str(out), "--sources", "gab-hate-corpus"])
    assert result.exit_code == 0, result.output
    assert {src for s in SPLITS for src in load_dataset_dict(out)[s]["source"]} == {"gab-hate-corpus"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corpora", "/nonexistent/corpora"], "/nonexistent/corpora"),
        (["--corpora", str(FIXTURES), "--languages", "xx"], "xx"),
        (["--corpora", str(FIXTURES), "--sources", "nope"], "nope"),
    ],
)
def test_cli_data_build_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["data", "build", "--output", str(tmp_path / "x"), *args])
    assert result.exit_code == 2
    assert "error" in result.output and message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_every_language_is_kept_and_counted_per_signal(tmp_path: Path) -> None:
    from signals.dataset import stratum

    build_dataset(FIXTURES, tmp_path / "all", languages=("all",))
    markdown = (tmp_path / "all" / "data_card.md").read_text()
    table = markdown[markdown.index("## Per language and signal") :]
    assert "| ar |" in table and "| es |" in table and "| en |" in table
    card = json.loads((tmp_path / "all" / "data_card.json").read_text())
    assert set(card["splits"]["train"]["labels_by_lang"]["polarization"]) >= {"ar", "en"}
    # Each non-English language is its own stratum: English strata are those of an English-only build.
    assert stratum(Record(id="x", text="t", source="s", labels={"hate": 1})) == "s|hate"
    assert stratum(Record(id="x", text="t", source="s", lang="es", labels={"hate": 0})) == "s|negative|es"
