"""A small functional suite per supported language beyond English (issue 17): Spanish and Arabic.

Written for this project from scratch (never from a corpus or a published test suite) and never used for
training; the issue's two example sentences are cases too. ``training_leaks`` is the leak guard's check
for them: the training texts whose wording is one of these cases' once identity terms are masked
(``signals.functional.augment.evaluation_overlap`` against these cases' skeletons); the evaluation
reports the count, which must be 0. The cases' skeletons are also in the guard's skeleton file
(``suite.eval_skeletons``), so the Arabic and Spanish augmentation templates
(``signals.functional.augment_languages``) never repeat their wording.

Each case names its language (the scorer is told it, so detection does not decide), the functionality
and the expected 0/1 decision at ``flag`` for the signals it says something about. A signal the
language's model does not score is not evaluated (``Scorer.signals_for``). Hateful cases attack a
protected group; their twins reuse the frame about objects or animals ("hay que echar las ratas del
sótano"), and counter-speech quotes hate to reject it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LanguageCase:
    lang: str
    functionality: str
    text: str
    expected: dict[str, int]


_H1, _H0 = {"hate": 1}, {"hate": 0}
_P1, _P0 = {"polarization": 1}, {"polarization": 0}

_CASES: list[tuple[str, str, str, dict[str, int]]] = [
    # Spanish: hate against groups (HatEval's immigrants and women, and others), twins, counter-speech.
    ("es", "hate", "Los inmigrantes son ratas que infectan nuestros barrios.", _H1),
    ("es", "hate", "Las mujeres no sirven para nada, que vuelvan a la cocina.", _H1),
    ("es", "hate", "Hay que expulsar a todos los musulmanes de España.", _H1),
    ("es", "hate", "Los gitanos son todos unos ladrones y unos sucios.", _H1),
    ("es", "hate", "Los refugiados son basura y deberían volverse a su país.", _H1),
    ("es", "hate", "Las feministas son unas histéricas que odian a los hombres.", _H1),
    ("es", "hate", "Los moros son animales, no personas.", _H1),
    ("es", "hate", "Estos inmigrantes ilegales son parásitos que viven de nuestros impuestos.", _H1),
    ("es", "hate", "A las mujeres que denuncian habría que callarlas a palos.", _H1),
    ("es", "hate", "Los negros son inferiores y siempre lo serán.", _H1),
    ("es", "hate", "Los inmigrantes son una plaga y hay que echarlos.", _H1),  # issue 17's example
    ("es", "benign_group", "Los inmigrantes aportan mucho a la economía de nuestro país.", _H0),
    ("es", "benign_group", "Las mujeres merecen el mismo salario que los hombres.", _H0),
    ("es", "benign_group", "Mi vecina es musulmana y es una persona maravillosa.", _H0),
    ("es", "benign_group", "Los refugiados necesitan ayuda y una vivienda digna.", _H0),
    ("es", "counter_speech", "Decir que los inmigrantes son una plaga es racismo y es mentira.", _H0),
    ("es", "counter_speech", "No soporto a la gente que insulta a los gitanos.", _H0),
    ("es", "twin", "Las ratas del sótano son una plaga y hay que echarlas ya.", _H0),
    ("es", "twin", "Hay que expulsar al árbitro del campo por su actuación.", _H0),
    (
        "es",
        "benign",
        "El ayuntamiento debería arreglar las aceras del barrio.",
        {"hate": 0, "polarization": 0},
    ),
    ("es", "benign", "Hoy hace un día precioso para pasear por el parque.", {"hate": 0, "polarization": 0}),
    ("es", "polarization", "Los de izquierdas son traidores que quieren destruir España.", _P1),
    ("es", "polarization", "Los votantes de ese partido son enemigos del pueblo y hay que aplastarlos.", _P1),
    ("es", "polarization", "Esos fachas son escoria, o ellos o nosotros.", _P1),
    ("es", "no_polarization", "Propongo más autobuses nocturnos para el barrio norte.", _P0),
    ("es", "no_polarization", "Los dos partidos deberían hablar para llegar a un acuerdo.", _P0),
    ("es", "no_polarization", "Gracias a los voluntarios por limpiar la playa el domingo.", _P0),
    # Arabic (Levantine and Modern Standard): hate, insults that are not hate, twins, counter-speech.
    ("ar", "hate", "اللاجئين السوريين وسخين ولازم يرجعوا على بلدهم", _H1),
    ("ar", "hate", "الشيعة كلاب وما بيستاهلوا يعيشوا", {"hate": 1, "offensive": 1}),
    ("ar", "hate", "اليهود أعداء البشرية ويجب القضاء عليهم", _H1),
    ("ar", "hate", "المسيحيين كفار ولازم يطلعوا من البلد", _H1),
    ("ar", "hate", "النسوان ناقصات عقل وما لازم يشتغلوا", _H1),
    ("ar", "hate", "السود عبيد وما بيفهموا شي", _H1),
    ("ar", "hate", "هالعمال الأجانب حيوانات ولازم ينطردوا كلهم", _H1),
    ("ar", "hate", "السنة إرهابيين بالفطرة", _H1),
    ("ar", "hate", "المهاجرون حشرات يجب طردهم", _H1),  # issue 17's example: "the immigrants are insects ..."
    ("ar", "insult", "انت واحد حمار وما بتفهم شي", {"hate": 0, "offensive": 1}),
    ("ar", "insult", "يلعن أبوك يا كذاب", {"hate": 0, "offensive": 1}),
    ("ar", "insult", "سكّر تمك يا غبي", {"hate": 0, "offensive": 1}),
    ("ar", "insult", "هالنائب حرامي وواطي", {"hate": 0, "offensive": 1}),
    ("ar", "benign_group", "اللاجئين بحاجة لمساعدة وسكن لائق", {"hate": 0, "offensive": 0}),
    ("ar", "benign_group", "جيراني مسيحيين وهني ناس محترمين كتير", {"hate": 0, "offensive": 0}),
    ("ar", "benign_group", "النساء لهن حق العمل والتعليم مثل الرجال", {"hate": 0, "offensive": 0}),
    ("ar", "counter_speech", "أنا ضد العنصرية ضد اللاجئين بكل أشكالها", {"hate": 0, "offensive": 0}),
    ("ar", "twin", "لازم نطرد الحشرات من المطبخ قبل الصيف", {"hate": 0, "offensive": 0}),
    ("ar", "benign", "البلدية لازم تصلح الطريق قدام المدرسة", {"hate": 0, "offensive": 0, "polarization": 0}),
    (
        "ar",
        "benign",
        "الجو اليوم حلو كتير، رح نطلع على البحر",
        {"hate": 0, "offensive": 0, "polarization": 0},
    ),
    ("ar", "benign", "شكراً على المساعدة، الله يعطيك العافية", {"hate": 0, "offensive": 0, "polarization": 0}),
    ("ar", "polarization", "كل اللي بيدعموا هالحزب خونة وعملاء", _P1),
    ("ar", "polarization", "هدول الجماعة أعداء الوطن ولازم نسحقهم", _P1),
    ("ar", "no_polarization", "لازم الأحزاب تتحاور لمصلحة البلد", _P0),
    ("ar", "no_polarization", "بدنا حديقة عامة جديدة بالحي", _P0),
]

CASES: tuple[LanguageCase, ...] = tuple(LanguageCase(*c) for c in _CASES)


def cases(languages: Iterable[str] | None = None) -> list[LanguageCase]:
    """The cases, in a fixed order; only those in ``languages`` when given."""
    wanted = None if languages is None else set(languages)
    return [c for c in CASES if wanted is None or c.lang in wanted]


def run(scorer: Any, languages: Sequence[str] | None = None) -> dict[str, Any]:
    """Score the cases of the languages the scorer supports; accuracy at ``flag`` per language.

    Returns ``{lang: {"n", "accuracy", "by_functionality": {f: accuracy}, "cases": [...]}}``. A case
    counts once per evaluated signal (a signal the language's model scores and the case names).
    """
    chosen = [c for c in cases(languages) if scorer.supports(c.lang)]
    if not chosen:
        return {}
    scored = scorer.score([c.text for c in chosen], languages=[c.lang for c in chosen])
    out: dict[str, Any] = {}
    for case, score in zip(chosen, scored, strict=True):
        signals = set(scorer.signals_for(case.lang))
        entry = out.setdefault(case.lang, {"n": 0, "correct": 0, "by_functionality": {}, "cases": []})
        for signal, want in case.expected.items():
            if signal not in signals:
                continue
            got = int(score.flags[signal])
            entry["n"] += 1
            entry["correct"] += got == want
            f = entry["by_functionality"].setdefault(case.functionality, [0, 0])
            f[0] += got == want
            f[1] += 1
            entry["cases"].append(
                {
                    "text": case.text,
                    "signal": signal,
                    "expected": want,
                    "flag": got,
                    "p": score.scores[signal],
                }
            )
    for entry in out.values():
        entry["accuracy"] = entry["correct"] / entry["n"] if entry["n"] else None
        entry["by_functionality"] = {f: ok / n for f, (ok, n) in entry["by_functionality"].items()}
    return out


def to_metrics(result: dict[str, Any]) -> dict[str, float]:
    """``func_<lang>_acc`` and ``func_<lang>_<functionality>_acc`` for MLflow and the evaluation table."""
    metrics: dict[str, float] = {}
    for lang, entry in result.items():
        if entry["accuracy"] is not None:
            metrics[f"func_{lang}_acc"] = float(entry["accuracy"])
        for f, acc in entry["by_functionality"].items():
            metrics[f"func_{lang}_{f}_acc"] = float(acc)
    return metrics


def training_leaks(texts: Iterable[str]) -> list[int]:
    """Indices of training ``texts`` whose wording matches a case (the leak guard; must be empty)."""
    from signals.functional.augment import evaluation_overlap, skeleton

    return evaluation_overlap(list(texts), against=[skeleton(c.text) for c in CASES])
