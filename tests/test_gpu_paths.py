"""The CUDA paths, tested without a GPU: device decisions with ``torch.cuda`` mocked, device reads
counted on the CPU, bf16 autocast on the CPU for the numerics, resume states as a GPU run writes
them."""

import logging
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from toy import make_toy_experiment

from neuralloc import checkpoint, distributed, train
from neuralloc.data import ParallelData, epoch_batches
from neuralloc.decoding import beam_search, greedy
from neuralloc.importance import deterministic_mode
from neuralloc.model import ModelConfig, Transformer, context_maker
from neuralloc.profiling import DeviceReads
from neuralloc.resume import fingerprint
from neuralloc.train import TrainConfig, experiment_trainer, optimizer_state, restore_cuda_rng
from neuralloc.vocab import Vocabulary

PAIRS = ["en-it", "it-en", "en-ro", "ro-en"]
SMALL = dict(vocab_size=0, d_model=16, ffn_dim=32, heads=2, encoder_layers=1, decoder_layers=1, dropout=0.0,
             max_positions=40)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_experiment(tmp_path_factory.mktemp("gpu"), pairs=PAIRS, n_train=120, n_dev=12,
                               reverse_pairs=("it-en",))


@pytest.fixture
def two_gpus(monkeypatch, tmp_path):
    """``torch.cuda`` of a machine with two idle GPUs, whose memory must never be probed (each
    probe creates a CUDA context on that GPU); GPU locks in a fresh folder."""
    def probe(*_):
        raise AssertionError("mem_get_info creates a CUDA context on every GPU it asks")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "mem_get_info", probe)
    monkeypatch.setattr(checkpoint, "gpu_lock_dir", lambda: tmp_path / "locks")
    monkeypatch.setattr(checkpoint, "_CLAIMED", [])
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


# ---- one device decision per process ----------------------------------------------------------


def test_auto_decides_once_per_process_without_probing(two_gpus):
    first = checkpoint.pick_device("auto")
    assert first == torch.device("cuda", 0)
    assert checkpoint.pick_device("auto") == first  # the same answer every time in one process


def test_jobs_started_together_spread_over_the_gpus(two_gpus, tmp_path):
    """Each job holds a lock on its GPU for its life: a second job takes the other GPU, a third
    (more jobs than GPUs) shares one, and a GPU whose job ended is free again."""
    locks = tmp_path / "locks"
    a, held_a = checkpoint.claim_gpu(2, locks)
    b, held_b = checkpoint.claim_gpu(2, locks)
    assert {a, b} == {0, 1}
    c, held_c = checkpoint.claim_gpu(2, locks)
    assert c in (0, 1) and held_c is None
    held_a.close()  # that job ended
    assert checkpoint.claim_gpu(2, locks)[0] == a


def test_torchrun_ranks_use_their_local_gpu(two_gpus, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert checkpoint.pick_device("auto") == torch.device("cuda", 1)
    world = distributed.World(rank=1, size=2, local_rank=1)
    monkeypatch.setattr(distributed, "pick_device", lambda name: pytest.fail("a rank must not pick its own GPU"))
    assert world.device("auto") == world.device("cuda") == world.device("cuda:0") == torch.device("cuda", 1)


def test_masks_and_model_share_one_device_decision(toy, monkeypatch, tmp_path):
    """run_training decides the device once and hands it to the mask table and the trainer: on a
    machine with two idle GPUs, a second decision could land on the other GPU."""
    decisions = iter([torch.device("cuda", 0), torch.device("cuda", 1)])
    monkeypatch.setattr(distributed, "pick_device", lambda name: next(decisions))
    seen = {}

    class Table:
        def __init__(self, masks, pairs, device):
            seen["masks"] = torch.device(device)

        def active_share(self):
            return 1.0

    class Stop(Exception):
        pass

    def trainer(*args, device=None, **kwargs):
        seen["model"] = device if device is not None else distributed.pick_device("auto")
        raise Stop

    import neuralloc.masking as masking
    monkeypatch.setattr(masking, "MaskTable", Table)
    monkeypatch.setattr(masking, "load_masks", lambda path, pairs, widths: ({}, {}, {}))
    monkeypatch.setattr(train, "Trainer", trainer)
    masks = tmp_path / "masks.safetensors"
    masks.write_bytes(b"x")
    src, tgt = ([str(toy / f"data/train.en-it.{side}.tokens.npy")] for side in ("src", "tgt"))
    with pytest.raises(Stop):
        train.run_training(model={k: v for k, v in SMALL.items() if k != "vocab_size"}, train={"device": "auto"},
                           pairs=PAIRS[:1], vocab=str(toy / "data/dict.txt"), train_src=src, train_tgt=tgt,
                           dev_src=src, dev_tgt=tgt,
                           dev_references=[str(toy / "raw/dev.en-it.tgt")], checkpoint=str(tmp_path / "c.pt"),
                           card=str(tmp_path / "m.json"), train_log=str(tmp_path / "l.csv"), masks=str(masks))
    assert seen["masks"] == seen["model"] == torch.device("cuda", 0)


# ---- resume states as GPU runs write them --------------------------------------------------------


def test_cuda_random_state_of_more_gpus_than_visible_is_not_an_error(monkeypatch, caplog):
    """A state saved by code that kept every visible GPU's stream (4 GPUs), resumed where one GPU
    is visible: no IndexError, a warning; a state of one device goes back to the run's device."""
    calls = []
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: calls.append((state, device)))
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: pytest.fail("restores every GPU's stream"))
    with caplog.at_level(logging.WARNING):
        restore_cuda_rng([torch.zeros(8, dtype=torch.uint8)] * 4, torch.device("cuda", 0))
    assert calls == [] and "of 4 GPUs" in caplog.text
    state = torch.arange(8, dtype=torch.uint8)
    restore_cuda_rng(state, torch.device("cuda", 1))
    assert calls == [(state, torch.device("cuda", 1))]
    restore_cuda_rng(state, torch.device("cpu"))  # a GPU run resumed on a CPU: nothing to restore
    assert len(calls) == 1


def test_a_cpu_run_resumed_on_a_gpu_gets_fused_adam():
    p = torch.nn.Parameter(torch.randn(4))
    cpu = torch.optim.Adam([p], lr=1e-3)
    p.grad = torch.ones(4)
    cpu.step()
    resumed = torch.optim.Adam([p], lr=1e-3, fused=True)
    resumed.load_state_dict(optimizer_state(cpu.state_dict(), fused=True))
    assert resumed.param_groups[0]["fused"] is True
    resumed.step()  # the fused kernel takes the loaded state
    assert cpu.state_dict()["param_groups"][0]["fused"] in (None, False)  # the saved state is left alone


def test_toggling_compile_is_another_run_only_with_dropout():
    train_cfg = {"lr": 1e-3, "compile": False}
    for dropout, same in ((0.0, True), (0.1, False)):
        model = {"d_model": 16, "dropout": dropout}
        a = fingerprint(model, train_cfg, PAIRS, ["a"], {})
        b = fingerprint(model, {**train_cfg, "compile": True}, PAIRS, ["a"], {})
        assert (a == b) is same, dropout


def test_the_process_group_waits_as_long_as_configured(monkeypatch):
    got = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend, timeout: got.update(backend=backend,
                                                                                                       timeout=timeout))
    monkeypatch.setattr(distributed.dist, "get_backend", lambda: "gloo")
    monkeypatch.setenv("SLURMD_NODENAME", "n2")
    monkeypatch.setattr(distributed.dist, "all_gather_object",
                        lambda out, obj, group: out.__setitem__(slice(None), ["n1", obj]))
    world = distributed.World.from_env(timeout_min=90)
    assert got == {"backend": "gloo", "timeout": timedelta(minutes=90)}
    assert world.owns_group and world.rank == 1
    assert world.nodes == ["n1", "n2"]
    assert TrainConfig().distributed_timeout_min >= 30  # NCCL's own 10 minutes is too short


# ---- device reads ------------------------------------------------------------------------------


def _architectures():
    return {"multilingual": {}, "ts": {"target_specific_attention": True, "route_pairs": PAIRS},
            "adapter": {"adapter_dim": 4, "route_pairs": PAIRS}}


@pytest.mark.parametrize("arch", list(_architectures()))
def test_a_training_update_reads_nothing_back_from_the_device(toy, tmp_path, arch):
    """+TS and +Adapter route every example by its pair: grouped on the host, so an update waits
    for the GPU no more than Multilingual's (never). Fused Adam, as on a GPU."""
    cfg = ModelConfig(**SMALL, **_architectures()[arch])
    t = experiment_trainer(toy, cfg, TrainConfig(max_tokens=300, warmup_updates=2, valid_bleu_sentences=0), PAIRS,
                           tmp_path / arch)
    t.optimizer = torch.optim.Adam(t.model.parameters(), lr=1e-3, fused=True)
    batches = epoch_batches(t.train_data, 300, 1, 0)
    assert any(len({p for p, _ in b}) >= 3 for b in batches[1:4])  # batches mix pairs: several routes
    t.step([batches[0]])
    with DeviceReads() as reads:
        for b in batches[1:4]:
            t.step([b])
    assert reads.total == 0, dict(reads.calls)


@pytest.mark.parametrize("arch", list(_architectures()))
def test_a_decoding_step_of_the_model_reads_nothing_back(toy, arch):
    """Beam search reads back what every system's search reads (which hypotheses ended); the
    model's own steps, routed ones included, read nothing."""
    vocab = Vocabulary.load(toy / "data/dict.txt")
    test = ParallelData.from_experiment(toy, "test", PAIRS, vocab, 40, with_target=False)
    items = [(q, i) for q in range(len(PAIRS)) for i in range(6)]
    src = test.collate(items).src
    torch.manual_seed(0)
    model = Transformer(ModelConfig(**{**SMALL, "vocab_size": len(vocab)}, **_architectures()[arch])).eval()
    ctx = context_maker(model.cfg, PAIRS)(np.array([q for q, _ in items])).expand(3)
    src = src.repeat_interleave(3, 0)
    cache = [{} for _ in model.decoder.layers]
    with torch.no_grad(), DeviceReads() as reads:
        memory, mask = model.encode(src, ctx)
        tok = torch.full((src.size(0), 1), vocab.bos)
        for t in range(4):
            logits = model.decode(tok, memory, mask, ctx, cache, offset=t, fp32_logits=True)
            tok = logits[:, -1].argmax(-1, keepdim=True)
        ctx.select(np.arange(0, src.size(0), 2))  # beam search dropping finished sentences
    assert reads.total == 0, dict(reads.calls)


def test_context_for_refuses_pair_ids_on_the_device_side(monkeypatch):
    cfg = ModelConfig(**SMALL | {"vocab_size": 20}, adapter_dim=2, route_pairs=PAIRS)
    make = context_maker(cfg, PAIRS)
    ids = torch.tensor([0, 1])
    monkeypatch.setattr(torch.Tensor, "device", property(lambda self: torch.device("cuda", 0)))
    with pytest.raises(ValueError, match="host pair ids"):
        make(ids)


# ---- numerics of decoding under bf16 -------------------------------------------------------------


def test_decoding_under_bf16_autocast_takes_fp32_logits():
    """The output projection of decoding runs in fp32 on the decoder's (bf16) output: a bf16
    projection rounds logits by as much as 0.1 at magnitude 10-20, which changes the winning token."""
    torch.manual_seed(0)
    model = Transformer(ModelConfig(**SMALL | {"vocab_size": 50})).eval()
    src, prev = torch.randint(4, 50, (3, 7)), torch.randint(4, 50, (3, 5))
    captured = {}
    model.decoder.final_norm.register_forward_hook(lambda m, i, out: captured.update(x=out))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        memory, mask = model.encode(src)
        logits = model.decode(prev, memory, mask, fp32_logits=True)
    assert logits.dtype == torch.float32
    expected = F.linear(captured["x"].float(), model.embed.weight.float())
    assert torch.equal(logits, expected)


def test_beam_search_of_a_batch_equals_each_sentence_alone(toy):
    """Finished sentences leave the batch: the others' hypotheses must not change."""
    vocab = Vocabulary.load(toy / "data/dict.txt")
    torch.manual_seed(3)
    model = Transformer(ModelConfig(**SMALL | {"vocab_size": len(vocab)}, adapter_dim=3, route_pairs=PAIRS)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    test = ParallelData.from_experiment(toy, "test", PAIRS, vocab, 40, with_target=False)
    items = [(q, i) for q in range(len(PAIRS)) for i in range(4)]
    batch = test.collate(items)
    make = context_maker(model.cfg, PAIRS)
    together = beam_search(model, batch.src, vocab.bos, vocab.eos, make(np.array([q for q, _ in items])), beam=3,
                           max_len_a=0.5, max_len_b=3)
    lengths = {len(h) for h in together}
    assert len(lengths) > 1  # sentences end at different steps: the batch shrinks
    for r, item in enumerate(items):
        alone = test.collate([item])
        assert beam_search(model, alone.src, vocab.bos, vocab.eos, make(np.array([item[0]])), beam=3,
                           max_len_a=0.5, max_len_b=3) == [together[r]]


# ---- reproducible importance ---------------------------------------------------------------------


def test_deterministic_mode_is_on_while_importance_runs_and_off_after():
    assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_mode(True):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cuda.math_sdp_enabled()
        assert not torch.backends.cuda.flash_sdp_enabled() and not torch.backends.cuda.mem_efficient_sdp_enabled()
    assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_mode(False):
        assert not torch.are_deterministic_algorithms_enabled()
