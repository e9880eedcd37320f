"""`make run`: from a fresh clone to a working system in one command.

Makes sure a model exists (the registry champion, else the shipped ``models/default``; when neither
exists it builds the dataset, trains the baseline and promotes it), scores a small built-in sample of
invented comments and prints the top flagged items.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from signals.schema import SIGNALS
from signals.scoring import DEFAULT_MODEL_DIR, Scorer, load_scorer

log = logging.getLogger(__name__)
console = Console()


def ensure_model() -> Scorer:
    """Load the default scorer, training and promoting the baseline first when no model exists."""
    from signals import registry, tracking

    if registry.champion_uri() is None and not (DEFAULT_MODEL_DIR / "signals.json").is_file():
        from signals.dataset import build_dataset
        from signals.training import load_config, train

        console.print("[bold]No model yet:[/] building the dataset and training the baseline...")
        if not Path("data/processed").exists():
            build_dataset("../shared/data", "data/processed")
        result = train(load_config("training/configs/baseline.v1.toml"))
        tracking.promote(result.version)
    return load_scorer()


def sample() -> pd.DataFrame:
    """The built-in sample of invented survey answers and forum comments."""
    with resources.files("signals").joinpath("demo_comments.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def show_top_flagged(scorer: Scorer, limit: int = 10) -> None:
    frame = sample()
    results = scorer.score(frame["text"].tolist())
    order = sorted(range(len(results)), key=lambda i: -results[i].priority)
    table = Table(title=f"Top items by triage priority — model {scorer.name} {scorer.version}")
    table.add_column("id")
    table.add_column("priority", justify="right")
    table.add_column("flags / review")
    table.add_column("text", max_width=70)
    for i in order[:limit]:
        res = results[i]
        marks = [f"[red]{s}[/]" for s in SIGNALS if res.flags[s]]
        marks += [f"[yellow]{s}?[/]" for s in SIGNALS if res.review[s] and not res.flags[s]]
        table.add_row(frame["id"][i], f"{res.priority:.2f}", " ".join(marks) or "-", frame["text"][i])
    console.print(table)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    scorer = ensure_model()
    show_top_flagged(scorer)


if __name__ == "__main__":
    main()
