import csv
import io
import json
import re
import shutil
import sys

import pytest
import torch
from toy import interrupt_after, make_toy_experiment

from neuralloc.checkpoint import CheckpointError, average_checkpoints, load_checkpoint, load_model, save_checkpoint
from neuralloc.data import ParallelData, bucket_of, epoch_batches, inference_batches, pair_weights
from neuralloc.fileio import read_lines
from neuralloc.loss import label_smoothed_loss
from neuralloc.model import ModelConfig
from neuralloc.scoring import corpus_scores
from neuralloc import train
from neuralloc.train import Interrupted, TrainConfig, experiment_trainer, inverse_sqrt_lr
from neuralloc.translate import translate_data
from neuralloc.vocab import Vocabulary


def small_model(**kw):
    base = dict(vocab_size=0, d_model=32, ffn_dim=64, heads=4, encoder_layers=1, decoder_layers=1, dropout=0.1, max_positions=32)
    base.update(kw)
    return ModelConfig(**base)


def test_inverse_sqrt_schedule_by_hand():
    assert inverse_sqrt_lr(1, 1e-3, 4) == pytest.approx(2.5e-4)
    assert inverse_sqrt_lr(4, 1e-3, 4) == pytest.approx(1e-3)
    assert inverse_sqrt_lr(16, 1e-3, 4) == pytest.approx(5e-4)


def test_label_smoothed_loss_by_hand():
    logits = torch.tensor([[[2.0, 0.0, 1.0, -1.0]], [[0.0, 0.0, 0.0, 0.0]]])
    target = torch.tensor([[2], [0]])  # the second position is padding (id 0)
    loss, nll = label_smoothed_loss(logits, target, eps=0.1, pad=0), label_smoothed_loss(logits, target, eps=0.0, pad=0)
    logp = torch.log_softmax(logits[0, 0], -1)
    assert float(nll) == pytest.approx(-float(logp[2]), abs=1e-6)
    assert float(loss) == pytest.approx(-(0.9 * float(logp[2]) + 0.1 * float(logp.mean())), abs=1e-6)


def _graph_nodes(tensor) -> list[str]:
    seen, stack, names = set(), [tensor.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.append(type(node).__name__)
        stack.extend(n for n, _ in node.next_functions)
    return names


def test_the_training_loss_takes_one_log_softmax_of_bf16_logits_in_fp32():
    """One log-softmax in the graph (not a second cross-entropy whose graph lives on through
    backward), computed in fp32 from bf16 logits."""
    logits = torch.randn(2, 5, 11, dtype=torch.bfloat16, requires_grad=True)
    target = torch.randint(1, 11, (2, 5))
    loss = label_smoothed_loss(logits, target, eps=0.1, pad=0)
    nodes = _graph_nodes(loss)
    assert sum("LogSoftmax" in n for n in nodes) == 1, nodes
    assert loss.dtype == torch.float32
    reference = torch.nn.functional.cross_entropy(logits.float().reshape(-1, 11), target.reshape(-1), ignore_index=0,
                                                  reduction="sum", label_smoothing=0.1)
    assert float(loss) == pytest.approx(float(reference), rel=1e-6)


def test_epoch_batches_cover_every_example_once_in_few_shapes(tmp_path):
    root = make_toy_experiment(tmp_path, pairs=("en-it", "it-en"), n_train=300)
    vocab = Vocabulary.load(root / "data/dict.txt")
    data = ParallelData.from_experiment(root, "train", ["en-it", "it-en"], vocab, 32)
    batches = epoch_batches(data, max_tokens=200, seed=1, epoch=0)
    items = [it for b in batches for it in b]
    assert sorted(items) == sorted((p, i) for p in range(2) for i in range(300))
    assert any(len({p for p, _ in b}) == 2 for b in batches)  # pairs mixed within batches
    shapes = {(len(b), max(bucket_of(int(data.sizes(p)[i])) for p, i in b)) for b in batches}
    assert len(shapes) <= 2 * len({s for _, s in shapes})  # a full and a last partial batch per bucket
    assert batches == epoch_batches(data, 200, seed=1, epoch=0)
    assert batches != epoch_batches(data, 200, seed=1, epoch=1)
    single = epoch_batches(data, 200, seed=1, epoch=0, mixed=False)
    assert all(len({p for p, _ in b}) == 1 for b in single)
    assert sorted(it for b in single for it in b) == sorted(items)
    # pairs take turns, so micro-batches accumulated two at a time cover both pairs
    turns = [b[0][0] for b in single]
    n = min(turns.count(0), turns.count(1))
    assert all({turns[2 * i], turns[2 * i + 1]} == {0, 1} for i in range(n))


def test_inference_batches_take_the_first_sentences_once_longest_first(tmp_path):
    root = make_toy_experiment(tmp_path, pairs=("en-it",), n_train=5)
    vocab = Vocabulary.load(root / "data/dict.txt")
    data = ParallelData.from_experiment(root, "test", ["en-it"], vocab, 32, with_target=False)
    n = len(data.src[0])
    lengths = [len(s) for s in data.src[0]]
    for limit in (None, 7, n + 10):
        batches = inference_batches(data, 0, max_tokens=60, limit=limit)
        items = [i for b in batches for _, i in b]
        assert sorted(items) == list(range(min(limit or n, n)))
        assert all(max(lengths[i] for _, i in b) * len(b) <= 60 or len(b) == 1 for b in batches)
        assert [lengths[i] for i in items] == sorted((lengths[i] for i in items), reverse=True)


def test_examples_are_cut_from_the_memory_maps_when_a_batch_asks(tmp_path):
    """The data keeps the encoded arrays mapped, not a copy of each sentence (132 pairs would be
    gigabytes per process): what it holds after loading is a small share of the arrays; an
    example is ``<2tgt> x[:max_positions - 2] </s>`` and ``y[:max_positions - 1]``, long sentences cut."""
    import tracemalloc

    import numpy as np

    from neuralloc.binarized import write_indexed

    vocab = Vocabulary.build(["a b c d e f g h"], ["it"])
    rng = np.random.default_rng(0)
    sides = {side: [rng.integers(vocab.eos + 3, len(vocab), rng.integers(1, 40)).tolist() for _ in range(3000)]
             for side in ("src", "tgt")}
    for side, sentences in sides.items():
        write_indexed(tmp_path / f"en-it.{side}.tokens.npy", sentences)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    data = ParallelData(["en-it"], [tmp_path / "en-it.src.tokens.npy"], [tmp_path / "en-it.tgt.tokens.npy"], vocab, 10)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    tokens = sum(len(x) for x in sides["src"] + sides["tgt"]) * 4
    assert held < tokens / 4, (held, tokens)  # lengths only: 3 x 8 bytes a sentence
    src = [[vocab.tag("it")] + x[:8] + [vocab.eos] for x in sides["src"]]
    tgt = [y[:9] for y in sides["tgt"]]
    assert [x.tolist() for x in data.src[0]] == src and [y.tolist() for y in data.tgt[0]] == tgt
    assert data.sizes(0).tolist() == [max(len(x), len(y) + 1) for x, y in zip(src, tgt)]
    items = [(0, i) for i in (5, 0, 2999, 17)]
    b = data.collate(items, 12)
    assert b.src.shape == b.target.shape == (4, 12) and b.src.dtype == b.target.dtype == torch.long
    for r, (_, i) in enumerate(items):
        assert b.src[r].tolist() == src[i] + [vocab.pad] * (12 - len(src[i]))
        assert b.prev[r].tolist() == [vocab.bos] + tgt[i] + [vocab.pad] * (11 - len(tgt[i]))
        assert b.target[r].tolist() == tgt[i] + [vocab.eos] + [vocab.pad] * (11 - len(tgt[i]))
    assert data.target_tokens(items) == sum(len(tgt[i]) + 1 for _, i in items)


def test_temperature_sampling_flattens_pair_shares():
    w = pair_weights([900, 100], "temperature", 5.0)
    assert w[1] == pytest.approx(0.1 ** 0.2 / (0.9 ** 0.2 + 0.1 ** 0.2))
    assert pair_weights([900, 100], "proportional", 1.0).tolist() == [0.9, 0.1]


def test_batch_layout(tmp_path):
    root = make_toy_experiment(tmp_path, pairs=("en-it",), n_train=5)
    vocab = Vocabulary.load(root / "data/dict.txt")
    data = ParallelData.from_experiment(root, "train", ["en-it"], vocab, 32)
    b = data.collate([(0, 0)])
    src_words = read_lines(root / "raw/train.en-it.src")[0].split()
    assert b.src[0].tolist() == [vocab.tag("it")] + vocab.encode(" ".join(src_words)) + [vocab.eos]
    assert b.prev[0, 0] == vocab.bos and b.prev[0, 1:].tolist() == b.target[0, :-1].tolist()
    assert b.target[0, -1] == vocab.eos


@pytest.mark.slow
def test_tiny_model_learns_a_copy_task(tmp_path):
    root = make_toy_experiment(tmp_path / "toy", pairs=("en-it", "it-en"), n_train=1500, reverse_pairs=("it-en",))
    cfg = TrainConfig(max_tokens=600, lr=3e-3, warmup_updates=100, max_updates=700, log_interval=100,
                      validate_interval=10_000, valid_bleu_sentences=0, seed=1)
    trainer = experiment_trainer(root, small_model(d_model=64, ffn_dim=128, encoder_layers=2, decoder_layers=2, dropout=0.0),
                          cfg, ["en-it", "it-en"], tmp_path / "model")
    trainer.train()
    model, _ = load_model(tmp_path / "model/checkpoint_best.pt")
    vocab = Vocabulary.load(root / "data/dict.txt")
    test = ParallelData.from_experiment(root, "test", ["en-it", "it-en"], vocab, 32)
    for p, pair in enumerate(["en-it", "it-en"]):  # en-it copies, it-en reverses: the tag decides
        hyps = translate_data(model, test, p, vocab, "cpu", beam=4)
        refs = read_lines(root / f"raw/test.{pair}.tgt")
        assert corpus_scores(hyps, refs)["bleu"] > 90, pair


def _rows(path, kind):
    with open(path) as f:
        return [(r["update"], r["pair"], r["loss"], r["bleu"]) for r in csv.DictReader(f) if r["kind"] == kind]


RESUME_CFG = dict(max_tokens=200, lr=1e-3, warmup_updates=10, log_interval=2, validate_interval=5,
                  valid_bleu_sentences=5, best_by="bleu", seed=3)


def _interrupted(root, out, stop_at, max_updates=30, **kw):
    """A run asked to stop after ``stop_at`` updates; Snakemake then deletes the declared outputs."""
    t = experiment_trainer(root, small_model(), TrainConfig(max_updates=max_updates, **RESUME_CFG), ["en-it", "it-en"], out, **kw)
    interrupt_after(t, stop_at)
    with pytest.raises(Interrupted, match=f"stopped at update {stop_at}"):
        t.train()
    for name in ("checkpoint_best.pt", "model.json", "train_log.csv"):
        (out / name).unlink(missing_ok=True)


BEST_AT = 10  # the validation every run of these tests takes as its best


def _best_at(mp: pytest.MonkeyPatch, update: int) -> None:
    """Script the selection metric so that the validation at ``update`` is the best of a run: what
    a resume must keep is then known, whichever way a toy model's dev BLEU moves on this machine."""
    real = train.Trainer._validate_and_save_main

    def scripted(self, wall):
        with pytest.MonkeyPatch.context() as inner:
            inner.setattr(train, "selection_metric", lambda results, best_by: 0.0 if self.update == update else 1.0)
            real(self, wall)

    mp.setattr(train.Trainer, "_validate_and_save_main", scripted)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """A toy experiment and an uninterrupted 30-update run on it (best at update ``BEST_AT``)."""
    tmp = tmp_path_factory.mktemp("resume")
    root = make_toy_experiment(tmp / "toy", pairs=("en-it", "it-en"), n_train=200)
    with pytest.MonkeyPatch.context() as mp:
        _best_at(mp, BEST_AT)
        experiment_trainer(root, small_model(), TrainConfig(max_updates=30, **RESUME_CFG), ["en-it", "it-en"],
                           tmp / "straight").train()
    return root, tmp / "straight"


@pytest.mark.slow
@pytest.mark.parametrize("stop_at", [13, 15])  # between validations, and right after one
def test_an_interrupted_run_resumes_to_the_same_model_and_best(straight, tmp_path, stop_at, monkeypatch):
    root, done = straight
    _best_at(monkeypatch, BEST_AT)
    _interrupted(root, tmp_path / "m", stop_at)
    experiment_trainer(root, small_model(), TrainConfig(max_updates=30, **RESUME_CFG), ["en-it", "it-en"], tmp_path / "m").train()
    a, b = load_checkpoint(done / "checkpoint_best.pt"), load_checkpoint(tmp_path / "m/checkpoint_best.pt")
    assert a["update"] == BEST_AT < stop_at  # the best was found before the interruption, and must survive it
    assert a["update"] == b["update"] and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    for kind in ("train", "valid"):  # every row once, the same values
        assert _rows(tmp_path / "m/train_log.csv", kind) == _rows(done / "train_log.csv", kind)
    assert not (tmp_path / "m/resume").exists() and "optimizer" not in b


@pytest.mark.slow
def test_a_finished_run_is_never_resumed(straight, tmp_path, caplog):
    """A rerun of a finished job (forced, or after a change upstream) trains from scratch."""
    root, done = straight
    shutil.copytree(done, tmp_path / "m")
    experiment_trainer(root, small_model(), TrainConfig(max_updates=30, **RESUME_CFG), ["en-it", "it-en"], tmp_path / "m").train()
    assert "resumed" not in caplog.text
    assert _rows(tmp_path / "m/train_log.csv", "valid") == _rows(done / "train_log.csv", "valid")  # no duplicates


@pytest.mark.slow
def test_a_state_past_the_new_max_updates_is_not_resumed(straight, tmp_path, caplog):
    root, _ = straight
    _interrupted(root, tmp_path / "m", 13)
    experiment_trainer(root, small_model(), TrainConfig(max_updates=10, **RESUME_CFG), ["en-it", "it-en"], tmp_path / "m").train()
    assert "past max_updates 10" in caplog.text
    experiment_trainer(root, small_model(), TrainConfig(max_updates=10, **RESUME_CFG), ["en-it", "it-en"], tmp_path / "ten").train()
    a, b = (load_checkpoint(tmp_path / d / "checkpoint_best.pt") for d in ("m", "ten"))
    assert a["update"] <= 10 and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


@pytest.mark.slow
def test_a_state_of_another_configuration_or_start_is_not_resumed(straight, tmp_path, caplog):
    root, _ = straight
    _interrupted(root, tmp_path / "m", 13, provenance={"init_model_digest": "aaa"})
    t = experiment_trainer(root, small_model(), TrainConfig(max_updates=30, **RESUME_CFG), ["en-it", "it-en"], tmp_path / "m",
                           provenance={"init_model_digest": "bbb"})
    t.start()
    assert t.update == 0 and "another configuration or other starting files" in caplog.text
    assert (tmp_path / "m/resume.stale/last.pt").exists()
    _interrupted(root, tmp_path / "n", 13)
    t = experiment_trainer(root, small_model(d_model=16), TrainConfig(max_updates=30, **RESUME_CFG), ["en-it", "it-en"],
                           tmp_path / "n")
    t.start()
    assert t.update == 0


def _state(update=13, epoch=0, batch=13, validated=(5, 10), best=0.5, threads=2, **train):
    """A resume state as a 30-update run validating every 5 updates leaves it (no weights)."""
    train = {"max_updates": 30, "max_epochs": None, "validate_interval": 5, "best_by": "loss",
             "valid_bleu_sentences": 5, "log_interval": 2, "keep_last": 0, **train}
    rows = [{"kind": "valid", "update": str(u), "pair": p} for u in validated for p in ("en-it", "it-en")]
    return {"model": {}, "model_config": {}, "update": update, "epoch": epoch, "batch_in_epoch": batch,
            "best": best if validated else None, "validated_at": validated[-1] if validated else None,
            "metric": best, "fingerprint": "f", "train_config": train, "log_rows": rows, "cpu_threads": threads}


def _resumable(tmp_path, state, run_threads=2, **train) -> tuple[dict | None, str]:
    """What resumable_state makes of ``state`` for a run whose settings differ by ``train``."""
    from neuralloc.resume import RunFiles, resumable_state, save_state

    files = RunFiles(tmp_path / "m/checkpoint_best.pt", tmp_path / "m/model.json", tmp_path / "m/train_log.csv")
    save_state(state, files, best=state["best"] is not None, keep_last=0, numbered=False)
    return resumable_state(files, "f", {**state["train_config"], **train}, run_threads), files


# case -> (state, the run's changed settings, why the state is set aside; None: resumed)
RESUME_CASES = {
    "longer run": (_state(), {"max_updates": 50}, None),
    "max_updates below the state": (_state(), {"max_updates": 10}, "at update 13, past max_updates 10"),
    "max_updates at the state": (_state(), {"max_updates": 13}, None),
    "max_epochs below the state": (_state(update=28, epoch=4, batch=3), {"max_epochs": 1},
                                   "in epoch 5, past max_epochs 1"),
    "max_epochs at the state's epoch end": (_state(epoch=0, batch=20), {"max_epochs": 1}, None),
    "max_epochs at the state's end": (_state(epoch=1, batch=0, validated=(5, 10, 13)), {"max_epochs": 1}, None),
    "a validation the new interval skips": (_state(), {"validate_interval": 10}, r"validated at updates \[5, 10\], where validate_interval 10 validates at \[10\]"),
    "a validation the new interval adds": (_state(), {"validate_interval": 3}, "validate_interval 3 validates at"),
    "another interval, no validation yet": (_state(update=2, validated=()), {"validate_interval": 3}, None),
    "best_by after a validation": (_state(), {"best_by": "bleu"}, "chose its best so far with best_by loss"),
    "best_by before any validation": (_state(update=4, validated=()), {"best_by": "bleu"}, None),
    "BLEU sentences that pick the best": (_state(best_by="bleu"), {"valid_bleu_sentences": 9}, "valid_bleu_sentences 5"),
    "BLEU sentences only logged": (_state(), {"valid_bleu_sentences": 9}, None),
    "log_interval, keep_last": (_state(), {"log_interval": 7, "keep_last": 2}, None),
    "device, compile, timeout": (_state(), {"device": "cuda", "compile": True, "distributed_timeout_min": 5}, None),
}


def test_every_resumable_setting_has_a_case():
    """A setting added to RESUMABLE_CHANGES must be classified here: a bound, or no bound."""
    from neuralloc.resume import RESUMABLE_CHANGES

    assert set(RESUMABLE_CHANGES) == {k for _, changes, _ in RESUME_CASES.values() for k in changes}


@pytest.mark.parametrize("case", RESUME_CASES)
def test_every_bound_a_rerun_may_lower_sets_a_state_past_it_aside(tmp_path, case, caplog):
    """Of the settings a resumed run may change (resume.RESUMABLE_CHANGES), those that bound the run
    or choose its best: a state past them is set aside, whatever else it may be resumed."""
    state, train, why = RESUME_CASES[case]
    resumed, files = _resumable(tmp_path, state, **train)
    if why is None:
        assert resumed is not None and resumed["update"] == state["update"] and files.last.exists(), caplog.text
    else:
        assert resumed is None and (tmp_path / "m/resume.stale/last.pt").exists() and not files.resume_dir.exists()
        assert re.search(why, caplog.text), caplog.text


def test_a_state_of_another_cpu_thread_count_is_set_aside(tmp_path, caplog):
    """On a CPU the thread count changes the weights (docs/benchmarks.md): a resume state is
    resumed at its own thread count only; a GPU run's or on a GPU, threads do not matter."""
    assert _resumable(tmp_path / "a", _state(threads=2), run_threads=1)[0] is None
    assert "made with 2 CPU threads, this run has 1" in caplog.text and "set train.threads to 2" in caplog.text
    assert _resumable(tmp_path / "b", _state(threads=None), run_threads=1)[0] is not None
    assert _resumable(tmp_path / "c", _state(threads=2), run_threads=None)[0] is not None


def test_an_unreadable_state_or_one_without_its_best_weights_is_set_aside(tmp_path, caplog):
    from neuralloc.resume import RunFiles, resumable_state

    _, files = _resumable(tmp_path, _state())
    files.last.write_bytes(files.last.read_bytes()[:100])  # truncated (a full disk, a copy cut short)
    assert resumable_state(files, "f", _state()["train_config"], 2) is None and "cannot be read" in caplog.text
    _, files = _resumable(tmp_path, _state())
    files.best.unlink()
    assert resumable_state(files, "f", _state()["train_config"], 2) is None and "lost its best weights" in caplog.text
    _, files = _resumable(tmp_path, _state())
    save_checkpoint({**_state(), "metric": 0.7}, files.best)  # the weights of another validation
    assert resumable_state(files, "f", _state()["train_config"], 2) is None and "another validation or run" in caplog.text


@pytest.mark.slow
def test_a_state_past_a_lowered_max_epochs_gives_the_shorter_model(straight, tmp_path, caplog):
    """Interrupted in its third epoch, rerun with max_epochs 1: the one-epoch model, not the longer one."""
    root, _ = straight
    _interrupted(root, tmp_path / "m", 45, max_updates=60)
    assert load_checkpoint(tmp_path / "m/resume/last.pt")["epoch"] >= 1
    one_epoch = TrainConfig(max_updates=60, max_epochs=1, **RESUME_CFG)
    experiment_trainer(root, small_model(), one_epoch, ["en-it", "it-en"], tmp_path / "m").train()
    assert "past max_epochs 1" in caplog.text
    experiment_trainer(root, small_model(), one_epoch, ["en-it", "it-en"], tmp_path / "fresh").train()
    a, b = (load_checkpoint(tmp_path / d / "checkpoint_best.pt") for d in ("m", "fresh"))
    assert a["update"] == b["update"] and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert _rows(tmp_path / "m/train_log.csv", "train") == _rows(tmp_path / "fresh/train_log.csv", "train")


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated last.pt", "best.pt deleted"])
def test_a_damaged_state_is_set_aside_and_the_rerun_ends_as_an_uninterrupted_one(straight, tmp_path, damage, monkeypatch):
    """A truncated last.pt used to fail every rerun; a state whose best.pt was gone was resumed and
    published a later, worse best (here update 15 instead of 10)."""
    root, done = straight
    _best_at(monkeypatch, BEST_AT)
    _interrupted(root, tmp_path / "m", 13)
    resume = tmp_path / "m/resume"
    if damage == "truncated last.pt":
        (resume / "last.pt").write_bytes((resume / "last.pt").read_bytes()[:4096])
    else:
        (resume / "best.pt").unlink()
    experiment_trainer(root, small_model(), TrainConfig(max_updates=30, **RESUME_CFG), ["en-it", "it-en"], tmp_path / "m").train()
    a, b = load_checkpoint(done / "checkpoint_best.pt"), load_checkpoint(tmp_path / "m/checkpoint_best.pt")
    assert a["update"] == b["update"] == BEST_AT and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert (tmp_path / "m/resume.stale").exists()


@pytest.mark.parametrize("found_by", ["training loss", "dev loss"])
def test_a_diverging_run_stops_and_publishes_nothing(tmp_path, found_by):
    """train.lr 50 makes the toy model's loss NaN within a few updates: it used to train on and
    publish a NaN model (best by a NaN dev loss). Now it stops, with its resume state left at its
    last finite validation."""
    root = make_toy_experiment(tmp_path / "toy", pairs=("en-it", "it-en"), n_train=100)
    logged = found_by == "training loss"
    cfg = TrainConfig(max_tokens=200, lr=50.0, warmup_updates=2, max_updates=30, log_interval=2 if logged else 100,
                      validate_interval=100 if logged else 2, valid_bleu_sentences=0, seed=3)
    t = experiment_trainer(root, small_model(dropout=0.0), cfg, ["en-it", "it-en"], tmp_path / "m")
    with pytest.raises(train.Diverged, match=f"training diverged: the {found_by} at update \\d+ is .*nan.*lower train.lr"):
        t.train()
    assert not (tmp_path / "m/checkpoint_best.pt").exists()
    if not logged:
        state = load_checkpoint(tmp_path / "m/resume/last.pt")
        assert state["update"] < t.update and all(torch.isfinite(v).all() for v in state["model"].values())


def test_a_model_that_ends_worse_than_it_started_is_flagged(tmp_path, monkeypatch, caplog):
    """A finite divergence (dev loss up from its first validation to its last; the training loss,
    where a run validates once): the log, the model card, the run summary and the claims say so."""
    from neuralloc import claims, layout
    from neuralloc.summary import summary
    from neuralloc.validation import training_trend

    validations = []

    def rising(model, dev, *args, **kwargs):  # every validation's dev loss above the one before
        validations.append(1)
        return {p: {"loss": 1.0 + len(validations)} for p in dev.pairs}

    monkeypatch.setattr(train, "validate", rising)
    root = make_toy_experiment(tmp_path / "toy", pairs=("en-it", "it-en"), n_train=50)
    run = tmp_path / "exp/seed1"
    cfg = TrainConfig(max_tokens=200, warmup_updates=2, max_updates=6, log_interval=2, validate_interval=2, valid_bleu_sentences=0)
    experiment_trainer(root, small_model(), cfg, ["en-it", "it-en"], layout.model_dir(str(run), "multilingual")).train()
    card = json.loads(open(layout.model_file(str(run), "multilingual", "model.json")).read())
    trend = card["trend"]
    assert trend["worse"] and trend["metric"] == "dev loss" and (trend["first_update"], trend["last_update"]) == (2, 6)
    assert "multilingual: its dev loss went from 2.0000 at update 2 to 4.0000 at update 6" in caplog.text
    out = summary(str(tmp_path / "exp"), str(run), ["multilingual"], ["en-it", "it-en"], "test")
    assert "models that ended worse than they started" in out and "multilingual: its dev loss went from" in out
    verdict = claims.models_trained({"multilingual (seed 1)": trend, "continued (seed 1)": {**trend, "worse": False}})
    assert verdict.verdict == claims.NOT_HELD and verdict.measured.startswith("multilingual (seed 1): dev loss 2 at update 2")
    assert claims.models_trained({"continued (seed 1)": {**trend, "worse": False}}).verdict == claims.HELD
    assert claims.models_trained({"multilingual (seed 1)": None}).verdict == claims.NOT_RUN
    # validated once (the tests config at train.lr 50: loss 1,352 -> 25,781): the training loss tells
    rows = [{"kind": "train", "update": str(u), "loss": str(x)} for u, x in ((10, 1352.0), (20, 9000.0), (30, 25781.0))]
    rows.append({"kind": "valid", "update": "30", "pair": "it-en", "loss": "3000.0", "bleu": "0.00"})
    lr50 = training_trend(rows, "loss")
    assert lr50["worse"] and lr50["metric"] == "training loss" and (lr50["first"], lr50["last"]) == (1352.0, 25781.0)
    falling = [{**r, "loss": str(30000.0 - float(r["loss"]))} if r["kind"] == "train" else r for r in rows]
    assert not training_trend(falling, "loss")["worse"]
    assert training_trend(rows[:1] + rows[-1:], "loss") is None  # one log row, one validation: nothing to compare


def test_checkpoint_errors(tmp_path):
    root = make_toy_experiment(tmp_path / "toy", n_train=20)
    cfg = TrainConfig(max_tokens=200, warmup_updates=2, max_updates=2, valid_bleu_sentences=0, validate_interval=1,
                      keep_last=1)
    experiment_trainer(root, small_model(), cfg, ["en-it"], tmp_path / "m").train()
    good = tmp_path / "m/checkpoint_best.pt"
    assert [p.name for p in (tmp_path / "m").glob("checkpoint[0-9]*.pt")] == ["checkpoint2.pt"]
    vocab_size = len(Vocabulary.load(root / "data/dict.txt"))
    load_model(good, vocab_size)
    with pytest.raises(CheckpointError, match="vocabulary of .* entries, but the vocabulary given has 5"):
        load_model(good, 5)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(bad)
    evil = tmp_path / "evil.pt"
    torch.save({"model": {}, "model_config": {}, "x": Vocabulary}, evil)  # a pickled class
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(evil)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    avg = average_checkpoints([good, good])
    assert all(torch.equal(avg["model"][k], v) for k, v in load_checkpoint(good)["model"].items())
    from neuralloc.checkpoint import main as average_cli
    last = tmp_path / "m/checkpoint2.pt"  # kept by keep_last
    average_cli([str(good), str(last), "--out", str(tmp_path / "avg.pt")])
    a, b, m = (load_checkpoint(p)["model"] for p in (good, last, tmp_path / "avg.pt"))
    assert all(torch.allclose(m[k], (a[k].float() + b[k].float()) / 2) for k in m)


@pytest.mark.slow
def test_compiled_training_step_equals_the_eager_one(tmp_path):
    """train.compile changes speed, not results: same loss and gradients for the same batches."""
    root = make_toy_experiment(tmp_path / "toy", pairs=("en-it", "it-en"), n_train=100)
    steps = {}
    for compiled in (False, True):
        cfg = TrainConfig(max_tokens=200, lr=1e-3, warmup_updates=5, valid_bleu_sentences=0, seed=3, compile=compiled)
        t = experiment_trainer(root, small_model(dropout=0.0), cfg, ["en-it", "it-en"], tmp_path / str(compiled))
        batch = epoch_batches(t.train_data, 200, seed=3, epoch=0)[0]
        losses = [float(t.step([batch])[0]) for _ in range(2)]  # the second after one Adam update
        steps[compiled] = losses, {n: p.grad.clone() for n, p in t.model.named_parameters()}
    (eager_loss, eager_grad), (comp_loss, comp_grad) = steps[False], steps[True]
    assert comp_loss == pytest.approx(eager_loss, rel=1e-5)
    assert comp_grad.keys() == eager_grad.keys()
    for name in eager_grad:
        torch.testing.assert_close(comp_grad[name], eager_grad[name], rtol=1e-3, atol=1e-6, msg=name)


