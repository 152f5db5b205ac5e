"""The method against independent references: importance against autograd through forward
hooks, allocation against hand-made tables, masks against per-example gradients."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open
from toy import interrupt_after, make_toy_experiment

from neuralloc import layout, readings
from neuralloc.allocate import allocate, allocate_site, unit_of
from neuralloc.data import ParallelData, inference_batches
from neuralloc.checkpoint import load_for_inference
from neuralloc.importance import deterministic_mode, importance, run_importance, sample_sentences, save_importance
from neuralloc.loss import label_smoothed_loss
from neuralloc.masking import MaskTable, erase_neurons, load_masks
from neuralloc.model import ModelConfig, SiteLinear, Transformer
from neuralloc.train import Interrupted, TrainConfig, experiment_trainer
from neuralloc.vocab import Vocabulary

PAIRS = ["en-it", "it-en"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = make_toy_experiment(tmp_path_factory.mktemp("toy"), pairs=PAIRS, n_train=40, reverse_pairs=("it-en",))
    vocab = Vocabulary.load(root / "data/dict.txt")
    data = ParallelData.from_experiment(root, "train", PAIRS, vocab, 32)
    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=len(vocab), d_model=16, ffn_dim=24, heads=2, encoder_layers=2,
                                    decoder_layers=2, dropout=0.3, max_positions=32))
    return root, vocab, data, model


def reference_importance(model, data, p, method):
    """Independent of SiteContext: forward hooks keep every SiteLinear output, one batch, autograd."""
    outputs = {}
    hooks = [m.register_forward_hook(lambda mod, i, o: outputs.__setitem__(mod.site, o))
             for m in model.modules() if isinstance(m, SiteLinear)]
    model.eval()
    b = data.collate([(p, i) for i in range(len(data.src[p]))])
    logits = model(b.src, b.prev)
    for h in hooks:
        h.remove()
    if method == "te":
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), b.target.reshape(-1),
                                                 ignore_index=0, reduction="sum", label_smoothing=0.1)
        grads = dict(zip(outputs, torch.autograd.grad(loss, list(outputs.values()))))
    ref = {}
    for name, h in outputs.items():
        at_source = name.startswith("encoder") or name.endswith(("cross_attn.k", "cross_attn.v"))
        keep = (b.src if at_source else b.prev).ne(0)
        per_token = (h * grads[name]).abs() if method == "te" else h.abs()
        ref[name] = per_token[keep].mean(0).detach()  # (tokens, W) -> mean over tokens
    return ref


@pytest.mark.parametrize("method", ["te", "av"])
def test_importance_matches_autograd_reference(toy, method):
    _, _, data, model = toy
    for p in range(2):
        got, counts = importance(model, data, p, method, label_smoothing=0.1, max_tokens=60)  # many batches
        ref = reference_importance(model, data, p, method)
        assert set(got) == set(ref) == set(model.sites())
        for name in ref:
            torch.testing.assert_close(got[name], ref[name].float(), atol=1e-5, rtol=1e-4)
        assert counts["target"] == sum(len(t) + 1 for t in data.tgt[p])


@pytest.mark.parametrize("batches", ["by_length", "fairseq"])
def test_one_importance_job_gives_each_pair_what_it_gets_scored_alone(tmp_path, batches):
    """The importance rule's entry point loads the model once and scores every pair: each pair's
    file equals ``importance`` on that pair's data alone (by length, a token cap: each pair its own
    seeded sample), or on every pair's where fairseq's batches zip them."""
    root = make_toy_experiment(tmp_path / "toy", pairs=PAIRS, n_train=20, n_dev=6)
    cfg = TrainConfig(max_tokens=200, warmup_updates=1, max_updates=1, valid_bleu_sentences=0)
    model_cfg = ModelConfig(vocab_size=0, d_model=16, ffn_dim=24, heads=2, encoder_layers=1, decoder_layers=1,
                            dropout=0.0, max_positions=32)
    experiment_trainer(root, model_cfg, cfg, PAIRS, tmp_path / "model").train()
    checkpoint, vocab = tmp_path / "model/checkpoint_best.pt", layout.vocab(str(root))
    src = [layout.encoded(str(root), "train", p, "src") for p in PAIRS]
    tgt = [layout.encoded(str(root), "train", p, "tgt") for p in PAIRS]
    files = [str(tmp_path / f"{p}.safetensors") for p in PAIRS]
    cap = 40 if batches == "by_length" else None
    run_importance(str(checkpoint), vocab, src, tgt, list(PAIRS), "te", files, 0.1, cap, batches=batches, seed=3)
    model, vocabulary, _, _ = load_for_inference(checkpoint, vocab)
    for p, path in enumerate(files):
        if batches == "by_length":
            data, q = ParallelData([PAIRS[p]], [src[p]], [tgt[p]], vocabulary, model.cfg.max_positions), 0
        else:
            data, q = ParallelData(PAIRS, src, tgt, vocabulary, model.cfg.max_positions), p
        with deterministic_mode():  # as the entry point runs
            ref, _ = importance(model, data, q, "te", 0.1, token_cap=cap, seed=3, batches=batches)
        with safe_open(path, "pt") as f:
            assert set(f.keys()) == set(ref)
            for name in ref:
                assert torch.equal(f.get_tensor(name), ref[name]), (PAIRS[p], name)


@pytest.mark.parametrize("method", ["te", "av"])
def test_released_code_importance_sums_per_batch_means_with_padding(toy, method):
    """The released code's reading: plain NLL, each batch's mean over all its positions (padding
    included), summed over batches; the reference hooks SiteLinear outputs batch by batch."""
    _, _, data, model = toy
    batches = inference_batches(data, 0, 60)
    ref = {}
    for items in batches:
        outputs = {}
        hooks = [m.register_forward_hook(lambda mod, i, o: outputs.__setitem__(mod.site, o))
                 for m in model.modules() if isinstance(m, SiteLinear)]
        b = data.collate(items)
        logits = model(b.src, b.prev)
        for h in hooks:
            h.remove()
        if method == "te":
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), b.target.reshape(-1),
                                                     ignore_index=0, reduction="sum")  # no label smoothing
            grads = dict(zip(outputs, torch.autograd.grad(loss, list(outputs.values()))))
        for name, h in outputs.items():
            per_position = (h * grads[name]).abs() if method == "te" else h.abs()
            ref[name] = ref.get(name, 0) + per_position.reshape(-1, h.size(-1)).mean(0).detach()
    got, _ = importance(model, data, 0, method, label_smoothing=0.0, max_tokens=60, normalisation="batch_mean_sum")
    assert len(batches) > 2 and set(got) == set(ref)
    for name in ref:
        torch.testing.assert_close(got[name], ref[name].float(), atol=1e-5, rtol=1e-4)


def test_importance_token_cap_draws_a_seeded_sample_not_the_longest(toy):
    _, _, data, model = toy
    total = sum(len(t) + 1 for t in data.tgt[0])
    _, counts = importance(model, data, 0, "av", max_tokens=40, token_cap=30)
    assert 30 <= counts["target"] < total
    sample = sample_sentences(data, 0, 30, seed=1)
    assert sample == sample_sentences(data, 0, 30, seed=1) != sample_sentences(data, 0, 30, seed=2)
    assert sum(len(data.tgt[0][i]) + 1 for i in sample) >= 30 > sum(len(data.tgt[0][i]) + 1 for i in sample[:-1])
    longest = sorted(range(len(data.src[0])), key=lambda i: -len(data.src[0][i]))[: len(sample)]
    assert sorted(sample) != sorted(longest)
    assert sorted(sample_sentences(data, 0, 10 ** 6, seed=1)) == list(range(len(data.src[0])))  # fewer tokens: all
    with pytest.raises(ValueError, match="allowed: te, av"):
        importance(model, data, 0, "taylor")


# ---- allocation on hand-made tables ---------------------------------------------------------

THETA = np.array([[5.0, 1.0, 0.2, 0.8, 0.0],    # unit a
                  [4.0, 1.2, 0.9, 0.1, 0.3]])   # unit b; means 4.5 1.1 0.55 0.45 0.15


def test_general_neurons_are_the_top_rho_by_mean():
    general, _ = allocate_site(THETA, rho=0.4, k=0.7)
    assert general.tolist() == [True, True, False, False, False]
    assert allocate_site(THETA, 0.0, 0.7)[0].sum() == 0
    g, s = allocate_site(THETA, 1.0, 0.0)
    assert g.all() and not s.any()
    # 0.29 * 100 = 28.999999999999996 in floating point: the 1e-9 makes it 29
    assert allocate_site(np.random.default_rng(0).random((2, 100)), 0.29, 0.5)[0].sum() == 29


def test_the_released_codes_strict_threshold():
    """Θ > k · max: with k = 1 no unit exceeds its own maximum, so no neuron is specific."""
    _, s1 = allocate_site(THETA, 0.4, 1.0, threshold="gt")
    assert not s1.any()
    _, s7 = allocate_site(THETA, 0.4, 0.7, threshold="gt")  # no importance sits exactly at a threshold
    assert s7.tolist() == allocate_site(THETA, 0.4, 0.7)[1].tolist()
    tie = np.array([[1.0, 2.0], [2.0, 2.0]])  # neuron 0: 1.0 = 0.5 * 2.0 exactly
    assert allocate_site(tie, 0.0, 0.5)[1][0].tolist() == [True, True]
    assert allocate_site(tie, 0.0, 0.5, threshold="gt")[1][0].tolist() == [False, True]


def test_the_released_code_shares_the_first_layers_qkv():
    sites = ["encoder.layers.0.self_attn.q", "encoder.layers.0.self_attn.out", "encoder.layers.1.self_attn.k",
             "decoder.layers.0.cross_attn.v", "decoder.layers.0.self_attn.k", "decoder.layers.0.ffn.fc1"]
    shared = readings.shared_sites(sites, readings.of_name("code")["first_layer_qkv"])
    assert shared == {"encoder.layers.0.self_attn.q", "decoder.layers.0.cross_attn.v", "decoder.layers.0.self_attn.k"}
    assert readings.shared_sites(sites, readings.of_name("paper")["first_layer_qkv"]) == set()
    imp = {p: {s: np.array(v, dtype=np.float32) for s in sites} for p, v in {"it-en": [3, 1, 0, 2], "en-it": [0, 1, 3, 2]}.items()}
    general, masks = allocate(imp, ["it-en", "en-it"], 0.25, 0.7, "pair", shared=shared)
    for site in sites:
        assert general[site].all() == (site in shared)
        assert masks["it-en"][site].all() == (site in shared)


def test_k_zero_shares_and_k_one_gives_to_the_argmax():
    _, s0 = allocate_site(THETA, 0.4, 0.0)
    assert s0.tolist() == [[False, False, True, True, True]] * 2
    _, s1 = allocate_site(THETA, 0.4, 1.0)
    assert s1.tolist() == [[False, False, False, True, False], [False, False, True, False, True]]
    _, s7 = allocate_site(THETA, 0.4, 0.7)  # thresholds 0.63, 0.56, 0.21
    assert s7.tolist() == [[False, False, False, True, False], [False, False, True, False, True]]
    _, s2 = allocate_site(THETA, 0.4, 0.2)  # thresholds 0.18, 0.16, 0.06 for neurons 2, 3, 4
    assert s2.tolist() == [[False, False, True, True, False], [False, False, True, False, True]]


def _imp(values):
    sites = ["encoder.layers.0.ffn.fc1", "decoder.layers.0.ffn.fc1"]
    return {p: {s: np.array(v, dtype=np.float32) for s in sites} for p, v in values.items()}


def test_variants():
    imp = _imp({"it-en": [1, 0, 0, 0], "ro-en": [0, 1, 0, 0], "en-it": [0, 0, 1, 0], "en-ro": [0, 0, 0, 1]})
    pairs = list(imp)
    enc, dec = "encoder.layers.0.ffn.fc1", "decoder.layers.0.ffn.fc1"
    _, m = allocate(imp, pairs, rho=0.0, k=1.0, variant="pair")
    assert m["it-en"][enc].tolist() == [True, False, False, False]
    _, m = allocate(imp, pairs, 0.0, 1.0, "source")  # en = mean(en-it, en-ro) = [0, 0, .5, .5]
    assert m["en-it"][enc].tolist() == m["en-ro"][enc].tolist() == [False, False, True, True]
    _, m = allocate(imp, pairs, 0.0, 1.0, "target")  # en = mean(it-en, ro-en) = [.5, .5, 0, 0]
    assert m["it-en"][dec].tolist() == [True, True, False, False]
    _, m = allocate(imp, pairs, 0.0, 1.0, "separate")  # encoder by source, decoder by target
    assert m["en-it"][enc].tolist() == [False, False, True, True]
    assert m["en-it"][dec].tolist() == [False, False, True, False]
    assert m["it-en"][enc].tolist() == [True, False, False, False]
    assert m["it-en"][dec].tolist() == [True, True, False, False]


@pytest.mark.parametrize("variant", ["pair", "source", "target", "separate"])
def test_many_pairs_each_read_once_per_site_as_the_units_means_say(monkeypatch, variant):
    """30 pairs of 6 languages: each site asks each pair's unit once (the work is linear in the
    pairs, as 462 pairs need), and every pair's mask is its unit's, from that unit's mean importance."""
    from neuralloc import allocate as module

    langs = ["en", "it", "ro", "nl", "de", "fr"]
    pairs = [f"{a}-{b}" for a in langs for b in langs if a != b]
    rng = np.random.default_rng(2)
    sites = ["encoder.layers.0.ffn.fc1", "decoder.layers.0.ffn.fc1", "decoder.layers.0.cross_attn.q"]
    imp = {p: {s: rng.random(40, dtype=np.float32) for s in sites} for p in pairs}
    calls = []
    monkeypatch.setattr(module, "unit_of", lambda *a: calls.append(a) or unit_of(*a))
    general, masks = allocate(imp, pairs, 0.5, 0.8, variant)
    assert len(calls) == len(pairs) * len(sites)
    for site in sites:
        units = {p: unit_of(p, site, variant) for p in pairs}
        names = sorted(set(units.values()))
        theta = np.stack([np.mean([imp[p][site] for p in pairs if units[p] == u], axis=0) for u in names])
        g, specific = allocate_site(theta, 0.5, 0.8)
        assert (general[site] == g).all()
        for p in pairs:
            assert (masks[p][site] == (g | specific[names.index(units[p])])).all(), (site, p)


def test_allocate_cli(tmp_path):
    imp = _imp({"it-en": [3, 1, 0, 2], "en-it": [3, 0, 1, 0]})
    for pair, sites in imp.items():
        save_importance(tmp_path / f"{pair}.safetensors", {k: torch.from_numpy(v) for k, v in sites.items()},
                        {"pair": pair, "method": "te", "model_digest": "abc"})
    out = tmp_path / "masks.safetensors"
    files = [str(tmp_path / f"{pair}.safetensors") for pair in ("it-en", "en-it")]

    def allocate_cli(pairs, importance):
        return [sys.executable, "-m", "neuralloc.allocate", "--pairs", pairs, "--importance", *importance,
                "--rho", "0.25", "--k", "0.5", "--variant", "pair", "--out", str(out)]

    cmd = allocate_cli("it-en,en-it", files)
    subprocess.run(cmd, check=True, capture_output=True)
    with safe_open(str(out), framework="pt") as f:
        meta = f.metadata()
        assert f.get_tensor("general/encoder.layers.0.ffn.fc1").tolist() == [True, False, False, False]
        assert f.get_tensor("it-en/encoder.layers.0.ffn.fc1").tolist() == [True, True, False, True]
        assert f.get_tensor("en-it/encoder.layers.0.ffn.fc1").tolist() == [True, False, True, False]
    assert meta["rho"] == "0.25" and meta["variant"] == "pair" and meta["method"] == "te" and meta["model_digest"] == "abc"
    assert "it-en" in (tmp_path / "masks.counts.csv").read_text()
    bad = subprocess.run(allocate_cli("it-en,de-en", [files[0], str(tmp_path / "de-en.safetensors")]),
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "no importance file for pair de-en" in bad.stderr
    swapped = subprocess.run(allocate_cli("it-en,en-it", files[::-1]), capture_output=True, text=True)
    assert swapped.returncode != 0 and "holds the importance of en-it, not of it-en" in swapped.stderr


def test_erasure():
    general = {"s": np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)}
    masks = {"a": {"s": np.array([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], dtype=bool)},
             "b": {"s": np.array([1, 1, 1, 1, 1, 0, 1, 1, 1, 1], dtype=bool)}}
    e = erase_neurons(general, masks, 0.4, seed=0)
    lost = masks["a"]["s"] & ~e["a"]["s"]
    assert lost.sum() == 2 and (lost <= general["s"]).all()
    assert (e["b"]["s"] == (masks["b"]["s"] & ~lost)).all()
    e = erase_neurons(general, masks, 0.5, seed=0, pair="a")  # a's specific: neurons 5, 6 -> one erased
    lost = masks["a"]["s"] & ~e["a"]["s"]
    assert lost.sum() == 1 and lost[5:7].sum() == 1


# ---- masks in training ------------------------------------------------------------------------

def random_masks(model, pairs, seed=0):
    rng = np.random.default_rng(seed)
    return {p: {s: rng.random(w) < 0.6 for s, w in model.site_widths().items()} for p in pairs}


def test_mask_table_gathers_each_examples_pair(toy):
    _, _, _, model = toy
    masks = random_masks(model, PAIRS)
    table = MaskTable(masks, PAIRS)
    ctx = table(torch.tensor([1, 0, 1]))
    site = "decoder.layers.1.cross_attn.k"
    assert ctx.masks[site][0].bool().tolist() == masks["it-en"][site].tolist()
    assert ctx.masks[site][1].bool().tolist() == masks["en-it"][site].tolist()


def test_inactive_neurons_get_exactly_zero_gradient_per_example(toy):
    _, vocab, data, model = toy
    model.train()
    masks = random_masks(model, PAIRS, seed=1)
    table = MaskTable(masks, PAIRS)
    b = data.collate([(0, 0), (1, 0), (0, 1)])
    logits = model(b.src, b.prev, table(b.pair))
    sites = model.sites()
    for row in range(3):
        loss = label_smoothed_loss(logits[row:row + 1], b.target[row:row + 1], 0.1, vocab.pad)
        params = [t for m in sites.values() for t in (m.weight, m.bias)]
        grads = torch.autograd.grad(loss, params, retain_graph=True)
        pair = PAIRS[int(b.pair[row])]
        for j, (name, m) in enumerate(sites.items()):
            off = ~torch.from_numpy(masks[pair][name])
            gw, gb = grads[2 * j], grads[2 * j + 1]
            assert torch.count_nonzero(gw[off]) == 0 and torch.count_nonzero(gb[off]) == 0, (row, name)
            assert torch.count_nonzero(gw[~off]) > 0, (row, name)


def _finetune(toy, tmp_path, strict, updates=3, masks=None):
    root, _, _, model = toy
    cfg = TrainConfig(max_tokens=100, lr=1e-2, warmup_updates=1, max_updates=updates, valid_bleu_sentences=0,
                      strict=strict, seed=2)
    tmp_path.mkdir(parents=True, exist_ok=True)
    init = tmp_path / "init.pt"
    torch.save({"model": model.state_dict(), "model_config": model.cfg.to_dict()}, init)
    mcfg = ModelConfig(**{**model.cfg.to_dict(), "vocab_size": 0})
    t = experiment_trainer(root, mcfg, cfg, PAIRS, tmp_path / f"ft{strict}", init=init, masks_for=MaskTable(masks, PAIRS))
    t.start()
    return t


def test_strict_mode_keeps_unused_parameters_bit_identical(toy, tmp_path):
    _, _, _, model = toy
    masks = random_masks(model, PAIRS, seed=3)
    site = "encoder.layers.0.ffn.fc1"
    masks["en-it"][site][:4] = True   # neurons 0-3 serve en-it only
    masks["it-en"][site][:4] = False
    en_it, it_en = [(0, i) for i in range(4)], [(1, i) for i in range(4)]
    for strict in (True, False):
        t = _finetune(toy, tmp_path, strict, masks=masks)
        weight = t.model.encoder.layers[0].ffn.fc1.weight
        t.step([en_it])                      # rows 0-3 get a gradient and Adam momentum
        before = weight.detach().clone()
        t.step([it_en])                      # rows 0-3 get exactly zero gradient
        moved = ~torch.eq(weight.detach(), before).all(dim=1)
        if strict:
            assert not moved[:4].any() and moved[4:].any()
        else:
            assert moved[:4].all()           # plain Adam moves them through its momentum


def test_masked_finetuning_resumes_to_the_same_losses(toy, tmp_path):
    _, _, _, model = toy
    masks = random_masks(model, PAIRS, seed=4)
    straight = _finetune(toy, tmp_path / "a", False, updates=8, masks=masks)
    straight.train()
    interrupted = _finetune(toy, tmp_path / "b", False, updates=8, masks=masks)
    interrupt_after(interrupted, 4)
    with pytest.raises(Interrupted):
        interrupted.train()
    resumed = _finetune(toy, tmp_path / "b", False, updates=8, masks=masks)
    assert resumed.update == 4
    resumed.train()
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_load_masks_round_trip(tmp_path, toy):
    from neuralloc.allocate import write_masks
    _, _, _, model = toy
    masks = random_masks(model, PAIRS)
    general = {s: np.zeros(w, dtype=bool) for s, w in model.site_widths().items()}
    write_masks(tmp_path / "m.safetensors", general, masks, {"rho": 0.5}, tmp_path / "m.csv", tmp_path / "m.json")
    g, m, meta = load_masks(tmp_path / "m.safetensors", PAIRS)
    assert meta["rho"] == "0.5" and all((m[p][s] == masks[p][s]).all() for p in PAIRS for s in masks[p])
    with pytest.raises(ValueError, match="no masks for pairs \\['de-en'\\]"):
        load_masks(tmp_path / "m.safetensors", ["de-en"])
