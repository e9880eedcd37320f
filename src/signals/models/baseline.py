"""Baseline model: TF-IDF word and character n-grams + one linear classifier per signal.

Why this shape: a sparse linear model trains in minutes on two CPU cores, is small on disk, and every
score decomposes into n-gram contributions an analyst can read (``NgramModel.top_features``). It is the
floor any fine-tuned model has to beat. It fits with scikit-learn; a model directory holds its arrays
(``baseline.npz``), which ``signals.models.ngram`` scores with numpy alone.

Public corpora label different signals, so a row carries -1 (unknown) for the signals its corpus says
nothing about. Each signal's classifier is therefore trained only on the rows where that signal is
known; the shared vocabulary is fitted on all rows (unsupervised, so masked rows can't leak labels).

The class honours the scikit-learn estimator contract: every hyper-parameter is an ``__init__`` argument
stored as given (``get_params()`` feeds MLflow), ``fit`` returns ``self``, learned state ends in ``_``.

>>> model = BaselineModel(min_df=1).fit(["you idiot", "nice day", "stupid idiot", "lovely day"],
...                                     [[-1, -1, 1, -1], [-1, -1, 0, -1], [-1, -1, 1, -1], [-1, -1, 0, -1]])
>>> model.predict_proba(["idiot"]).shape
(1, 4)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import FeatureUnion
from sklearn.utils.validation import check_is_fitted

from signals.models.ngram import LEGACY_FILE, MODEL_FILE, NgramModel
from signals.schema import SIGNALS, UNKNOWN

log = logging.getLogger(__name__)


CLASSIFIERS = ("logreg", "sgd")


def _as_texts(texts: str | Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    out = list(texts)
    bad = [i for i, t in enumerate(out) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must be strings; row {bad[0]} is {type(out[bad[0]]).__name__}")
    return out


def _as_labels(Y: Any, n_rows: int) -> np.ndarray:
    arr = np.asarray(Y)
    if arr.ndim != 2 or arr.shape != (n_rows, len(SIGNALS)):
        raise ValueError(
            f"Y must have shape ({n_rows}, {len(SIGNALS)}) with columns {SIGNALS}; got {arr.shape}"
        )
    bad = ~np.isin(arr, (UNKNOWN, 0, 1))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"Y values must be -1 (unknown), 0 or 1; row {row} {SIGNALS[col]} is {arr[row, col]}"
        )
    return arr.astype(int)


class BaselineModel(BaseEstimator):
    """TF-IDF (word 1-2 + char_wb 2-5 n-grams) + one linear classifier per signal, with masked labels.

    Parameters
    ----------
    word_ngram_range, char_ngram_range:
        n-gram ranges of the word and ``char_wb`` vectorizers (lists from TOML are accepted).
    min_df:
        drop n-grams seen in fewer documents (noise, typos, ids).
    word_max_features, char_max_features:
        keep only the most frequent n-grams per vectorizer; bounds model size and fit time.
    sublinear_tf:
        ``1 + log(tf)``, so one repeated word doesn't dominate a long comment.
    classifier:
        ``"logreg"`` (LogisticRegression, liblinear) or ``"sgd"`` (SGDClassifier with log loss, faster).
    C:
        inverse regularisation of ``logreg``. ``alpha``: regularisation of ``sgd``.
    class_weight:
        ``"balanced"`` reweights rare positives (threat is ~2 % of its rows); ``None`` turns it off.
    max_iter, random_state:
        passed to the classifiers.
    """

    def __init__(
        self,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (2, 5),
        min_df: int = 2,
        word_max_features: int | None = 100_000,
        char_max_features: int | None = 150_000,
        sublinear_tf: bool = True,
        classifier: str = "logreg",
        C: float = 1.0,
        alpha: float = 2e-5,
        class_weight: str | None = "balanced",
        max_iter: int = 1000,
        random_state: int = 13,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.word_max_features = word_max_features
        self.char_max_features = char_max_features
        self.sublinear_tf = sublinear_tf
        self.classifier = classifier
        self.C = C
        self.alpha = alpha
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    # -- construction -------------------------------------------------------------------------------

    def _make_vectorizer(self) -> FeatureUnion:
        common: dict[str, Any] = {
            "min_df": self.min_df,
            "sublinear_tf": self.sublinear_tf,
            "dtype": np.float32,  # halves memory and the saved idf vectors
            "lowercase": True,
        }
        word = TfidfVectorizer(
            analyzer="word",
            ngram_range=tuple(self.word_ngram_range),
            max_features=self.word_max_features,
            token_pattern=r"(?u)\b\w+\b",  # keep one-letter tokens ("u", "f") that carry abuse
            **common,
        )
        char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=tuple(self.char_ngram_range),
            max_features=self.char_max_features,
            **common,
        )
        return FeatureUnion([("word", word), ("char", char)])

    def _make_classifier(self) -> BaseEstimator:
        if self.classifier == "logreg":
            return LogisticRegression(
                C=self.C,
                class_weight=self.class_weight,
                solver="liblinear",
                max_iter=self.max_iter,
                random_state=self.random_state,
            )
        if self.classifier == "sgd":
            return SGDClassifier(
                loss="log_loss",
                alpha=self.alpha,
                class_weight=self.class_weight,
                max_iter=self.max_iter,
                tol=1e-4,
                random_state=self.random_state,
            )
        raise ValueError(f"unknown classifier {self.classifier!r}; use one of {CLASSIFIERS}")

    # -- fit / predict ------------------------------------------------------------------------------

    def fit(self, texts: Sequence[str], Y: Any) -> BaselineModel:
        """Fit the vocabulary on all texts, then one classifier per signal on its known rows.

        ``Y`` is an ``(n, len(SIGNALS))`` array in ``SIGNALS`` order with -1 for unknown. A signal with
        no known rows, or with a single class among them, gets no classifier: it predicts its known
        positive rate (0 when nothing is known) and a warning is logged.
        """
        docs = _as_texts(texts)
        if not docs:
            raise ValueError("cannot fit on zero texts")
        labels = _as_labels(Y, len(docs))
        base = self._make_classifier()  # validates ``classifier`` before the slow vectorizing
        vectorizer = self._make_vectorizer()
        X = sparse.csr_matrix(vectorizer.fit_transform(docs))
        log.info("baseline features: %d rows x %d n-grams", X.shape[0], X.shape[1])

        classifiers: dict[str, Any] = {}
        priors: dict[str, float] = {}
        n_known: dict[str, int] = {}
        for j, signal in enumerate(SIGNALS):
            known = labels[:, j] != UNKNOWN
            y = labels[known, j]
            n_known[signal] = int(known.sum())
            priors[signal] = float(y.mean()) if len(y) else 0.0
            if len(np.unique(y)) < 2:
                log.warning(
                    "signal %s has %d known rows and %d class(es): no classifier, constant %.3f",
                    signal,
                    len(y),
                    len(np.unique(y)),
                    priors[signal],
                )
                classifiers[signal] = None
                continue
            clf = clone(base).fit(X[known], y)
            # float32 weights: half the file, no measurable change in scores.
            clf.coef_ = clf.coef_.astype(np.float32)
            clf.intercept_ = clf.intercept_.astype(np.float32)
            classifiers[signal] = clf
            log.info("fitted %s on %d known rows (%d positive)", signal, len(y), int(y.sum()))

        self.vectorizer_ = vectorizer
        self.classifiers_ = classifiers
        self.priors_ = priors
        self.n_known_ = n_known
        self.signals_ = list(SIGNALS)
        self.n_features_ = int(X.shape[1])
        self.ngram_ = NgramModel.from_baseline(self)
        return self

    def predict_proba(self, texts: str | Sequence[str]) -> np.ndarray:
        """Raw per-signal probabilities, shape ``(n, len(SIGNALS))`` in ``signals_`` order.

        One string gives a 1-D array of ``len(SIGNALS)`` (same shape in, same shape out). Scored by
        ``to_ngram()``, as a saved model directory is served, so calibration, thresholds and evaluation
        see the served numbers (scikit-learn's own transform differs by about 1e-7).
        """
        if not isinstance(texts, str):
            texts = _as_texts(texts)
        return self.to_ngram().predict_proba(texts)

    def predict(self, texts: str | Sequence[str]) -> np.ndarray:
        """0/1 per signal at probability 0.5 (operating thresholds live in the model manifest)."""
        return (self.predict_proba(texts) >= 0.5).astype(int)

    # -- persistence ----------------------------------------------------------------------------------

    def to_ngram(self) -> NgramModel:
        """The numpy-only scoring form of this fitted model (``signals.models.ngram``)."""
        check_is_fitted(self)
        if "ngram_" not in self.__dict__:  # unpickled from a baseline.joblib written before it existed
            self.ngram_ = NgramModel.from_baseline(self)
        return self.ngram_

    def save(self, directory: str | Path) -> Path:
        """Write the fitted model to ``directory/baseline.npz`` (the caller writes ``signals.json``).

        The file holds ``to_ngram()``'s arrays, which is what a model directory serves; the estimator
        itself (scikit-learn objects) is not kept. Returns the file path.
        """
        path = self.to_ngram().save(directory)
        log.info("saved baseline model to %s (%.1f MB)", path, path.stat().st_size / 1e6)
        return path

    @classmethod
    def load_legacy(cls, directory: str | Path) -> BaselineModel:
        """Read ``baseline.joblib``, the pickled estimator model directories held before 2026-12-06.

        joblib files are pickles: load only model directories you trust (``signals.registry`` keeps
        them to the configured model roots).
        """
        path = Path(directory) / LEGACY_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{directory} holds no baseline model ({MODEL_FILE} missing)")
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model
