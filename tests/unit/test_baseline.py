"""BaselineModel: the scikit-learn estimator contract, masked labels, persistence, learning."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from signals.models import ModelInfo, load_model_dir, weights_file
from signals.models.baseline import BaselineModel
from signals.models.ngram import LEGACY_FILE, MODEL_FILE, NgramModel, char_wb_ngrams, word_ngrams
from signals.schema import SIGNALS

HATE, THREAT, OFFENSIVE, POLARIZATION = range(len(SIGNALS))

# Small vocabulary so the tiny corpora below keep every n-gram (min_df=1) and fit in milliseconds.
TINY = {"min_df": 1, "word_max_features": 2000, "char_max_features": 2000}

HATEFUL = ["those vermin should leave", "vermin like them are subhuman", "subhuman vermin everywhere"]
THREATS = ["i will shoot you", "someone should shoot him", "i will hurt you badly"]
INSULTS = ["you absolute idiot", "what a stupid idiot", "stupid damn fool"]
BENIGN = ["lovely weather today", "the bus was late again", "great soup at lunch", "thanks for the help"]


def corpus(repeat: int = 4) -> tuple[list[str], np.ndarray]:
    """A separable synthetic task: each group is positive for its own signal and negative elsewhere."""
    texts: list[str] = []
    rows: list[list[int]] = []
    groups = [(HATEFUL, HATE), (THREATS, THREAT), (INSULTS, OFFENSIVE), (BENIGN, None)]
    for _ in range(repeat):
        for group, signal in groups:
            for text in group:
                texts.append(text)
                rows.append([1 if j == signal else 0 for j in range(len(SIGNALS))])
    return texts, np.array(rows)


@pytest.fixture(scope="module")
def fitted() -> BaselineModel:
    texts, Y = corpus()
    Y[:, POLARIZATION] = -1  # one signal wholly unknown: no classifier, constant prior
    return BaselineModel(**TINY).fit(texts, Y)


def test_params_are_stored_as_given_and_clone_works() -> None:
    model = BaselineModel(word_ngram_range=[1, 3], C=0.5, classifier="sgd", min_df=3)
    params = model.get_params()
    assert params["word_ngram_range"] == [1, 3]  # as given (a TOML list), converted only at fit
    assert params["C"] == 0.5 and params["classifier"] == "sgd" and params["min_df"] == 3
    copy = clone(model)
    assert copy.get_params() == params and copy is not model
    assert model.set_params(C=2.0) is model and model.C == 2.0


def test_fit_returns_self_and_learned_attributes_end_in_underscore() -> None:
    texts, Y = corpus(repeat=1)
    model = BaselineModel(**TINY)
    with pytest.raises(NotFittedError):
        model.predict_proba(["hi"])
    before = set(vars(model))
    assert model.fit(texts, Y) is model
    learned = set(vars(model)) - before
    assert learned and all(name.endswith("_") for name in learned), learned
    check_is_fitted(model)
    assert model.signals_ == list(SIGNALS)
    # clone drops learned state
    assert not any(name.endswith("_") for name in vars(clone(model)))


def test_predict_proba_shape_order_and_single_text(fitted: BaselineModel) -> None:
    probs = fitted.predict_proba(["i will shoot you", "lovely weather today", "stupid idiot"])
    assert probs.shape == (3, len(SIGNALS))
    assert ((probs >= 0) & (probs <= 1)).all()
    # column order is SIGNALS order: each text's own signal is its highest learned column
    assert probs[0].argmax() == THREAT
    assert probs[2, OFFENSIVE] > probs[1, OFFENSIVE]
    single = fitted.predict_proba("i will shoot you")
    assert single.shape == (len(SIGNALS),)
    np.testing.assert_allclose(single, probs[0])
    assert fitted.predict_proba([]).shape == (0, len(SIGNALS))
    assert set(np.unique(fitted.predict(["stupid idiot", "hello"]))) <= {0, 1}


def test_learns_a_separable_task(fitted: BaselineModel) -> None:
    held_out = ["vermin subhuman", "shoot you", "idiot fool", "weather was lovely"]
    pred = fitted.predict(held_out)
    expected = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(pred[:, :3], expected)


def test_all_unknown_signal_predicts_constant_prior(fitted: BaselineModel) -> None:
    assert fitted.classifiers_["polarization"] is None
    assert fitted.n_known_["polarization"] == 0
    probs = fitted.predict_proba(["those vermin", "lovely"])
    np.testing.assert_array_equal(probs[:, POLARIZATION], [0.0, 0.0])
    assert fitted.to_ngram().top_features("those vermin", "polarization") == []


def test_masked_rows_do_not_influence_a_signals_classifier() -> None:
    texts, Y = corpus()
    rng = np.random.default_rng(0)
    # threat known on only a handful of rows; elsewhere -1
    known_rows = np.array([3, 4, 5, 12, 13, 14, 20, 21])
    Y_masked = Y.copy()
    Y_masked[:, THREAT] = -1
    Y_masked[known_rows, THREAT] = Y[known_rows, THREAT]
    model = BaselineModel(**TINY).fit(texts, Y_masked)
    assert model.n_known_["threat"] == len(known_rows)

    # same texts, other signals' labels scrambled: the threat classifier must not change
    Y_other = Y_masked.copy()
    for j in (HATE, OFFENSIVE, POLARIZATION):
        Y_other[:, j] = rng.integers(0, 2, len(texts))
    other = BaselineModel(**TINY).fit(texts, Y_other)
    np.testing.assert_array_equal(model.classifiers_["threat"].coef_, other.classifiers_["threat"].coef_)

    # and it equals a classifier fitted on the known rows alone
    X = model.vectorizer_.transform(texts)
    reference = clone(model._make_classifier()).fit(X[known_rows], Y[known_rows, THREAT])
    np.testing.assert_allclose(
        model.classifiers_["threat"].coef_, reference.coef_.astype(np.float32), rtol=1e-6
    )

    # reading -1 as 0 would give a different classifier (the check above can fail)
    Y_zero = np.where(Y_masked == -1, 0, Y_masked)
    zero = BaselineModel(**TINY).fit(texts, Y_zero)
    assert not np.allclose(model.classifiers_["threat"].coef_, zero.classifiers_["threat"].coef_)


def scikit_learn_proba(model: BaselineModel, texts: list[str]) -> np.ndarray:
    """The probabilities scikit-learn's own vectorizers and classifiers give (the reference)."""
    X = model.vectorizer_.transform(texts)
    return np.stack(
        [
            np.full(len(texts), model.priors_[s]) if c is None else c.predict_proba(X)[:, 1]
            for s, c in model.classifiers_.items()
        ],
        axis=1,
    )


def test_scores_are_scikit_learns_and_survive_the_round_trip(fitted: BaselineModel, tmp_path: Path) -> None:
    texts = [
        "i will shoot you",
        "lovely weather",
        "those vermin",
        "",
        "  two  spaces\tand a tab ",
        "ÉCOLE",
        "\ud800 vermin",
        "vermin\x00 lovely\x00\x00",
    ]
    reference = scikit_learn_proba(fitted, texts)
    np.testing.assert_allclose(fitted.predict_proba(texts), reference, atol=1e-6)
    path = fitted.save(tmp_path / "model")
    assert path == tmp_path / "model" / MODEL_FILE and path.is_file()
    loaded = NgramModel.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict_proba(texts), fitted.predict_proba(texts))
    np.testing.assert_allclose(loaded.predict_proba("those vermin"), reference[2], atol=1e-6)


def test_the_saved_file_holds_arrays_only(fitted: BaselineModel, tmp_path: Path) -> None:
    fitted.save(tmp_path)
    with np.load(tmp_path / MODEL_FILE, allow_pickle=False) as data:  # raises on any pickled object
        assert {data[k].dtype.kind for k in data.files} <= {"f", "i", "b", "S", "U"}


def test_load_model_dir_dispatches_to_the_numpy_scorer(fitted: BaselineModel, tmp_path: Path) -> None:
    fitted.save(tmp_path)
    ModelInfo(name="baseline-test", version="1", format="baseline").save(tmp_path)
    model, info = load_model_dir(tmp_path)
    assert isinstance(model, NgramModel) and info.format == "baseline"
    assert weights_file(tmp_path) == tmp_path / MODEL_FILE
    np.testing.assert_allclose(model.predict_proba(["idiot"]), fitted.predict_proba(["idiot"]), atol=1e-6)


def test_a_directory_written_before_the_npz_still_loads(fitted: BaselineModel, tmp_path: Path) -> None:
    import joblib

    old = copy.copy(fitted)
    del old.ngram_  # as pickled before the numpy scorer existed
    joblib.dump(old, tmp_path / LEGACY_FILE)
    ModelInfo(name="baseline-test", version="1", format="baseline").save(tmp_path)
    model, _ = load_model_dir(tmp_path)
    assert isinstance(model, BaselineModel)
    assert weights_file(tmp_path) == tmp_path / LEGACY_FILE
    np.testing.assert_array_equal(
        model.predict_proba(["vermin", "lovely"]), fitted.predict_proba(["vermin", "lovely"])
    )


def test_load_from_a_directory_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=MODEL_FILE):
        NgramModel.load(tmp_path)
    with pytest.raises(FileNotFoundError, match=MODEL_FILE):
        BaselineModel.load_legacy(tmp_path)


def test_weights_are_float32(fitted: BaselineModel) -> None:
    clf = fitted.classifiers_["hate"]
    assert clf.coef_.dtype == np.float32


def test_top_features_name_the_ngrams_that_drove_the_score(fitted: BaselineModel) -> None:
    model = fitted.to_ngram()
    text = "you are vermin and the weather is lovely"
    top = model.top_features(text, "hate", k=5)
    assert 0 < len(top) <= 5
    assert [f.weight for f in top] == sorted((f.weight for f in top), reverse=True)
    assert all(f.weight > 0 and f.kind in ("word", "char") for f in top)
    assert any(f.kind == "word" and f.ngram == "vermin" for f in top)
    # the contributions are the estimator's: tf-idf value x coefficient of that n-gram
    x = fitted.vectorizer_.transform([text])
    names = [(k, n) for k, v in fitted.vectorizer_.transformer_list for n in v.get_feature_names_out()]
    coef = fitted.classifiers_["hate"].coef_[0]
    expected = {names[i]: float(v * coef[i]) for i, v in zip(x.indices, x.data, strict=True)}
    for f in top:
        assert f.weight == pytest.approx(expected[(f.kind, f.ngram)], abs=1e-6)
    with pytest.raises(ValueError, match="unknown signal"):
        model.top_features("x", "spam")


def test_ngrams_are_the_vectorizers_own() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["Ab", "a", "", "  lots   of\tspace\n", "hyphen-ated don't", "ÉCOLE Straße", "x" * 12, "ab cd"]
    for low, high in [(1, 1), (1, 2), (2, 3), (1, 3)]:
        word = TfidfVectorizer(analyzer="word", ngram_range=(low, high), token_pattern=r"(?u)\b\w+\b")
        analyse = word.build_analyzer()
        pattern = re.compile(word.token_pattern)
        for t in texts:
            assert word_ngrams(t.lower(), pattern, low, high) == analyse(t), (t, low, high)
    for low, high in [(2, 5), (1, 3), (3, 3)]:
        analyse = TfidfVectorizer(analyzer="char_wb", ngram_range=(low, high)).build_analyzer()
        for t in texts:
            assert char_wb_ngrams(t.lower(), low, high) == analyse(t), (t, low, high)


def test_sgd_classifier_also_learns() -> None:
    texts, Y = corpus()
    model = BaselineModel(classifier="sgd", **TINY).fit(texts, Y)
    assert model.predict(["stupid idiot"])[0, OFFENSIVE] == 1
    assert model.predict(["lovely weather"])[0, OFFENSIVE] == 0


@pytest.mark.parametrize(
    ("texts", "Y", "match"),
    [
        (["a b", "c d"], [[0, 0, 0]] * 2, "shape"),
        (["a b", "c d"], [[0, 0, 0, 2], [0, 0, 0, 0]], "row 0 polarization is 2"),
        (["a b", 3], [[0, 0, 0, 0]] * 2, "row 1 is int"),
        ([], np.zeros((0, 4)), "zero texts"),
    ],
)
def test_bad_input_is_a_clear_error(texts: list, Y: object, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        BaselineModel(**TINY).fit(texts, Y)


def test_unknown_classifier_is_rejected() -> None:
    texts, Y = corpus(repeat=1)
    with pytest.raises(ValueError, match="unknown classifier"):
        BaselineModel(classifier="forest", **TINY).fit(texts, Y)


BLOCKED_CHILD = """
import sys
from signals.scoring import keep_torch_out, load_scorer
keep_torch_out()  # as `signals serve` does
scorer = load_scorer(sys.argv[1])
score = scorer.score(["those vermin should leave", "lovely weather today"], spans=True)
assert score[0].scores["hate"] > score[1].scores["hate"], score
assert "torch" not in sys.modules
assert "sklearn" not in sys.modules and "scipy" not in sys.modules, "a baseline model is served with numpy"
try:
    import torch  # noqa: F401
except ImportError:
    print("blocked")
"""


def test_baseline_model_loads_and_scores_with_torch_blocked(tmp_path: Path) -> None:
    """The serving process blocks torch; SciPy's array-API helpers look torch up in ``sys.modules`` and
    used to fail on the blocker (``'NoneType' object has no attribute 'Tensor'``)."""
    import subprocess
    import sys

    texts, Y = corpus()
    BaselineModel(**TINY).fit(texts, Y).save(tmp_path)
    ModelInfo(name="baseline-test", version="1", format="baseline").save(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_CHILD, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "blocked"
