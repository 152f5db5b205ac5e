"""Your own corpus: a folder of UTF-8 plain-text files, one sentence a line, aligned by line.

Two layouts (each file may be gzipped, ``NAME.gz``):

- ``pairwise``: ``{split}.{a}-{b}.{lang}``, the two sides of each pair of languages, e.g.
  ``train.fr-en.fr`` and ``train.fr-en.en``; one pair's files serve both directions (fr-en, en-fr);
- ``multiway``: ``{split}.{lang}``, line i of every language's file the same sentence (as the Bible
  and TED test sets are), so any two languages make a pair.

Training files are required; dev and test files are optional, all of a split or none: where absent,
``dev_size`` and ``test_size`` lines are held out of the training files with ``seed``, the same
lines for every language of a multi-way corpus and for both directions of a pair, so that no test
sentence reaches any pair's training data. Empty lines are dropped from training (counted) and
refused in dev and test; training examples whose source sentence is also a test source are
counted, and removed with ``remove_test_overlap``. Every error names the file (and line).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ..fileio import DataError
from ..languages import Pair, languages_of

SPLITS = ("train", "dev", "test")


class CorpusFilesError(DataError):
    """A corpus file that is missing, misaligned, not UTF-8 or holds empty dev/test lines."""


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _unit(pair: Pair, folder: Path, layout: str) -> str | None:
    """The file-name part that holds ``pair``'s files: ``a-b`` as found on disk (either order), or
    None for a multi-way corpus."""
    if layout == "multiway":
        return None
    for name in (pair.name, pair.reverse.name):
        if _find(folder, f"train.{name}.{pair.src}") or _find(folder, f"train.{name}.{pair.tgt}"):
            return name
    return pair.name


def _name(split: str, unit: str | None, lang: str) -> str:
    return f"{split}.{lang}" if unit is None else f"{split}.{unit}.{lang}"


def units_of(opts: dict, pairs: list[str]) -> dict[str | None, list[str]]:
    """Unit (``a-b`` as named on disk, or None for a multi-way corpus) -> its languages."""
    folder = Path(opts["dir"])
    if opts["layout"] == "multiway":
        return {None: languages_of(pairs)}
    units: dict[str | None, list[str]] = {}
    for p in map(Pair.parse, pairs):
        units[_unit(p, folder, opts["layout"])] = sorted({p.src, p.tgt})
    return units


def locate(opts: dict, pairs: list[str]) -> dict[tuple[str, str | None, str], Path | None]:
    """(split, unit, language) -> the file (None: a dev or test split to hold out of train). Raises
    ``CorpusFilesError`` naming every missing training file, and dev/test files given for one
    language or side only."""
    folder = Path(opts["dir"])
    if not folder.is_dir():
        raise CorpusFilesError(f"corpus.files.dir: {folder} is not a folder")
    units = units_of(opts, pairs)
    found, missing, partial = {}, [], []
    for unit, langs in units.items():
        for split in SPLITS:
            paths = {lang: _find(folder, _name(split, unit, lang)) for lang in langs}
            if split == "train":
                missing += [str(folder / _name(split, unit, lang)) for lang, path in paths.items() if path is None]
            elif any(paths.values()) and not all(paths.values()):
                partial += [str(folder / _name(split, unit, lang)) for lang, path in paths.items() if path is None]
            found.update({(split, unit, lang): path for lang, path in paths.items()})
    if missing or partial:
        lines = [f"  missing training file {m} (or {Path(m).name}.gz)" for m in missing]
        lines += [f"  missing {p}: a dev or test split is given for every language of its pair or for none" for p in partial]
        raise CorpusFilesError(f"corpus.files ({opts['layout']} layout, {folder}):\n" + "\n".join(lines))
    return found


def read_text(path: Path) -> list[str]:
    """The lines of a UTF-8 file (gzipped or not), without their ``\\n``; invalid UTF-8 names the
    line."""
    raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for i, line in enumerate(lines, 1):
        try:
            out.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            raise CorpusFilesError(f"{path}, line {i}: not UTF-8 ({e.reason} at byte {e.start})") from None
    return out


def _aligned(texts: dict[str, list[str]], paths: dict[str, Path]) -> int:
    counts = {lang: len(lines) for lang, lines in texts.items()}
    if len(set(counts.values())) > 1:
        (a, na), (b, nb) = sorted(counts.items(), key=lambda kv: kv[1])[:: len(counts) - 1][:2]
        raise CorpusFilesError(f"misaligned corpus: {paths[a]} has {na} lines, {paths[b]} has {nb}")
    return next(iter(counts.values()))


def _no_empty_lines(texts: dict[str, list[str]], paths: dict[str, Path]) -> None:
    for lang, lines in texts.items():
        empty = [i + 1 for i, line in enumerate(lines) if not line.strip()]
        if empty:
            raise CorpusFilesError(f"{paths[lang]}: empty line{'s' if len(empty) > 1 else ''} "
                                   f"{', '.join(map(str, empty[:5]))}{' ...' if len(empty) > 5 else ''} "
                                   f"({len(empty)} in all); dev and test sentences must not be empty")


def _read_unit(opts: dict, unit: str | None, langs: list[str], files: dict) -> dict[str, dict[str, list[str]]]:
    """split -> language -> lines of one unit (a pair's files, or the multi-way corpus), with dev and
    test held out of train where no file gives them."""
    texts, paths = {}, {}
    for split in SPLITS:
        given = {lang: files[(split, unit, lang)] for lang in langs}
        if all(given.values()):
            paths[split] = given
            texts[split] = {lang: read_text(path) for lang, path in given.items()}
            _aligned(texts[split], given)
    n = _aligned(texts["train"], paths["train"])
    held = [s for s in ("dev", "test") if s not in texts]
    if held:
        sizes = {f"{split}_size": opts[f"{split}_size"] for split in held}
        if sum(sizes.values()) >= n:
            raise CorpusFilesError(f"holding out {sizes} lines for dev/test leaves no training line of the {n} in "
                                   f"{next(iter(paths['train'].values()))}: lower corpus.files.dev_size/test_size")
        order = np.random.default_rng(opts["seed"]).permutation(n)
        start, rest = 0, set(range(n))
        for split in held:
            chosen = np.sort(order[start:start + opts[f"{split}_size"]])
            start += len(chosen)
            texts[split] = {lang: [lines[i] for i in chosen] for lang, lines in texts["train"].items()}
            rest -= set(chosen.tolist())
        keep = sorted(rest)
        texts["train"] = {lang: [lines[i] for i in keep] for lang, lines in texts["train"].items()}
    for split in ("dev", "test"):
        if split in paths:
            _no_empty_lines(texts[split], paths[split])
        else:
            _no_empty_lines(texts[split], {lang: f"{paths['train'][lang]} (lines held out for {split})" for lang in langs})
    return texts


def read_files_corpus(opts: dict, pairs: list[str]) -> tuple[dict, dict]:
    """({(pair, split): (src_lines, tgt_lines)}, the manifest's report: per pair, the empty training
    lines dropped and the training examples whose source is also a test source)."""
    files = locate(opts, pairs)
    folder = Path(opts["dir"])
    by_unit = {unit: _read_unit(opts, unit, langs, files) for unit, langs in units_of(opts, pairs).items()}
    data, empty, overlap = {}, {}, {}
    for p in map(Pair.parse, pairs):
        texts = by_unit[_unit(p, folder, opts["layout"])]
        for split in SPLITS:
            src, tgt = texts[split][p.src], texts[split][p.tgt]
            if split == "train":
                keep = [i for i, (s, t) in enumerate(zip(src, tgt)) if s.strip() and t.strip()]
                empty[p.name] = len(src) - len(keep)
                test_sources = set(texts["test"][p.src])
                shared = [i for i in keep if src[i] in test_sources]
                overlap[p.name] = len(shared)
                if opts["remove_test_overlap"]:
                    keep = [i for i in keep if src[i] not in test_sources]
                src, tgt = [src[i] for i in keep], [tgt[i] for i in keep]
            data[(p.name, split)] = (src, tgt)
    report = {"files": {f"{s}.{u}.{l}" if u else f"{s}.{l}": str(path) for (s, u, l), path in files.items() if path},
              "empty_training_lines_dropped": empty, "training_sources_also_in_test": overlap,
              "test_overlap_removed": bool(opts["remove_test_overlap"])}
    return data, report


def file_digests(opts: dict, pairs: list[str], cache: str | Path | None = None) -> dict[str, str]:
    """File name -> sha256 of every file the corpus reads: what the prepare_corpus job's outputs
    depend on (a file that changes reruns it, one only touched does not)."""
    from ..fileio import cached_sha256

    return {path.name: cached_sha256(path, cache) for path in sorted({p for p in locate(opts, pairs).values() if p})}
