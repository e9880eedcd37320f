"""Evidence for the multilingual model (issue 17): test-split figures per language, next to baselines.

    python training/multilingual_evidence.py figures --model DIR --baseline DIR [--dataset data/processed-all]
    python training/multilingual_evidence.py speed --model DIR [--texts 2000]
    python training/multilingual_evidence.py ensemble --model DIR [--network DIR] [--templates]

``figures``: on each corpus's own test split (the dataset builder's), per language and per signal the
model scores for it, F1 of the positive class and macro-F1 at ``flag`` and PR-AUC for the model, the
TF-IDF + logistic-regression baseline (``multilingual-baseline.v1``: same rows, same calibration and
threshold rules) and the majority class of the training rows; then the issue's two sentences and, per
language, how many of the 20 test texts the model is surest about carry the label (the texts go to
``--out``, never into the repository: they are corpus text). ``speed``: texts/s of ``Scorer.score`` on
test texts of the routed languages (language detection included) and the process's peak RSS with the
English model and the routed one loaded, in a process that never imports torch. ``ensemble``: Arabic
hate on L-HSAB's rows, the routed model's hate output (computed even though the manifest does not serve
it) mixed in logit space with a word 1-2 + char 2-5 gram TF-IDF logistic regression fitted on the
training rows (with ``--templates``, also on the Arabic augmentation templates of
``signals.functional.augment_languages``), for several weights; ``--network`` takes the routed network
from another run's directory. Two thresholds per mix, both on validation: the best F1, and the project's
``flag`` rule (precision >= 0.80, ``calibration.choose_thresholds``); test F1 at each, test PR-AUC, and
whether the issue's sentence and its benign neighbour ("the immigrants are our neighbours and we
welcome them") reach each.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

SENTENCES = {
    "es": "Los inmigrantes son una plaga y hay que echarlos.",
    "ar": "المهاجرون حشرات يجب طردهم",
}
#: The Arabic sentence's benign neighbour: the same group, welcomed.
ARABIC_NEIGHBOUR = "المهاجرون جيراننا ونرحب بهم"
#: The English neighbours of the two sentences: their scores must not move.
ENGLISH = [
    "The immigrants are a plague and must be thrown out.",
    "The immigrants are insects, they must be expelled.",
]


def _f1(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(F1 of the positive class, macro-F1 over both classes)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, zero_division=0)), float(
        f1_score(y, pred, average="macro", zero_division=0)
    )


def _test_rows(dataset: str, languages: list[str]) -> tuple[Any, Any]:
    from signals.dataset import load_dataset_dict

    dd = load_dataset_dict(dataset)
    keep = set(languages)
    return tuple(
        dd[s].select([i for i, g in enumerate(dd[s]["lang"]) if g in keep]) for s in ("train", "test")
    )


def figures(args: argparse.Namespace) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score

    from signals.schema import SIGNALS
    from signals.scoring import load_scorer
    from signals.training import label_matrix

    routed = load_scorer(args.model)
    multi = routed.routes[0].scorer() if routed.routes else routed
    base = load_scorer(args.baseline)
    languages = list(multi.info.languages)
    train, test = _test_rows(args.dataset, languages)
    texts = list(test["text"])
    y_all, langs = label_matrix(test), np.asarray(test["lang"])
    y_train, train_langs = label_matrix(train), np.asarray(train["lang"])
    # Through Scorer.score with the known language: each language's own calibration and thresholds, as
    # served (language detection is measured in docs/languages.md, "Measured").
    lang_list = [str(g) for g in langs]
    scored = {
        "model": multi.score(texts, languages=lang_list),
        "tfidf": base.score(texts, languages=lang_list),
    }

    def matrix(scores: list[Any], key: str) -> np.ndarray:
        return np.array([[float(getattr(sc, key).get(s, 0.0)) for s in SIGNALS] for sc in scores])

    p_model = matrix(scored["model"], "scores")
    rows: list[dict[str, Any]] = []
    for lang in languages:
        for signal in multi.info.signals_by_language.get(lang, []):
            j = SIGNALS.index(signal)
            known = (langs == lang) & (y_all[:, j] >= 0)
            y = y_all[known, j]
            majority = int(np.mean(y_train[(train_langs == lang) & (y_train[:, j] >= 0), j]) >= 0.5)
            row: dict[str, Any] = {
                "language": lang,
                "signal": signal,
                "n": int(known.sum()),
                "positives": int(y.sum()),
            }
            for name, results in scored.items():
                p, flags = matrix(results, "scores"), matrix(results, "flags")
                f1, macro = _f1(y, flags[known, j].astype(int))
                row[name] = {
                    "f1": f1,
                    "macro_f1": macro,
                    "pr_auc": float(average_precision_score(y, p[known, j])),
                }
            f1, macro = _f1(y, np.full(len(y), majority))
            row["majority"] = {"f1": f1, "macro_f1": macro, "class": majority}
            rows.append(row)
    sentences = {}
    for text in SENTENCES.values():
        score = routed.score(text)
        sentences[text] = {"language": score.language, "scores": score.scores, "flags": score.flags}
    english = {t: routed.score(t).scores for t in ENGLISH}
    surest: dict[str, Any] = {}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for lang in languages:
        names = multi.info.signals_by_language.get(lang, [])
        cols = [SIGNALS.index(s) for s in names]
        idx = np.where(langs == lang)[0]
        if not cols or not len(idx):
            continue
        best = idx[np.argsort(-p_model[np.ix_(idx, cols)].max(axis=1), kind="stable")[:20]]
        labelled = []
        for i in best:
            j = cols[int(np.argmax(p_model[i, cols]))]
            labelled.append(
                {"text": texts[i], "signal": SIGNALS[j], "p": float(p_model[i, j]), "label": int(y_all[i, j])}
            )
        surest[lang] = {
            "labelled_positive": sum(r["label"] == 1 for r in labelled),
            "labelled_negative": sum(r["label"] == 0 for r in labelled),
            "unknown": sum(r["label"] == -1 for r in labelled),
        }
        (out / f"surest_{lang}.json").write_text(json.dumps(labelled, ensure_ascii=False, indent=1))
    from signals.functional import languages as language_suites

    suites = language_suites.run(routed)
    suite_summary = {
        k: {"n": v["n"], "accuracy": v["accuracy"], **v["by_functionality"]} for k, v in suites.items()
    }
    leaks = language_suites.training_leaks(list(train["text"]))
    report = {
        "rows": rows,
        "sentences": sentences,
        "english_neighbours": english,
        "surest20": surest,
        "suites": suites,
        "suite_leaks_in_training": len(leaks),
    }
    (out / "figures.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print(
        "| language | signal | test rows (pos) | model F1@flag | TF-IDF F1@flag | majority F1 "
        "| model macro-F1 | TF-IDF macro-F1 | majority macro-F1 | model PR-AUC | TF-IDF PR-AUC |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        m, b, c = r["model"], r["tfidf"], r["majority"]
        print(
            f"| {r['language']} | {r['signal']} | {r['n']} ({r['positives']}) | {m['f1']:.3f} "
            f"| {b['f1']:.3f} | {c['f1']:.3f} | {m['macro_f1']:.3f} | {b['macro_f1']:.3f} "
            f"| {c['macro_f1']:.3f} | {m['pr_auc']:.3f} | {b['pr_auc']:.3f} |"
        )
    print(
        json.dumps(
            {
                "sentences": sentences,
                "english_neighbours": english,
                "surest20": surest,
                "suites": suite_summary,
                "suite_leaks_in_training": len(leaks),
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    return report


def speed(args: argparse.Namespace) -> None:
    import subprocess
    import sys

    from signals.scoring import keep_torch_out, load_scorer

    # The test texts come from a child process: the datasets library would import torch and pandas here.
    dumped = subprocess.run(
        [sys.executable, __file__, "dump", "--model", args.model, "--dataset", args.dataset],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pairs = json.loads(dumped)
    keep_torch_out()
    scorer = load_scorer(args.model)
    langs = set(scorer.languages) - set(scorer.own_languages)
    texts = [t for t, g in pairs if g in langs][: args.texts]
    english = [t for t, g in pairs if g == "en"][: args.texts]
    rss_before = _rss_mb()
    scorer.score(english[:64])
    rss_english = _rss_mb()
    scorer.score(texts[:64])  # loads the routed model
    for name, batch in (("non-English", texts), ("English", english)):
        rounds = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for k in range(0, len(batch), 64):
                scorer.score(batch[k : k + 64])
            rounds.append(len(batch) / (time.perf_counter() - t0))
        print(
            f"{name}: {len(batch)} texts, {min(rounds):.0f}-{max(rounds):.0f} texts/s "
            f"over {args.rounds} rounds"
        )
    print(
        f"RSS MB: before scoring {rss_before:.0f}, English model only {rss_english:.0f}, both models "
        f"{_rss_mb():.0f}, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}; "
        f"torch imported: {'torch' in sys.modules}"
    )


def ensemble(args: argparse.Namespace) -> None:
    from scipy.special import logit
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, precision_recall_curve
    from sklearn.pipeline import FeatureUnion

    from signals.calibration import choose_thresholds
    from signals.dataset import load_dataset_dict
    from signals.functional.augment_languages import language_templates
    from signals.models.onnx import OnnxModel
    from signals.normalize import normalize
    from signals.schema import SIGNALS

    dd = load_dataset_dict(args.dataset)

    def rows(split: str) -> tuple[list[str], np.ndarray]:
        keep = [
            i
            for i, (lang, source, y) in enumerate(
                zip(dd[split]["lang"], dd[split]["source"], dd[split]["hate"], strict=True)
            )
            if lang == "ar" and source == "l-hsab-arabic" and y >= 0
        ]
        part = dd[split].select(keep)
        return [normalize(t) for t in part["text"]], np.asarray(part["hate"])

    (train_x, train_y), (val_x, val_y), (test_x, test_y) = (rows(s) for s in ("train", "validation", "test"))
    fit_x, fit_y = list(train_x), list(train_y)
    if args.templates:
        extra = [r for r in language_templates(["ar"]) if r.labels.get("hate", -1) >= 0]
        fit_x += [normalize(r.text) for r in extra]
        fit_y += [r.labels["hate"] for r in extra]
    vectorizer = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)),
        ]
    )
    linear = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
    linear.fit(vectorizer.fit_transform(fit_x), np.asarray(fit_y))
    routed = OnnxModel.load(Path(args.network or Path(args.model) / "multilingual"), threads=2)
    hate = SIGNALS.index("hate")
    probes = [normalize(SENTENCES["ar"]), normalize(ARABIC_NEIGHBOUR)]

    def scores(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        clip = (1e-6, 1 - 1e-6)
        char = linear.predict_proba(vectorizer.transform(texts))[:, 1]
        return logit(np.clip(routed.predict_proba(texts)[:, hate], *clip)), logit(np.clip(char, *clip))

    parts = {name: scores(x) for name, x in (("val", val_x), ("test", test_x), ("probes", probes))}
    print(
        f"L-HSAB hate: train {len(train_y)} ({train_y.sum()}), validation {len(val_y)} ({val_y.sum()}), "
        f"test {len(test_y)} ({test_y.sum()}); n-gram model fitted on {len(fit_y)} rows ({sum(fit_y)})"
    )
    print(
        "routed weight | val PR-AUC | test PR-AUC | best-F1 threshold: test F1, sentence, neighbour | "
        "flag rule: test F1, sentence, neighbour"
    )

    def reached(value: float, threshold: float) -> str:
        return "yes" if value >= threshold else "no"

    for weight in (0.0, 0.3, 0.5, 0.7, 1.0):
        val, test, probe = (weight * a + (1 - weight) * b for a, b in parts.values())
        precision, recall, cuts = precision_recall_curve(val_y, val)
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        best = cuts[int(np.argmax(f1[:-1]))]
        flag = choose_thresholds(val_y, val)["flag"]
        cells = [
            f"{_f1(test_y, test >= t)[0]:.3f}, {reached(probe[0], t)}, {reached(probe[1], t)}"
            for t in (best, flag)
        ]
        print(
            f"{weight:.1f} | {average_precision_score(val_y, val):.3f} | "
            f"{average_precision_score(test_y, test):.3f} | {cells[0]} | {cells[1]}"
        )


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["figures", "speed", "ensemble", "dump"])
    parser.add_argument("--model", required=True)
    parser.add_argument("--baseline", default="")
    parser.add_argument("--dataset", default="data/processed-all")
    parser.add_argument("--out", default="reports/multilingual")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--network", default="", help="ensemble: a routed network's directory")
    parser.add_argument(
        "--templates", action="store_true", help="ensemble: the n-gram model on the templates too"
    )
    args = parser.parse_args()
    if args.mode == "dump":
        from signals.dataset import load_dataset_dict

        test = load_dataset_dict(args.dataset)["test"]
        print(json.dumps(list(zip(test["text"], test["lang"], strict=True))))
    elif args.mode == "figures":
        figures(args)
    elif args.mode == "ensemble":
        ensemble(args)
    else:
        speed(args)


if __name__ == "__main__":
    main()
