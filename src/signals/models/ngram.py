"""The TF-IDF baseline's scoring half, in numpy alone: what a fitted ``BaselineModel`` computes, from arrays.

``BaselineModel`` fits with scikit-learn (vocabulary, idf, one linear classifier per signal). Serving it
needs none of that: each text's word and ``char_wb`` n-grams are looked up in the two vocabularies,
weighted by tf-idf (sublinear tf, l2 norm per vocabulary, as ``TfidfVectorizer`` does), and each signal's
logit is a dot product with its coefficients. Importing scikit-learn (with SciPy) adds about 160 MB to a
process and unpickling its vectorizers about 120 MB more (their vocabularies as Python dicts), so a
server that loads the polarization route (``models/default/polar``) paid almost 300 MB for a 4 MB
model. Here the vocabularies are sorted UTF-8 byte arrays searched with ``np.searchsorted`` (13 MB for
300,000 n-grams), and the file (``baseline.npz``) holds arrays only: unlike the joblib pickle it
replaces, loading it runs no code.

>>> from signals.models.baseline import BaselineModel
>>> fitted = BaselineModel(min_df=1).fit(["you idiot", "nice day", "stupid idiot", "lovely day"],
...                                      [[-1, -1, 1, -1], [-1, -1, 0, -1], [-1, -1, 1, -1], [-1, -1, 0, -1]])
>>> model = NgramModel.from_baseline(fitted)
>>> bool(model.predict_proba(["idiot"])[0, 2] > model.predict_proba(["day"])[0, 2])
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

#: The file of a baseline model directory (next to its ``signals.json``).
MODEL_FILE = "baseline.npz"
#: The file written before 2026-12-06: the fitted scikit-learn estimator as a joblib pickle.
LEGACY_FILE = "baseline.joblib"

_WHITE_SPACES = re.compile(r"\s\s+")


class FeatureContribution(NamedTuple):
    """One n-gram's share of a signal's score: ``weight`` = tf-idf value x classifier coefficient."""

    kind: str  # "word" or "char"
    ngram: str
    weight: float


def word_ngrams(text: str, pattern: re.Pattern[str], low: int, high: int) -> list[str]:
    """``TfidfVectorizer(analyzer="word")``'s n-grams of an already lower-cased text, in its order."""
    tokens = pattern.findall(text)
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """``TfidfVectorizer(analyzer="char_wb")``'s n-grams: within words padded with one space each side."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) <= n:  # a word no longer than n counts once, whole, and stops the sizes
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


def _utf8(text: str) -> bytes:
    # a lone surrogate (JSON can carry one) is encoded as its three bytes rather than failing
    return text.encode("utf-8", "surrogatepass")


class _Vocabulary:
    """n-gram -> column, as a sorted byte array and the column of each entry."""

    def __init__(self, keys: np.ndarray, columns: np.ndarray) -> None:
        self.keys, self.columns = keys, columns
        self.width = keys.dtype.itemsize

    @classmethod
    def build(cls, vocabulary: dict[str, int], offset: int) -> _Vocabulary:
        terms = sorted(vocabulary, key=_utf8)
        if any(t.endswith("\0") for t in terms):
            raise ValueError("an n-gram ends in NUL, which a byte array cannot hold")
        keys = np.array([_utf8(t) for t in terms], dtype=bytes)
        columns = np.array([vocabulary[t] + offset for t in terms], dtype=np.int32)
        return cls(keys, columns)

    def lookup(self, grams: list[str]) -> np.ndarray:
        """The column of each n-gram, -1 where it is not in the vocabulary."""
        out = np.full(len(grams), -1, dtype=np.int32)
        if not grams or not len(self.keys):
            return out
        # n-grams hold no newline (texts are split on whitespace), so one join encodes them all at once
        joined = _utf8("\n".join(grams))
        encoded = joined.split(b"\n")
        # a longer query would be cut to the width by numpy and could match a shorter entry
        fits = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)) <= self.width
        if b"\0" in joined:  # numpy drops trailing NULs, so "ab\0" would match "ab"; no entry ends in one
            fits &= np.fromiter((not e.endswith(b"\0") for e in encoded), dtype=bool, count=len(encoded))
        query = np.array(encoded, dtype=bytes)[fits].astype(self.keys.dtype)
        at = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
        hit = self.keys[at] == query
        out[np.flatnonzero(fits)[hit]] = self.columns[at[hit]]
        return out

    def names(self, size: int) -> np.ndarray:
        names = np.empty(size, dtype=object)
        names[self.columns] = [k.decode("utf-8", "surrogatepass") for k in self.keys]
        return names


class NgramModel:
    """Word + ``char_wb`` TF-IDF and one linear classifier per signal, scored with numpy only.

    ``signals``: the output columns (``SIGNALS`` order); ``coef`` / ``intercept`` hold a row for each
    signal with a classifier (``fitted``), the others score their constant ``priors``.
    """

    def __init__(self, arrays: dict[str, np.ndarray], params: dict[str, Any]) -> None:
        self.arrays, self.params = arrays, params  # what ``save`` writes
        self.signals: list[str] = list(params["signals"])
        self.priors = np.asarray(arrays["priors"], dtype=float)
        self.fitted = np.asarray(arrays["fitted"], dtype=bool)
        self.coef = np.asarray(arrays["coef"], dtype=np.float32)
        self.intercept = np.asarray(arrays["intercept"], dtype=np.float64)
        self.idf = np.asarray(arrays["idf"], dtype=np.float32)
        self.words = _Vocabulary(arrays["word_keys"], arrays["word_columns"])
        self.chars = _Vocabulary(arrays["char_keys"], arrays["char_columns"])
        self.n_words = int(params["n_words"])
        self.n_features = len(self.idf)
        self.lowercase = bool(params["lowercase"])
        self.sublinear_tf = bool(params["sublinear_tf"])
        self.pattern = re.compile(params["token_pattern"])
        self.word_range = tuple(params["word_ngram_range"])
        self.char_range = tuple(params["char_ngram_range"])
        self._names: np.ndarray | None = None

    # -- from a fitted estimator, to and from a file ----------------------------------------------

    @classmethod
    def from_baseline(cls, model: Any) -> NgramModel:
        """The arrays of a fitted ``BaselineModel`` (scikit-learn is needed here, not to score)."""
        (_, word), (_, char) = model.vectorizer_.transformer_list
        for vec, analyzer in ((word, "word"), (char, "char_wb")):
            if (vec.analyzer, vec.norm, vec.use_idf, vec.binary) != (analyzer, "l2", True, False):
                raise ValueError(f"unsupported {analyzer} vectorizer: {vec.get_params()}")
            if vec.preprocessor is not None or vec.tokenizer is not None or vec.strip_accents is not None:
                raise ValueError(f"unsupported {analyzer} vectorizer: custom preprocessing")
            if vec.lowercase != word.lowercase or vec.sublinear_tf != word.sublinear_tf:
                raise ValueError("the word and character vectorizers must lower-case and weigh tf alike")
        n_words = len(word.vocabulary_)
        signals = list(model.signals_)
        fitted = np.array([model.classifiers_[s] is not None for s in signals], dtype=bool)
        n_features = n_words + len(char.vocabulary_)
        coef = np.zeros((int(fitted.sum()), n_features), dtype=np.float32)
        intercept = np.zeros(int(fitted.sum()), dtype=np.float64)
        row = 0
        for s in signals:
            clf = model.classifiers_[s]
            if clf is not None:
                coef[row] = np.asarray(clf.coef_, dtype=np.float32).ravel()
                intercept[row] = float(np.ravel(clf.intercept_)[0])
                row += 1
        words, chars = _Vocabulary.build(word.vocabulary_, 0), _Vocabulary.build(char.vocabulary_, n_words)
        arrays = {
            "priors": np.array([model.priors_[s] for s in signals], dtype=np.float64),
            "fitted": fitted,
            "coef": coef,
            "intercept": intercept,
            "idf": np.concatenate([word.idf_, char.idf_]).astype(np.float32),
            "word_keys": words.keys,
            "word_columns": words.columns,
            "char_keys": chars.keys,
            "char_columns": chars.columns,
        }
        params = {
            "signals": signals,
            "n_words": n_words,
            "lowercase": bool(word.lowercase),
            "sublinear_tf": bool(word.sublinear_tf),
            "token_pattern": word.token_pattern,
            "word_ngram_range": list(word.ngram_range),
            "char_ngram_range": list(char.ngram_range),
        }
        return cls(arrays, params)

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/baseline.npz`` (arrays only; the caller writes ``signals.json``)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MODEL_FILE
        arrays = {**self.arrays, "params": np.array(json.dumps(self.params, sort_keys=True))}
        with path.open("wb") as fh:  # a file object: numpy would otherwise append ".npz" to the name
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        return path

    @classmethod
    def load(cls, directory: str | Path) -> NgramModel:
        path = Path(directory) / MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{directory} holds no baseline model ({MODEL_FILE} missing)")
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        return cls(arrays, json.loads(str(arrays.pop("params"))))

    # -- scoring --------------------------------------------------------------------------------------

    def _cells(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows, columns and tf-idf values of the documents' known n-grams (each vocabulary l2-normed)."""
        words: list[str] = []
        chars: list[str] = []
        sizes = np.zeros((len(docs), 2), dtype=np.int64)
        for i, doc in enumerate(docs):
            text = doc.lower() if self.lowercase else doc
            w = word_ngrams(text, self.pattern, *self.word_range)
            c = char_wb_ngrams(text, *self.char_range)
            words.extend(w)
            chars.extend(c)
            sizes[i] = len(w), len(c)
        index = np.arange(len(docs), dtype=np.int64)
        rows = np.concatenate([np.repeat(index, sizes[:, 0]), np.repeat(index, sizes[:, 1])])
        cols = np.concatenate([self.words.lookup(words), self.chars.lookup(chars)]).astype(np.int64)
        known = cols >= 0
        rows, cols = rows[known], cols[known]
        if not len(cols):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.float32)
        keys, counts = np.unique(rows * self.n_features + cols, return_counts=True)
        row, col = keys // self.n_features, keys % self.n_features
        tf = counts.astype(np.float32)
        if self.sublinear_tf:
            tf = np.log(tf) + np.float32(1)
        value = tf * self.idf[col]
        # each vocabulary is normalised on its own, as FeatureUnion stacks two TfidfVectorizers
        part = row * 2 + (col >= self.n_words)
        norms = np.sqrt(np.bincount(part, weights=value.astype(np.float64) ** 2, minlength=2 * len(docs)))
        value = (value / norms[part]).astype(np.float32)
        return row, col, value

    def predict_proba(self, texts: str | Sequence[str]) -> np.ndarray:
        """Raw per-signal probabilities, shape ``(n, len(signals))``; one string gives a 1-D array."""
        docs = [texts] if isinstance(texts, str) else list(texts)
        bad = [i for i, t in enumerate(docs) if not isinstance(t, str)]
        if bad:
            raise TypeError(f"texts must be strings; row {bad[0]} is {type(docs[bad[0]]).__name__}")
        out = np.tile(self.priors, (len(docs), 1))
        if docs and self.fitted.any():
            row, col, value = self._cells(docs)
            logits = np.stack(
                [np.bincount(row, weights=value * c[col], minlength=len(docs)) for c in self.coef], axis=1
            )
            out[:, self.fitted] = 1.0 / (1.0 + np.exp(-(logits + self.intercept)))
        return out[0] if isinstance(texts, str) else out

    def predict(self, texts: str | Sequence[str]) -> np.ndarray:
        """0/1 per signal at probability 0.5 (operating thresholds live in the model manifest)."""
        return (self.predict_proba(texts) >= 0.5).astype(int)

    def top_features(self, text: str, signal: str, k: int = 10) -> list[FeatureContribution]:
        """The ``k`` n-grams of ``text`` that push ``signal``'s score up most (evidence for analysts).

        Contributions are tf-idf value x coefficient in log-odds, so they add up (with the intercept)
        to the classifier's logit. Only positive contributions are returned, largest first; a signal
        without a classifier has none.
        """
        if signal not in self.signals:
            raise ValueError(f"unknown signal {signal!r}; expected one of {self.signals}")
        j = self.signals.index(signal)
        if not self.fitted[j] or k <= 0:
            return []
        _, col, value = self._cells([text])
        weights = value.astype(np.float64) * self.coef[int(self.fitted[:j].sum())][col]
        if self._names is None:
            self._names = np.concatenate(
                [self.words.names(self.n_words), self.chars.names(self.n_features)[self.n_words :]]
            )
        out = []
        for pos in np.argsort(-weights, kind="stable")[:k]:
            if weights[pos] <= 0:
                break
            c = int(col[pos])
            kind = "word" if c < self.n_words else "char"
            out.append(FeatureContribution(kind, str(self._names[c]), float(weights[pos])))
        return out
