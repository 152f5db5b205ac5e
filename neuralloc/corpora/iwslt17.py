"""IWSLT-17 multilingual TED (WIT3 layout).

Training text comes from ``train.tags.{s}-{t}.{lang}`` (tag lines dropped); dev from the XML sets
of the training archive; the 2017 test set from per-direction test archives that hold the source
side only; the set is multi-way parallel, so the reference of s->t is the source file of t->s.
"""

from __future__ import annotations

import html
import logging
import re

from ..fileio import one_line
from .archive import Archive

log = logging.getLogger(__name__)

TRAIN_ARCHIVE = "DeEnItNlRo-DeEnItNlRo.tgz"
TRAIN_ARCHIVE_PATH = "2017-01-trnmted/texts/DeEnItNlRo/DeEnItNlRo/" + TRAIN_ARCHIVE
_TAG_LINE = re.compile(r"^\s*</?(url|talkid|title|description|keywords|speaker|reviewer|translator|doc)\b")
_SEG = re.compile(r"<seg[^>]*>(.*?)</seg>", re.DOTALL)


def test_archive_path(src: str, tgt: str) -> str:
    return f"2017-01-mted-test/texts/{src}/{tgt}/{src}-{tgt}.tgz"


def strip_tag_lines(text: str) -> list[str]:
    """Sentences of a ``train.tags`` file: every line but the metadata tag lines."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [one_line(l) for l in lines if not _TAG_LINE.match(l)]


def read_segs(xml_text: str) -> list[str]:
    """The ``<seg>`` texts of a WIT3 XML set, entities decoded, in document order."""
    return [one_line(html.unescape(s)) for s in _SEG.findall(xml_text)]


def _aligned(src: list[str], tgt: list[str], what: str) -> tuple[list[str], list[str]]:
    if len(src) != len(tgt):
        raise ValueError(f"{what}: misaligned, {len(src)} source lines but {len(tgt)} target lines")
    return src, tgt


def _pair_files(archive: Archive, pattern: str, src: str, tgt: str):
    """Member names of a two-sided file set, in the s-t or (reversed) t-s direction."""
    for a, b in ((src, tgt), (tgt, src)):
        s = archive.find(pattern.format(a=a, b=b, lang=src))
        t = archive.find(pattern.format(a=a, b=b, lang=tgt))
        if s and t:
            return s, t
    return None


def read_train(archive: Archive, src: str, tgt: str) -> tuple[list[str], list[str]]:
    names = _pair_files(archive, "train.tags.{a}-{b}.{lang}", src, tgt)
    if names is None:
        raise ValueError(f"{archive.path}: no train.tags.{src}-{tgt}.* files")
    return _aligned(strip_tag_lines(archive.read_text(names[0])),
                    strip_tag_lines(archive.read_text(names[1])), f"train {src}-{tgt}")


def read_dev(archive: Archive, src: str, tgt: str, sets: list[str]) -> tuple[list[str], list[str]]:
    for name in sets:
        names = _pair_files(archive, "IWSLT17.TED." + name + ".{a}-{b}.{lang}.xml", src, tgt)
        if names:
            if name != sets[0]:
                log.warning("%s-%s: %s not in %s; using %s as dev", src, tgt, sets[0], archive.path, name)
            return _aligned(read_segs(archive.read_text(names[0])), read_segs(archive.read_text(names[1])),
                            f"{name} {src}-{tgt}")
    raise ValueError(f"{archive.path}: none of the dev sets {sets} for {src}-{tgt}")


def read_test2017(src_archive: Archive, ref_archive: Archive, src: str, tgt: str):
    """tst2017 source from the s-t archive, reference from the t-s archive's source side."""
    s = src_archive.find(f"IWSLT17.TED.tst2017.mltlng.{src}-{tgt}.{src}.xml")
    t = ref_archive.find(f"IWSLT17.TED.tst2017.mltlng.{tgt}-{src}.{tgt}.xml")
    if not (s and t):
        return None
    return _aligned(read_segs(src_archive.read_text(s)), read_segs(ref_archive.read_text(t)), f"tst2017 {src}-{tgt}")


def read_test(train: Archive, tests: dict[tuple[str, str], Archive], src: str, tgt: str, sets: list[str]):
    for name in sets:
        if name == "tst2017":
            if (src, tgt) in tests and (tgt, src) in tests:
                got = read_test2017(tests[(src, tgt)], tests[(tgt, src)], src, tgt)
                if got:
                    return got
            continue
        names = _pair_files(train, "IWSLT17.TED." + name + ".{a}-{b}.{lang}.xml", src, tgt)
        if names:
            log.warning("%s-%s: tst2017 not found; using %s as test", src, tgt, name)
            return _aligned(read_segs(train.read_text(names[0])), read_segs(train.read_text(names[1])),
                            f"{name} {src}-{tgt}")
    raise ValueError(f"no test set among {sets} for {src}-{tgt}")
