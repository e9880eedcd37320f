"""Print the model card's measured tables (docs/model-card.md) from MLflow runs, as markdown.

The card must only carry numbers that a recorded run produced; this script is how they get there, so
the card can be regenerated whenever the champion changes::

    .venv/bin/python training/model_card_tables.py RUN_ID [BASELINE_RUN_ID] [--tracking-uri URI]

Run it from the repository root (the default tracking URI ``sqlite:///mlflow.db`` is relative). Every
number comes from the run's logged metrics (``test_*``, ``func_*``, ``funcgroup_*``, ``bias_*``); case
counts and functionality descriptions come from ``signals.functional.suite`` (the suite is code, not data).
A value the run did not log is printed as ``n/a`` with the reason, never estimated.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from signals.functional.common import EVAL_GROUPS, FUNCTIONALITIES
from signals.functional.suite import suite_cases
from signals.schema import SIGNALS

CONFIG_DIR = Path("training/configs")
BIAS_METRICS = ("subgroup", "bpsn", "bnsp")


@dataclass(frozen=True)
class RunInfo:
    """What the tables need from one MLflow run: identity, provenance and its metrics."""

    run_id: str
    name: str
    family: str
    dataset: str
    fingerprint: str
    params: Mapping[str, str]
    metrics: Mapping[str, float]

    @property
    def short(self) -> str:
        return self.run_id[:8]

    @property
    def version(self) -> str:
        """The model version string `signals train` writes into signals.json (`name+run8`)."""
        return f"{self.name}+{self.short}"

    def command(self) -> str:
        """The `signals train` command line that reproduces this run, as far as params record it."""
        config = CONFIG_DIR / f"{self.name}.toml"
        cmd = f"signals train --config {config}"
        config_dataset = None
        if config.is_file():
            config_dataset = tomllib.loads(config.read_text(encoding="utf-8")).get("dataset")
        if self.dataset and config_dataset and self.dataset != config_dataset:
            cmd += f" --set dataset={self.dataset}"
        checkpoint = self.params.get("transformer.from_checkpoint", "")
        if checkpoint:
            cmd += f" --set transformer.from_checkpoint={checkpoint}"
        return cmd

    def source(self, split: str, trained_on: bool = False) -> str:
        """One provenance sentence: run id, split, dataset and the command that produced the numbers.

        ``trained_on`` says the split is not part of the dataset (the functional suite), so the dataset is
        named as the training data instead.
        """
        data = f"`{self.dataset}` (fingerprint `{self.fingerprint[:12]}`, built by `signals data build`)"
        where = f"{split}; model trained on {data}" if trained_on else f"{split} of {data}"
        text = f"Source:* run `{self.run_id}` (`{self.name}`, {self.family}); {where}"
        text += f"; produced by `{self.command()}`"
        if self.params.get("transformer.from_checkpoint"):
            text += " (checkpoint trained separately with `python -m signals.models.transformer`)"
        return text + "."


def load_run(run_id: str, tracking_uri: str) -> RunInfo:
    """Read one run from MLflow; a missing run is a clear error, not a stack trace."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise SystemExit(f"error: run {run_id!r} not found in {tracking_uri}: {exc.message}") from exc
    params = dict(run.data.params)
    tags = dict(run.data.tags)
    return RunInfo(
        run_id=run.info.run_id,
        name=params.get("name") or run.info.run_name or run_id,
        family=tags.get("model_family", params.get("model", "?")),
        dataset=params.get("dataset") or tags.get("dataset_path", "?"),
        fingerprint=tags.get("dataset_fingerprint", "?"),
        params=params,
        metrics=dict(run.data.metrics),
    )


def _num(value: float | None, digits: int = 3, missing: str = "n/a (not logged)") -> str:
    if value is None or math.isnan(value):
        return missing
    return f"{value:.{digits}f}"


def _int(value: float | None) -> str:
    return "n/a (not logged)" if value is None else f"{int(value):,}"


def _pct(value: float | None) -> str:
    return "n/a (not logged)" if value is None else f"{100 * value:.1f} %"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def signal_metrics_table(run: RunInfo) -> str:
    """Per-signal test metrics: n, positives, ROC-AUC, PR-AUC, flag P/R/F1 and review recall."""
    m = run.metrics
    rows = []
    for s in SIGNALS:
        p = f"test_{s}_"
        rows.append(
            [
                s,
                _int(m.get(p + "n")),
                _int(m.get(p + "positives")),
                _num(m.get(p + "roc_auc")),
                _num(m.get(p + "pr_auc")),
                _num(m.get(p + "flag_precision")),
                _num(m.get(p + "flag_recall")),
                _num(m.get(p + "flag_f1")),
                _num(m.get(p + "review_recall")),
            ]
        )
    header = ["signal", "n", "positives", "ROC-AUC", "PR-AUC", "precision @flag", "recall @flag"]
    return _table([*header, "F1 @flag", "recall @review"], rows)


def comparison_table(champion: RunInfo, baseline: RunInfo | None) -> str:
    """Test PR-AUC of the baseline next to the champion."""
    header = ["signal"]
    if baseline:
        header.append(f"baseline `{baseline.name}` (run {baseline.short})")
    header.append(f"champion `{champion.name}` (run {champion.short})")
    rows = []
    for s in SIGNALS:
        row = [s]
        if baseline:
            row.append(_num(baseline.metrics.get(f"test_{s}_pr_auc")))
        row.append(_num(champion.metrics.get(f"test_{s}_pr_auc")))
        rows.append(row)
    return _table(header, rows)


def evaluate_table(run: RunInfo) -> str:
    """The table `signals evaluate` prints: corpora test splits, civic set, suite, bias."""
    from signals.evaluation import evaluation_rows

    return _table(["set", "measure", *SIGNALS, "all"], evaluation_rows(run.metrics))


def per_corpus_table(champion: RunInfo, baseline: RunInfo | None) -> str:
    """Hate and polarization F1 at `flag` on each corpus's test split, champion next to the baseline."""
    from signals.evaluation import metric_sources

    sources = metric_sources(champion.metrics)
    header = ["corpus", "signal"]
    if baseline:
        header.append(f"baseline `{baseline.name}` F1 @flag")
    header.append(f"champion `{champion.name}` F1 @flag")
    rows = []
    for source in sources:
        for s in ("hate", "polarization"):
            key = f"test.{source}_{s}_flag_f1"
            if key not in champion.metrics:
                continue
            row = [source, s]
            if baseline:
                row.append(_num(baseline.metrics.get(key)))
            row.append(_num(champion.metrics.get(key)))
            rows.append(row)
    return _table(header, rows)


def thresholds_table(run: RunInfo) -> str:
    """Calibrated-probability thresholds (the same values `signals.json` carries)."""
    rows = [
        [
            s,
            _num(run.metrics.get(f"test_{s}_review_threshold")),
            _num(run.metrics.get(f"test_{s}_flag_threshold")),
        ]
        for s in SIGNALS
    ]
    return _table(["signal", "review", "flag"], rows)


def _expected_text(expectations: list[Mapping[str, int]]) -> str:
    """Describe the expected decisions of a functionality's cases (signals in schema order)."""
    common = {k: v for k, v in expectations[0].items() if all(e.get(k) == v for e in expectations)}
    if len(common) == len(SIGNALS) and len(set(common.values())) == 1:
        text = f"all four = {next(iter(common.values()))}"
    else:
        text = ", ".join(f"{s}={common[s]}" for s in SIGNALS if s in common)
    extra = sorted({k for e in expectations for k in e} - set(common))
    for key in extra:
        with_key = [e for e in expectations if key in e]
        values = sorted({e[key] for e in with_key})
        text += f" ({key}={'/'.join(map(str, values))} in {len(with_key)} of {len(expectations)} cases)"
    return text


def functional_table(champion: RunInfo, baseline: RunInfo | None) -> str:
    """Suite accuracy per functionality at the flag threshold, baseline next to champion."""
    by_func: dict[str, list[Mapping[str, int]]] = {f: [] for f in FUNCTIONALITIES}
    for case in suite_cases():
        by_func[case.functionality].append(case.expected)
    header = ["functionality", "what it tests", "evaluated signals (expected)", "cases"]
    runs = [r for r in (baseline, champion) if r is not None]
    labels = ["baseline", "champion"] if baseline else ["champion"]
    header += [f"{label} (run {r.short})" for label, r in zip(labels, runs, strict=True)]

    def cell(run: RunInfo, key: str, n: int) -> str:
        acc = run.metrics.get(key)
        return "n/a (not logged)" if acc is None else f"{_pct(acc)} ({round(acc * n)}/{n})"

    rows = []
    for func, expectations in by_func.items():
        n = len(expectations)
        row = [f"`{func}`", FUNCTIONALITIES[func], _expected_text(expectations), str(n)]
        rows.append(row + [cell(r, f"func_{func}_acc", n) for r in runs])
    total = sum(len(e) for e in by_func.values())
    rows.append(
        ["**overall**", "", "", f"**{total}**"] + [f"**{cell(r, 'func_overall_acc', total)}**" for r in runs]
    )
    return _table(header, rows)


_GROUP_KEY = re.compile(r"^bias_(test|func)_([a-z]+)_(.+)_(subgroup|bpsn|bnsp)_auc$")


def _group_metrics(run: RunInfo, split: str, signal: str) -> dict[str, dict[str, float]]:
    """{group: {"subgroup"|"bpsn"|"bnsp": auc}} parsed from `bias_<split>_<signal>_<group>_<m>_auc`."""
    out: dict[str, dict[str, float]] = {}
    for key, value in run.metrics.items():
        match = _GROUP_KEY.match(key)
        if match and match.group(1) == split and match.group(2) == signal:
            out.setdefault(match.group(3), {})[match.group(4)] = value
    return out


def bias_test_table(champion: RunInfo, baseline: RunInfo | None) -> str:
    """Test-split bias summary per signal: final metric, power means and the worst BPSN group."""
    header = ["signal", "final", "M(subgroup)", "M(BPSN)", "M(BNSP)", "worst group (BPSN)"]
    if baseline:
        header.append(f"final, baseline (run {baseline.short})")
    rows = []
    for s in SIGNALS:
        m = champion.metrics
        p = f"bias_test_{s}_"
        groups = _group_metrics(champion, "test", s)
        bpsn = {g: v["bpsn"] for g, v in groups.items() if "bpsn" in v}
        worst = min(bpsn, key=bpsn.__getitem__) if bpsn else None
        all_positive = not bpsn and any("bnsp" in v for v in groups.values())
        # Subgroup and BPSN AUCs need benign rows inside a group; say why they are missing.
        no_two_class = (
            "n/a (every group member is positive)" if all_positive else "n/a (no group has both classes)"
        )
        row = [
            s,
            _num(m.get(p + "final"), missing=no_two_class),
            _num(m.get(p + "subgroup_auc_pmean"), missing=no_two_class),
            _num(m.get(p + "bpsn_auc_pmean"), missing=no_two_class),
            _num(m.get(p + "bnsp_auc_pmean"), missing="n/a (no group with positives)"),
            f"{worst} ({bpsn[worst]:.3f})" if worst else no_two_class,
        ]
        if baseline:
            row.append(_num(baseline.metrics.get(p + "final"), missing=no_two_class))
        rows.append(row)
    return _table(header, rows)


def bias_functional_table(run: RunInfo) -> str:
    """Functional suite, `hate` signal, per protected identity group."""
    groups = _group_metrics(run, "func", "hate")
    rows = []
    for group in EVAL_GROUPS:
        values = groups.get(group.key, {})
        row = [group.key, _pct(run.metrics.get(f"funcgroup_{group.key}_acc"))]
        row += [_num(values.get(metric), missing="n/a (single class)") for metric in BIAS_METRICS]
        rows.append(row)
    return _table(["group", "suite accuracy", "subgroup AUC", "BPSN AUC", "BNSP AUC"], rows)


def render(champion: RunInfo, baseline: RunInfo | None) -> str:
    """All tables, each under a heading naming the card section and with its provenance line(s)."""
    test = "test split"
    suite = "functional suite (`signals.functional.suite`, 560 cases)"
    sections: list[tuple[str, Callable[[], str], list[str]]] = [
        (
            "Model details: version",
            lambda: f"`{champion.version}`",
            [champion.source("model directory `signals.json`", trained_on=True)],
        ),
        (
            "Evaluation (`signals evaluate`)",
            lambda: evaluate_table(champion),
            [
                champion.source(
                    "test splits, civic development set (docs/civic-labels.md), suite", trained_on=True
                )
            ],
        ),
        (
            "Per corpus, hate and polarization (test splits)",
            lambda: per_corpus_table(champion, baseline),
            [r.source(test) for r in (baseline, champion) if r],
        ),
        ("Metrics per signal (test split)", lambda: signal_metrics_table(champion), [champion.source(test)]),
        (
            "Baseline vs. champion (test PR-AUC)",
            lambda: comparison_table(champion, baseline),
            [r.source(test) for r in (baseline, champion) if r],
        ),
        (
            "Operating points",
            lambda: thresholds_table(champion),
            [champion.source("thresholds chosen on validation pooled with the civic development set")],
        ),
        (
            "Functional suite (per functionality)",
            lambda: functional_table(champion, baseline),
            [r.source(suite, trained_on=True) for r in (baseline, champion) if r],
        ),
        (
            "Bias, test split",
            lambda: bias_test_table(champion, baseline),
            [r.source(test) for r in (champion, baseline) if r],
        ),
        (
            "Bias, functional suite (`hate`)",
            lambda: bias_functional_table(champion),
            [champion.source(suite, trained_on=True)],
        ),
    ]
    parts = []
    for title, build, sources in sections:
        parts.append(f"### {title}\n\n{build()}\n\n" + "\n\n".join(f"*{s}" for s in sources))
    return "\n\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_id", help="MLflow run id of the champion (or any run to describe)")
    parser.add_argument("baseline_run_id", nargs="?", help="MLflow run id of the baseline to compare")
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db", help="MLflow tracking URI")
    args = parser.parse_args(argv)
    champion = load_run(args.run_id, args.tracking_uri)
    baseline = load_run(args.baseline_run_id, args.tracking_uri) if args.baseline_run_id else None
    sys.stdout.write(render(champion, baseline))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
