import csv
import shutil
import sys

import pytest
import torch
from toy import interrupt_after, make_toy_experiment

from neuralloc.checkpoint import CheckpointError, average_checkpoints, load_checkpoint, load_model
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
    _interrupted(root, tmp_path / "m", 13, provenance={"init_sha256": "aaa"})
    t = experiment_trainer(root, small_model(), TrainConfig(max_updates=30, **RESUME_CFG), ["en-it", "it-en"], tmp_path / "m",
                           provenance={"init_sha256": "bbb"})
    t.start()
    assert t.update == 0 and "another configuration or other starting files" in caplog.text
    assert (tmp_path / "m/resume.stale/last.pt").exists()
    _interrupted(root, tmp_path / "n", 13)
    t = experiment_trainer(root, small_model(d_model=16), TrainConfig(max_updates=30, **RESUME_CFG), ["en-it", "it-en"],
                           tmp_path / "n")
    t.start()
    assert t.update == 0


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


