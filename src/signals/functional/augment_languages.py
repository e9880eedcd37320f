"""Augmentation templates in Arabic and Spanish, for the multilingual model's training only (issue 17).

L-HSAB's Arabic hate is mostly sectarian abuse in Levantine dialect, and the multilingual model never
saw hate about immigrants or other groups phrased in Modern Standard Arabic; its Spanish corpus
(HatEval) is about immigrants and women, and the model reads every Spanish sentence that names a
group as hate. These templates, written for this project from the hate functionalities (never from a
corpus or a published test suite), cover what the corpora do not: dehumanisation, exclusion,
stereotypes, contempt and calls to violence against groups, and, naming the same groups, support,
self-description, reports of discrimination and counter-speech. Every hateful frame also gets a
*filler-swapped twin* about a service, an object or a decision, labelled not hate, so a frame alone
never predicts hate (as ``signals.functional.augment`` does for English).

Kept apart from what is measured:
* the groups are mostly not those of the per-language suite (``signals.functional.languages``);
* the words of the issue's two example sentences ("حشرات", insects; "طرد", to expel; "plaga",
  "echar") are in no template, so flagging those sentences stays a test of generalisation;
* ``language_templates`` drops every text that the leak guard (``augment.evaluation_overlap``, whose
  skeleton file holds the language suites' cases) matches.

Labels: hateful frames ``hate = 1`` with the group's target; benign frames ``hate = 0``,
``offensive = 0``, ``polarization = 0``; twins ``hate = 0`` only. Ids ``aug-<lang>-<kind>-<n>-<key>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from signals.schema import Record


@dataclass(frozen=True)
class Group:
    """A slot filler: ``p`` the form a sentence starts with, ``o`` the form after a verb or preposition
    (Arabic: the nominative and the oblique plural; Spanish: with and without the article)."""

    key: str
    p: str
    o: str
    target: str = ""


def _g(key: str, p: str, o: str | None = None, target: str = "") -> Group:
    return Group(key, p, p if o is None else o, target)


_AR_GROUPS: tuple[Group, ...] = (
    _g("migrants", "المهاجرون", "المهاجرين", "national_origin"),
    _g("africans", "الأفارقة", target="race_ethnicity"),
    _g("kurds", "الأكراد", target="race_ethnicity"),
    _g("roma", "الغجر", target="race_ethnicity"),
    _g("druze", "الدروز", target="religion"),
    _g("alawites", "العلويون", "العلويين", "religion"),
    _g("muslims", "المسلمون", "المسلمين", "religion"),
    _g("gays", "المثليون", "المثليين", "gender_sexuality"),
    _g("disabled", "المعاقون", "المعاقين", "disability"),
    _g("palestinians", "الفلسطينيون", "الفلسطينيين", "national_origin"),
    _g("egyptians", "المصريون", "المصريين", "national_origin"),
    _g("turks", "الأتراك", target="national_origin"),
    _g("indians", "الهنود", target="national_origin"),
    _g("armenians", "الأرمن", target="race_ethnicity"),
    _g("yazidis", "الإيزيديون", "الإيزيديين", "religion"),
    _g("foreigners", "الأجانب", target="national_origin"),
)

_AR_FILLERS: tuple[Group, ...] = (
    _g("potholes", "الحفر في الشوارع"),
    _g("bills", "الفواتير الجديدة"),
    _g("buses", "الباصات القديمة"),
    _g("car_parks", "مواقف السيارات"),
    _g("council", "قرارات البلدية"),
    _g("rain", "أمطار هذا الشتاء"),
    _g("prices", "الأسعار"),
    _g("lights", "إشارات المرور"),
    _g("bags", "أكياس البلاستيك"),
    _g("taxes", "الضرائب الجديدة"),
)

_AR_HATE: tuple[str, ...] = (
    "{P} جرذان تنقل الأمراض إلى أحيائنا",
    "{P} طاعون أصاب هذا البلد",
    "{O} مش بشر، هدول وحوش",
    "{P} سرطان في جسم المجتمع",
    "{P} طفيليات تعيش على حساب غيرها",
    "ما في فرق بين {O} والقرود",
    "{P} قذارة ويجب تنظيف الشوارع منهم",
    "يجب ترحيل كل {O} من بلادنا فوراً",
    "لا نريد {O} في حيّنا",
    "ارموا {O} برّا البلد وخلصونا منهم",
    "ممنوع على {O} يسكنوا بحارتنا",
    "{P} لا يستحقون أي حقوق في هذا البلد",
    "أغلقوا الحدود في وجه {O} قبل أن يغرقونا",
    "كل {O} حرامية وكذابين",
    "{P} أغبياء بطبيعتهم ولا أمل فيهم",
    "{P} أقل من البشر ولن يتغيروا",
    "ما بوثق ولا بواحد من {O}، كلهم خونة",
    "{P} عار على هذه البلاد",
    "أكره {O} من كل قلبي",
    "الله يلعن {O} ويلعن اللي جابهم",
    "لازم نحرق بيوت {O} ليفهموا إنهم مش مرغوب فيهم",
    "{P} يستحقون الموت",
    "نظّفوا الحي من {O} قبل ما يتكاثروا",
    "لو في عدالة كان {P} كلهم بالسجن",
)

_AR_BENIGN: tuple[str, ...] = (
    "{P} جزء من مجتمعنا ولهم نفس الحقوق",
    "جاري من {O} وهو إنسان طيب جداً",
    "على البلدية أن توفر مدارس أفضل لأطفال {O}",
    "تعرفت على كثير من {O} في الجامعة",
    "{P} يعانون من التمييز في العمل والسكن",
    "من العيب أن يقول أحد إن {P} أقل من غيرهم",
    "أنا من {O} وأفتخر بذلك",
    "الاحتفال الذي نظمه {P} في الساحة كان جميلاً",
    "لا يجوز الحكم على كل {O} بسبب تصرف شخص واحد",
    "{P} يستحقون الاحترام مثل أي أحد",
    "كم عدد {O} في المدينة؟",
    "سمعت تعليقات عنصرية ضد {O} في الباص وما حدا حكى شي",
    "{P}",
    "معظمهم من {O}",
)

_ES_GROUPS: tuple[Group, ...] = (
    _g("moroccans", "los marroquíes", "marroquíes", "national_origin"),
    _g("latinos", "los latinos", "latinos", "race_ethnicity"),
    _g("chinese", "los chinos", "chinos", "national_origin"),
    _g("romanians", "los rumanos", "rumanos", "national_origin"),
    _g("africans", "los africanos", "africanos", "race_ethnicity"),
    _g("jews", "los judíos", "judíos", "religion"),
    _g("gays", "los homosexuales", "homosexuales", "gender_sexuality"),
    _g("disabled", "los discapacitados", "discapacitados", "disability"),
    _g("venezuelans", "los venezolanos", "venezolanos", "national_origin"),
    _g("ecuadorians", "los ecuatorianos", "ecuatorianos", "national_origin"),
    _g("foreigners", "los extranjeros", "extranjeros", "national_origin"),
    _g("syrians", "los sirios", "sirios", "national_origin"),
    _g("pakistanis", "los pakistaníes", "pakistaníes", "national_origin"),
    _g("evangelicals", "los evangélicos", "evangélicos", "religion"),
)

_ES_FILLERS: tuple[Group, ...] = (
    _g("potholes", "los baches", "baches"),
    _g("roadworks", "los cortes por obras", "cortes por obras"),
    _g("bills", "los recibos de la luz", "recibos de la luz"),
    _g("scooters", "los patinetes eléctricos", "patinetes eléctricos"),
    _g("jams", "los atascos", "atascos"),
    _g("fees", "los nuevos impuestos municipales", "nuevos impuestos municipales"),
    _g("timetables", "los horarios del autobús", "horarios del autobús"),
    _g("pigeons", "los palomos de la plaza", "palomos de la plaza"),
    _g("bins", "los contenedores rotos", "contenedores rotos"),
    _g("floods", "los charcos de la avenida", "charcos de la avenida"),
)

# Spanish templates start with a capital letter where {P} starts them: ``_cap`` takes care of it.
_ES_HATE: tuple[str, ...] = (
    "{P} son una infección que hay que erradicar.",
    "{P} son sanguijuelas, chupan todo lo que pueden.",
    "{P} son alimañas y chusma.",
    "Que deporten a todos {P} ya, no los queremos aquí.",
    "{P} no deberían tener derecho a votar.",
    "Todos {P} son unos vagos que viven de las ayudas.",
    "No alquiles tu piso a {P}, lo destrozan todo.",
    "{P} son una raza degenerada.",
    "Ojalá se hundan todas las pateras llenas de {O}.",
    "{P} nos están robando el país y hay que pararlos como sea.",
    "Odio a {P}, me dan asco.",
    "Fuera {P} de nuestros barrios.",
    "Con {P} en el barrio ya no se puede vivir tranquilo.",
    "{P} son bestias sin civilizar.",
    "A {P} habría que encerrarlos a todos.",
    "No queremos ver a más {O} en nuestras calles, que se vuelvan por donde vinieron.",
)

_ES_BENIGN: tuple[str, ...] = (
    "{P} forman parte de nuestra comunidad.",
    "El ayuntamiento debería ofrecer clases de idioma para {P}.",
    "{P} sufren discriminación al buscar piso.",
    "Es injusto culpar a {P} de todos los problemas del barrio.",
    "{P} tienen los mismos derechos que cualquiera.",
    "Ayer hubo una fiesta organizada por {P} en la plaza y fue genial.",
    "¿Cuántos {O} viven en la ciudad?",
    "En el autobús insultaron a unos {O} y nadie hizo nada.",
    "{P}",
    "Sobre todo {O}.",
    "Mis vecinos son {O} y nos llevamos muy bien.",
    "Hay que escuchar a {P} antes de decidir sobre el barrio.",
)

_TEMPLATES: dict[str, tuple[tuple[Group, ...], tuple[Group, ...], tuple[str, ...], tuple[str, ...]]] = {
    "ar": (_AR_GROUPS, _AR_FILLERS, _AR_HATE, _AR_BENIGN),
    "es": (_ES_GROUPS, _ES_FILLERS, _ES_HATE, _ES_BENIGN),
}

#: The languages with templates.
LANGUAGES: tuple[str, ...] = tuple(_TEMPLATES)

_BENIGN_LABELS = {"hate": 0, "offensive": 0, "polarization": 0}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fill(template: str, group: Group) -> str:
    return _cap(template.format(P=group.p, O=group.o))


def _records(lang: str) -> Iterator[Record]:
    groups, fillers, hate, benign = _TEMPLATES[lang]

    def record(
        kind: str, template: str, filler: Group, labels: dict[str, int], target: bool = False
    ) -> Record:
        return Record(
            id=f"aug-{lang}-{kind}",
            text=_fill(template, filler),
            source="augmentation",
            lang=lang,
            labels=labels,
            targets={filler.target: 1} if target and filler.target else {},
        )

    for t, template in enumerate(hate):
        for k, group in enumerate(groups):
            yield record(f"hate-{t}-{group.key}", template, group, {"hate": 1}, target=True)
            filler = fillers[(t + k) % len(fillers)]
            yield record(f"twin-{t}-{group.key}-{filler.key}", template, filler, {"hate": 0})
    for t, template in enumerate(benign):
        for group in groups:
            yield record(f"benign-{t}-{group.key}", template, group, dict(_BENIGN_LABELS))


def language_templates(languages: Iterable[str]) -> list[Record]:
    """The template rows of ``languages`` (each in ``LANGUAGES``), duplicates and leaks dropped.

    >>> rows = language_templates(["ar"])
    >>> rows[0].lang, rows[0].labels["hate"], rows[1].labels["hate"]
    ('ar', 1, 0)
    """
    from signals.functional.augment import evaluation_overlap

    wanted = list(dict.fromkeys(languages))
    unknown = sorted(set(wanted) - set(_TEMPLATES))
    if unknown:
        raise ValueError(f"no augmentation templates for {unknown}; templates exist for {list(LANGUAGES)}")
    seen: set[str] = set()
    records = []
    for lang in wanted:
        for record in _records(lang):
            if record.text not in seen:
                seen.add(record.text)
                records.append(record)
    leaks = set(evaluation_overlap([r.text for r in records]))
    return [r for i, r in enumerate(records) if i not in leaks]
