"""Text cleanup shared by training and serving: the one place text is normalised.

Applied to every text before a model sees it, at training and at scoring time, so both see the same
distribution. Two layers:

* cleanup: HTML entities, Unicode NFKC (folds full-width and "mathematical" letters such as ``𝐡𝐚𝐭𝐞``),
  zero-width and control characters, URLs and mentions, whitespace;
* de-obfuscation against evasion (``deobfuscate``): Cyrillic/Greek look-alike letters inside Latin
  text, spaced-out letters (``k i l l``, ``k.i.l.l``), leetspeak and masking (``1d10t``, ``m*slims``,
  ``sh!t``) and stretched letters (``kiiiill``).

De-obfuscation is conservative on purpose: a leet or masked token is only rewritten when the result is
a word of a small lexicon of the words people actually disguise (insults, profanity, threats, slurs,
identity terms), so numbers, e-mail addresses, prices, ``covid19`` or ``I'm`` pass through unchanged.
``explain`` returns the changes made, so a user interface can show the de-obfuscated reading.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff\u00ad\u034f\u180e]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"(?<!\w)@\w+")
_WS = re.compile(r"\s+")

#: Cyrillic and Greek letters that render like Latin ones. Only applied inside Latin-dominated text.
HOMOGLYPHS: dict[str, str] = {
    # Cyrillic lower case
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l",
    "ԛ": "q", "ԝ": "w", "ɡ": "g", "ү": "y",
    # Cyrillic upper case
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԁ": "D", "Һ": "H", "Ӏ": "I",
    # Greek lower case
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w",
    # Greek upper case
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip

#: Leetspeak substitutions: each character may stand for any of these letters.
LEET: dict[str, str] = {
    "0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
    "@": "a", "$": "s", "!": "il", "|": "il", "+": "t", "€": "e", "£": "l",
}  # fmt: skip
#: Masking characters: each stands for one hidden letter.
MASKS = "*#%_"

#: Words people disguise to evade filters. De-obfuscation only ever produces one of these, which is
#: what keeps it from damaging ordinary text. Slurs are listed so that their disguised forms are seen
#: for what they are; they are matched, never generated in output shown to users.
LEXICON: frozenset[str] = frozenset(
    """
    idiot idiots idiotic moron morons stupid dumb dumbass loser losers scum trash garbage clown
    fuck fucking fucked fucker fuckers motherfucker shit shitty bullshit bitch bitches bastard bastards
    asshole assholes ass arse dick dickhead cunt cunts whore whores slut sluts piss pissed crap damn
    retard retards retarded cripple cripples freak freaks pig pigs rat rats vermin animals animal
    savage savages subhuman subhumans parasite parasites cockroach cockroaches monkey monkeys ape apes
    kill kills killed killing killer murder murdered shoot shot shooting stab stabbed hang hanged lynch
    lynched burn burned die dies dead death rape raped bomb bombed gas gassed exterminate
    exterminated deport deported genocide hate hated hating destroy terrorist terrorists nazi nazis
    muslim muslims islam islamic jew jews jewish christian christians black blacks white whites asian
    asians mexican mexicans immigrant immigrants migrant migrants refugee refugees gay gays lesbian
    lesbians trans transgender queer homo homos women woman girls arab arabs african africans
    liberal liberals libtard libtards conservative conservatives democrat democrats republican
    republicans leftist leftists commie commies
    nigger niggers nigga niggas faggot faggots fag fags kike kikes spic spics chink chinks tranny
    trannies dyke dykes wetback wetbacks raghead ragheads paki pakis gook gooks coon coons towelhead
    towelheads beaner beaners
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_WORDS_BY_LEN: dict[int, tuple[str, ...]] = {
    n: tuple(sorted(w for w in LEXICON if len(w) == n)) for n in {len(w) for w in LEXICON}
}

_OBFUSCATION_CHARS = set(LEET) | set(MASKS)
# A candidate token: letters, digits and obfuscation characters (no spaces, no apostrophes).
_TOKEN = re.compile(r"[^\W_]*[0-9@$!|+€£*#%_][^\s'’\",.;:?()\[\]{}<>/\\]*|[^\W\d_]+")
# Runs of at least three single letters joined by the same separator: "k i l l", "k.i.l.l", "k-i-l-l".
_SPACED = re.compile(r"(?<![^\W_])([^\W_@$])(?P<sep>[ .\-_])[^\W_@$](?:(?P=sep)[^\W_@$])+(?![^\W_])")
_STRETCH = re.compile(r"([^\W\d_])\1{2,}")


@dataclass(frozen=True)
class Change:
    """One de-obfuscation: ``original`` was read as ``replacement`` (``kind``: homoglyph, spacing, leet)."""

    original: str
    replacement: str
    kind: str


def _latin_dominated(text: str) -> bool:
    latin = other = 0
    for ch in text:
        if ch.isalpha():
            if ch.isascii():
                latin += 1
            elif (
                ch in HOMOGLYPHS
                or "CYRILLIC" in unicodedata.name(ch, "")
                or "GREEK" in unicodedata.name(ch, "")
            ):
                other += 1
    return latin > other


def _fold_homoglyphs(text: str, changes: list[Change] | None) -> str:
    if not any(ch in HOMOGLYPHS for ch in text):
        return text
    latin_text = _latin_dominated(text)

    def fold(match: re.Match[str]) -> str:
        word = match.group(0)
        if not any(ch in HOMOGLYPHS for ch in word):
            return word
        has_latin = any(ch.isascii() and ch.isalpha() for ch in word)
        all_lookalike = all(ch in HOMOGLYPHS or not ch.isalpha() for ch in word)
        # Mixed-script words are always disguises; pure look-alike words only inside Latin text, so
        # real Russian or Greek is left alone.
        if has_latin or (all_lookalike and latin_text):
            folded = "".join(HOMOGLYPHS.get(ch, ch) for ch in word)
            if changes is not None:
                changes.append(Change(word, folded, "homoglyph"))
            return folded
        return word

    return re.sub(r"\S+", fold, text)


def _join_spaced(text: str, changes: list[Change] | None) -> str:
    def join(match: re.Match[str]) -> str:
        run = match.group(0)
        joined = run.replace(match.group("sep"), "")
        # Acronyms like "U.S.A" join harmlessly; plain single words separated by spaces ("I a m") are
        # rare enough in real text that joining any run of three or more single letters is safe.
        if sum(ch.isalpha() for ch in joined) < 2:
            return run
        if changes is not None:
            changes.append(Change(run, joined, "spacing"))
        return joined

    return _SPACED.sub(join, text)


def _pattern(token: str) -> re.Pattern[str] | None:
    parts = []
    for ch in token.lower():
        if ch in MASKS:
            parts.append("[a-z]")
        elif ch in LEET:
            options = LEET[ch] + (ch if ch.isalpha() else "")
            parts.append(f"[{re.escape(options)}]")
        elif ch.isascii() and ch.isalpha():
            parts.append(ch)
        else:
            return None
    return re.compile("".join(parts))


def _read_token(token: str) -> str | None:
    """The lexicon word a disguised token stands for, or ``None``."""
    low = token.lower()
    if low in LEXICON:
        return None
    if low.isalpha():
        # Stretched letters: "kiiiill" -> try runs collapsed to two, then to one letter.
        if _STRETCH.search(low):
            for repl in (r"\1\1", r"\1"):
                collapsed = re.sub(r"([a-z])\1{2,}", repl, low)
                if collapsed in LEXICON:
                    return collapsed
        return None
    if not any(ch in _OBFUSCATION_CHARS for ch in low) or low.isdigit():
        return None
    stripped = low.rstrip("!")  # a trailing "!" is usually punctuation: "idiot!"
    if stripped.isalpha():
        return None
    if sum(ch.isalpha() for ch in stripped) == 0 and not any(ch in "@$!|" for ch in stripped):
        return None  # prices, times, numbers
    for candidate in dict.fromkeys((low, stripped)):
        pattern = _pattern(candidate)
        if pattern is None:
            continue
        for word in _WORDS_BY_LEN.get(len(candidate), ()):
            if pattern.fullmatch(word):
                return word if candidate == low else word + low[len(stripped) :]
    return None


def _read_tokens(text: str, changes: list[Change] | None) -> str:
    def read(match: re.Match[str]) -> str:
        token = match.group(0)
        word = _read_token(token)
        if word is None:
            return token
        if changes is not None:
            changes.append(Change(token, word, "leet"))
        return word

    return _TOKEN.sub(read, text)


def deobfuscate(text: str, changes: list[Change] | None = None) -> str:
    """Undo evasion tricks: look-alike letters, spaced letters, leetspeak, masking, stretching.

    ``changes``, when given, collects what was rewritten (see ``explain``).

    >>> deobfuscate("you 1d10t, k i l l all m*slims")
    'you idiot, kill all muslims'
    >>> deobfuscate("Call me at 555-0100 or mail jo@example.com, I'm in room 4b at 3pm")
    "Call me at 555-0100 or mail jo@example.com, I'm in room 4b at 3pm"
    """
    text = _fold_homoglyphs(text, changes)
    text = _join_spaced(text, changes)
    return _read_tokens(text, changes)


def _clean(text: str) -> str:
    text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _MENTION.sub("@user", text)
    text = _URL.sub("@url", text)
    return _WS.sub(" ", text).strip()


def normalize(text: str) -> str:
    """Normalise one text: cleanup (entities, NFKC, zero-width/control, URLs, mentions) + de-obfuscation.

    >>> normalize("RT @user: Hello&amp;\u200bworld https://t.co/x")
    'RT @user: Hello&world @url'
    >>> normalize("you are an 1d\u200b10t")
    'you are an idiot'
    """
    return deobfuscate(_clean(text))


def explain(text: str) -> tuple[str, list[Change]]:
    """The normalised text plus the de-obfuscations applied, for showing users what the model read.

    >>> explain("k i l l them")[1][0].replacement
    'kill'
    """
    changes: list[Change] = []
    return deobfuscate(_clean(text), changes), changes
