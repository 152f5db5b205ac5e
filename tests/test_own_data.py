"""Your own data (`corpus.name: files`): the two layouts, held-out dev and test, every bad input
stopped before training with the file (and line) named, digests deciding reruns, a four-language
corpus with Chinese through the whole workflow, and `neuralloc translate` against the workflow's
own translations."""

import copy
import gzip
import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, changed, run_snakemake
from make_fixtures import make_own_corpus

from neuralloc import layout, settings
from neuralloc.config import ConfigError, validate
from neuralloc.corpora.files import CorpusFilesError, read_files_corpus
from neuralloc.fileio import read_lines

OPTS = {"layout": "multiway", "dev_size": 20, "test_size": 20, "seed": 1, "remove_test_overlap": False}


def opts(folder, **kw):
    return {**OPTS, "dir": str(folder), **kw}


def test_multiway_files_give_every_pair_and_the_dev_and_test_given(tmp_path):
    make_own_corpus(tmp_path, n_train=50, n_dev=7, n_test=9)
    data, report = read_files_corpus(opts(tmp_path), ["en-zh", "de-en"])
    assert len(data[("en-zh", "dev")][0]) == 7 and len(data[("de-en", "test")][1]) == 9
    en, zh = read_lines(tmp_path / "train.en"), read_lines(tmp_path / "train.zh")
    src, tgt = data[("en-zh", "train")]
    assert all(zh[en.index(s)] == t for s, t in zip(src, tgt))  # line i of every language is one sentence
    assert report["empty_training_lines_dropped"] == {"en-zh": 0, "de-en": 0}


def test_dev_and_test_held_out_globally_never_reach_training(tmp_path):
    """No dev or test files: the same lines held out of every language's training file, so no test
    sentence of one pair reaches another pair's training data."""
    make_own_corpus(tmp_path, n_train=120, n_dev=1, n_test=1)
    for split in ("dev", "test"):
        for lang in ("en", "de", "it", "zh"):
            (tmp_path / f"{split}.{lang}").unlink()
    original = {lang: read_lines(tmp_path / f"train.{lang}") for lang in ("en", "zh")}
    data, _ = read_files_corpus(opts(tmp_path), ["en-zh", "de-it", "it-en"])
    for pair in ("en-zh", "de-it", "it-en"):
        assert [len(data[(pair, s)][0]) for s in ("train", "dev", "test")] == [80, 20, 20]
    # the same lines held out of every language: it-en's test English is en-zh's test English
    assert data[("en-zh", "test")][0] == data[("it-en", "test")][1]
    # every line once, in exactly one split, its languages still aligned
    pairs = [p for s in ("train", "dev", "test") for p in zip(*data[("en-zh", s)])]
    assert sorted(pairs) == sorted(zip(original["en"], original["zh"]))


def test_pairwise_files_serve_both_directions_and_may_be_gzipped(tmp_path):
    make_own_corpus(tmp_path, langs=("en", "de"), n_train=30, n_dev=5, n_test=5, layout="pairwise")
    raw = (tmp_path / "train.de-en.de").read_bytes()
    (tmp_path / "train.de-en.de").unlink()
    with gzip.open(tmp_path / "train.de-en.de.gz", "wb") as f:
        f.write(raw)
    data, _ = read_files_corpus(opts(tmp_path, layout="pairwise"), ["de-en", "en-de"])
    assert data[("de-en", "train")] == data[("en-de", "train")][::-1]
    assert len(data[("en-de", "train")][0]) == 30


@pytest.mark.parametrize("case,message", [
    ("missing", r"missing training file .*train\.it"),
    ("misaligned", r"misaligned corpus: .*train\.\w+ has 49 lines, .*train\.\w+ has 50"),
    ("utf8", r"train\.de, line 3: not UTF-8"),
    ("empty dev", r"dev\.zh: empty line 2 .*must not be empty"),
    ("half dev", r"missing .*dev\.it: a dev or test split is given for every language"),
])
def test_bad_files_are_named(tmp_path, case, message):
    make_own_corpus(tmp_path, n_train=50, n_dev=5, n_test=5)
    if case == "missing":
        (tmp_path / "train.it").unlink()
    elif case == "misaligned":
        lines = read_lines(tmp_path / "train.de")
        (tmp_path / "train.de").write_text("".join(l + "\n" for l in lines[:-1]), encoding="utf-8")
    elif case == "utf8":
        data = (tmp_path / "train.de").read_bytes().split(b"\n")
        data[2] = b"Der Mann \xff sah"
        (tmp_path / "train.de").write_bytes(b"\n".join(data))
    elif case == "empty dev":
        lines = read_lines(tmp_path / "dev.zh")
        lines[1] = ""
        (tmp_path / "dev.zh").write_text("".join(l + "\n" for l in lines), encoding="utf-8")
    else:
        (tmp_path / "dev.it").unlink()
    with pytest.raises(CorpusFilesError, match=message):
        read_files_corpus(opts(tmp_path), ["en-zh", "de-en", "it-en"])


def test_empty_training_lines_are_dropped_and_test_overlap_counted_or_removed(tmp_path):
    make_own_corpus(tmp_path, n_train=60, n_dev=5, n_test=5)
    for lang in ("en", "zh"):
        lines = read_lines(tmp_path / f"train.{lang}")
        lines[4] = "" if lang == "zh" else lines[4]  # one side empty: the example goes
        lines[10] = read_lines(tmp_path / f"test.{lang}")[0]  # a test sentence in training
        (tmp_path / f"train.{lang}").write_text("".join(l + "\n" for l in lines), encoding="utf-8")
    data, report = read_files_corpus(opts(tmp_path), ["en-zh"])
    assert report["empty_training_lines_dropped"] == {"en-zh": 1}
    assert report["training_sources_also_in_test"]["en-zh"] >= 1
    assert len(data[("en-zh", "train")][0]) == 59
    kept, _ = read_files_corpus(opts(tmp_path, remove_test_overlap=True), ["en-zh"])
    test_sources = set(kept[("en-zh", "test")][0])
    assert not test_sources & set(kept[("en-zh", "train")][0])


def own_config(folder, **changes) -> dict:
    return changed({"experiment": "own", "pairs": ["en-zh", "zh-en", "de-en", "en-it"],
                    "corpus": {"name": "files", "files": {"dir": str(folder), "layout": "multiway"}}}, changes)


def test_a_missing_file_stops_the_config_and_any_language_code_is_allowed(tmp_path):
    make_own_corpus(tmp_path / "c", n_train=30)
    for split in ("train", "dev", "test"):  # isiXhosa (here German text): any 2-3 letter code
        (tmp_path / f"c/{split}.xh").write_bytes((tmp_path / f"c/{split}.de").read_bytes())
    validate(own_config(tmp_path / "c", pairs=["xh-en", "en-zh"]))
    (tmp_path / "c/train.de").unlink()
    with pytest.raises(ConfigError, match=r"missing training file .*train\.de"):
        validate(own_config(tmp_path / "c"))
    with pytest.raises(ConfigError, match="corpus.files.dir: not set"):
        validate({**own_config(tmp_path / "c"), "corpus": {"name": "files"}})


def test_a_changed_file_reruns_the_corpus_job_and_a_touched_one_does_not(tmp_path):
    make_own_corpus(tmp_path / "c", n_train=30)
    cfg = validate({**own_config(tmp_path / "c"), "results_dir": str(tmp_path / "results")})
    before = settings.prepare_corpus(cfg)
    path = tmp_path / "c/train.de"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: same bytes
    assert settings.prepare_corpus(cfg) == before
    path.write_text(path.read_text(encoding="utf-8").replace("Mann", "Herr"), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # changed, with its old time stamp
    assert settings.prepare_corpus(cfg) != before
    moved = copy.deepcopy(cfg)
    (tmp_path / "c").rename(tmp_path / "elsewhere")
    moved["corpus"]["files"]["dir"] = str(tmp_path / "elsewhere")
    after = settings.prepare_corpus(cfg | {"corpus": moved["corpus"]})
    assert after["files"] == settings.prepare_corpus(moved)["files"]  # where the files lie is no result


@pytest.mark.slow
def test_own_four_language_corpus_with_chinese_through_the_workflow_and_the_translate_command(tmp_path):
    corpus = make_own_corpus(tmp_path / "corpus", n_train=300, n_dev=20, n_test=20)
    tests = yaml.safe_load((REPO / "configs/tests.yaml").read_text())
    cfg = own_config(corpus, systems=["multilingual", "method-te"], model=tests["model"], train=tests["train"],
                     finetune=tests["finetune"], bpe=tests["bpe"], decode=tests["decode"],
                     sweeps={"rho": [], "k": [], "variants": [], "follow": [], "importance": ["te"]},
                     erasure={"enabled": False})
    cfg["train"]["max_updates"] = 20
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "run").mkdir()
    run_snakemake(tmp_path / "run", tmp_path / "own.yaml")
    exp = tmp_path / "run/results/own"
    scores = (exp / "seed1/scores/multilingual.test.csv").read_text()
    zh_row = next(line for line in scores.splitlines() if ",en-zh," in line)
    assert "tok:zh" in zh_row and "tok:13a" in next(line for line in scores.splitlines() if ",zh-en," in line)
    manifest = json.loads((exp / "raw/manifest.json").read_text())
    assert manifest["corpus"] == "files" and "training_sources_also_in_test" in manifest
    method = next(p.name for p in (exp / "seed1/translations").iterdir() if p.name.startswith("method-te"))
    for system in ("multilingual", method):
        for pair in ("en-zh", "de-en"):
            source = exp / f"raw/test.{pair}.src"
            proc = subprocess.run([sys.executable, "-m", "neuralloc.cli", "translate", "--experiment", str(exp),
                                   "--system", system, "--pair", pair, str(source)],
                                  capture_output=True, text=True, cwd=tmp_path / "run", env={**os.environ, "PYTHONPATH": str(REPO)})
            assert proc.returncode == 0, proc.stderr[-2000:]
            workflow = read_lines(layout.translations(str(exp / "seed1"), system, "test", pair))
            assert proc.stdout.splitlines() == workflow, (system, pair)
    bad = subprocess.run([sys.executable, "-m", "neuralloc.cli", "translate", "--experiment", str(exp), "--system",
                          "ts", "--pair", "en-zh"], input="x\n", capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert bad.returncode != 0 and "system 'ts' is not one of the systems" in bad.stderr and "multilingual" in bad.stderr


def test_bad_input_stops_the_workflow_before_any_job(tmp_path):
    make_own_corpus(tmp_path / "corpus", n_train=30)
    (tmp_path / "corpus/train.it").unlink()
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(own_config(tmp_path / "corpus")))
    (tmp_path / "run").mkdir()
    proc = run_snakemake(tmp_path / "run", tmp_path / "own.yaml", "-n", check=False)
    assert proc.returncode != 0 and "train.it" in proc.stdout + proc.stderr


def test_the_run_summary_reports_dropped_lines_and_test_overlap(tmp_path):
    from neuralloc.summary import summary

    exp = tmp_path / "results/own"
    (exp / "raw").mkdir(parents=True)
    (exp / "raw/manifest.json").write_text(json.dumps({
        "corpus": "files", "empty_training_lines_dropped": {"en-zh": 2, "de-en": 0},
        "training_sources_also_in_test": {"en-zh": 5, "de-en": 1}, "test_overlap_removed": False}))
    text = summary(str(exp), str(exp / "seed1"), ["multilingual"], ["en-zh", "de-en"], "test")
    assert "empty training lines dropped: en-zh 2" in text and "de-en 0" not in text
    assert "also a test source, kept (corpus.files.remove_test_overlap drops them): en-zh 5, de-en 1" in text
