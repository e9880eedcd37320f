"""The triage store: submitted items, the append-only decision log, and the queries around them.

Everything goes through SQLAlchemy sessions (``signals.db.session_scope``), so the store runs on the
default SQLite file (WAL mode) or on PostgreSQL by URL; every function takes an optional ``url``.

Writing items::

    results = add_items([NewItem("forum", "c-17", "text ...", {"thread": "t-3"})], scorer)
    results[0].status    # "queued" the first time, "existing" for a repeat of (source, external_id)

``add_items`` redacts personal data (``signals.privacy``) from the text and every string in the
context *before* anything is stored, scores the redacted text (so evidence offsets match what is
stored), and queues each item with the scorer's priority (calibrated risk plus uncertainty). Items
are scored with their source's own operating point when the model holds one (``signals.sources``; the
item records which one in ``operating_point``). It is idempotent by ``(source, external_id)``: a
repeat returns the stored item untouched, also when two requests race: rows are inserted with
``ON CONFLICT DO NOTHING`` and whatever another writer stored first is read back, so redaction and
scoring run once per call, never per retry. A database that stays locked raises ``StoreBusy``
(nothing stored; the caller may resend).

Survey imports store answers the same way: ``source`` is the survey's name and ``context`` carries
``question_id`` and ``question_text`` plus any respondent metadata (already de-identified; it is
redacted again anyway). ``question_id`` is copied into its own column so the queue and reports can
filter by question.

Reading::

    items = query_items(ItemFilter(source="city-survey-2026", question_id="Q3"), limit=None)
    decided = latest_decisions(item_ids=[i.id for i in items])   # {(item_id, signal): Decision}

``query_items`` filters by signal under review, source, question, target group, date and status
(``ItemFilter``); ``limit=None`` returns everything (reports). ``latest_decisions`` answers the
current label of every decided (item, signal): the latest appended decision wins, and a pair whose
latest entry is an undo back to "nothing" (``cleared``) is left out, i.e. it is undecided. A
prevalence report therefore needs only these two calls: items (with ``scores``/``flags``) per
question, and the analysts' confirm/reject where they exist.

Decisions are never updated or deleted: ``record_decision`` and ``undo_last`` only append rows
(analyst, time, model version and the scores that were shown), so the log is a complete audit trail
(``decision_history``). An item's ``status`` column is a cache recomputed from the log in the same
transaction: ``queued`` until one analyst has decided every signal, then ``done`` -- or
``second_review`` when the item needs a second analyst (high risk: any signal at or above the flag
threshold, when second review is on) until a different analyst has decided every signal too.
``disagreements`` lists (item, signal) pairs where two analysts' latest decisions differ.
``record_decisions`` appends several decisions of one analyst in one transaction (all or none).

A decision recorded with ``sampled=True`` is a label on an answer drawn into a *uniform random sample*
(not picked from the risk-ranked queue); only those may correct a survey's prevalence estimate
(``signals.prevalence``). Later decisions on a sampled (item, signal) stay sampled (the answer is still
in the sample; the later decision is its label), and an undo restores the flag with the decision.

The audit sample: ``draw_sample(source, n)`` draws ``n`` more items of a source uniformly at random
(every item, flagged by the model or not) into the source's audit sample (``AuditSample``); a repeated
draw adds items not yet drawn, so the sample never holds an item twice. ``ItemFilter(sample=True)``
lists only sampled items, in draw order. Every decision on an item in the audit sample is recorded
``sampled`` (whoever records it: the page, an import), so the analysts' labels on it correct the
prevalence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from signals.db import as_utc, session_scope, without_nul
from signals.privacy import redact, redact_values
from signals.schema import SIGNALS, TARGETS, Score
from signals.scoring import Scorer
from signals.triage.models import (
    CLEARED,
    DECISIONS,
    DONE,
    QUEUED,
    SECOND_REVIEW,
    STATUSES,
    AuditSample,
    TriageDecision,
    TriageItem,
    utcnow,
)

log = logging.getLogger(__name__)

MAX_SOURCE_CHARS = 100
MAX_EXTERNAL_ID_CHARS = 200
#: Largest item id (and queue offset) every database's INTEGER holds (32 bits on PostgreSQL): bigger ids
#: are never stored, and the store answers "no such item" for them without asking the database (which
#: PostgreSQL would refuse as out of range).
MAX_ITEM_ID = 2**31 - 1
#: Seeds of audit-sample draws are stored as database integers: 0 <= seed < MAX_SEED.
MAX_SEED = 2**31
#: Model target probability from which an item counts as aimed at a target group (for filters).
TARGET_GROUP_THRESHOLD = 0.5


class TriageError(ValueError):
    """A request the store refuses (unknown item, signal or decision); the message says why."""


class StoreBusy(RuntimeError):
    """The database stayed locked (or kept conflicting); nothing was stored, so a retry is safe."""


# --- value objects -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewItem:
    """One text to queue: where it comes from, its id there, the text, and free-form context.

    ``language`` is the text's language when the caller knows it (``None``: detected when scored). The
    stored context gets ``language`` and ``supported`` (``signals.schema.Score``); an item in a
    language without a model is queued with no scores, no review signal and priority 0.
    """

    source: str
    external_id: str
    text: str
    context: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None


@dataclass(frozen=True)
class SubmitResult:
    """What ``add_items`` did with one item: its store id, ``queued`` (new) or ``existing``, priority."""

    id: int
    status: Literal["queued", "existing"]
    priority: float


@dataclass(frozen=True)
class Item:
    """A stored item as the rest of the code sees it (JSON fields decoded)."""

    id: int
    source: str
    external_id: str
    text: str
    context: dict[str, Any]
    question_id: str | None
    redactions: dict[str, int]
    created: datetime
    model_name: str
    model_version: str
    scores: dict[str, float]
    review: dict[str, bool]
    flags: dict[str, bool]
    targets: dict[str, float]
    spans: list[dict[str, Any]]
    priority: float
    second_review: bool
    status: str
    submitted_by: str | None
    operating_point: str = "global"  # "global" or "source:NAME" (see signals.sources)

    @property
    def review_signals(self) -> list[str]:
        return [s for s in SIGNALS if self.review.get(s)]

    @classmethod
    def of(cls, row: TriageItem) -> Item:
        return cls(
            id=row.id,
            source=row.source,
            external_id=row.external_id,
            text=row.text,
            context=json.loads(row.context),
            question_id=row.question_id,
            redactions=json.loads(row.redactions),
            created=as_utc(row.created),
            model_name=row.model_name,
            model_version=row.model_version,
            scores=json.loads(row.scores),
            review=json.loads(row.review),
            flags=json.loads(row.flags),
            targets=json.loads(row.targets),
            spans=json.loads(row.spans),
            priority=row.priority,
            second_review=row.second_review,
            status=row.status,
            submitted_by=row.submitted_by,
            operating_point=row.operating_point or "global",
        )


@dataclass(frozen=True)
class Decision:
    """One row of the decision log."""

    id: int
    item_id: int
    signal: str
    decision: str
    target: str | None
    note: str | None
    analyst: str
    created: datetime
    model_name: str
    model_version: str
    scores_shown: dict[str, float]
    undoes_id: int | None
    sampled: bool = False  # a label on an answer of a uniform random sample

    @classmethod
    def of(cls, row: TriageDecision) -> Decision:
        return cls(
            id=row.id,
            item_id=row.item_id,
            signal=row.signal,
            decision=row.decision,
            target=row.target,
            note=row.note,
            analyst=row.analyst,
            created=as_utc(row.created),
            model_name=row.model_name,
            model_version=row.model_version,
            scores_shown=json.loads(row.scores_shown),
            undoes_id=row.undoes_id,
            sampled=bool(row.sampled),
        )


@dataclass(frozen=True)
class ItemFilter:
    """Which items a query returns; every field left ``None`` means "any".

    ``status`` is one of ``queued``, ``second_review``, ``done``, or ``open`` (queued or waiting for a
    second review). With ``for_analyst`` set, ``open`` means "open for this analyst": an item waiting
    for a second review is left out for the analyst who gave the first one.
    ``since``/``until`` bound the submission date (inclusive days when given as dates).
    ``sample`` keeps only items in the audit sample (``draw_sample``); the queue then runs in draw order.
    """

    signal: str | None = None
    source: str | None = None
    question_id: str | None = None
    target: str | None = None
    since: date | datetime | None = None
    until: date | datetime | None = None
    status: str | None = None
    for_analyst: str | None = None
    sample: bool = False

    def __post_init__(self) -> None:
        if self.signal is not None and self.signal not in SIGNALS:
            raise TriageError(f"unknown signal {self.signal!r}; expected one of {', '.join(SIGNALS)}")
        if self.target is not None and self.target not in TARGETS:
            raise TriageError(f"unknown target group {self.target!r}; expected one of {', '.join(TARGETS)}")
        if self.status is not None and self.status not in (*STATUSES, "open"):
            raise TriageError(f"unknown status {self.status!r}; expected open, {', '.join(STATUSES)}")


@dataclass(frozen=True)
class Disagreement:
    """Two or more analysts whose latest decisions on one (item, signal) differ."""

    item_id: int
    signal: str
    decisions: dict[str, str]  # analyst -> decision


# --- helpers -------------------------------------------------------------------------------------------


def _storable(item_id: int) -> bool:
    return -MAX_ITEM_ID - 1 <= item_id <= MAX_ITEM_ID


def _storable_ids(item_ids: Iterable[int]) -> list[int]:
    """The distinct ids that can name a stored item, sorted (the others match nothing)."""
    return sorted({i for i in item_ids if _storable(i)})


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _as_list_column(names: Iterable[str]) -> str:
    """``["hate", "threat"]`` -> ``",hate,threat,"`` (so ``LIKE '%,hate,%'`` matches whole names)."""
    return "," + ",".join(sorted(set(names))) + ("," if names else "")


def _validate_new(item: NewItem, index: int) -> None:
    where = f"item {index}"
    if not isinstance(item.source, str) or not item.source.strip():
        raise TriageError(f"{where}: source is empty")
    if len(item.source) > MAX_SOURCE_CHARS:
        raise TriageError(f"{where}: source longer than {MAX_SOURCE_CHARS} characters")
    if not isinstance(item.external_id, str) or not item.external_id.strip():
        raise TriageError(f"{where}: external_id is empty")
    for name, value in (("source", item.source), ("external_id", item.external_id)):
        if "\x00" in value:
            raise TriageError(f"{where}: {name} contains a NUL character (U+0000)")
    if len(item.external_id) > MAX_EXTERNAL_ID_CHARS:
        raise TriageError(f"{where}: external_id longer than {MAX_EXTERNAL_ID_CHARS} characters")
    if not isinstance(item.text, str) or not item.text.strip():
        raise TriageError(f"{where}: text is empty")
    if not isinstance(item.context, Mapping):
        raise TriageError(f"{where}: context must be an object (mapping), got {type(item.context).__name__}")


def _spans_json(score: Score, review_thresholds: Mapping[str, float]) -> list[dict[str, Any]]:
    """Evidence spans with the signals each one carries (span score at or above the review threshold)."""
    out = []
    for span in score.spans:
        signals = [s for s in SIGNALS if span.scores.get(s, 0.0) >= review_thresholds.get(s, 0.5)]
        out.append(
            {
                "begin": span.begin,
                "end": span.end,
                "scores": {s: round(v, 4) for s, v in span.scores.items()},
                "signals": signals,
            }
        )
    return out


def _model_target_groups(targets: Mapping[str, float]) -> list[str]:
    return [t for t, p in targets.items() if p >= TARGET_GROUP_THRESHOLD and t in TARGETS]


# --- writing items -------------------------------------------------------------------------------------


def add_items(
    items: Sequence[NewItem],
    scorer: Scorer,
    *,
    url: str | None = None,
    redact_pii: bool = True,
    second_review: bool = False,
    submitted_by: str | None = None,
) -> list[SubmitResult]:
    """Redact, score and queue items; answers one ``SubmitResult`` per item, in order.

    Idempotent by ``(source, external_id)``: an item already stored (or repeated earlier in the same
    call) is not redacted, scored or changed again and comes back as ``existing``. With
    ``second_review`` on, items with any flag (high-precision threshold) need a second analyst.
    Raises ``TriageError`` naming the item when one is invalid; nothing is stored then.
    """
    for i, item in enumerate(items):
        _validate_new(item, i)
    keys = [(it.source, it.external_id) for it in items]
    existing = _existing_ids(keys, url)
    todo: dict[tuple[str, str], int] = {}  # key -> index of its first occurrence among new items
    for i, key in enumerate(keys):
        if key not in existing and key not in todo:
            todo[key] = i
    prepared = _prepare([items[i] for i in todo.values()], scorer, redact_pii, second_review, submitted_by)
    try:
        with session_scope(url) as session:
            created = _insert_new(session, prepared)
    except OperationalError as exc:
        if not _is_busy(exc):
            raise
        raise StoreBusy("the database is busy") from None
    # Keys another writer stored between our read and our insert: theirs stands, read it back.
    raced = [key for key in todo if key not in created]
    stored = {**existing, **_existing_ids(raced, url), **created}
    if any(key not in stored for key in keys):
        raise StoreBusy("the database kept reporting conflicts")
    results: list[SubmitResult] = []
    for i, key in enumerate(keys):
        ident, prio = stored[key]
        queued = key in created and todo.get(key) == i
        results.append(SubmitResult(ident, "queued" if queued else "existing", prio))
    if created:
        log.info("queued %d new item(s), %d existing", len(created), len(items) - len(created))
    return results


def _insert_new(session: Session, rows: Sequence[TriageItem]) -> dict[tuple[str, str], tuple[int, float]]:
    """Insert rows whose (source, external_id) is still free; returns those inserted, by key."""
    columns = [c for c in TriageItem.__table__.columns if not c.primary_key]
    returning = (TriageItem.id, TriageItem.source, TriageItem.external_id, TriageItem.priority)
    dialect = session.get_bind().dialect.name
    out: dict[tuple[str, str], tuple[int, float]] = {}
    for row in rows:
        values = {c.name: getattr(row, c.key) for c in columns}
        if dialect in ("sqlite", "postgresql"):
            make = sqlite.insert if dialect == "sqlite" else postgresql.insert
            stmt = make(TriageItem).values(values)
            stmt = stmt.on_conflict_do_nothing(index_elements=["source", "external_id"])
            found = session.execute(stmt.returning(*returning)).first()
        else:  # any other database: a savepoint per row, the unique constraint decides
            try:
                with session.begin_nested():
                    found = session.execute(insert(TriageItem).values(values).returning(*returning)).first()
            except IntegrityError:
                found = None
        if found is not None:
            out[(found.source, found.external_id)] = (found.id, found.priority)
    return out


def _is_busy(exc: OperationalError) -> bool:
    """A lock or serialisation conflict that waiting can cure (not a broken schema or connection)."""
    text = str(exc.orig).lower()
    code = getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)
    return "locked" in text or "busy" in text or code in ("40001", "40P01", "55P03")


def item_ids(source: str, external_ids: Iterable[str], *, url: str | None = None) -> dict[str, int]:
    """Store ids of the items of ``source`` with these external ids (ids not stored are left out)."""
    found = _existing_ids([(source, e) for e in set(external_ids)], url)
    return {external_id: ident for (_, external_id), (ident, _) in found.items()}


def _existing_ids(
    keys: Sequence[tuple[str, str]], url: str | None
) -> dict[tuple[str, str], tuple[int, float]]:
    out: dict[tuple[str, str], tuple[int, float]] = {}
    if not keys:
        return out
    by_source: dict[str, set[str]] = defaultdict(set)
    for source, external_id in keys:
        by_source[source].add(external_id)
    with session_scope(url) as session:
        for source, ids in by_source.items():
            id_list = sorted(ids)
            for start in range(0, len(id_list), 500):  # stay under SQL parameter limits
                chunk = id_list[start : start + 500]
                query = select(TriageItem.id, TriageItem.external_id, TriageItem.priority).where(
                    TriageItem.source == source, TriageItem.external_id.in_(chunk)
                )
                for ident, external_id, prio in session.execute(query):
                    out[(source, external_id)] = (ident, prio)
    return out


def _prepare(
    items: Sequence[NewItem],
    scorer: Scorer,
    redact_pii: bool,
    second_review: bool,
    submitted_by: str | None,
) -> list[TriageItem]:
    """Redact and score outside any transaction (scoring is the slow part; keep write locks short)."""
    if not items:
        return []
    texts: list[str] = []
    contexts: list[dict[str, Any]] = []
    counts: list[dict[str, int]] = []
    for item in items:
        context = dict(item.context)
        text = without_nul(item.text)
        if redact_pii:
            red = redact(text)
            context, ctx_counts = redact_values(context)
            merged = dict(red.counts)
            for kind, n in ctx_counts.items():
                merged[kind] = merged.get(kind, 0) + n
            texts.append(red.text)
            counts.append(merged)
        else:
            texts.append(text)
            counts.append({})
        contexts.append(context)
    # Scored per source: a source with its own operating point (signals.sources) gets its thresholds.
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_source[item.source].append(i)
    scores: list[Score] = [None] * len(items)  # type: ignore[list-item]
    review_of: dict[str, Mapping[str, float]] = {}
    for source, index in by_source.items():
        for i, sc in zip(
            index,
            scorer.score(
                [texts[i] for i in index],
                spans=True,
                languages=[items[i].language for i in index],
                source=source,
            ),
            strict=True,
        ):
            scores[i] = sc
        point = scorer.operating_point(source)
        review_of[source] = point.review if point else scorer.info.thresholds.get("review", {})
    now = utcnow()
    rows = []
    for item, text, context, count, score in zip(items, texts, contexts, counts, scores, strict=True):
        context.update(language=score.language, supported=score.supported)
        question = context.get("question_id")
        rows.append(
            TriageItem(
                source=item.source,
                external_id=item.external_id,
                text=text,
                context=_dumps(context),
                question_id=without_nul(str(question))[:200] if question not in (None, "") else None,
                redactions=_dumps(count),
                created=now,
                model_name=scorer.name,
                model_version=scorer.version,
                scores=_dumps({s: round(v, 6) for s, v in score.scores.items()}),
                review=_dumps(score.review),
                flags=_dumps(score.flags),
                targets=_dumps({t: round(v, 6) for t, v in score.targets.items()}),
                spans=_dumps(_spans_json(score, review_of[item.source])),
                priority=float(score.priority),
                review_signals=_as_list_column(s for s in SIGNALS if score.review.get(s)),
                target_groups=_as_list_column(_model_target_groups(score.targets)),
                second_review=bool(second_review and any(score.flags.values())),
                status=QUEUED,
                submitted_by=submitted_by,
                operating_point=score.operating_point,
            )
        )
    return rows


# --- reading items -------------------------------------------------------------------------------------


def _day_start(value: date | datetime) -> datetime:
    """A bound for ``created`` as an aware UTC datetime (a date is its first instant, in UTC).

    Naive bounds would be read in the database session's time zone by PostgreSQL.
    """
    return as_utc(value) if isinstance(value, datetime) else datetime.combine(value, time.min, tzinfo=UTC)


def _where(filters: ItemFilter) -> list[ColumnElement[bool]]:
    cond: list[ColumnElement[bool]] = []
    if filters.sample:
        cond.append(exists().where(AuditSample.item_id == TriageItem.id))
    if filters.signal:
        cond.append(TriageItem.review_signals.like(f"%,{filters.signal},%"))
    if filters.source:
        cond.append(TriageItem.source == filters.source)
    if filters.question_id:
        cond.append(TriageItem.question_id == filters.question_id)
    if filters.target:
        cond.append(TriageItem.target_groups.like(f"%,{filters.target},%"))
    if filters.since is not None:
        cond.append(TriageItem.created >= _day_start(filters.since))
    if isinstance(filters.until, datetime):
        cond.append(TriageItem.created < as_utc(filters.until))
    elif filters.until is not None and filters.until < date.max:  # up to date.max: no bound at all
        cond.append(TriageItem.created < _day_start(filters.until + timedelta(days=1)))
    if filters.status == "open":
        if filters.for_analyst:
            mine = exists().where(
                TriageDecision.item_id == TriageItem.id, TriageDecision.analyst == filters.for_analyst
            )
            cond.append(or_(TriageItem.status == QUEUED, and_(TriageItem.status == SECOND_REVIEW, ~mine)))
        else:
            cond.append(TriageItem.status.in_((QUEUED, SECOND_REVIEW)))
    elif filters.status:
        cond.append(TriageItem.status == filters.status)
    return cond


def _draw_position() -> Any:
    """The item's position in the audit sample (NULL outside it), as a column expression."""
    return select(AuditSample.position).where(AuditSample.item_id == TriageItem.id).scalar_subquery()


def _ordered(query: Select[Any], filters: ItemFilter) -> Select[Any]:
    """Queue order: draw order for the audit sample, else priority (highest first)."""
    if filters.sample:
        return query.order_by(_draw_position().asc())
    return query.order_by(TriageItem.priority.desc(), TriageItem.id.asc())


def query_items(
    filters: ItemFilter | None = None,
    *,
    limit: int | None = 100,
    offset: int = 0,
    url: str | None = None,
) -> list[Item]:
    """Items matching ``filters`` in queue order (priority descending); ``limit=None`` for all."""
    filters = filters or ItemFilter()
    query = _ordered(select(TriageItem).where(*_where(filters)), filters)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with session_scope(url) as session:
        return [Item.of(row) for row in session.scalars(query)]


def count_items(filters: ItemFilter | None = None, *, url: str | None = None) -> int:
    """How many items match ``filters``."""
    query = select(func.count(TriageItem.id)).where(*_where(filters or ItemFilter()))
    with session_scope(url) as session:
        return int(session.scalar(query) or 0)


def get_item(item_id: int, *, url: str | None = None) -> Item | None:
    """One item by store id, or ``None``."""
    with session_scope(url) as session:
        row = session.get(TriageItem, item_id) if _storable(item_id) else None
        return Item.of(row) if row else None


def items_by_id(item_ids: Iterable[int], *, url: str | None = None) -> dict[int, Item]:
    """Several items by store id (unknown ids are left out)."""
    ids = _storable_ids(item_ids)
    out: dict[int, Item] = {}
    with session_scope(url) as session:
        for start in range(0, len(ids), 500):
            query = select(TriageItem).where(TriageItem.id.in_(ids[start : start + 500]))
            out.update({row.id: Item.of(row) for row in session.scalars(query)})
    return out


def facets(*, url: str | None = None) -> dict[str, list[str]]:
    """Distinct sources and question ids, for the filter drop-downs (sorted by code point, as SQLite
    sorts: PostgreSQL would follow its collation, which ignores case and punctuation in most locales)."""
    with session_scope(url) as session:
        sources = sorted(session.scalars(select(TriageItem.source).distinct()))
        questions = sorted(
            str(q)
            for q in session.scalars(
                select(TriageItem.question_id).where(TriageItem.question_id.is_not(None)).distinct()
            )
        )
    return {"sources": sources, "questions": questions}


def neighbours(item_id: int, filters: ItemFilter, *, url: str | None = None) -> tuple[int | None, int | None]:
    """``(previous, next)`` item ids around ``item_id`` in queue order.

    *Next* is the next item still matching ``filters`` (typically open ones), wrapping to the top, so
    an analyst can keep pressing "next" until the queue is empty. *Previous* is the item just above in
    queue order whatever its status, so an analyst can go back to what they just decided.
    """
    if not _storable(item_id):
        return None, None
    with session_scope(url) as session:
        current = session.get(TriageItem, item_id)
        if current is None:
            return None, None
        if filters.sample:
            here = session.scalar(select(AuditSample.position).where(AuditSample.item_id == item_id))
            position = _draw_position()
            # An item outside the sample has no place in its order: "next" is the first sampled item.
            after: ColumnElement[bool] = position > here if here is not None else false()
            before: ColumnElement[bool] = position < here if here is not None else false()
            backwards: tuple[Any, ...] = (position.desc(),)
        else:
            after = or_(
                TriageItem.priority < current.priority,
                and_(TriageItem.priority == current.priority, TriageItem.id > current.id),
            )
            before = or_(
                TriageItem.priority > current.priority,
                and_(TriageItem.priority == current.priority, TriageItem.id < current.id),
            )
            backwards = (TriageItem.priority.asc(), TriageItem.id.desc())
        cond = _where(filters)
        nxt = session.scalar(_ordered(select(TriageItem.id).where(*cond, after), filters).limit(1))
        if nxt is None:
            nxt = session.scalar(
                _ordered(select(TriageItem.id).where(*cond, TriageItem.id != item_id), filters).limit(1)
            )
        no_status = _where(ItemFilter(**{**filters.__dict__, "status": None, "for_analyst": None}))
        prev = session.scalar(select(TriageItem.id).where(*no_status, before).order_by(*backwards).limit(1))
    return prev, nxt


# --- decisions -----------------------------------------------------------------------------------------


def _latest_rows(session: Session, item_ids: Sequence[int] | None, per_analyst: bool) -> list[TriageDecision]:
    group = [TriageDecision.item_id, TriageDecision.signal]
    if per_analyst:
        group.append(TriageDecision.analyst)
    latest = select(func.max(TriageDecision.id).label("id")).group_by(*group)
    if item_ids is not None:
        latest = latest.where(TriageDecision.item_id.in_(item_ids))
    sub = latest.subquery()
    return list(session.scalars(select(TriageDecision).join(sub, TriageDecision.id == sub.c.id)))


def _recompute(session: Session, item: TriageItem) -> None:
    """Refresh the item's cached status and decided target groups from the decision log."""
    rows = _latest_rows(session, [item.id], per_analyst=True)
    covered: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.decision != CLEARED:
            covered[row.analyst].add(row.signal)
    complete = sum(1 for signals in covered.values() if set(SIGNALS) <= signals)
    if complete == 0:
        item.status = QUEUED
    elif item.second_review and complete < 2:
        item.status = SECOND_REVIEW
    else:
        item.status = DONE
    overall = _latest_rows(session, [item.id], per_analyst=False)
    decided_targets = {r.target for r in overall if r.decision == "confirm" and r.target}
    model_targets = _model_target_groups(json.loads(item.targets))
    item.target_groups = _as_list_column({*model_targets, *decided_targets})


def _lock_item(session: Session, item_id: int) -> TriageItem:
    """The item, locked until the transaction ends: decisions on one item are serialised, and what
    the transaction reads after this (earlier decisions, the audit sample) is what it builds on.

    PostgreSQL locks the row (FOR UPDATE). SQLite ignores FOR UPDATE, and its reads before a write
    take no lock at all; a no-op UPDATE takes its single writer lock now instead of at the insert.
    """
    if not _storable(item_id):
        raise TriageError(f"no item with id {item_id}")
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(TriageItem).where(TriageItem.id == item_id).values(status=TriageItem.status),
            execution_options={"synchronize_session": False},
        )
    row = session.scalars(select(TriageItem).where(TriageItem.id == item_id).with_for_update()).first()
    if row is None:
        raise TriageError(f"no item with id {item_id}")
    return row


@dataclass(frozen=True)
class NewDecision:
    """One decision to record (see ``record_decision``)."""

    item_id: int
    signal: str
    decision: str
    target: str | None = None
    note: str | None = None
    sampled: bool = False


def check_decision(d: NewDecision, analyst: str) -> NewDecision:
    """The decision with its note normalised; ``TriageError`` saying what is wrong otherwise."""
    if d.signal not in SIGNALS:
        raise TriageError(f"unknown signal {d.signal!r}; expected one of {', '.join(SIGNALS)}")
    if d.decision not in DECISIONS:
        raise TriageError(f"unknown decision {d.decision!r}; expected one of {', '.join(DECISIONS)}")
    if d.target is not None and d.target not in TARGETS:
        raise TriageError(f"unknown target group {d.target!r}; expected one of {', '.join(TARGETS)}")
    if not analyst:
        raise TriageError("a decision needs an analyst")
    note = without_nul(d.note or "").strip() or None
    if note and len(note) > 2000:
        raise TriageError("note longer than 2000 characters")
    return NewDecision(d.item_id, d.signal, d.decision, d.target, note, d.sampled)


def _append_decision(session: Session, d: NewDecision, analyst: str) -> TriageDecision:
    item = _lock_item(session, d.item_id)
    # An answer drawn into the random sample stays in it: a later (e.g. second-review) decision on the
    # pair replaces the label, not the sample membership.
    previous = _latest_rows(session, [item.id], per_analyst=False)
    inherited = any(r.signal == d.signal and r.sampled for r in previous)
    drawn = session.get(AuditSample, item.id) is not None
    row = TriageDecision(
        item_id=item.id,
        signal=d.signal,
        decision=d.decision,
        target=d.target,
        note=d.note,
        analyst=analyst,
        created=utcnow(),
        model_name=item.model_name,
        model_version=item.model_version,
        scores_shown=item.scores,
        sampled=d.sampled or inherited or drawn,
    )
    session.add(row)
    session.flush()
    _recompute(session, item)
    return row


def record_decision(
    item_id: int,
    signal: str,
    decision: str,
    analyst: str,
    *,
    target: str | None = None,
    note: str | None = None,
    sampled: bool = False,
    url: str | None = None,
) -> Decision:
    """Append one decision (``confirm``/``reject``/``unsure``) with the model version and scores shown.

    The scores recorded are the item's stored scores: the ones the triage page displays. ``sampled``
    marks a label on an answer drawn into a uniform random sample (see ``signals.prevalence``).
    """
    return record_decisions(
        [NewDecision(item_id, signal, decision, target, note, sampled)], analyst, url=url
    )[0]


def record_decisions(
    decisions: Sequence[NewDecision], analyst: str, *, url: str | None = None
) -> list[Decision]:
    """Append several decisions of one analyst in one transaction: all of them, or none.

    Raises ``TriageError`` (naming the position, from 1, when there are several) and stores nothing
    when any decision is invalid or names an unknown item.
    """
    many = len(decisions) > 1

    def where(i: int, exc: TriageError) -> TriageError:
        return TriageError(f"decision {i}: {exc}") if many else exc

    checked = []
    for i, d in enumerate(decisions, 1):
        try:
            checked.append(check_decision(d, analyst))
        except TriageError as exc:
            raise where(i, exc) from None
    with session_scope(url) as session:
        rows = []
        for i, d in enumerate(checked, 1):
            try:
                rows.append(_append_decision(session, d, analyst))
            except TriageError as exc:
                raise where(i, exc) from None
        return [Decision.of(row) for row in rows]


def undo_last(analyst: str, *, item_id: int | None = None, url: str | None = None) -> Decision | None:
    """Undo the analyst's most recent decision (on ``item_id`` when given) by appending its reversal.

    The appended row restores what this analyst had decided on that (item, signal) before, or
    ``cleared`` when there was nothing; it points at the undone row through ``undoes_id``. Pressing
    undo again undoes the decision before that. Returns the appended row, or ``None`` when there is
    nothing left to undo.
    """
    with session_scope(url) as session:
        undone_ids = select(TriageDecision.undoes_id).where(TriageDecision.undoes_id.is_not(None))
        query = select(TriageDecision).where(
            TriageDecision.analyst == analyst,
            TriageDecision.undoes_id.is_(None),
            TriageDecision.id.not_in(undone_ids),
        )
        if item_id is not None:
            if not _storable(item_id):
                return None
            query = query.where(TriageDecision.item_id == item_id)
        query = query.order_by(TriageDecision.id.desc()).limit(1)
        target = session.scalars(query).first()
        item: TriageItem | None = None
        while target is not None:
            # Two undos may pick the same decision before either holds the item's lock; the one that
            # gets the lock second looks again (now it sees the other's undo) and takes the next one.
            item = _lock_item(session, target.item_id)
            latest = session.scalars(query).first()
            if latest is not None and latest.id == target.id:
                break
            target = latest
        if target is None or item is None:
            return None
        before = session.scalars(
            select(TriageDecision)
            .where(
                TriageDecision.item_id == target.item_id,
                TriageDecision.signal == target.signal,
                TriageDecision.analyst == analyst,
                TriageDecision.id < target.id,
            )
            .order_by(TriageDecision.id.desc())
            .limit(1)
        ).first()
        row = TriageDecision(
            item_id=target.item_id,
            signal=target.signal,
            decision=before.decision if before else CLEARED,
            target=before.target if before else None,
            note=f"undo of decision {target.id}",
            analyst=analyst,
            created=utcnow(),
            model_name=item.model_name,
            model_version=item.model_version,
            scores_shown=item.scores,
            undoes_id=target.id,
            sampled=before.sampled if before else False,
        )
        session.add(row)
        session.flush()
        _recompute(session, item)
        return Decision.of(row)


def latest_decisions(
    item_ids: Sequence[int] | None = None,
    *,
    analyst: str | None = None,
    include_cleared: bool = False,
    url: str | None = None,
) -> dict[tuple[int, str], Decision]:
    """The current decision per (item, signal): the latest appended row wins.

    With ``analyst`` given, only that analyst's own latest decisions (what the page shows them).
    Pairs whose latest row is ``cleared`` (undone back to nothing) are left out unless
    ``include_cleared``. ``item_ids=None`` means every item.
    """
    out: dict[tuple[int, str], Decision] = {}
    with session_scope(url) as session:
        ids = _storable_ids(item_ids) if item_ids is not None else None
        chunks: list[list[int] | None] = (
            [ids[i : i + 500] for i in range(0, len(ids), 500)] if ids is not None else [None]
        )
        for chunk in chunks:
            for row in _latest_rows(session, chunk, per_analyst=analyst is not None):
                if analyst is not None and row.analyst != analyst:
                    continue
                if row.decision == CLEARED and not include_cleared:
                    continue
                out[(row.item_id, row.signal)] = Decision.of(row)
    return out


def decision_history(item_id: int, *, url: str | None = None) -> list[Decision]:
    """Every decision row of an item, oldest first: the audit trail."""
    if not _storable(item_id):
        return []
    with session_scope(url) as session:
        query = select(TriageDecision).where(TriageDecision.item_id == item_id).order_by(TriageDecision.id)
        return [Decision.of(row) for row in session.scalars(query)]


def disagreements(*, url: str | None = None, limit: int = 500) -> list[Disagreement]:
    """(item, signal) pairs where analysts' latest confirm/reject/unsure decisions differ."""
    with session_scope(url) as session:
        rows = _latest_rows(session, None, per_analyst=True)
    by_pair: dict[tuple[int, str], dict[str, str]] = defaultdict(dict)
    for row in rows:
        if row.decision != CLEARED:
            by_pair[(row.item_id, row.signal)][row.analyst] = row.decision
    out = [
        Disagreement(item_id, signal, dict(sorted(found.items())))
        for (item_id, signal), found in sorted(by_pair.items())
        if len(set(found.values())) > 1
    ]
    return out[:limit]


@dataclass(frozen=True)
class Progress:
    """Numbers for the progress bar: what is open for the analyst, and what they did today."""

    open_for_me: int
    total: int
    done: int
    decided_today: int


def progress(analyst: str, filters: ItemFilter | None = None, *, url: str | None = None) -> Progress:
    """Queue progress for one analyst under the current filters."""
    base = filters or ItemFilter()
    open_filter = ItemFilter(**{**base.__dict__, "status": "open", "for_analyst": analyst})
    all_filter = ItemFilter(**{**base.__dict__, "status": None, "for_analyst": None})
    done_filter = ItemFilter(**{**base.__dict__, "status": DONE, "for_analyst": None})
    today = _day_start(utcnow().date())
    with session_scope(url) as session:
        decided = session.scalar(
            select(func.count(func.distinct(TriageDecision.item_id))).where(
                TriageDecision.analyst == analyst,
                TriageDecision.created >= today,
                TriageDecision.undoes_id.is_(None),
            )
        )
    return Progress(
        open_for_me=count_items(open_filter, url=url),
        total=count_items(all_filter, url=url),
        done=count_items(done_filter, url=url),
        decided_today=int(decided or 0),
    )


# --- the audit sample ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleDraw:
    """What ``draw_sample`` did: items newly drawn, the sample's size now, the seed used."""

    drawn: int
    size: int
    seed: int


def draw_sample(source: str, n: int, *, seed: int | None = None, url: str | None = None) -> SampleDraw:
    """Draw ``n`` more items of ``source`` uniformly at random into its audit sample.

    Every item of the source counts, whether the model flagged it or not; items already in the sample
    are not drawn again (when fewer than ``n`` are left, all of them are drawn). The same ``seed`` on
    the same items draws the same ones; without a seed a random one is used and recorded. Raises
    ``TriageError`` when ``n`` < 1, the seed is out of range, or the source has no items.
    """
    if n < 1:
        raise TriageError(f"the sample size must be at least 1, got {n}")
    if seed is not None and not 0 <= seed < MAX_SEED:
        raise TriageError(f"the seed must be between 0 and {MAX_SEED - 1}, got {seed}")
    used = secrets.randbelow(MAX_SEED) if seed is None else seed
    try:
        return _draw(source, n, used, url)
    except IntegrityError:  # another draw for the same items committed first
        raise TriageError(
            f"another draw of source {source!r} ran at the same time; nothing was drawn, run it again"
        ) from None


def _draw(source: str, n: int, used: int, url: str | None) -> SampleDraw:
    with session_scope(url) as session:
        all_ids = list(
            session.scalars(select(TriageItem.id).where(TriageItem.source == source).order_by(TriageItem.id))
        )
        if not all_ids:
            raise TriageError(f"no items in source {source!r}")
        drawn_ids = set(session.scalars(select(AuditSample.item_id).where(AuditSample.source == source)))
        left = [i for i in all_ids if i not in drawn_ids]
        picked = random.Random(used).sample(left, min(n, len(left)))
        start = session.scalar(select(func.max(AuditSample.position))) or 0
        now = utcnow()
        session.add_all(
            AuditSample(item_id=item_id, source=source, position=start + k, drawn_at=now, seed=used)
            for k, item_id in enumerate(picked, 1)
        )
        return SampleDraw(drawn=len(picked), size=len(drawn_ids) + len(picked), seed=used)


def in_sample(item_ids: Iterable[int], *, url: str | None = None) -> set[int]:
    """Which of these items are in the audit sample (for the "random sample" marker)."""
    ids = _storable_ids(item_ids)
    out: set[int] = set()
    with session_scope(url) as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            out.update(session.scalars(select(AuditSample.item_id).where(AuditSample.item_id.in_(chunk))))
    return out


def content_id(text: str) -> str:
    """A stable external id from the text itself, for inputs that have no id column."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
