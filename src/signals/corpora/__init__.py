"""Public-corpus adapters: each corpus's raw files -> ``signals.schema.Record``s with masks.

One module per corpus under ``/work/shared/data`` (folder name = source name = registry key). Each maps
its own labels onto the signals ``hate``, ``threat``, ``offensive``, ``polarization`` and the target
groups, leaving ``UNKNOWN`` (-1) wherever the corpus says nothing; docs/data.md has the full table and
the reasoning.

Missing folders: a corpus named in ``sources`` must exist (``CorpusNotFoundError`` naming it); with
``sources=None`` ("everything available") a missing folder is skipped with a warning, and finding none
at all is an error.

Example: ``iter_records(Path("../shared/data"), languages=("en", "es"), sources=["hateval2019"])``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from signals.corpora import (
    davidson2017,
    gab_hate_corpus,
    hateval2019,
    hatexplain,
    implicit_hate,
    l_hsab_arabic,
    polar_semeval2026,
)
from signals.corpora._base import (
    CorpusAdapter,
    CorpusError,
    CorpusFormatError,
    CorpusNotFoundError,
)
from signals.schema import Record

logger = logging.getLogger(__name__)

__all__ = [
    "ADAPTERS",
    "ALL_LANGUAGES",
    "CorpusAdapter",
    "CorpusError",
    "CorpusFormatError",
    "CorpusNotFoundError",
    "DEFAULT_CORPORA_DIR",
    "corpora_dir",
    "iter_records",
    "resolve_languages",
]

#: Registry, in the order records are read (this order also decides which duplicate keeps its id).
ADAPTERS: dict[str, CorpusAdapter] = {
    a.name: a
    for a in (
        davidson2017.ADAPTER,
        hatexplain.ADAPTER,
        implicit_hate.ADAPTER,
        gab_hate_corpus.ADAPTER,
        hateval2019.ADAPTER,
        polar_semeval2026.ADAPTER,
        l_hsab_arabic.ADAPTER,
    )
}

#: Every language some adapter can produce (ISO 639-1).
ALL_LANGUAGES: tuple[str, ...] = tuple(sorted({lang for a in ADAPTERS.values() for lang in a.languages}))


#: Where the shared corpora live unless told otherwise (``--corpora`` / ``SIGNALS_CORPORA_DIR``).
DEFAULT_CORPORA_DIR = Path("../shared/data")


def corpora_dir(configured: str | Path = "") -> Path:
    """The shared corpora folder: ``configured``, else ``SIGNALS_CORPORA_DIR``, else ``../shared/data``."""
    import os

    return Path(configured or os.environ.get("SIGNALS_CORPORA_DIR") or DEFAULT_CORPORA_DIR)


def resolve_languages(languages: Sequence[str]) -> tuple[str, ...]:
    """Lowercase and validate language codes; ``"all"`` expands to ``ALL_LANGUAGES``.

    >>> resolve_languages(["EN", "es"])
    ('en', 'es')
    """
    wanted = [str(code).strip().lower() for code in languages if str(code).strip()]
    if not wanted:
        raise CorpusError("no language given; use ISO 639-1 codes such as 'en' or 'all'")
    if "all" in wanted:
        return ALL_LANGUAGES
    unknown = sorted(set(wanted) - set(ALL_LANGUAGES))
    if unknown:
        raise CorpusError(f"no corpus has language(s) {unknown}; available: {', '.join(ALL_LANGUAGES)}")
    return tuple(dict.fromkeys(wanted))


def iter_records(
    corpora_dir: Path,
    languages: Sequence[str] = ("en",),
    sources: Sequence[str] | None = None,
) -> Iterator[Record]:
    """Yield Records from every selected corpus under ``corpora_dir`` in the selected languages.

    ``sources=None`` means every registered corpus that exists (missing folders are skipped with a
    warning, corpora without any requested language are skipped unread); an explicit ``sources`` list
    makes every named folder mandatory and each named corpus must have one of the languages. Texts are
    raw: normalisation and dedup happen in ``signals.dataset``.
    """
    corpora_dir = Path(corpora_dir)
    if not corpora_dir.is_dir():
        raise CorpusNotFoundError(
            f"corpora directory {corpora_dir} does not exist (set --corpora or SIGNALS_CORPORA_DIR)"
        )
    langs = resolve_languages(languages)
    explicit = sources is not None
    names = list(dict.fromkeys(sources)) if sources is not None else list(ADAPTERS)
    unknown = [n for n in names if n not in ADAPTERS]
    if unknown:
        raise CorpusError(f"unknown corpus name(s) {unknown}; known: {', '.join(ADAPTERS)}")
    if not names:
        raise CorpusError("no corpus selected")

    found = 0
    for name in names:
        adapter = ADAPTERS[name]
        chosen = [lang for lang in langs if lang in adapter.languages]
        if not chosen:
            if explicit:
                raise CorpusError(
                    f"corpus {name!r} has language(s) {', '.join(adapter.languages)}, "
                    f"none of the requested {', '.join(langs)}"
                )
            logger.debug("%s: none of %s; skipped", name, langs)
            continue
        folder = corpora_dir / name
        if not folder.is_dir():
            if explicit:
                raise CorpusNotFoundError(f"corpus folder {folder} for {name!r} is missing")
            logger.warning("corpus folder %s is missing; skipping %s", folder, name)
            continue
        found += 1
        count = 0
        for record in adapter.read(folder, chosen):
            count += 1
            yield record
        logger.info("%s: %d records (%s)", name, count, ",".join(chosen))
    if found == 0:
        raise CorpusNotFoundError(
            f"no corpus for language(s) {', '.join(langs)} found under {corpora_dir} "
            f"(expected folders such as {', '.join(ADAPTERS)})"
        )
