"""The triage store: redaction before storage, idempotency, transactions, concurrency, the decision log.

Every test that takes ``db`` runs twice: on a SQLite file and on a throw-away PostgreSQL
(``database_url`` in tests/conftest.py).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from signals.db import migrate, session_scope
from signals.schema import DATASET_COLUMNS, SIGNALS, UNKNOWN
from signals.scoring import Scorer
from signals.triage import store
from signals.triage.export import export_labels, load_labels
from signals.triage.models import AuditSample, TriageDecision, TriageItem
from signals.triage.store import ItemFilter, NewItem, TriageError


@pytest.fixture
def db(database_url: str) -> str:
    migrate(database_url)
    return database_url


@pytest.fixture
def add(db: str, fake_scorer: Scorer) -> Callable[..., list[store.SubmitResult]]:
    def run(*items: NewItem, **kwargs: object) -> list[store.SubmitResult]:
        return store.add_items(list(items), fake_scorer, url=db, **kwargs)  # type: ignore[arg-type]

    return run


def _rows(db: str, table: type) -> int:
    with session_scope(db) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_items_are_redacted_before_anything_is_stored(
    db: str, add: Callable[..., list], tmp_path: Path
) -> None:
    add(
        NewItem(
            "forum",
            "c1",
            "Those people are traitors. Mail me at jo.lee@example.org",
            {"author_email": "jo.lee@example.org", "thread": "t1"},
        )
    )
    item = store.query_items(url=db)[0]
    assert item.text == "Those people are traitors. Mail me at [EMAIL]"
    assert item.context == {"author_email": "[EMAIL]", "thread": "t1", "language": "en", "supported": True}
    assert item.redactions == {"email": 2}
    # the address appears nowhere in the database file or its write-ahead log (on SQLite: PostgreSQL
    # keeps its files elsewhere, and what it stores is what the columns above hold)
    for path in tmp_path.glob("signals.db*"):
        assert b"jo.lee@example.org" not in path.read_bytes()
    # evidence offsets point into the stored (redacted) text
    marked = [s for s in item.spans if s["signals"]]
    assert marked and "traitors" in item.text[marked[0]["begin"] : marked[0]["end"]]
    assert item.review["polarization"] and item.model_name == "keyword-test"


def test_redaction_can_be_turned_off(db: str, add: Callable[..., list]) -> None:
    add(NewItem("forum", "c1", "mail jo@example.org"), redact_pii=False)
    assert store.query_items(url=db)[0].text == "mail jo@example.org"


def test_idempotent_by_source_and_external_id(db: str, add: Callable[..., list]) -> None:
    first = add(
        NewItem("forum", "1", "you idiot"), NewItem("forum", "2", "hello"), NewItem("forum", "1", "again")
    )
    assert [r.status for r in first] == ["queued", "queued", "existing"]
    assert first[2].id == first[0].id and first[2].priority == first[0].priority
    second = add(NewItem("forum", "2", "changed text"), NewItem("survey", "1", "hello"))
    assert [r.status for r in second] == ["existing", "queued"]
    assert store.get_item(first[1].id, url=db).text == "hello"  # a repeat never overwrites
    assert _rows(db, TriageItem) == 3


def test_priority_orders_the_queue(db: str, add: Callable[..., list]) -> None:
    add(NewItem("f", "benign", "nice park"), NewItem("f", "risky", "you idiot, I will kill you"))
    assert [i.external_id for i in store.query_items(url=db)] == ["risky", "benign"]


def test_invalid_item_stores_nothing(db: str, add: Callable[..., list]) -> None:
    with pytest.raises(TriageError, match="item 1: text is empty"):
        add(NewItem("f", "ok", "fine text"), NewItem("f", "bad", "   "))
    with pytest.raises(TriageError, match="item 0: external_id is empty"):
        add(NewItem("f", "", "text"))
    assert _rows(db, TriageItem) == 0


def test_failed_transaction_rolls_back(db: str, fake_scorer: Scorer, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in the middle of a write leaves no partial batch behind."""
    original = store._prepare

    def broken(*args: object, **kwargs: object) -> list[TriageItem]:
        rows = original(*args, **kwargs)  # type: ignore[arg-type]
        rows[1].model_name = None  # type: ignore[assignment]  # NOT NULL violation at flush
        return rows

    monkeypatch.setattr(store, "_prepare", broken)
    with pytest.raises(Exception, match="(?i)not[ -]null"):  # SQLite: NOT NULL, PostgreSQL: not-null
        store.add_items([NewItem("f", "a", "one"), NewItem("f", "b", "two")], fake_scorer, url=db)
    assert _rows(db, TriageItem) == 0


def test_concurrent_submissions_of_the_same_keys(db: str, fake_scorer: Scorer) -> None:
    items = [NewItem("forum", str(i), f"comment number {i}, you idiot") for i in range(20)]
    results: list[list[store.SubmitResult]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(store.add_items(items, fake_scorer, url=db))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _rows(db, TriageItem) == 20
    ids = {tuple(r.id for r in batch) for batch in results}
    assert len(ids) == 1  # every caller got the same store ids, in item order
    queued = sum(r.status == "queued" for batch in results for r in batch)
    assert queued == 20


def test_concurrent_decisions_are_all_kept(db: str, add: Callable[..., list]) -> None:
    ids = [r.id for r in add(*[NewItem("f", str(i), f"text {i}") for i in range(5)])]
    errors: list[BaseException] = []

    def analyst(name: str) -> None:
        try:
            for item_id in ids:
                for signal in SIGNALS:
                    store.record_decision(item_id, signal, "reject", name, url=db)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=analyst, args=(f"analyst{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _rows(db, TriageDecision) == 4 * 5 * len(SIGNALS)
    assert all(i.status == "done" for i in store.query_items(url=db))


def test_concurrent_undos_never_undo_one_decision_twice(db: str, add: Callable[..., list]) -> None:
    ids = [r.id for r in add(*[NewItem("f", str(i), f"text {i}") for i in range(3)])]
    decided = [store.record_decision(i, s, "reject", "ana", url=db).id for i in ids for s in SIGNALS[:2]]
    barrier = threading.Barrier(len(decided))
    undone: list[int | None] = []
    errors: list[BaseException] = []

    def press_undo() -> None:
        try:
            barrier.wait()
            row = store.undo_last("ana", url=db)
            undone.append(row.undoes_id if row else None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=press_undo) for _ in decided]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(undone) == sorted(decided)  # every decision undone, none twice  # type: ignore[type-var]
    assert store.latest_decisions(url=db) == {}


def test_latest_decision_wins_and_nothing_is_overwritten(db: str, add: Callable[..., list]) -> None:
    (r,) = add(NewItem("f", "1", "you idiot"))
    first = store.record_decision(r.id, "offensive", "confirm", "ana", url=db)
    store.record_decision(r.id, "offensive", "reject", "ana", note="on second thought", url=db)
    latest = store.latest_decisions([r.id], url=db)
    assert latest[(r.id, "offensive")].decision == "reject"
    history = store.decision_history(r.id, url=db)
    assert [d.decision for d in history] == ["confirm", "reject"]
    assert history[0] == first  # the first row is unchanged
    assert history[0].scores_shown["offensive"] == pytest.approx(0.9)
    assert history[0].model_version == "1" and history[0].analyst == "ana"


def test_status_and_undo(db: str, add: Callable[..., list]) -> None:
    (r,) = add(NewItem("f", "1", "nice park"))
    for signal in SIGNALS:
        store.record_decision(r.id, signal, "reject", "ana", url=db)
    assert store.get_item(r.id, url=db).status == "done"
    undo = store.undo_last("ana", url=db)
    assert undo is not None and undo.decision == "cleared" and undo.signal == SIGNALS[-1]
    assert store.get_item(r.id, url=db).status == "queued"
    assert (r.id, SIGNALS[-1]) not in store.latest_decisions([r.id], url=db)
    # undo restores the previous decision when there was one
    store.record_decision(r.id, "hate", "confirm", "ana", url=db)
    again = store.undo_last("ana", url=db)
    assert again is not None and again.decision == "reject" and again.undoes_id is not None
    # undo walks back further, and stops when nothing is left
    n_rows = _rows(db, TriageDecision)
    while store.undo_last("ana", url=db) is not None:
        pass
    assert store.latest_decisions([r.id], url=db) == {}
    assert _rows(db, TriageDecision) > n_rows  # every undo appended a row


def test_second_review_and_disagreements(db: str, add: Callable[..., list]) -> None:
    risky, benign = add(
        NewItem("f", "r", "deport them all, they are vermin"), NewItem("f", "b", "nice"), second_review=True
    )
    assert store.get_item(risky.id, url=db).second_review
    assert not store.get_item(benign.id, url=db).second_review
    for signal in SIGNALS:
        store.record_decision(risky.id, signal, "confirm" if signal == "hate" else "reject", "ana", url=db)
    assert store.get_item(risky.id, url=db).status == "second_review"

    def open_for(who: str) -> list[int]:
        return [i.id for i in store.query_items(ItemFilter(status="open", for_analyst=who), url=db)]

    assert risky.id not in open_for("ana") and risky.id in open_for("bob")
    for signal in SIGNALS:
        store.record_decision(risky.id, signal, "reject", "bob", url=db)
    assert store.get_item(risky.id, url=db).status == "done"
    (dis,) = store.disagreements(url=db)
    assert (dis.item_id, dis.signal, dis.decisions) == (risky.id, "hate", {"ana": "confirm", "bob": "reject"})


def test_filters(db: str, add: Callable[..., list]) -> None:
    add(
        NewItem(
            "survey", "a", "those people are traitors", {"question_id": "Q3", "question_text": "Transport?"}
        ),
        NewItem("survey", "b", "great buses", {"question_id": "Q7"}),
        NewItem("forum", "c", "you idiot"),
    )

    def ext(f: ItemFilter) -> list[str]:
        return sorted(i.external_id for i in store.query_items(f, url=db))

    assert ext(ItemFilter(signal="polarization")) == ["a"]
    assert ext(ItemFilter(source="survey")) == ["a", "b"]
    assert ext(ItemFilter(question_id="Q7")) == ["b"]
    assert ext(ItemFilter(since=date.today() + timedelta(days=1))) == []
    assert ext(ItemFilter(until=date.today())) == ["a", "b", "c"]
    assert store.count_items(ItemFilter(status="done"), url=db) == 0
    assert store.facets(url=db) == {"sources": ["forum", "survey"], "questions": ["Q3", "Q7"]}
    # a target group named by an analyst becomes filterable
    (a,) = store.query_items(ItemFilter(source="survey", question_id="Q3"), url=db)
    store.record_decision(a.id, "polarization", "confirm", "ana", target="political", url=db)
    assert ext(ItemFilter(target="political")) == ["a"]
    with pytest.raises(TriageError, match="unknown signal"):
        ItemFilter(signal="spam")


def test_times_are_utc_whatever_the_session_time_zone(db: str, add: Callable[..., list]) -> None:
    # The test PostgreSQL runs in Pacific/Chatham (UTC+13:45 in March): a naive bound would be read
    # there and move every day boundary by 13 hours 45 minutes.
    (r,) = add(NewItem("f", "late", "text"))
    stored = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    with session_scope(db) as session:
        session.get(TriageItem, r.id).created = stored  # type: ignore[union-attr]
    created = store.get_item(r.id, url=db).created  # type: ignore[union-attr]
    assert created == stored and created.utcoffset() == timedelta(0)

    def ext(**bounds: Any) -> list[str]:
        return [i.external_id for i in store.query_items(ItemFilter(**bounds), url=db)]

    assert ext(since=date(2026, 3, 1)) == ["late"] and ext(since=date(2026, 3, 2)) == []
    assert ext(until=date(2026, 3, 1)) == ["late"] and ext(until=date(2026, 2, 28)) == []
    assert ext(until=datetime(2026, 3, 1, 23, 0, tzinfo=UTC)) == []
    assert ext(until=datetime(2026, 3, 2, 0, 0)) == ["late"]  # naive: UTC
    assert ext(until=date.max) == ["late"]  # no bound at all (the end of time overflows a timestamp)
    chatham = timezone(timedelta(hours=13, minutes=45))
    assert ext(since=datetime(2026, 3, 2, 13, 15, tzinfo=chatham)) == ["late"]  # 23:30 UTC, inclusive
    assert ext(since=datetime(2026, 3, 2, 13, 16, tzinfo=chatham)) == []
    store.record_decision(r.id, "hate", "reject", "ana", url=db)
    assert store.progress("ana", url=db).decided_today == 1
    (decision,) = store.decision_history(r.id, url=db)
    assert decision.created.utcoffset() == timedelta(0)


def test_ids_past_a_database_integer_match_nothing(db: str, add: Callable[..., list]) -> None:
    # PostgreSQL's INTEGER is 32 bits and refuses a bigger parameter outright: the store never asks.
    (r,) = add(NewItem("f", "1", "text"))
    huge = store.MAX_ITEM_ID + 1
    assert store.get_item(huge, url=db) is None and store.get_item(-(2**40), url=db) is None
    assert set(store.items_by_id([r.id, huge, 2**70], url=db)) == {r.id}
    assert store.latest_decisions([huge], url=db) == {} and store.in_sample([huge], url=db) == set()
    assert store.decision_history(huge, url=db) == []
    assert store.neighbours(huge, ItemFilter(), url=db) == (None, None)
    assert store.undo_last("ana", item_id=huge, url=db) is None
    with pytest.raises(TriageError, match=f"no item with id {huge}"):
        store.record_decision(huge, "hate", "reject", "ana", url=db)
    assert store.query_items(offset=store.MAX_ITEM_ID, url=db) == []


def test_nul_characters_read_back_the_same_on_every_database(db: str, add: Callable[..., list]) -> None:
    (r,) = add(NewItem("f", "1", "you idiot\x00!", {"question_id": "Q\x001"}))
    item = store.get_item(r.id, url=db)
    assert item is not None and item.text == "you idiot\ufffd!" and item.question_id == "Q\ufffd1"
    assert item.context["question_id"] == "Q\x001"  # inside JSON a NUL is an escape, kept as given
    with pytest.raises(TriageError, match="item 0: external_id contains a NUL character"):
        add(NewItem("f", "2\x00", "text"))
    with pytest.raises(TriageError, match="item 0: source contains a NUL character"):
        add(NewItem("f\x00", "2", "text"))
    decision = store.record_decision(r.id, "hate", "reject", "ana", note="see\x00this", url=db)
    assert decision.note == "see\ufffdthis"


def test_bad_decisions_are_refused(db: str, add: Callable[..., list]) -> None:
    (r,) = add(NewItem("f", "1", "text"))
    with pytest.raises(TriageError, match="no item"):
        store.record_decision(999, "hate", "confirm", "ana", url=db)
    with pytest.raises(TriageError, match="unknown decision"):
        store.record_decision(r.id, "hate", "maybe", "ana", url=db)
    with pytest.raises(TriageError, match="unknown target"):
        store.record_decision(r.id, "hate", "confirm", "ana", target="aliens", url=db)
    assert _rows(db, TriageDecision) == 0


def test_export_labels_masks_undecided_and_is_versioned(
    db: str, add: Callable[..., list], tmp_path: Path
) -> None:
    a, b, c = (
        r.id for r in add(NewItem("f", "a", "you idiot"), NewItem("f", "b", "nice"), NewItem("f", "c", "x"))
    )
    store.record_decision(a, "offensive", "confirm", "ana", target="other", url=db)
    store.record_decision(a, "hate", "reject", "ana", url=db)
    store.record_decision(a, "threat", "unsure", "ana", url=db)
    store.record_decision(b, "hate", "confirm", "ana", url=db)
    store.record_decision(b, "hate", "reject", "bob", url=db)  # latest wins
    store.record_decision(c, "hate", "unsure", "ana", url=db)  # nothing known: not exported
    out = tmp_path / "labels"
    path, version, n_rows = export_labels(out, url=db)
    assert n_rows == 2 and path == out / version and version.startswith("labels-")
    frame = pd.read_parquet(path / "labels.parquet")
    assert list(frame.columns) == list(DATASET_COLUMNS)
    rows = {r["id"]: r for r in frame.to_dict(orient="records")}
    ra, rb = rows[f"analyst-{a}"], rows[f"analyst-{b}"]
    assert (ra["offensive"], ra["hate"], ra["threat"], ra["polarization"]) == (1, 0, UNKNOWN, UNKNOWN)
    assert ra["target_other"] == 1 and ra["target_religion"] == UNKNOWN
    assert rb["hate"] == 0 and rb["source"] == "analyst" and rb["text"] == "nice"
    assert [r.id for r in load_labels(path)] == [f"analyst-{a}", f"analyst-{b}"]
    # same decisions -> same version; a new decision -> a new version
    assert export_labels(out, url=db).version == version
    store.record_decision(c, "threat", "reject", "ana", url=db)
    path2, version2, n2 = export_labels(out, url=db)
    assert version2 != version and n2 == 3 and path.is_dir() and path2.is_dir()


def test_sampled_labels_are_kept_apart_and_stay_sampled(db: str, add: Callable[..., list]) -> None:
    a, b = add(NewItem("f", "1", "you idiot"), NewItem("f", "2", "nice park"))
    store.record_decision(a.id, "offensive", "confirm", "ana", sampled=True, url=db)
    store.record_decision(b.id, "offensive", "confirm", "ana", url=db)  # risk-ranked triage: not sampled
    latest = store.latest_decisions([a.id, b.id], url=db)
    assert latest[(a.id, "offensive")].sampled and not latest[(b.id, "offensive")].sampled
    # a second analyst's (triage) decision on a sampled answer replaces the label, not the membership
    store.record_decision(a.id, "offensive", "reject", "bob", url=db)
    latest = store.latest_decisions([a.id], url=db)
    assert latest[(a.id, "offensive")].decision == "reject" and latest[(a.id, "offensive")].sampled
    # undoing the sampling decision leaves nothing sampled behind
    store.undo_last("bob", url=db)
    store.undo_last("ana", url=db)
    assert store.latest_decisions([a.id], url=db) == {}
    store.record_decision(a.id, "offensive", "confirm", "ana", url=db)
    assert not store.latest_decisions([a.id], url=db)[(a.id, "offensive")].sampled


def test_record_decisions_is_all_or_nothing(db: str, add: Callable[..., list]) -> None:
    (r,) = add(NewItem("f", "1", "text"))
    good = store.NewDecision(r.id, "hate", "reject", sampled=True)
    with pytest.raises(TriageError, match="decision 2: no item with id 999"):
        store.record_decisions([good, store.NewDecision(999, "hate", "confirm")], "ana", url=db)
    with pytest.raises(TriageError, match="decision 2: unknown decision"):
        store.record_decisions([good, store.NewDecision(r.id, "threat", "maybe")], "ana", url=db)
    assert _rows(db, TriageDecision) == 0
    done = store.record_decisions([good, store.NewDecision(r.id, "threat", "unsure")], "ana", url=db)
    assert [d.decision for d in done] == ["reject", "unsure"] and done[0].sampled and not done[1].sampled


def test_decisions_stored_before_the_sampled_column_are_not_sampled(database_url: str) -> None:
    from sqlalchemy import text

    from signals.db import get_engine

    url = database_url
    migrate(url, "triage@triage_0002")
    item = {
        "source": "f", "external_id": "1", "text": "t", "context": "{}", "redactions": "{}",
        "created": "2026-01-01", "model_name": "m", "model_version": "1", "scores": '{"hate": 0.9}',
        "review": "{}", "flags": "{}", "targets": "{}", "spans": "[]", "priority": 0.5,
        "review_signals": ",", "target_groups": ",", "second_review": False, "status": "queued",
    }  # fmt: skip
    decision = {
        "item_id": 1, "signal": "hate", "decision": "confirm", "analyst": "ana", "created": "2026-01-02",
        "model_name": "m", "model_version": "1", "scores_shown": "{}",
    }  # fmt: skip
    with get_engine(url).begin() as conn:
        for table, row in (("triage_items", item), ("triage_decisions", decision)):
            names = ", ".join(row)
            conn.execute(
                text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + k for k in row)})"), row
            )
    migrate(url)
    (old,) = store.latest_decisions(url=url).values()
    assert old.decision == "confirm" and old.sampled is False


def test_draw_sample_is_uniform_over_the_whole_source_and_never_repeats(
    db: str, fake_scorer: Scorer, make_database_url: Callable[[str], str]
) -> None:
    answers = [NewItem("survey", str(k), "you idiot" if k % 3 else f"answer {k}") for k in range(30)]
    ids = {r.id for r in store.add_items(answers, fake_scorer, url=db)}
    store.add_items([NewItem("forum", "x", "you idiot")], fake_scorer, url=db)
    first = store.draw_sample("survey", 10, seed=7, url=db)
    assert (first.drawn, first.size, first.seed) == (10, 10, 7)
    sampled = store.query_items(ItemFilter(sample=True), limit=None, url=db)
    assert len(sampled) == 10 and {i.id for i in sampled} <= ids
    # the sample runs in draw order, not by priority
    with session_scope(db) as session:
        drawn = list(session.scalars(select(AuditSample.item_id).order_by(AuditSample.position)))
    assert [i.id for i in sampled] == drawn
    assert drawn != [i.id for i in sorted(sampled, key=lambda i: (-i.priority, i.id))]
    # adding to the sample draws only items not drawn yet; asking for more than are left draws the rest
    second = store.draw_sample("survey", 15, url=db)
    assert (second.drawn, second.size) == (15, 25) and 0 <= second.seed < store.MAX_SEED
    third = store.draw_sample("survey", 100, url=db)
    assert (third.drawn, third.size) == (5, 30)
    assert store.in_sample([*ids, 999], url=db) == ids
    assert store.draw_sample("survey", 1, url=db).drawn == 0
    assert store.count_items(ItemFilter(sample=True), url=db) == 30  # the forum item was never drawn
    # the same seed on the same items draws the same items, in the same order
    other = make_database_url("again")
    migrate(other)
    store.add_items(answers, fake_scorer, url=other)
    store.draw_sample("survey", 10, seed=7, url=other)
    again = store.query_items(ItemFilter(sample=True), limit=None, url=other)
    assert [i.external_id for i in again] == [i.external_id for i in sampled]


@pytest.mark.parametrize(
    ("source", "n", "seed", "message"),
    [
        ("nowhere", 5, None, "no items in source 'nowhere'"),
        ("survey", 0, None, "at least 1, got 0"),
        ("survey", 5, -1, "seed must be between 0 and"),
    ],
)
def test_draw_sample_refuses_bad_requests(
    db: str, add: Callable[..., list], source: str, n: int, seed: int | None, message: str
) -> None:
    add(NewItem("survey", "1", "text"))
    with pytest.raises(TriageError, match=message):
        store.draw_sample(source, n, seed=seed, url=db)
    assert store.count_items(ItemFilter(sample=True), url=db) == 0


def test_concurrent_draws_fail_cleanly_and_keep_the_first(
    db: str, add: Callable[..., list], monkeypatch: pytest.MonkeyPatch
) -> None:
    add(*(NewItem("survey", str(k), f"answer {k}") for k in range(5)))
    real = random.Random

    class RacedRandom(real):  # another process draws the same items between our read and our write
        def sample(self, population: Any, k: int, **kwargs: Any) -> list[Any]:
            picked = real.sample(self, population, k, **kwargs)
            with session_scope(db) as session:
                session.add(
                    AuditSample(
                        item_id=picked[0], source="survey", position=1, drawn_at=store.utcnow(), seed=1
                    )
                )
            return picked

    monkeypatch.setattr(store.random, "Random", RacedRandom)
    with pytest.raises(TriageError, match="ran at the same time; nothing was drawn"):
        store.draw_sample("survey", 3, seed=4, url=db)
    assert store.count_items(ItemFilter(sample=True), url=db) == 1  # only the other draw's item


def test_decisions_on_the_audit_sample_are_sampled(db: str, add: Callable[..., list]) -> None:
    a, b = add(NewItem("survey", "1", "you idiot"), NewItem("survey", "2", "nice park"))
    store.draw_sample("survey", 1, seed=1, url=db)
    (drawn,) = store.in_sample([a.id, b.id], url=db)
    other = b.id if drawn == a.id else a.id
    store.record_decision(drawn, "hate", "reject", "ana", url=db)
    store.record_decision(other, "hate", "reject", "ana", url=db)
    latest = store.latest_decisions(url=db)
    assert latest[(drawn, "hate")].sampled and not latest[(other, "hate")].sampled
    # the queue filter walks the sample only, and "next" stays inside it
    flt = ItemFilter(sample=True)
    assert [i.id for i in store.query_items(flt, url=db)] == [drawn]
    assert store.neighbours(drawn, flt, url=db) == (None, None)
    assert store.neighbours(other, flt, url=db) == (None, drawn)
