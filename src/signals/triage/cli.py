"""Triage commands for the ``signals`` CLI: ``submit``, ``users create|list|passwd|disable``,
``labels export``, ``triage import-decisions``, ``triage sample``, ``triage demo``. ``register(app)`` adds
them to the main typer app.

Heavy imports (pandas, the scorer, SQLAlchemy models) happen inside the commands, so ``signals
--help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

console = Console(stderr=True, soft_wrap=True)

users_app = typer.Typer(no_args_is_help=True, help="Analyst accounts for the triage page.")
labels_app = typer.Typer(no_args_is_help=True, help="Analyst labels back to training.")
triage_app = typer.Typer(no_args_is_help=True, help="The triage queue.")

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL [SIGNALS_DATABASE_URL, else sqlite:///signals.db]"),
]


def _fail(message: str) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=2)


def submit(
    input_path: Annotated[Path, typer.Argument(metavar="FILE.csv", help="CSV file with one comment per row")],
    source: Annotated[str, typer.Option(help="Name of where the comments come from (forum, survey...)")],
    text_column: Annotated[str, typer.Option(help="Column holding the text")] = "text",
    id_column: Annotated[
        str | None, typer.Option(help="Column holding each row's id in the source [a hash of the text]")
    ] = None,
    context_column: Annotated[
        list[str] | None, typer.Option(help="Column to keep as context (repeatable), e.g. question_id")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model dir or MLflow URI [registry champion, else models/default]")
    ] = None,
    redact: Annotated[bool, typer.Option(help="Redact personal data before storing (default on)")] = True,
    second_review: Annotated[bool, typer.Option(help="High-risk items need a second analyst")] = False,
    encoding: Annotated[
        str | None, typer.Option(help="Input file encoding [UTF-8, with or without BOM]")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Redact, score and queue the rows of a CSV for triage (idempotent by --source and id).

    A repeated --id-column value is an error (naming both lines); without --id-column the id is a hash
    of the text, so repeated texts are stored once (and counted in the summary).
    """
    from signals.db import migrate
    from signals.inputs import (
        InputFileError,
        check_text,
        duplicates,
        duplicates_message,
        read_csv,
        where_line,
    )
    from signals.scoring import load_scorer
    from signals.triage.store import NewItem, TriageError, add_items, content_id

    items: list[NewItem] = []
    skipped: list[int] = []
    lines: list[int] = []  # the line of each item, for messages
    try:
        table = read_csv(input_path, encoding)
        columns = table.columns
        for option, column in (("--text-column", text_column), ("--id-column", id_column)):
            if column is not None and column not in columns:
                _fail(f"{input_path}: no column {column!r} for {option}; columns are {columns}")
        for column in context_column or []:
            if column not in columns:
                _fail(f"{input_path}: no column {column!r} for --context-column; columns are {columns}")
        for line, fields in table.rows():
            row = dict(zip(columns, fields, strict=True))
            text = row[text_column]
            if not text.strip():
                skipped.append(line)
                continue
            for column in (text_column, *(context_column or [])):
                check_text(input_path, where_line(line, column), row[column])
            external = row[id_column].strip() if id_column else content_id(text)
            if not external:
                _fail(f"{input_path}: line {line}: empty id in column {id_column!r}")
            items.append(NewItem(source, external, text, {c: row[c] for c in context_column or []}))
            lines.append(line)
    except InputFileError as exc:
        _fail(str(exc))
    if not items:
        _fail(f"{input_path}: no rows with text in column {text_column!r}")
    if id_column:
        # Two rows with one id would store the first and silently drop the second.
        repeats = duplicates(
            (it.external_id, where_line(line)) for it, line in zip(items, lines, strict=True)
        )
        if repeats:
            _fail(duplicates_message(input_path, "id", id_column, repeats))
    same_text = len(items) - len({it.external_id for it in items})
    try:
        scorer = load_scorer(model)
    except (FileNotFoundError, ValueError, OSError) as exc:
        _fail(f"cannot load model {model or '(default)'}: {exc}")
    migrate(database_url)
    queued = existing = 0
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("queueing", total=len(items))
            for start in range(0, len(items), 256):
                chunk = items[start : start + 256]
                results = add_items(
                    chunk, scorer, url=database_url, redact_pii=redact, second_review=second_review
                )
                queued += sum(1 for r in results if r.status == "queued")
                existing += sum(1 for r in results if r.status == "existing")
                bar.update(task, completed=start + len(chunk))
    except TriageError as exc:
        _fail(f"{input_path}: {exc} (item numbers count rows with text in this batch)")
    note = (
        f"; skipped {len(skipped)} empty row(s) (lines {', '.join(map(str, skipped[:10]))})"
        if skipped
        else ""
    )
    if same_text:
        note += f"; {same_text} row(s) repeat the text of an earlier row and were stored once"
    # A repeated text (hash id) comes back "existing" from add_items: count it once, in the note.
    console.print(f"{queued} queued, {existing - same_text} already stored (source {source!r}){note}")


def _read_password(from_stdin: bool, prompt: str, database_url: str | None) -> str:
    """A password from standard input (scripts) or a hidden, confirmed prompt; migrates the database."""
    import sys

    from signals.db import migrate

    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    migrate(database_url)
    return password


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Login name (a-z, 0-9, '.', '_', '-')")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (scripts)")
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Create an analyst who can log in to /triage (the password is asked for, never an argument)."""
    from signals.triage.users import create_user

    password = _read_password(password_stdin, "Password", database_url)
    try:
        user = create_user(username, password, url=database_url)
    except ValueError as exc:
        _fail(str(exc))
    console.print(f"created analyst {user.username!r}")


@users_app.command("passwd")
def users_passwd(
    username: Annotated[str, typer.Argument(help="Login name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Set a new password for an analyst (re-enables a disabled account)."""
    from signals.triage.users import set_password

    password = _read_password(password_stdin, "New password", database_url)
    try:
        set_password(username, password, url=database_url)
    except (ValueError, LookupError) as exc:
        _fail(str(exc).strip("'\""))
    console.print(f"password of {username!r} changed")


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="Login name")],
    database_url: DatabaseOpt = None,
) -> None:
    """Stop an analyst from logging in (their decisions stay in the audit log)."""
    from signals.db import migrate
    from signals.triage.users import set_active

    migrate(database_url)
    try:
        set_active(username, False, url=database_url)
    except (ValueError, LookupError) as exc:
        _fail(str(exc).strip("'\""))
    console.print(f"analyst {username!r} disabled")


@users_app.command("list")
def users_list(database_url: DatabaseOpt = None) -> None:
    """List analysts."""
    from signals.db import migrate
    from signals.triage.users import list_users

    migrate(database_url)
    table = Table(title="Analysts")
    for col in ("username", "active", "created"):
        table.add_column(col)
    for user in list_users(url=database_url):
        table.add_row(user.username, "yes" if user.active else "no", f"{user.created:%Y-%m-%d %H:%M}")
    Console().print(table)


@labels_app.command("export")
def labels_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder of label versions")] = Path(
        "data/labels"
    ),
    source: Annotated[
        list[str] | None, typer.Option(help="Only items from this submission source (repeatable)")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Write the analysts' decisions as a versioned dataset (unified schema, undecided signals masked)."""
    from signals.db import migrate
    from signals.triage.export import export_labels

    migrate(database_url)
    result = export_labels(output, sources=source, url=database_url)
    if result.n_rows == 0:
        console.print("[yellow]no decided items yet[/]: the export is empty")
    console.print(f"{result.n_rows} labelled item(s) -> {result.path} (version {result.version})")
    typer.echo(json.dumps({"path": str(result.path), "version": result.version, "n_rows": result.n_rows}))


@triage_app.command("import-decisions")
def import_decisions(
    input_path: Annotated[
        Path, typer.Argument(metavar="LABELS.csv", help="CSV with one decision per row (see below)")
    ],
    source: Annotated[str, typer.Option(help="Source (survey name) of the items the rows decide")],
    analyst: Annotated[str, typer.Option(help="Analyst the decisions are recorded for")],
    sampled: Annotated[
        bool,
        typer.Option(
            "--sampled",
            help="The rows label a uniform random sample of the source's answers (for corrected prevalence)",
        ),
    ] = False,
    encoding: Annotated[
        str | None, typer.Option(help="Input file encoding [UTF-8, with or without BOM]")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Record analysts' decisions from a spreadsheet, as if made on the triage page (same audit trail).

    Columns: external_id (or respondent_id and question_id, for survey answers), signal, decision
    (confirm, reject or unsure), optionally target and note. The whole file is checked first; a bad row
    stops the import with its line, and nothing is recorded (one transaction).
    """
    from signals.db import migrate
    from signals.inputs import InputFileError, duplicates, read_csv, where_line
    from signals.surveys import answer_id
    from signals.triage.store import NewDecision, TriageError, check_decision, item_ids, record_decisions

    rows: list[tuple[int, str, NewDecision]] = []  # line, external id, decision (item id filled later)
    try:
        table = read_csv(input_path, encoding)
        columns = table.columns
        by_answer = "external_id" not in columns and {"respondent_id", "question_id"} <= set(columns)
        missing = [c for c in ("signal", "decision") if c not in columns]
        if "external_id" not in columns and not by_answer:
            missing.insert(0, "external_id (or respondent_id and question_id)")
        if missing:
            _fail(f"{input_path}: missing column(s) {', '.join(missing)}; columns are {columns}")
        for line, fields in table.rows():
            row = {c: v.strip() for c, v in zip(columns, fields, strict=True)}
            if not any(row.values()):
                continue
            keys = ("respondent_id", "question_id") if by_answer else ("external_id",)
            for key in (*keys, "signal", "decision"):
                if not row[key]:
                    _fail(f"{input_path}: {where_line(line, key)}: empty")
            external = (
                answer_id(row["respondent_id"], row["question_id"]) if by_answer else row["external_id"]
            )
            decision = NewDecision(
                0, row["signal"], row["decision"], row.get("target") or None, row.get("note"), sampled
            )
            try:
                rows.append((line, external, check_decision(decision, analyst)))
            except TriageError as exc:
                _fail(f"{input_path}: {where_line(line)}: {exc}")
    except InputFileError as exc:
        _fail(str(exc))
    if not rows:
        _fail(f"{input_path}: no decisions in the file")
    repeats = duplicates((f"{e} {d.signal}", where_line(line)) for line, e, d in rows)
    if repeats:
        _fail(f"{input_path}: the same answer and signal decided twice: " + "; ".join(repeats[:5]))
    migrate(database_url)
    ids = item_ids(source, (e for _, e, _ in rows), url=database_url)
    for line, external, _ in rows:
        if external not in ids:
            _fail(f"{input_path}: {where_line(line)}: no item {external!r} in source {source!r}")
    batch = [NewDecision(ids[e], d.signal, d.decision, d.target, d.note, d.sampled) for _, e, d in rows]
    try:
        record_decisions(batch, analyst, url=database_url)
    except TriageError as exc:
        _fail(f"{input_path}: {exc} (decisions count the file's rows; nothing was recorded)")
    kind = "random-sample labels" if sampled else "decisions"
    console.print(f"{len(batch)} {kind} recorded for {analyst!r} on source {source!r}")


@triage_app.command("sample")
def triage_sample(
    source: Annotated[str, typer.Option(help="Source (survey name) to draw from")],
    n: Annotated[int, typer.Option("--n", help="How many more items to draw into the sample")],
    seed: Annotated[
        int | None, typer.Option(help="Seed of the draw, to repeat it [random, recorded with the sample]")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Draw N more items of a source uniformly at random into its audit sample, for labelling.

    Every item of the source may be drawn, flagged or not; items already in the sample are not drawn
    again, so running it twice with --n 100 gives a sample of 200. Analysts label the sample on the
    triage page (filter "random sample only"); those decisions correct the survey's prevalence.
    """
    from signals.db import migrate
    from signals.triage.store import TriageError, draw_sample

    migrate(database_url)
    try:
        result = draw_sample(source, n, seed=seed, url=database_url)
    except TriageError as exc:
        _fail(str(exc))
    console.print(
        f"drew {result.drawn} item(s) of source {source!r} (seed {result.seed}); "
        f"the audit sample now holds {result.size}"
    )
    typer.echo(
        json.dumps({"source": source, "drawn": result.drawn, "size": result.size, "seed": result.seed})
    )


@triage_app.command("demo")
def triage_demo(
    model: Annotated[str | None, typer.Option(help="Model dir or MLflow URI [default scorer]")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Queue the invented demo comments and (re)set the demo analyst's password; prints the login."""
    from signals.scoring import load_scorer
    from signals.triage.demo import seed_demo

    try:
        scorer = load_scorer(model)
    except (FileNotFoundError, ValueError, OSError) as exc:
        _fail(f"cannot load model {model or '(default)'}: {exc}")
    seed = seed_demo(scorer, url=database_url)
    console.print(f"demo queue: {seed.queued} new, {seed.existing} existing item(s)")
    console.print(f"log in at /triage as [bold]{seed.username}[/] with password [bold]{seed.password}[/]")


def register(app: typer.Typer) -> None:
    """Add the triage commands to the main ``signals`` app."""
    app.command("submit")(submit)
    app.add_typer(users_app, name="users")
    app.add_typer(labels_app, name="labels")
    app.add_typer(triage_app, name="triage")
