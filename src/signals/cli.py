"""The `signals` command line: thin commands over the library.

Each command group lives here as a few lines that parse arguments, call one library function and
report; errors a user can cause become a one-line message and exit code 2 (never a stack trace).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from signals.schema import SIGNALS

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="signals: find hate and polarization signals in survey answers and forum comments.",
)
data_app = typer.Typer(no_args_is_help=True, help="Build the unified dataset.")
app.add_typer(data_app, name="data")

console = Console(stderr=True, soft_wrap=True)


class UserError(Exception):
    """An error the user can fix (bad file, missing column...): printed as one line, exit code 2."""


def fail(message: str) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=2)


#: Options several commands share.
Overrides = Annotated[
    list[str] | None, typer.Option("--set", help="Override a config value: key=value (repeatable)")
]
TrackingUri = Annotated[str | None, typer.Option(help="MLflow tracking URI [sqlite:///mlflow.db]")]
Artifacts = Annotated[str | None, typer.Option(help="MLflow artifact folder [mlruns]")]
DatasetDir = Annotated[Path, typer.Option("--dataset", help="The dataset built by `signals data build`")]
CorporaDir = Annotated[
    Path,
    typer.Option(
        "--corpora", envvar="SIGNALS_CORPORA_DIR", help="Folder holding the public corpora and polis-opendata"
    ),
]


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="Experiment TOML, e.g. training/configs/baseline.v1.toml")],
    override: Overrides = None,
    tracking_uri: TrackingUri = None,
    artifacts: Artifacts = None,
) -> None:
    """Train one experiment, log it to MLflow and register it as the `challenger`."""
    from signals.training import load_config
    from signals.training import train as run_training

    try:
        cfg = load_config(config, override or [])
    except (FileNotFoundError, ValueError, TypeError) as exc:
        fail(str(exc))
    try:
        result = run_training(cfg, tracking_uri=tracking_uri, artifacts=artifacts)
    except FileNotFoundError as exc:
        fail(str(exc))
    table = Table(title=f"{cfg.name}: run {result.run_id[:8]}, version {result.version}")
    table.add_column("signal")
    for col in ("val PR-AUC", "val ROC-AUC", "val F1@flag", "test PR-AUC", "test ROC-AUC", "test F1@flag"):
        table.add_column(col, justify="right")
    for s in SIGNALS:
        cells = [
            result.metrics.get(f"{split}_{s}_{m}")
            for split in ("val", "test")
            for m in ("pr_auc", "roc_auc", "flag_f1")
        ]
        table.add_row(s, *("-" if v is None else f"{v:.3f}" for v in cells))
    Console().print(table)
    console.print(f"trained in {result.seconds:.0f}s; model files in {result.model_dir}")


@app.command()
def promote(
    version: Annotated[str | None, typer.Argument(help="Registered version [current challenger]")] = None,
    tracking_uri: TrackingUri = None,
    force: Annotated[
        bool,
        typer.Option(help="Promote even when the gate fails (with no registry champion: without evaluating)"),
    ] = False,
) -> None:
    """Move the `champion` alias to a version (default: the current challenger) if it passes the gate.

    The rival is the registry's champion; while there is none, it is the shipped `models/default`
    (what `signals score` uses until then), evaluated now on the challenger's dataset.
    """
    from signals import tracking
    from signals.dataset import DatasetError
    from signals.training import promote_if_better, shipped_model_metrics

    try:
        candidate = version or tracking.alias_version(tracking.CHALLENGER, tracking_uri)
        if candidate is None:
            fail("no challenger to promote: train a model first (signals train)")
        challenger = tracking.run_metrics(candidate, tracking_uri)

        def rival_metrics(champion: str | None) -> dict[str, float] | None:
            if champion:
                return tracking.run_metrics(champion, tracking_uri)
            dataset = tracking.run_params(candidate, tracking_uri).get("dataset", "data/processed")
            functional = any(key.startswith("func_") for key in challenger)
            return shipped_model_metrics(dataset, functional=functional)

        decision = promote_if_better(
            candidate, challenger, rival_metrics, force=force, tracking_uri=tracking_uri
        )
    except DatasetError as exc:
        fail(f"cannot evaluate the shipped model for the gate: {exc} (or promote with --force)")
    except LookupError as exc:
        fail(str(exc))
    gate = decision.gate
    if gate is not None and gate.has_champion:
        Console().print(gate.to_table())
    if gate is not None and not decision.promoted:
        fail(f"version {candidate} does not beat {decision.rival}: " + "; ".join(gate.reasons))
    Console().print(f"champion -> version {candidate}")


@app.command()
def ship(
    model: Annotated[str, typer.Argument(help="Trained model: a directory or models:/ / runs:/ URI")],
    to: Annotated[Path, typer.Option("--to", help="The shipped model directory")] = Path("models/default"),
    route: Annotated[
        str | None,
        typer.Option(help="Ship a model for other languages as this route (a sub-folder of --to)"),
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            help="The dataset built by `signals data build` [data/processed; routes: data/processed-all]"
        ),
    ] = None,
    corpora: CorporaDir = Path("../shared/data"),
    tracking_uri: TrackingUri = None,
    force: Annotated[bool, typer.Option(help="Ship without evaluating or gating")] = False,
) -> None:
    """Replace the shipped model (models/default) with a trained one if it beats it on the gate.

    Both are evaluated now on the same data; the candidate is judged with the shipped manifest's routes
    (the other languages' model), which it keeps. With --route NAME: the candidate (trained for other
    languages) becomes, or replaces through the gate, the route NAME of the shipped model."""
    from signals.corpora import CorpusError
    from signals.dataset import DatasetError
    from signals.registry import ModelSourceError, resolve
    from signals.shipping import ship as ship_model
    from signals.shipping import ship_route

    try:
        if route is not None:
            shipment = ship_route(
                resolve(model, tracking_uri), to, route, dataset or Path("data/processed-all"), force=force
            )
        else:
            shipment = ship_model(
                resolve(model, tracking_uri), to, dataset or Path("data/processed"), corpora, force=force
            )
    except (DatasetError, CorpusError, ModelSourceError) as exc:
        fail(str(exc))
    except (FileNotFoundError, ValueError, OSError) as exc:
        fail(f"cannot ship {model}: {exc}")
    if shipment.gate is not None:
        Console().print(shipment.gate.to_table())
    if not shipment.shipped:
        fail(f"{shipment.version} does not beat the model in {to}: " + "; ".join(shipment.gate.reasons))
    console.print(f"shipped {shipment.version} to {to}")


@app.command()
def retrain(
    config: Annotated[
        Path, typer.Option(help="Experiment TOML (default: the champion's warm-start retrain)")
    ] = Path("training/configs/minilm3.retrain.toml"),
    labels: Annotated[
        Path | None, typer.Option(help="A label export to use [export the analysts' decisions now]")
    ] = None,
    override: Overrides = None,
    no_promote: Annotated[bool, typer.Option("--no-promote", help="Only report the gate")] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Retrain on the corpora plus the analysts' labels; promote only when the gate passes."""
    from signals.training import load_config
    from signals.training import retrain as run_retrain

    try:
        cfg = load_config(config, override or [])
        result = run_retrain(cfg, labels, promote=not no_promote, tracking_uri=tracking_uri)
    except (FileNotFoundError, ValueError, LookupError) as exc:
        fail(str(exc))
    console.print(f"analyst labels: {result.n_labels} rows from {result.labels_path}")
    Console().print(result.gate.to_table())
    verdict = "promoted to champion" if result.promoted else "not promoted"
    reasons = "" if result.gate.passed else " (" + "; ".join(result.gate.reasons) + ")"
    console.print(f"challenger version {result.train.version}: {verdict}{reasons}")


@app.command()
def evaluate(
    model: Annotated[
        str | None, typer.Option(help="Model dir or MLflow URI [registry champion, else models/default]")
    ] = None,
    dataset: DatasetDir = Path("data/processed"),
    corpora: CorporaDir = Path("../shared/data"),
    functional: Annotated[bool, typer.Option(help="Run the functional suite and bias metrics")] = True,
    civic: Annotated[bool, typer.Option(help="Evaluate on the civic development set")] = True,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write metrics.json and report.json here")
    ] = None,
) -> None:
    """One table: each corpus's test split, the civic development set with review load, the functional
    suite and the bias metrics, at the model's own review/flag thresholds."""
    import json

    from signals.corpora import CorpusError
    from signals.dataset import DatasetError
    from signals.evaluation import evaluation_table
    from signals.training import evaluate_model

    try:
        metrics, report = evaluate_model(model, dataset, corpora, functional=functional, civic=civic)
    except (DatasetError, CorpusError) as exc:
        fail(str(exc))
    except (FileNotFoundError, ValueError, OSError) as exc:
        fail(f"cannot evaluate model {model or '(default)'}: {exc}")
    title = f"{report['model']['name']} {report['model']['version']} on {dataset}"
    Console(width=140).print(evaluation_table(metrics, title=title))
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
        (output / "report.json").write_text(json.dumps(report, indent=2, default=str))
        console.print(f"wrote {output / 'metrics.json'} and {output / 'report.json'}")


@app.command()
def calibrate(
    model: Annotated[
        str | None,
        typer.Option(
            help="Model dir or MLflow URI whose operating points to refit; with --source a model directory "
            "[models/default]"
        ),
    ] = None,
    config: Annotated[Path, typer.Option(help="Experiment TOML whose rules to apply")] = Path(
        "training/configs/minilm3.v3.toml"
    ),
    override: Overrides = None,
    tracking_uri: TrackingUri = None,
    artifacts: Artifacts = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="Fit this source's own review/flag thresholds and offset from the analysts' labels in the "
            "triage store, stored beside the model (sources.json)"
        ),
    ] = None,
    min_labels: Annotated[
        int, typer.Option(help="With --source: labels a signal needs, else it keeps the global thresholds")
    ] = 30,
    holdout: Annotated[
        float, typer.Option(help="With --source: share of the labels held back to measure the gain")
    ] = 0.3,
    seed: Annotated[int, typer.Option(help="With --source: seed of the held-back split")] = 13,
    target_recall: Annotated[float, typer.Option(help="With --source: recall target of `review`")] = 0.90,
    target_precision: Annotated[float, typer.Option(help="With --source: precision target of `flag`")] = 0.80,
    database_url: Annotated[
        str | None, typer.Option(envvar="SIGNALS_DATABASE_URL", help="Triage store [sqlite:///signals.db]")
    ] = None,
) -> None:
    """Refit a model's calibration and review/flag thresholds (civic set, review budget) without
    retraining; logged and registered as a new `challenger` run.

    With --source NAME: fit that source's own operating point (offset, review, flag per signal) from the
    analysts' confirm/reject decisions on its answers, print F1 at flag on a held-back part of the labels
    (global thresholds vs the source's), and store it in the model directory's sources.json; scoring that
    source (`score --source`, `import`, the triage store, /v1/score with "source") then uses it."""
    if source is not None:
        _calibrate_source(
            model, source, min_labels, holdout, seed, target_recall, target_precision, database_url
        )
        return
    from signals.training import recalibrate

    if model is None:
        fail("--model is required (or give --source NAME to fit a source's operating point)")
    _new_run(
        config,
        override,
        lambda cfg: recalibrate(model, cfg, tracking_uri=tracking_uri, artifacts=artifacts),
        f"recalibrated {model}",
    )


@app.command()
def soup(
    models: Annotated[
        list[str], typer.Argument(help="Two or more trained seeds of one recipe (dirs or URIs)")
    ],
    config: Annotated[Path, typer.Option(help="Experiment TOML whose rules to apply")] = Path(
        "training/configs/minilm3.v9.toml"
    ),
    override: Overrides = None,
    tracking_uri: TrackingUri = None,
    artifacts: Artifacts = None,
) -> None:
    """Average the weights of several trained seeds of one recipe into one model, fit its calibration
    and review/flag thresholds, evaluate it and register it as a new `challenger` run (ship it with
    `signals ship`)."""
    from signals.training import soup as run_soup

    _new_run(
        config,
        override,
        lambda cfg: run_soup(models, cfg, tracking_uri=tracking_uri, artifacts=artifacts),
        f"averaged {len(models)} models",
    )


def _new_run(config: Path, override: list[str] | None, run: Any, said: str) -> None:
    """Load the experiment config, ``run(config)`` (a recalibration or a weight average: a new
    registered run) and report it; a user's error is one line."""
    from signals.corpora import CorpusError
    from signals.dataset import DatasetError
    from signals.training import load_config

    try:
        result = run(load_config(config, override or []))
    except (DatasetError, CorpusError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    console.print(f"{said}: run {result.run_id[:8]}, version {result.version}, in {result.model_dir}")


def _calibrate_source(
    model: str | None,
    source: str,
    min_labels: int,
    holdout: float,
    seed: int,
    target_recall: float,
    target_precision: float,
    database_url: str | None,
) -> None:
    """``signals calibrate --source``: fit, print the held-back gain per signal, store beside the model."""
    from signals.registry import DEFAULT_MODEL_DIR, is_registry_uri
    from signals.sources import SOURCES_FILE, SourceError, Targets, calibrate_source

    if model is not None and is_registry_uri(model):
        fail(
            f"--source needs a model directory (its operating points are stored there in {SOURCES_FILE}); "
            f"{model} is a registry URI: download it to a directory first"
        )
    if not source.strip():
        fail("--source needs a name, e.g. city-survey-2025")
    for name, value in (("--target-recall", target_recall), ("--target-precision", target_precision)):
        if not 0 < value <= 1:
            fail(f"{name} must be above 0 and at most 1, got {value}")
    directory = Path(model) if model is not None else DEFAULT_MODEL_DIR
    targets = Targets(target_recall, target_precision, min_labels, holdout, seed)
    _migrate_quietly(database_url)
    try:
        result = calibrate_source(directory, source, targets, url=database_url)
    except SourceError as exc:
        fail(str(exc))
    except (FileNotFoundError, ValueError, OSError) as exc:
        fail(f"cannot load model {directory}: {exc}")
    entry = result.entry
    table = Table(
        title=f"Operating point of source {source} ({entry['model']['name']} {entry['model']['version']})",
        caption=f"F1 at flag on the {holdout:.0%} of labels held back (seed {seed}); "
        "thresholds and offset fitted on all labels",
    )
    for col in ("signal", "labels (+/-, random)", "held back (+)", "F1 global", "F1 source", "offset",
                "review", "flag"):  # fmt: skip
        table.add_column(col, justify="left" if col == "signal" else "right")
    notes = []
    for s in SIGNALS:
        fit = entry["signals"][s]
        n = fit["labels"]
        counts = f"{n['n']} ({n['positives']}/{n['negatives']}, {n['random_sample']})"
        if not fit["fitted"]:
            table.add_row(s, counts, *["-"] * 6)
            notes.append(f"{s}: keeps the global thresholds ({fit['reason']})")
            continue
        back = fit.get("held_back")
        if back is None:
            notes.append(f"{s}: too few labels to hold any back; no gain measured")
        if fit["review_from"] == "global":
            notes.append(f"{s}: review kept global (too few random-sample labels), shifted by the offset")
        table.add_row(
            s,
            counts,
            f"{back['n']} ({back['positives']})" if back else "-",
            f"{back['f1_global']:.3f}" if back else "-",
            f"{back['f1_source']:.3f}" if back else "-",
            f"{fit['offset']:+.2f}",
            f"{fit['review']:.3f}",
            f"{fit['flag']:.3f}",
        )
    Console(width=160).print(table)
    for note in notes:
        console.print(note)
    if result.path is None:
        console.print(f"no signal of {source} has enough labels: nothing stored, the global thresholds apply")
    else:
        console.print(f"stored in {result.path}; restart or reload servers to use it")


@app.command("evaluate-loco")
def evaluate_loco(
    config: Annotated[Path, typer.Option(help="A baseline experiment TOML")] = Path(
        "training/configs/baseline.v1.toml"
    ),
    override: Overrides = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the matrix as CSV")
    ] = None,
) -> None:
    """Leave-one-corpus-out matrix of the baseline family: train without corpus C, test on C's test split
    (one fit per corpus: minutes, run on demand)."""
    import csv

    from signals.dataset import DatasetError
    from signals.training import leave_one_corpus_out, load_config

    try:
        rows = leave_one_corpus_out(load_config(config, override or []))
    except (DatasetError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    table = Table(title="Leave one corpus out (baseline): test split of the held-out corpus")
    columns = ("corpus", "signal", "positives", "pr_auc_out", "pr_auc_in", "f1_flag_out", "f1_flag_in")
    for name in columns:
        table.add_column(name, justify="left" if name in ("corpus", "signal") else "right")
    for row in rows:
        table.add_row(
            *(
                "-" if row[c] is None else f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c])
                for c in columns
            )
        )
    Console(width=140).print(table)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)
        console.print(f"wrote {output}")


@app.command()
def score(
    input_path: Annotated[Path | None, typer.Argument(metavar="IN.csv", help="CSV file to score")] = None,
    text_column: Annotated[str, typer.Option(help="Column holding the text")] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the scored CSV")
    ] = None,
    text: Annotated[str | None, typer.Option(help="Score one text and print JSON")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model dir or MLflow URI [registry champion, else models/default]")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Input file encoding [UTF-8, with or without BOM]")
    ] = None,
    spans: Annotated[bool, typer.Option(help="With --text: include evidence spans")] = True,
    source: Annotated[
        str | None,
        typer.Option(
            help="Where the texts come from: its own operating point applies when the model has one"
        ),
    ] = None,
) -> None:
    """Score a CSV (all rows and columns kept, plus p_*, flag_*, language, supported) or one --text (JSON)."""
    import dataclasses
    import json

    from signals.batch import BatchInputError, count_rows, score_csv
    from signals.inputs import MAX_TEXT_CHARS
    from signals.scoring import load_scorer

    if (input_path is None) == (text is None):
        fail("give either IN.csv (with --output) or --text")
    if input_path is not None and output is None:
        fail("--output is required when scoring a file")
    if text is not None and len(text) > MAX_TEXT_CHARS:
        fail(
            f"--text has {len(text):,} characters; the longest text that can be scored is {MAX_TEXT_CHARS:,}"
        )
    try:
        scorer = load_scorer(model)
    except (FileNotFoundError, ValueError, OSError) as exc:
        fail(f"cannot load model {model or '(default)'}: {exc}")
    if text is not None:
        result = scorer.score(text, spans=spans, source=source)
        payload = {"model": {"name": scorer.name, "version": scorer.version}, **dataclasses.asdict(result)}
        typer.echo(json.dumps(payload, indent=2))
        return
    assert input_path is not None and output is not None
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("scoring", total=count_rows(input_path) if input_path.is_file() else None)
            n = score_csv(
                input_path,
                output,
                scorer,
                text_column=text_column,
                encoding=encoding,
                progress=lambda done: bar.update(task, completed=done),
                source=source,
            )
    except BatchInputError as exc:
        fail(str(exc))
    point = scorer.operating_point(source)
    used = "operating point " + (point.label if point is not None else "global")
    console.print(f"scored {n} rows with {scorer.name} {scorer.version} ({used}) -> {output}")


def _split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None


@data_app.command("build")
def data_build(
    corpora: Annotated[
        Path,
        typer.Option(envvar="SIGNALS_CORPORA_DIR", help="Folder holding the public corpora (read-only)"),
    ] = Path("../shared/data"),
    output: Annotated[Path, typer.Option(help="Where to save the DatasetDict and data card")] = Path(
        "data/processed"
    ),
    languages: Annotated[
        str, typer.Option(help="Comma-separated ISO 639-1 codes (en,es,ar...) or 'all'")
    ] = "en",
    sources: Annotated[
        str | None, typer.Option(help="Comma-separated corpus folder names [every corpus present]")
    ] = None,
    seed: Annotated[int, typer.Option(help="Split seed")] = 13,
    val_frac: Annotated[float, typer.Option(help="Validation fraction")] = 0.1,
    test_frac: Annotated[float, typer.Option(help="Test fraction")] = 0.1,
) -> None:
    """Build the unified dataset: adapters -> normalise -> dedup -> split -> DatasetDict + data card."""
    import time

    from signals.corpora import CorpusError
    from signals.dataset import DatasetError, build_dataset, read_data_card

    started = time.perf_counter()
    try:
        dataset = build_dataset(
            corpora,
            output,
            languages=_split_list(languages) or [],
            sources=_split_list(sources),
            seed=seed,
            val_frac=val_frac,
            test_frac=test_frac,
            progress=True,
        )
    except (CorpusError, DatasetError) as exc:
        fail(str(exc))
    card = read_data_card(output)
    table = Table(
        title=f"{output}: fingerprint {card['fingerprint'][:12]}",
        caption="positives per signal; positive/negative/unknown counts in data_card.md",
    )
    table.add_column("split")
    table.add_column("rows", justify="right")
    for s in SIGNALS:
        table.add_column(f"{s} +", justify="right")
    for split, ds in dataset.items():
        labels = card["splits"][split]["labels"]
        table.add_row(split, str(ds.num_rows), *(str(labels[s]["all"]["pos"]) for s in SIGNALS))
    Console().print(table)
    build = card["build"]
    console.print(
        f"read {build['rows_read']} rows, dropped {build['dropped_empty_after_normalize']} empty, merged "
        f"{build['duplicate_rows_merged']} duplicates in {build['duplicate_groups']} groups, "
        f"{sum(c['disagreeing'] for c in build['conflicts'].values())} label conflicts; "
        f"{time.perf_counter() - started:.0f}s; data card in {output / 'data_card.md'}"
    )


keys_app = typer.Typer(no_args_is_help=True, help="API keys of the scoring service (stored hashed).")
app.add_typer(keys_app, name="keys")
DatabaseUrl = Annotated[
    str | None, typer.Option(envvar="SIGNALS_DATABASE_URL", help="Key database [sqlite:///signals.db]")
]


def _migrate_quietly(database_url: str | None) -> None:
    """Bring the database up to date without alembic's INFO chatter on every key command."""
    from signals.db import migrate

    logging.getLogger("alembic").setLevel(logging.WARNING)
    migrate(database_url)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who the key is for, e.g. forum-bot")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: score, triage, admin")] = "score",
    rate_limit: Annotated[
        int | None,
        typer.Option(
            help="Units per minute for this key (one per text or sentence scored) [SIGNALS_RATE_LIMIT]; "
            "0 = unlimited"
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key; the key itself is printed once, as the last line (only its hash is stored)."""
    from signals.keys import create_key

    _migrate_quietly(database_url)
    try:
        secret, info = create_key(name, scopes, rate_limit=rate_limit, url=database_url)
    except ValueError as exc:
        fail(str(exc))
    console.print(f"created key {info.id} {info.prefix}... for {info.name!r}, scopes {','.join(info.scopes)}")
    typer.echo(secret)


@keys_app.command("list")
def keys_list(
    database_url: DatabaseUrl = None,
) -> None:
    """List keys (id, prefix, name, scopes, created, revoked); never the keys themselves."""
    from signals.keys import list_keys

    _migrate_quietly(database_url)
    table = Table(title="API keys")
    for col in ("id", "prefix", "name", "scopes", "rate limit", "created", "revoked"):
        table.add_column(col)
    for k in list_keys(database_url):
        table.add_row(
            str(k.id),
            k.prefix,
            k.name,
            ",".join(k.scopes),
            "default" if k.rate_limit is None else str(k.rate_limit),
            k.created.strftime("%Y-%m-%d %H:%M"),
            "yes" if k.revoked else "",
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id, prefix (as `keys list` shows) or name")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke keys by id, prefix or name (servers stop accepting them at once)."""
    from signals.keys import revoke_key

    _migrate_quietly(database_url)
    try:
        revoked = revoke_key(key, database_url)
    except LookupError as exc:
        fail(str(exc))
    for k in revoked:
        console.print(f"revoked key {k.id} {k.prefix}... ({k.name})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind [SIGNALS_HOST or 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [SIGNALS_PORT or 8000]")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model dir or MLflow URI [SIGNALS_MODEL, champion, models/default]")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [SIGNALS_WORKERS or 1]")] = None,
    demo_key: Annotated[
        bool, typer.Option(help="Create a fresh key `demo` (all scopes; older demo keys revoked), print it")
    ] = False,
) -> None:
    """Start the scoring service (uvicorn; the model is loaded once at start-up)."""
    import os

    import uvicorn
    from serve.settings import Settings

    for var, value in (("SIGNALS_HOST", host), ("SIGNALS_PORT", port), ("SIGNALS_MODEL", model)):
        if value is not None:
            os.environ[var] = str(value)  # workers re-read settings from the environment
    if workers is not None:
        os.environ["SIGNALS_WORKERS"] = str(workers)
    # No torch in the server (see signals.scoring.keep_torch_out); workers inherit this.
    os.environ["SIGNALS_KEEP_TORCH_OUT"] = "1"
    try:
        settings = Settings()
    except ValueError as exc:
        fail(f"bad SIGNALS_* setting: {exc}")
    from signals.registry import store_exists
    from signals.scoring import DEFAULT_MODEL_DIR

    shipped = (DEFAULT_MODEL_DIR / "signals.json").is_file()
    if settings.model is None and not shipped and not store_exists():
        fail(f"no model to serve: set SIGNALS_MODEL, promote a champion, or ship {DEFAULT_MODEL_DIR}")
    from serve.ratelimit import RateLimiter

    try:
        limiter = RateLimiter(settings.limits_url)
    except ValueError as exc:
        fail(str(exc))
    if limiter.shared and not limiter.healthy():
        fail(f"the rate-limit store at SIGNALS_LIMITS_URL does not answer ({limiter.url.split('@')[-1]})")
    if settings.workers > 1 and not limiter.shared:
        console.print(
            f"[yellow]warning:[/] SIGNALS_WORKERS={settings.workers} with SIGNALS_LIMITS_URL=memory://: each "
            "worker counts its own share, so rate limits and login throttles are "
            f"{settings.workers} times looser; set SIGNALS_LIMITS_URL=redis://... (docs/deploy.md)"
        )
    _migrate_quietly(settings.database_url)
    if demo_key:
        from signals.keys import create_key, list_keys, revoke_key

        if any(k.name == "demo" and not k.revoked for k in list_keys(settings.database_url)):
            revoke_key("demo", settings.database_url)
        secret, _ = create_key("demo", "score,triage,admin", url=settings.database_url)
        console.print(f"demo key (all scopes; send as `Authorization: Bearer <key>`):\n{secret}")
    console.print(f"serving on http://{settings.host}:{settings.port} (schema at /openapi.json)")
    uvicorn.run(
        "serve.main:app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,  # serve.access logs requests without query strings (keys) or text
        log_level="info",
    )


@app.command("import")
def import_survey(
    export: Annotated[Path, typer.Argument(metavar="SURVEY.(csv|xlsx)", help="Wide survey export")],
    text_columns: Annotated[str, typer.Option(help="Open questions to import, e.g. 'Q3,Q7'")],
    id_column: Annotated[str, typer.Option(help="Respondent id column, e.g. RespondentID")],
    survey: Annotated[str, typer.Option(help="Survey name (the triage store's source), e.g. city-2025")],
    meta: Annotated[
        str | None, typer.Option(help="Columns kept beside each answer, e.g. 'ward,date'")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write a scored .csv/.parquet instead of storing")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding [UTF-8, with or without BOM]")] = None,
    header_rows: Annotated[int | None, typer.Option(help="Header rows above the answers [detected]")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model dir or MLflow URI [registry champion, else models/default]")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(envvar="SIGNALS_DATABASE_URL", help="Triage store [sqlite:///signals.db]")
    ] = None,
) -> None:
    """Import a survey export: one redacted, language-tagged, scored record per answer."""
    from signals.scoring import load_scorer
    from signals.surveys import SurveyInputError
    from signals.surveys import import_survey as run_import

    try:
        scorer = load_scorer(model)
    except (FileNotFoundError, ValueError, OSError) as exc:
        fail(f"cannot load model {model or '(default)'}: {exc}")
    if output is None:
        _migrate_quietly(database_url)
    try:
        summary = run_import(
            export, survey, text_columns, id_column, scorer, meta,
            encoding=encoding, header_rows=header_rows, output=output, url=database_url,
        )  # fmt: skip
    except SurveyInputError as exc:
        fail(str(exc))
    langs = ", ".join(f"{k} {v}" for k, v in sorted(summary.languages.items(), key=lambda kv: -kv[1]))
    flagged = ", ".join(f"{s} {summary.flagged.get(s, 0)}" for s in SIGNALS)
    headers = f"{summary.header_rows} header row" + ("s" if summary.header_rows > 1 else "")
    console.print(
        f"{summary.survey}: {summary.answers} answers from {summary.respondents} respondents "
        f"({summary.layout} export, {headers}); {summary.new} new, {summary.existing} already stored "
        f"-> {summary.destination}"
    )
    point = scorer.operating_point(summary.survey)
    used = f"{point.label} (fitted {point.fitted_at})" if point is not None else "global"
    console.print(f"languages: {langs}; flagged: {flagged}; operating point: {used}")
    if summary.unsupported:
        console.print(
            f"not scored: {summary.unsupported} answers in a language the model does not score "
            f"(it scores {', '.join(scorer.languages)}); kept, never flagged"
        )
    if summary.redactions:
        console.print(
            "personal data replaced: " + ", ".join(f"{k} {v}" for k, v in summary.redactions.items())
        )


def _store_label(url: str) -> str:
    """How a report names its database: the file name for SQLite, else the URL without a password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return Path(parsed.database or "memory").name
    return parsed.render_as_string(hide_password=True)


def _report_wave(
    survey: str | None, input_path: Path | None, database_url: str | None
) -> tuple[pd.DataFrame, str, str]:
    """One wave for `signals report`: (frame, name, source) from a scored file or the triage store.

    Raises ``UserError`` for a file that is missing or not a scored survey file, ``LookupError`` for a
    survey the store does not hold.
    """
    from signals.report import read_scored_file, store_frame

    if input_path is not None:
        if not input_path.is_file():
            raise UserError(f"input file not found: {input_path}")
        frame = read_scored_file(input_path)
        missing = {"text", "question_id", *(f"flag_{s}" for s in SIGNALS)} - set(frame.columns)
        if missing:
            raise UserError(f"{input_path} is not a scored survey file: no column(s) {sorted(missing)}")
        if frame.empty:
            raise UserError(f"{input_path} has no answers")
        name = str(frame["survey"].iloc[0]) if "survey" in frame else input_path.stem
        return frame, name, f"scored file {input_path.name}"
    assert survey is not None
    _migrate_quietly(database_url)
    frame = store_frame(survey, database_url)
    from signals.db import database_url as resolve_url

    return frame, survey, f"triage store ({_store_label(resolve_url(database_url))})"


#: Suffixes that make --compare a file, not a survey name.
_SCORED_SUFFIXES = {".csv", ".parquet"}


@app.command()
def report(
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write, e.g. report.html")],
    survey: Annotated[str | None, typer.Option(help="Survey name in the triage store")] = None,
    input_path: Annotated[
        Path | None, typer.Option("--input", help="A scored file from `signals import --output` instead")
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(
            "--compare",
            metavar="OTHER",
            help="Compare with another wave: a scored file, or a survey name in the triage store",
        ),
    ] = None,
    date_field: Annotated[str | None, typer.Option(help="Meta field holding the date [detected]")] = None,
    database_url: Annotated[
        str | None, typer.Option(envvar="SIGNALS_DATABASE_URL", help="Triage store [sqlite:///signals.db]")
    ] = None,
) -> None:
    """Write a briefing (one self-contained HTML file, plus its tables as CSV and JSON).

    With --compare OTHER, the briefing also compares this wave with OTHER (an existing file, or a file
    name ending .csv/.parquet, is read as a scored file; anything else is a survey in the store).
    """
    from signals.inputs import InputFileError
    from signals.report import ReportContext, build_report, frame_model, operating_point_note

    if (survey is None) == (input_path is None):
        fail("give --survey NAME (triage store) or --input SCORED_FILE")
    try:
        frame, name, source = _report_wave(survey, input_path, database_url)
        other = None
        inputs = [input_path] if input_path is not None else []
        context = ReportContext(name, frame_model(frame), source, operating_point=operating_point_note(frame))
        if compare is not None:
            as_file = Path(compare)
            is_file = as_file.is_file() or as_file.suffix.lower() in _SCORED_SUFFIXES
            try:
                other, other_name, other_source = (
                    _report_wave(None, as_file, database_url)
                    if is_file
                    else _report_wave(compare, None, database_url)
                )
            except (UserError, LookupError, InputFileError) as exc:  # the file or survey, by name
                raise UserError(f"--compare {compare}: {exc}") from None
            except (ValueError, OSError) as exc:  # a file pandas cannot parse
                raise UserError(f"--compare {compare}: cannot read it as a scored file: {exc}") from None
            inputs += [as_file] if is_file else []
            context.compare, context.compare_source = other_name, other_source
        files = build_report(frame, output, context, date_field, inputs=inputs, other=other)
    except (UserError, LookupError, ValueError) as exc:  # InputFileError is a ValueError
        fail(str(exc))
    compared = f"; compared with {context.compare}" if compare is not None else ""
    console.print(f"report for {name} ({len(frame)} answers{compared}) -> {files.html}; "
                  f"tables: {files.json.name}, {len(files.csv)} CSV files")  # fmt: skip


@app.command("score-spark")
def score_spark(
    input_path: Annotated[str, typer.Option("--input", help="Parquet or CSV file or folder")],
    output: Annotated[str, typer.Option(help="Output folder (Spark writes part files)")],
    master: Annotated[str, typer.Option(help="Spark master: local[*] or spark://host:7077 ...")] = "local[*]",
    model: Annotated[
        str | None,
        typer.Option(help="MLflow model URI or model dir [registry champion, else models/default]"),
    ] = None,
    text_column: Annotated[str, typer.Option(help="Column holding the text")] = "text",
    output_format: Annotated[str | None, typer.Option("--format", help="csv or parquet [parquet]")] = None,
    python: Annotated[
        str | None, typer.Option(help="Python on the workers (PYSPARK_PYTHON) [this venv's python]")
    ] = None,
    partitions: Annotated[int | None, typer.Option(help="Partitions to score in [4 per core]")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder")] = False,
) -> None:
    """Score a large file on Spark with the MLflow pyfunc model (mlflow.pyfunc.spark_udf)."""
    from signals.spark import SparkInputError
    from signals.spark import score_spark as run_spark

    try:
        result = run_spark(
            input_path, output, master=master, model=model, text_column=text_column, output_fmt=output_format,
            worker_python=python, partitions=partitions, overwrite=overwrite,
        )  # fmt: skip
    except SparkInputError as exc:
        fail(str(exc))
    console.print(
        f"scored {result.rows} rows on {master} in {result.seconds:.1f}s "
        f"({result.rows / max(result.seconds, 1e-9):.0f} rows/s) with {result.model_uri} -> {result.output}"
    )


def _register_triage() -> None:
    # submit, users, labels, triage: defined beside the triage store (signals/triage/cli.py).
    from signals.triage.cli import register

    register(app)


_register_triage()


def main() -> None:
    """Entry point: run the app, turning ``UserError`` into a clean message."""
    import warnings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # MLflow's advice about integer schemas and pickled pyfunc models is for other set-ups; keep the
    # command output to what the user needs.
    warnings.filterwarnings("ignore", module="mlflow")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for noisy in ("alembic", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    try:
        app()
    except UserError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
