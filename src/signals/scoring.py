"""Scorer: texts -> per-signal calibrated probabilities, review/flag decisions, priority and spans.

Long text is scored by sentence windows: the text is split into sentences (spaCy's rule-based
sentencizer on a blank English pipeline, plus line breaks; spaCy is imported with torch and transformers
blocked, since thinc would otherwise import torch and more than double the serving process's memory).
A text longer than ``window_chars`` characters (capped by the model's own ``max_window_chars`` when it
truncates input) is scored sentence by sentence (a sentence longer than that is cut into pieces), and
each signal takes the maximum over the whole text and its sentences. Scoring sentences alone, rather
than several packed together, keeps one hateful sentence from being averaged away by its benign
neighbours (the encoder mean-pools over the tokens). A hateful sentence at the end of a long benign
comment therefore still flags, and the sentence is returned as the first evidence span. A text that
fits in one window is scored whole; with spans requested, its span is the whole text.

A **source** (``score(texts, source="city-survey-2025")``) selects that source's operating point when
the model directory holds one (``sources.json``, see ``signals.sources``): its offset shifts the
calibrated scores (spans included; order kept) and its ``review``/``flag`` thresholds apply. Each
``Score`` says which point decided it: ``operating_point`` is ``source:NAME`` or ``global`` (a source
without a point of its own is scored with the global thresholds).

Every text gets a language first (``signals.language.detect``, unless the caller knows it). A text in a
language the model does not declare (``signals.json`` ``languages``) is not scored at all: its
``Score`` has ``supported`` false, no scores and no flags.

**Routes.** A model directory may hold other models in sub-folders, named by its manifest's ``routes``
(``[{"path": "multilingual", "languages": ["es", "ar", "de"], "sha256": ...}]``): a text in one of
those languages is scored by that model, with its own calibration and thresholds (a source's operating
point belongs to the main model and does not apply there). The routed model loads on the first text
that needs it, after the sha256 of its weights (``models.weights_file``) is checked. A model for
several languages may hold a calibration and operating points per language (``calibration_by_language``,
``thresholds_by_language``): a text in such a language uses its own. A model may score only some signals in a
language (``signals_by_language``): the others are absent from that text's ``scores`` and spans, never
reviewed or flagged, and do not count in its priority. Callers see one ``Scorer``.

**Languages a deployment scores.** ``SIGNALS_LANGUAGES`` (``"en,es"``; unset or empty: every language
the manifest routes) limits the routed languages a process scores: texts in the others are answered
``supported`` false and their models never load. The routed models add about 80-90 MB to a server once
their first texts arrive, and a few English texts misread as another language are enough to load them
(docs/languages.md), so an English-only deployment that must stay small sets ``SIGNALS_LANGUAGES=en``.
The model's own languages are always scored.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.abc
import logging
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, overload

import numpy as np

from signals.calibration import apply_calibrator, apply_offset
from signals.language import detect_many, load_identifier, normalize_code
from signals.models import ModelInfo, SignalModel, load_model_dir, weights_file
from signals.normalize import normalize
from signals.registry import DEFAULT_MODEL_DIR as DEFAULT_MODEL_DIR  # the shipped champion
from signals.registry import resolve
from signals.schema import SIGNALS, Score, Span
from signals.sources import GLOBAL, SourcePoint, load_sources

log = logging.getLogger(__name__)

#: Modules the scoring path must never import: torch alone is ~200 MB of RSS per process, and spaCy's
#: thinc imports torch and CuPy (CUDA libraries, another ~200 MB) whenever they are installed.
HEAVY_MODULES = ("torch", "transformers", "cupy", "cupyx")

#: Set by ``signals serve`` (inherited by uvicorn workers): make ``import torch`` fail in the server.
KEEP_TORCH_OUT = "SIGNALS_KEEP_TORCH_OUT"


class _ImportBlocker(importlib.abc.MetaPathFinder):
    """First finder on ``sys.meta_path``: ``import <blocked>`` raises ``ModuleNotFoundError``.

    Blocking through a finder, not a ``None`` entry in ``sys.modules``, keeps ``sys.modules`` true:
    libraries that look a module up there (SciPy's array-API helpers do, for ``torch.Tensor``) see it
    as absent, which is what it is. Blocks nest: each name counts how many blocks hold it.
    """

    def __init__(self) -> None:
        self.held: Counter[str] = Counter()
        self.lock = threading.Lock()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        root = fullname.partition(".")[0]
        if self.held[root] > 0:
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (blocked in this process)", name=fullname
            )
        return None

    def block(self, names: Sequence[str]) -> list[str]:
        """Block the names that are not loaded yet; returns them (to ``unblock`` later)."""
        with self.lock:
            if self not in sys.meta_path:
                sys.meta_path.insert(0, self)
            added = [n for n in names if n not in sys.modules]
            self.held.update(added)
            return added

    def unblock(self, names: Sequence[str]) -> None:
        with self.lock:
            self.held.subtract(names)
            self.held = +self.held


_BLOCKER = _ImportBlocker()


def keep_torch_out() -> None:
    """Make ``import torch`` / ``import transformers`` fail in this whole process.

    For server processes only (``signals serve``, bench): in a test run or a notebook the same Python
    may need torch for training. A module that is already loaded stays loaded (with a warning).
    """
    for name in HEAVY_MODULES:
        if sys.modules.get(name) is not None:
            log.warning("%s was imported before the server started; it stays loaded", name)
    _BLOCKER.block(HEAVY_MODULES)


@contextmanager
def blocked_imports(names: Sequence[str] = HEAVY_MODULES) -> Iterator[None]:
    """Within the block, ``import <name>`` raises ``ImportError`` (for names not already loaded).

    spaCy's ``thinc`` imports torch at import time whenever it is installed and treats an
    ``ImportError`` as "no torch"; blocking it while spaCy loads keeps the scorer torch-free without
    affecting the rest of the process (training code can still import torch later).
    """
    added = _BLOCKER.block(names)
    try:
        yield
    finally:
        _BLOCKER.unblock(added)


@functools.cache
def _sentencizer() -> Any | None:
    """``spacy.blank("en")`` with the rule-based ``sentencizer`` pipe, built once; ``None`` without spaCy."""
    try:
        with blocked_imports():
            import spacy

            nlp = spacy.blank("en")
            nlp.add_pipe("sentencizer")
    except ImportError as exc:
        log.warning("spaCy unavailable (%s): splitting sentences with a regular expression", exc)
        return None
    return nlp


# Fallback when spaCy is not installed: a sentence ends after a run of terminal punctuation (plus closing
# quotes/brackets) that is followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f\u061f\u06d4]+[\"'\u201d\u2019)\]]*(?=\s)")
_LINE_BREAK = re.compile(r"\n")


def _trimmed(text: str, cuts: list[int]) -> list[tuple[int, int]]:
    """Pieces of ``text`` between sorted cut offsets, whitespace trimmed, empty pieces dropped."""
    spans = []
    for begin, end in zip(cuts, cuts[1:], strict=False):
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if end > begin:
            spans.append((begin, end))
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character offsets of the sentences of ``text`` (whitespace trimmed; a line break also ends one).

    >>> sentence_spans("Fix the road. Thanks!  Really?")
    [(0, 13), (14, 21), (23, 30)]
    """
    cuts = {0, len(text)} | {m.end() for m in _LINE_BREAK.finditer(text)}
    nlp = _sentencizer()
    if nlp is not None:
        cuts |= {sent.start_char for sent in nlp(text).sents}
    else:
        cuts |= {m.end() for m in _SENTENCE_END.finditer(text)}
    return _trimmed(text, sorted(cuts))


def windows(text: str, window_chars: int, pack: bool = True) -> list[tuple[int, int]]:
    """Sentence windows of at most ``window_chars`` characters, covering ``text`` in order.

    With ``pack``, consecutive sentences share a window while they fit; without, every sentence is
    its own window. A single sentence longer than the window is cut into window-sized pieces so
    nothing is skipped.

    A text that fits one window is that window, whitespace trimmed, without splitting it: the sentences
    would all be packed into it anyway, and spaCy (about 65 MB in a server) then loads only once a long
    text arrives.

    >>> windows("Fix the road. Thanks!", 100), windows("Fix the road. Thanks!", 100, pack=False)
    ([(0, 21)], [(0, 13), (14, 21)])
    """
    if pack and len(text) <= window_chars:
        begin, end = len(text) - len(text.lstrip()), len(text.rstrip())
        return [(begin, end)] if end > begin else []
    out: list[tuple[int, int]] = []
    cur: tuple[int, int] | None = None
    for begin, end in sentence_spans(text):
        if end - begin > window_chars:
            if cur:
                out.append(cur)
                cur = None
            out.extend((b, min(b + window_chars, end)) for b in range(begin, end, window_chars))
            continue
        if pack and cur and end - cur[0] <= window_chars:
            cur = (cur[0], end)
        else:
            if cur:
                out.append(cur)
            cur = (begin, end)
    if cur:
        out.append(cur)
    return out


def priority(probabilities: np.ndarray) -> np.ndarray:
    """Triage priority per row: mostly risk, plus a share for the model's uncertainty.

    ``0.75 * max_s p_s + 0.25 * max_s 4 p_s (1 - p_s)``: confident high-risk items first, then items
    the model is unsure about (whose human label teaches the next model most), confident benign last.
    """
    p = np.asarray(probabilities, dtype=float)
    if p.ndim == 1:
        p = p[None, :]
    risk = p.max(axis=1)
    uncertainty = (4 * p * (1 - p)).max(axis=1)
    return 0.75 * risk + 0.25 * uncertainty


def unsupported(language: str) -> Score:
    """The answer for a text in a language without a model: no scores, nothing flagged or reviewed."""
    return Score(
        scores={},
        review=dict.fromkeys(SIGNALS, False),
        flags=dict.fromkeys(SIGNALS, False),
        priority=0.0,
        language=language,
        supported=False,
    )


def _load_routed(directory: Path) -> tuple[SignalModel, ModelInfo]:
    """``load_model_dir``, but an ONNX model gets one session shared by its worker threads.

    A second ONNX session (``OnnxModel``'s one for lone texts) holds another copy of the weights: about
    45 MB for the multilingual model. Batches keep their thread pool; a lone text runs single-threaded.
    """
    info = ModelInfo.load(directory)
    if info.format != "onnx":
        return load_model_dir(directory)
    from signals.models.onnx import OnnxModel

    model = OnnxModel.load(directory, threads=1)
    model.threads = int(os.environ.get("SIGNALS_ONNX_THREADS", "0")) or os.cpu_count() or 1
    return model, info


class Route:
    """A second model for some languages, in a sub-folder of the model directory; loaded on first use.

    ``sha256`` (of its weights: ``model.onnx``, or ``baseline.npz`` for a TF-IDF model; ``baseline.joblib``,
    a pickle, in one written before 2026-12-06) is checked when it loads; a mismatch is an error.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        languages: Sequence[str],
        sha256: str = "",
        window_chars: int = 1000,
        loader: Any = None,
    ) -> None:
        self.directory = Path(directory)
        self.languages: tuple[str, ...] = tuple(normalize_code(c) for c in languages)
        self.sha256 = sha256
        self.window_chars = window_chars
        #: ``directory -> (model, ModelInfo)``; ``None``: ``_load_routed`` (tests pass a fake).
        self.loader = loader
        self._scorer: Scorer | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._scorer is not None

    def scorer(self) -> Scorer:
        """The routed model's scorer, loaded (once, thread-safe) on the first call."""
        if self._scorer is None:
            with self._lock:
                if self._scorer is None:
                    self._scorer = self._load()
        return self._scorer

    def _load(self) -> Scorer:
        if self.sha256:
            weights = weights_file(self.directory)
            digest = hashlib.sha256(weights.read_bytes()).hexdigest()
            if digest != self.sha256:
                raise ValueError(f"{weights}: sha256 {digest} is not the manifest's {self.sha256}")
        model, info = self.loader(self.directory) if self.loader is not None else _load_routed(self.directory)
        log.info("loaded the %s model %s for %s", info.name, info.version, ", ".join(self.languages))
        return Scorer(model, info, window_chars=self.window_chars)


class Scorer:
    """Score one text or many with a loaded model directory.

    >>> scorer = load_scorer()                      # doctest: +SKIP
    >>> scorer.score("you people are vermin").flags  # doctest: +SKIP
    {'hate': True, 'threat': False, 'offensive': True, 'polarization': True}
    """

    def __init__(
        self,
        model: SignalModel,
        info: ModelInfo,
        window_chars: int = 1000,
        sources: dict[str, SourcePoint] | None = None,
        routes: Sequence[Route] = (),
    ) -> None:
        self.model = model
        self.info = info
        #: Per-source operating points (``signals.sources``), by source name.
        self.sources: dict[str, SourcePoint] = dict(sources or {})
        # A model that truncates its input (a transformer's token limit) says how many characters fit;
        # longer windows would silently lose their ends, so take the smaller of the two.
        self.window_chars = min(window_chars, int(getattr(model, "max_window_chars", window_chars)))
        missing = set(SIGNALS) - set(info.signals)
        if missing:
            raise ValueError(f"model {info.name} lacks signals {sorted(missing)}")
        #: The languages this model scores itself.
        self.own_languages: tuple[str, ...] = tuple(normalize_code(c) for c in info.languages)
        #: Other models, for languages this one does not score (module docstring).
        self.routes: list[Route] = [r for r in routes if set(r.languages) - set(self.own_languages)]
        #: Every language scored, by this model or a routed one.
        self.languages: tuple[str, ...] = tuple(
            dict.fromkeys([*self.own_languages, *(c for r in self.routes for c in r.languages)])
        )
        self._signal_mask: dict[str, np.ndarray] = {
            normalize_code(lang): np.array([s in set(names) for s in SIGNALS])
            for lang, names in info.signals_by_language.items()
        }

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> str:
        return self.info.version

    def operating_point(self, source: str | None) -> SourcePoint | None:
        """The source's own operating point, or ``None`` (the global thresholds apply)."""
        return self.sources.get(source) if source else None

    def predict_proba(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> np.ndarray:
        """Calibrated probabilities, shape ``(len(texts), len(SIGNALS))``, of whole texts (no windows).

        With ``languages`` (one per text), a language with its own calibration
        (``calibration_by_language``) is calibrated with it; otherwise the global calibration applies.
        """
        return self._calibrated([normalize(t) for t in texts], languages)

    def predict_targets(self, texts: Sequence[str]) -> np.ndarray | None:
        """Target-group probabilities ``(n, len(TARGETS))`` when the model has a target head."""
        return self._targets([normalize(t) for t in texts])

    def _calibrated(self, normalized: list[str], langs: Sequence[str] | None = None) -> np.ndarray:
        if not normalized:
            return np.zeros((0, len(SIGNALS)))
        raw = np.asarray(self.model.predict_proba(normalized), dtype=float)
        order = [self.info.signals.index(s) for s in SIGNALS]
        raw = raw[:, order]
        out = np.stack(
            [apply_calibrator(self.info.calibration.get(s), raw[:, j]) for j, s in enumerate(SIGNALS)],
            axis=1,
        )
        own = self.info.calibration_by_language
        if langs is not None and own:
            codes = np.asarray([normalize_code(c) for c in langs])
            for lang, calibration in own.items():
                rows = codes == lang
                if rows.any():
                    out[rows] = np.stack(
                        [apply_calibrator(calibration.get(s), raw[rows, j]) for j, s in enumerate(SIGNALS)],
                        axis=1,
                    )
        return out

    def _targets(self, normalized: list[str]) -> np.ndarray | None:
        fn = getattr(self.model, "predict_targets", None)
        if fn is None or not normalized:
            return None
        return np.asarray(fn(normalized), dtype=float)

    def supports(self, language: str) -> bool:
        """Whether the model scores texts in ``language`` (a tag such as ``"en"`` or ``"en-US"``)."""
        return normalize_code(language) in self.languages

    def signals_for(self, language: str) -> tuple[str, ...]:
        """The signals scored for texts in ``language`` (empty when the language is not supported).

        Reads a routed model's manifest without loading its network.
        """
        code = normalize_code(language)
        if code in self.own_languages:
            mask = self._signal_mask.get(code)
            return tuple(s for j, s in enumerate(SIGNALS) if mask is None or mask[j])
        for route in self.routes:
            if code in route.languages:
                if route.loaded:
                    return route.scorer().signals_for(code)
                scored = ModelInfo.load(route.directory).signals_by_language
                return tuple(scored.get(code, SIGNALS))
        return ()

    @overload
    def score(  # type: ignore[overload-overlap]
        self, texts: str, spans: bool = ..., languages: str | None = ..., source: str | None = ...
    ) -> Score: ...
    @overload
    def score(
        self,
        texts: Sequence[str],
        spans: bool = ...,
        languages: Sequence[str | None] | None = ...,
        source: str | None = ...,
    ) -> list[Score]: ...

    def score(
        self,
        texts: str | Sequence[str],
        spans: bool = False,
        languages: str | Sequence[str | None] | None = None,
        source: str | None = None,
    ) -> Score | list[Score]:
        """Score one text (returns a ``Score``) or many (returns a list in the same order).

        ``languages`` gives a text's language when the caller knows it (one tag, or one per text;
        ``None`` entries are detected); otherwise every text's language is detected. ``source`` names
        where the texts come from; its own operating point applies when the model has one (module
        docstring).
        """
        single = isinstance(texts, str)
        batch: list[str] = [texts] if isinstance(texts, str) else list(texts)
        if languages is None or isinstance(languages, str):
            given: list[str | None] = [languages] * len(batch)
        else:
            given = list(languages)
            if len(given) != len(batch):
                raise ValueError(f"{len(given)} languages for {len(batch)} texts")
        unknown = [i for i, g in enumerate(given) if not g]
        found = iter(detect_many([batch[i] for i in unknown]))
        langs = [normalize_code(g) if g else next(found).language for g in given]
        results = self._score_routed(batch, langs, spans, self.operating_point(source))
        return results[0] if single else results

    def _score_routed(
        self, texts: list[str], langs: list[str], want_spans: bool, point: SourcePoint | None = None
    ) -> list[Score]:
        """Score each text with the model for its language; the others get an unsupported ``Score``."""
        out: list[Score] = [unsupported(lang) for lang in langs]
        keep = [i for i, lang in enumerate(langs) if lang in self.own_languages]
        groups: list[tuple[Scorer, list[int], SourcePoint | None]] = [(self, keep, point)]
        taken = set(keep)
        for route in self.routes:
            idx = [i for i, lang in enumerate(langs) if lang in route.languages and i not in taken]
            if idx:
                groups.append((route.scorer(), idx, None))
                taken.update(idx)
        for scorer, idx, pt in groups:
            if not idx:
                continue
            sub_langs = [langs[i] for i in idx]
            scored = scorer._score_batch([texts[i] for i in idx], want_spans, pt, sub_langs)
            for i, lang, score in zip(idx, sub_langs, scored, strict=True):
                out[i] = dataclasses.replace(score, language=lang, model_version=scorer.version)
        return out

    def segment_count(self, texts: Sequence[str], spans: bool = False) -> int:
        """How many model inputs ``score(texts, spans)`` makes: the work a request asks for.

        One per text, plus one per sentence of a text longer than the window (when it has more than
        one) or, with ``spans``, one window for a shorter text. Only long texts are sentencized.
        """
        return len(texts) + len(self._windows(texts, spans))

    def _windows(self, texts: Sequence[str], want_spans: bool) -> list[tuple[int, int, int]]:
        """``(text index, begin, end)`` of every input scored besides the whole texts."""
        owners: list[tuple[int, int, int]] = []
        for i, text in enumerate(texts):
            long = len(text) > self.window_chars
            if long or (want_spans and text):
                # Long: sentence by sentence. Short (spans only): one window, the whole text.
                wins = windows(text, self.window_chars, pack=not long)
                if len(wins) > 1 or want_spans:
                    owners.extend((i, b, e) for b, e in wins)
        return owners

    def _score_batch(
        self,
        texts: list[str],
        want_spans: bool,
        point: SourcePoint | None = None,
        langs: Sequence[str] | None = None,
    ) -> list[Score]:
        owners = self._windows(texts, want_spans)
        segments = texts + [texts[i][b:e] for i, b, e in owners]
        # Normalised once: the target head reads the same strings (and the ONNX model answers it
        # from the pass it just made).
        normalized = [normalize(t) for t in segments]
        seg_langs = None if langs is None else [*langs, *(langs[i] for i, _, _ in owners)]
        probs = self._calibrated(normalized, seg_langs)
        if point is not None:
            for j, s in enumerate(SIGNALS):
                probs[:, j] = apply_offset(probs[:, j], point.offset[s])
        whole = probs[: len(texts)].copy()
        per_text_spans: list[list[Span]] = [[] for _ in texts]
        for k, (i, b, e) in enumerate(owners):
            p = probs[len(texts) + k]
            whole[i] = np.maximum(whole[i], p)
            per_text_spans[i].append(Span(b, e, {s: float(p[j]) for j, s in enumerate(SIGNALS)}))
        target_probs = self._targets(normalized[: len(texts)])
        # Signals a text's language is not scored for: absent, never flagged, no share of the priority.
        scored_sig: list[np.ndarray | None] = [None] * len(texts)
        if langs is not None and self._signal_mask:
            scored_sig = [self._signal_mask.get(lang) for lang in langs]
        if any(m is not None for m in scored_sig):
            keep = np.stack([np.ones(len(SIGNALS), bool) if m is None else m for m in scored_sig])
            prio = priority(np.where(keep, whole, 0.0))
        else:
            prio = priority(whole)
        review_t = point.review if point is not None else self.info.thresholds["review"]
        flag_t = point.flag if point is not None else self.info.thresholds["flag"]
        used = point.label if point is not None else GLOBAL
        by_lang = self.info.thresholds_by_language if point is None else {}
        out = []
        for i in range(len(texts)):
            review_i, flag_i = review_t, flag_t
            if by_lang and langs is not None and langs[i] in by_lang:
                # The language's own operating points (module docstring).
                review_i, flag_i = by_lang[langs[i]]["review"], by_lang[langs[i]]["flag"]
            mask = scored_sig[i]
            names = SIGNALS if mask is None else [s for j, s in enumerate(SIGNALS) if mask[j]]
            scores = {s: float(whole[i, SIGNALS.index(s)]) for s in names}
            if mask is not None:
                per_text_spans[i] = [
                    Span(sp.begin, sp.end, {s: v for s, v in sp.scores.items() if s in scores})
                    for sp in per_text_spans[i]
                ]
            spans_i = sorted(per_text_spans[i], key=lambda sp: -max(sp.scores.values(), default=0.0))
            out.append(
                Score(
                    scores=scores,
                    review={s: s in scores and scores[s] >= review_i[s] for s in SIGNALS},
                    flags={s: s in scores and scores[s] >= flag_i[s] for s in SIGNALS},
                    priority=float(prio[i]),
                    targets=(
                        {t: float(target_probs[i, j]) for j, t in enumerate(self.info.targets)}
                        if target_probs is not None
                        else {}
                    ),
                    spans=spans_i if want_spans else [],
                    operating_point=used,
                )
            )
        return out


def load_scorer(uri: str | os.PathLike[str] | None = None, window_chars: int = 1000) -> Scorer:
    """Load a scorer from a model directory, a ``models:/`` or ``runs:/`` URI, or (``None``) the default.

    The default is the registry's ``champion`` when one exists, else the shipped ``models/default``
    (``signals.registry.resolve``).
    """
    directory = resolve(uri)
    load_identifier()  # before the models: its build's transient memory then lands on a small heap
    model, info = load_model_dir(directory)
    sources = load_sources(directory, info)
    log.info(
        "loaded model %s version %s from %s%s", info.name, info.version, directory,
        f" with the operating points of {len(sources)} source(s)" if sources else "",
    )  # fmt: skip
    allowed = deployment_languages()
    routes = [
        Route(Path(directory) / r["path"], kept, r.get("sha256", ""), window_chars)
        for r in info.routes
        if (kept := [c for c in r["languages"] if allowed is None or normalize_code(c) in allowed])
    ]
    return Scorer(model, info, window_chars=window_chars, sources=sources, routes=routes)


def deployment_languages() -> frozenset[str] | None:
    """``SIGNALS_LANGUAGES`` as language codes (module docstring); ``None`` when unset or empty.

    >>> os.environ["SIGNALS_LANGUAGES"] = " EN, es-MX "; sorted(deployment_languages() or ())
    ['en', 'es']
    >>> del os.environ["SIGNALS_LANGUAGES"]; deployment_languages() is None
    True
    """
    raw = os.environ.get("SIGNALS_LANGUAGES", "")
    codes = frozenset(normalize_code(c) for c in raw.split(",") if c.strip())
    return codes or None
