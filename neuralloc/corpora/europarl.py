"""Europarl v7 bitexts ``{xx}-en.tgz`` -> ``europarl-v7.{xx}-en.{xx}`` / ``.en``.

Pairs with an empty side are dropped; dev and test are held out (unseen pairs), then the
training sample is drawn from the rest, each with a fixed seed per language.
"""

from __future__ import annotations

import random

from ..fileio import one_line
from .archive import Archive


def archive_name(lang: str) -> str:
    return f"{lang}-en.tgz"


def read_bitext(archive: Archive, lang: str) -> tuple[list[str], list[str]]:
    """(xx lines, en lines), aligned by line, with pairs that have an empty side dropped."""
    names = [archive.find(f"europarl-v7.{lang}-en.{side}") for side in (lang, "en")]
    if not all(names):
        raise ValueError(f"{archive.path}: europarl-v7.{lang}-en.{lang} / .en not found")
    xx, en = (archive.read_text(n).split("\n") for n in names)
    for side in (xx, en):
        if side and side[-1] == "":
            side.pop()
    if len(xx) != len(en):
        raise ValueError(f"{archive.path}: misaligned, {len(xx)} {lang} lines but {len(en)} en lines")
    kept = [(one_line(a), one_line(b)) for a, b in zip(xx, en)]
    kept = [(a, b) for a, b in kept if a and b]
    return [a for a, _ in kept], [b for _, b in kept]


def split_bitext(xx, en, dev_size, test_size, train_size, seed, lang):
    """Shuffle once with a per-language seed; dev, test, then up to train_size training pairs."""
    idx = list(range(len(xx)))
    random.Random(f"{seed}-{lang}").shuffle(idx)
    if dev_size + test_size >= len(idx):
        raise ValueError(f"{lang}-en: {len(idx)} pairs cannot hold dev {dev_size} + test {test_size}")
    parts = {"dev": idx[:dev_size], "test": idx[dev_size:dev_size + test_size]}
    rest = idx[dev_size + test_size:]
    parts["train"] = rest if train_size is None else rest[:train_size]
    return {split: ([xx[i] for i in ids], [en[i] for i in ids]) for split, ids in parts.items()}
