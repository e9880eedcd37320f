"""Corpus adapters on tiny invented fixtures in each corpus's raw format (tests/fixtures/corpora)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from corpus_fixtures import corpora_dir
from signals.corpora import (
    ADAPTERS,
    ALL_LANGUAGES,
    CorpusError,
    CorpusFormatError,
    CorpusNotFoundError,
    iter_records,
    resolve_languages,
)
from signals.corpora.implicit_hate import map_target
from signals.schema import SIGNALS, TARGETS, UNKNOWN, Record

FIXTURES = corpora_dir()


def by_id(source: str, languages: tuple[str, ...] = ("en",)) -> dict[str, Record]:
    return {r.id: r for r in iter_records(FIXTURES, languages, [source])}


def known(mapping: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in mapping.items() if v != UNKNOWN}


def test_registry_covers_every_fixture_folder() -> None:
    # polis-opendata is unlabelled civic text, read by signals.corpora.polis_opendata, not a training corpus
    assert set(ADAPTERS) == {p.name for p in FIXTURES.iterdir() if p.is_dir()} - {"polis-opendata"}
    assert all(a.name == key for key, a in ADAPTERS.items())


def test_davidson_classes_and_masks() -> None:
    recs = by_id("davidson2017")
    assert known(recs["davidson2017:0"].labels) == {"hate": 0, "offensive": 0}  # neither
    assert known(recs["davidson2017:1"].labels) == {"hate": 0, "offensive": 1}  # offensive
    # hate: offensive was never asked (exclusive classes), so it is masked, not 0
    assert known(recs["davidson2017:2"].labels) == {"hate": 1}
    assert "davidson2017:5" in recs  # id is the published row index, not the position
    assert all(known(r.targets) == {} for r in recs.values())


def test_hatexplain_labels_and_targets() -> None:
    recs = by_id("hatexplain")
    normal, refugees, idiot, bankers = (recs[f"hatexplain:{i}"] for i in range(4))
    assert known(normal.labels) == {"hate": 0, "offensive": 0}
    assert known(idiot.labels) == {"hate": 0, "offensive": 1}
    assert known(refugees.labels) == {"hate": 1}
    # "minority" mixes refugees and disability: both unknown; political never annotated
    assert refugees.targets["national_origin"] == UNKNOWN and refugees.targets["disability"] == UNKNOWN
    assert normal.targets["national_origin"] == 0 and normal.targets["political"] == UNKNOWN
    assert idiot.targets["gender_sexuality"] == 1 and idiot.targets["race_ethnicity"] == 0
    # economic -> other=1; without it "other" stays unknown (MAGPIE dropped the Other community)
    assert bankers.targets["other"] == 1 and normal.targets["other"] == UNKNOWN
    assert bankers.targets["race_ethnicity"] == 1 and bankers.targets["religion"] == 1


def test_implicit_hate_three_stages() -> None:
    recs = by_id("implicit-hate")
    replacing, round_up, stay_proud, believers, council, quoted, farmers = (
        recs[f"implicit-hate:{i}"] for i in range(7)
    )
    assert known(replacing.labels) == {"hate": 1, "threat": 0}  # white_grievance: threat not chosen
    assert known(round_up.labels) == {"hate": 1, "threat": 1}  # threatening
    assert known(stay_proud.labels) == {"hate": 1}  # incitement: threat unknown
    assert known(believers.labels) == {"hate": 1}  # explicit, no stage 2
    assert known(council.labels) == {"hate": 0}  # not_hate says nothing about offensive
    # stage 2 row escaped differently joins through the loose key; extra class "threatening" counts
    assert quoted.labels["threat"] == 1
    assert replacing.targets == {**dict.fromkeys(TARGETS, 0), "national_origin": 1}
    assert known(round_up.targets) == {**dict.fromkeys(TARGETS, 0), "religion": 1, "national_origin": 1}
    assert known(stay_proud.targets) == {}  # "not specified"
    assert farmers.targets["other"] == 1  # journalists: a group outside the fixed list
    assert known(council.targets) == {}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("white people", {"race_ethnicity"}),
        ("white nationalists", {"political"}),
        ("jews", {"religion"}),
        ("illegal immigrants", {"national_origin"}),
        ("gay people", {"gender_sexuality"}),
        ("disabled people", {"disability"}),
        ("liberals and muslims", {"political", "religion"}),
        ("police", {"other"}),
    ],
)
def test_implicit_hate_target_mapping(target: str, expected: set[str]) -> None:
    mapped = map_target(target)
    assert {g for g, v in mapped.items() if v == 1} == expected
    assert all(v == 0 for g, v in mapped.items() if g not in expected)


def test_implicit_hate_unspecified_target_is_unknown() -> None:
    assert set(map_target("no specific group").values()) == {UNKNOWN}


def test_gab_hate_corpus_mapping() -> None:
    recs = by_id("gab-hate-corpus")
    burn, damn, subhuman, lake = (recs[f"gab-hate-corpus:{i}"] for i in range(4))
    assert known(burn.labels) == {"hate": 1, "threat": 1, "offensive": 0}  # cv implies hate
    assert known(damn.labels) == {"hate": 0, "threat": 0, "offensive": 1}
    assert known(subhuman.labels) == {"hate": 1, "threat": 0, "offensive": 0}
    assert subhuman.text == 'Those people are "subhuman" and always will be'
    assert known(lake.labels) == {"hate": 0, "threat": 0, "offensive": 0}


def test_hateval_quote_none_languages_and_masks() -> None:
    en = by_id("hateval2019")
    assert sorted(en) == [
        "hateval2019:en:201",
        "hateval2019:en:202",
        "hateval2019:en:203",
        "hateval2019:en:301",
    ]
    first = en["hateval2019:en:201"]
    assert first.text.startswith('They said "go home') and first.text.endswith("#BuildTheWall")
    # HS only: AG (aggression) is not a threat, and the per-tweet target group is not published
    assert known(first.labels) == {"hate": 1}
    assert known(first.targets) == {}
    es = by_id("hateval2019", ("es",))
    assert {r.lang for r in es.values()} == {"es"} and len(es) == 3
    assert es["hateval2019:es:20001"].text == 'Que "bonito día en la playa'


def test_polar_joins_subtasks_by_id() -> None:
    recs = by_id("polar-semeval2026", ("en", "es"))
    voters = recs["polar-semeval2026:eng_0001"]
    assert known(voters.labels) == {"polarization": 1}
    assert known(voters.targets) == {
        "political": 1,
        "race_ethnicity": 0,
        "religion": 0,
        "gender_sexuality": 0,
        "other": 0,
    }
    assert known(recs["polar-semeval2026:eng_0002"].labels) == {"polarization": 0}
    assert known(recs["polar-semeval2026:eng_0003"].targets) == {}  # not in subtask 2
    spanish = recs["polar-semeval2026:spa_0001"]
    assert spanish.lang == "es" and "\n" in spanish.text and spanish.targets["race_ethnicity"] == 1


def test_lhsab_is_arabic_only() -> None:
    with pytest.raises(CorpusError, match="l-hsab-arabic.*ar.*none of the requested en"):
        by_id("l-hsab-arabic")
    assert "l-hsab-arabic" not in {r.source for r in iter_records(FIXTURES, ("en",))}
    recs = by_id("l-hsab-arabic", ("ar",))
    assert [known(recs[f"l-hsab-arabic:{i}"].labels) for i in range(3)] == [
        {"hate": 0, "offensive": 0},
        {"hate": 0, "offensive": 1},
        {"hate": 1, "offensive": 1},
    ]
    assert {r.lang for r in recs.values()} == {"ar"}


NEVER_LABELLED = {
    "davidson2017": {"threat", "polarization"},
    "hatexplain": {"threat", "polarization"},
    "implicit-hate": {"offensive", "polarization"},
    "gab-hate-corpus": {"polarization"},
    "hateval2019": {"threat", "offensive", "polarization"},
    "polar-semeval2026": {"hate", "threat", "offensive"},
    "l-hsab-arabic": {"threat", "polarization"},
}


def test_unlabelled_signals_are_unknown_never_zero() -> None:
    records = list(iter_records(FIXTURES, ("all",)))
    assert {r.source for r in records} == set(NEVER_LABELLED)
    for record in records:
        for signal in NEVER_LABELLED[record.source]:
            assert record.labels[signal] == UNKNOWN, (record.id, signal)
        assert set(record.labels) == set(SIGNALS)


def test_ids_are_prefixed_unique_and_stable() -> None:
    first = [r.id for r in iter_records(FIXTURES, ("all",))]
    second = [r.id for r in iter_records(FIXTURES, ("all",))]
    assert first == second
    assert len(set(first)) == len(first)
    assert all(i.split(":", 1)[0] in ADAPTERS for i in first)


def test_language_selection() -> None:
    assert {r.lang for r in iter_records(FIXTURES)} == {"en"}
    spanish = list(iter_records(FIXTURES, ("es",)))
    assert {r.source for r in spanish} == {"hateval2019", "polar-semeval2026"}
    assert {r.lang for r in iter_records(FIXTURES, ("all",))} == {"en", "es", "ar"}
    assert resolve_languages(["EN", " es "]) == ("en", "es")
    assert resolve_languages(["all"]) == ALL_LANGUAGES
    with pytest.raises(CorpusError, match="xx"):
        list(iter_records(FIXTURES, ("xx",)))


def test_missing_folder_explicit_error_implicit_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copytree(FIXTURES / "davidson2017", tmp_path / "davidson2017")
    with pytest.raises(CorpusNotFoundError, match="hatexplain"):
        list(iter_records(tmp_path, ("en",), ["davidson2017", "hatexplain"]))
    with caplog.at_level(logging.WARNING):
        records = list(iter_records(tmp_path, ("en",)))
    assert {r.source for r in records} == {"davidson2017"}
    assert "hatexplain" in caplog.text


def test_missing_or_empty_corpora_dir(tmp_path: Path) -> None:
    with pytest.raises(CorpusNotFoundError, match="does-not-exist"):
        list(iter_records(tmp_path / "does-not-exist"))
    with pytest.raises(CorpusNotFoundError, match="no corpus"):
        list(iter_records(tmp_path))


def test_unknown_source_name() -> None:
    with pytest.raises(CorpusError, match="unknown corpus"):
        list(iter_records(FIXTURES, ("en",), ["davidson2018"]))


def test_bad_label_value_names_file_row_and_column(tmp_path: Path) -> None:
    folder = tmp_path / "davidson2017"
    folder.mkdir()
    (folder / "labeled_data.csv").write_text(
        ",count,hate_speech,offensive_language,neither,class,tweet\n0,3,0,0,3,2,fine\n1,3,0,0,3,7,bad\n"
    )
    with pytest.raises(CorpusFormatError, match=r"labeled_data.csv data row 2, column 'class'.*'7'"):
        list(iter_records(tmp_path, ("en",), ["davidson2017"]))


def test_missing_column_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "hateval2019"
    folder.mkdir()
    for name in ("train_en.tsv", "dev_en.tsv"):
        (folder / name).write_text("id\ttext\tTR\n1\thello\t0\n")
    with pytest.raises(CorpusFormatError, match="HS"):
        list(iter_records(tmp_path, ("en",), ["hateval2019"]))


def test_missing_file_in_present_folder(tmp_path: Path) -> None:
    (tmp_path / "gab-hate-corpus").mkdir()
    with pytest.raises(CorpusNotFoundError, match="ghc_train.tsv"):
        list(iter_records(tmp_path, ("en",), ["gab-hate-corpus"]))
