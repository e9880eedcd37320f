"""Evidence for issue 15's civic bars: how scorers rank the civic positives against the regression sentences.

    python training/civic_ranking_evidence.py mix --model models/default --baseline DIR
    python training/civic_ranking_evidence.py encoder --model models/default --encoder DIR [--cache FILE]

Every row ranks the civic development set (``CivicData``) and the team's regression sentences
(``signals.functional.suite.regression_rows``). "The bar's threshold" is the score of the civic
positive that ``review`` must still catch for recall 0.8 (the 4th of 5 hate positives, the 14th of 17
polarization positives); a row gives how many regression sentences score at or above it, the share of
the random civic comments above it, how many positives are inside the random comments' top 5 %, the
civic AUC, and PR-AUC on a test sample of the corpora (per corpus at most ``--test-per-corpus`` rows).

``mix``: the hate logit of ``--model`` alone, minus a weight times the hate logit of a lexical model
(``--baseline``, e.g. TF-IDF ``baseline.v1``; a post-hoc stand-in for a product of experts with a
bag-of-words bias model), and plus a weight times each of its other signals' logits.

``encoder``: a frozen sentence-transformers encoder (``--encoder``, a local folder) embeds a sample of
the training rows (``--per-corpus`` per hate corpus, every POLAR row), the civic training labels, the
test sample, the civic set and the regression sentences; a balanced logistic regression per signal
is fitted on the embeddings of the training rows and the civic training labels (these at each
``--civic-weights``), beside ``--model``'s own rows. ``--cache`` keeps the embeddings (an .npz) so
another run skips the encoder. The texts never leave the process; only figures are printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: The recall the issue asks of ``review`` on the civic positives.
BAR_RECALL = 0.8
#: The share of the random civic comments whose top a positive must reach to count as "in budget".
TOP_SHARE = 0.05
RANKED = ("hate", "polarization")


def bar_row(
    name: str,
    test_ap: float,
    civic: np.ndarray,
    labels: np.ndarray,
    sample: np.ndarray,
    regression: np.ndarray,
) -> dict[str, Any]:
    """One scorer's figures for one signal: civic scores and labels (0/1), the random-draw mask, and
    the regression sentences' scores, all on one scale (probabilities or logits)."""
    from sklearn.metrics import roc_auc_score

    positives = np.sort(civic[labels == 1])[::-1]
    if not len(positives) or sample.sum() == 0:
        raise ValueError("the civic set needs positives and a random draw")
    threshold = positives[int(np.ceil(BAR_RECALL * len(positives))) - 1]
    top = np.quantile(civic[sample], 1 - TOP_SHARE)
    return {
        "scorer": name,
        "test PR-AUC": f"{test_ap:.3f}",
        "civic AUC": f"{roc_auc_score(labels, civic):.3f}",
        "regression at the bar": int((regression >= threshold).sum()),
        "random above the bar": f"{(civic[sample] >= threshold).mean():.3f}",
        f"positives in the top {TOP_SHARE:.0%}": f"{int((civic[labels == 1] >= top).sum())}/{len(positives)}",
    }


def _table(rows: list[dict[str, Any]]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(str(r[k]) for k in head) + " |" for r in rows]
    return "\n".join(lines)


def _logit(p: np.ndarray) -> np.ndarray:
    from scipy.special import logit

    return logit(np.clip(p, 1e-6, 1 - 1e-6))


class Sets:
    """The texts every row is measured on: civic set, regression sentences, a test sample."""

    def __init__(self, dataset: str, test_per_corpus: int, seed: int) -> None:
        from signals.dataset import load_dataset_dict
        from signals.functional.suite import regression_rows
        from signals.schema import SIGNALS
        from signals.training import CivicData

        civic = CivicData.load()
        self.civic_texts, self.civic_labels, self.sample = civic.texts, civic.labels, civic.sample
        self.regression = [r["text"] for r in regression_rows()]
        self.test_texts, self.test_labels = _per_corpus(
            load_dataset_dict(dataset)["test"], test_per_corpus, seed
        )
        self.signals = SIGNALS

    def rows(
        self, name: str, signal: str, civic: np.ndarray, regression: np.ndarray, test: np.ndarray
    ) -> dict:
        from sklearn.metrics import average_precision_score

        j = self.signals.index(signal)
        known = self.test_labels[:, j] >= 0
        ap = float(average_precision_score(self.test_labels[known, j], test[known]))
        return bar_row(name, ap, civic, self.civic_labels[:, j], self.sample, regression)


def _per_corpus(split: Any, per_corpus: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Texts and signal labels of at most ``per_corpus`` rows of each corpus (every POLAR row)."""
    from signals.schema import SIGNALS

    rng = np.random.default_rng(seed)
    sources = np.asarray(split["source"])
    keep: list[int] = []
    for source in sorted(set(sources)):
        rows = np.flatnonzero(sources == source)
        if not source.startswith("polar") and len(rows) > per_corpus:
            rows = np.sort(rng.choice(rows, size=per_corpus, replace=False))
        keep += rows.tolist()
    texts = [str(t) for t in np.asarray(split["text"], dtype=object)[keep]]
    labels = np.stack([np.asarray(split[s])[keep] for s in SIGNALS], axis=1).astype(int)
    return texts, labels


def _model_logits(model: str, sets: Sets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from signals.scoring import load_scorer

    scorer = load_scorer(Path(model))
    return tuple(
        _logit(scorer.predict_proba(t)) for t in (sets.civic_texts, sets.regression, sets.test_texts)
    )


def mix(args: argparse.Namespace) -> list[dict[str, Any]]:
    sets = Sets(args.dataset, args.test_per_corpus, args.seed)
    model, lexical = _model_logits(args.model, sets), _model_logits(args.baseline, sets)
    hate = sets.signals.index("hate")
    centre = np.median(lexical[0][sets.sample, hate])
    rows = []
    for weight in (0.0, 0.25, 0.5, 1.0):
        name = f"hate - {weight} x lexical hate"
        rows.append(
            sets.rows(
                name,
                "hate",
                *(m[:, hate] - weight * (x[:, hate] - centre) for m, x in zip(model, lexical, strict=True)),
            )
        )
    for other in ("threat", "offensive", "polarization"):
        j = sets.signals.index(other)
        for weight in (0.25, 0.5, 1.0):
            rows.append(
                sets.rows(
                    f"hate + {weight} x {other}", "hate", *(m[:, hate] + weight * m[:, j] for m in model)
                )
            )
    return rows


def _embed(args: argparse.Namespace, sets: Sets) -> dict[str, np.ndarray]:
    if args.cache and Path(args.cache).is_file():
        return dict(np.load(args.cache))
    if not (Path(args.encoder) / "modules.json").is_file():
        raise ValueError(f"{args.encoder} is not a local sentence-transformers folder (no modules.json)")
    from sentence_transformers import SentenceTransformer

    from signals.corpora import corpora_dir
    from signals.corpora.polis_opendata import load_civic_train
    from signals.dataset import load_dataset_dict

    encoder = SentenceTransformer(args.encoder, device="cpu")
    encoder.max_seq_length = 128
    train_texts, train_labels = _per_corpus(
        load_dataset_dict(args.dataset)["train"], args.per_corpus, args.seed
    )
    civic_train = load_civic_train(corpora_dir(""))

    def embed(texts: list[str]) -> np.ndarray:
        return encoder.encode(list(texts), batch_size=64, normalize_embeddings=True)

    found = {
        "train": embed(train_texts),
        "train_labels": train_labels,
        "civic_train": embed([e.record.text for e in civic_train]),
        "civic_train_labels": np.array([[e.record.labels[s] for s in sets.signals] for e in civic_train]),
        "civic": embed(sets.civic_texts),
        "regression": embed(sets.regression),
        "test": embed(sets.test_texts),
    }
    if args.cache:
        np.savez(args.cache, **found)
    return found


def encoder(args: argparse.Namespace) -> list[dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression

    sets = Sets(args.dataset, args.test_per_corpus, args.seed)
    model = _model_logits(args.model, sets)
    emb = _embed(args, sets)
    rows = []
    for signal in RANKED:
        j = sets.signals.index(signal)
        rows.append(sets.rows(f"{signal}: {Path(args.model).name}", signal, *(m[:, j] for m in model)))
        known = emb["train_labels"][:, j] >= 0
        x = np.vstack([emb["train"][known], emb["civic_train"]])
        y = np.concatenate([emb["train_labels"][known, j], emb["civic_train_labels"][:, j] == 1]).astype(int)
        for weight in args.civic_weights:
            w = np.concatenate([np.ones(known.sum()), np.full(len(emb["civic_train"]), weight)])
            fit = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(x, y, sample_weight=w)
            scores = (fit.decision_function(emb[k]) for k in ("civic", "regression", "test"))
            rows.append(sets.rows(f"{signal}: encoder + LR, civic labels x{weight:g}", signal, *scores))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("mix", "encoder"):
        p = sub.add_parser(name)
        p.add_argument("--model", default="models/default")
        p.add_argument("--dataset", default="data/processed")
        p.add_argument("--test-per-corpus", type=int, default=1000)
        p.add_argument("--seed", type=int, default=0)
    sub.choices["mix"].add_argument("--baseline", required=True, help="a lexical model's directory")
    enc = sub.choices["encoder"]
    enc.add_argument("--encoder", required=True, help="a local sentence-transformers folder")
    enc.add_argument("--per-corpus", type=int, default=3000)
    enc.add_argument("--civic-weights", type=float, nargs="+", default=[1.0, 10.0])
    enc.add_argument("--cache", default="", help="an .npz that keeps the embeddings between runs")
    args = parser.parse_args(argv)
    try:
        rows = {"mix": mix, "encoder": encoder}[args.command](args)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
