import pytest
import torch

from neuralloc.decoding import beam_search, decode, greedy
from neuralloc.model import ModelConfig, SiteContext, Transformer


def tiny(pre_norm=False, **kw) -> Transformer:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=23, d_model=16, ffn_dim=24, heads=2, encoder_layers=2, decoder_layers=2,
                      dropout=0.0, pre_norm=pre_norm, max_positions=40, **kw)
    return Transformer(cfg).eval()


def batch(n=3, s=7, t=6, vocab=23, seed=1):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, vocab, (n, s), generator=g)
    src[0, 5:] = 0  # padding
    prev = torch.randint(4, vocab, (n, t), generator=g)
    prev[:, 0] = 1
    return src, prev


def test_site_names_follow_the_module_tree():
    model = tiny()
    names = list(model.sites())
    attn = ["q", "k", "v", "out"]
    expected = []
    for i in range(2):
        expected += [f"encoder.layers.{i}.self_attn.{x}" for x in attn] + [f"encoder.layers.{i}.ffn.fc1", f"encoder.layers.{i}.ffn.fc2"]
    for i in range(2):
        expected += [f"decoder.layers.{i}.self_attn.{x}" for x in attn] + [f"decoder.layers.{i}.cross_attn.{x}" for x in attn]
        expected += [f"decoder.layers.{i}.ffn.fc1", f"decoder.layers.{i}.ffn.fc2"]
    assert names == expected
    assert model.site_widths()["encoder.layers.0.ffn.fc1"] == 24
    assert dict(model.named_modules())["decoder.layers.1.cross_attn.v"].site == "decoder.layers.1.cross_attn.v"


def test_the_site_grammar_names_exactly_the_models_sites():
    from neuralloc.sites import PROJECTIONS, site_error

    model = tiny()
    assert all(site_error(name, {"encoder": 2, "decoder": 2}) is None for name in model.sites())
    found = {tuple(name.split(".")[-2:]) for name in model.sites()}
    assert found == {(kind, proj) for kind, projs in PROJECTIONS.items() for proj in projs}


@pytest.mark.parametrize("pre_norm", [False, True])
def test_incremental_decoding_equals_full_forward(pre_norm):
    model = tiny(pre_norm)
    src, prev = batch()
    full = model(src, prev)
    memory, mask = model.encode(src)
    cache = [{} for _ in model.decoder.layers]
    steps = [model.decode(prev[:, t:t + 1], memory, mask, cache=cache, offset=t) for t in range(prev.size(1))]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_decoder_is_causal_and_padding_is_ignored():
    model = tiny()
    src, prev = batch()
    out = model(src, prev)
    changed = prev.clone()
    changed[:, 4:] = 5
    torch.testing.assert_close(model(src, changed)[:, :4], out[:, :4])
    src2 = src.clone()
    src2[0, 5:] = 0
    src3 = torch.cat([src2, torch.zeros(3, 3, dtype=torch.long)], dim=1)  # more padding
    torch.testing.assert_close(model(src3, prev), model(src2, prev), atol=1e-5, rtol=1e-5)


def test_all_true_mask_is_bit_identical_and_a_mask_changes_output():
    model = tiny()
    src, prev = batch()
    plain = model(src, prev)
    ones = {name: torch.ones(3, w) for name, w in model.site_widths().items()}
    assert torch.equal(model(src, prev, SiteContext(masks=ones)), plain)
    some = dict(ones)
    some["encoder.layers.0.ffn.fc1"] = torch.ones(3, 24)
    some["encoder.layers.0.ffn.fc1"][1, :12] = 0  # only example 1 loses neurons
    masked = model(src, prev, SiteContext(masks=some))
    assert torch.equal(masked[0], plain[0]) and torch.equal(masked[2], plain[2])
    assert not torch.allclose(masked[1], plain[1])


def test_record_keeps_site_outputs_and_their_gradients():
    model = tiny()
    src, prev = batch()
    rec = {}
    model(src, prev, SiteContext(record=rec)).sum().backward()
    h = rec["decoder.layers.0.ffn.fc1"]
    assert h.shape == (3, 6, 24) and h.grad is not None and h.grad.shape == h.shape
    assert rec["encoder.layers.1.self_attn.q"].shape == (3, 7, 16)


def test_beam_one_equals_greedy():
    model = tiny()
    src, _ = batch(n=5, s=6, seed=3)
    g = greedy(model, src, bos=1, eos=2, max_len_a=1.0, max_len_b=5)
    b = beam_search(model, src, bos=1, eos=2, beam=1, max_len_a=1.0, max_len_b=5)
    assert g == b


def test_beam_search_respects_max_length_and_order():
    model = tiny()
    src, _ = batch(n=4, s=6, seed=5)
    hyps = beam_search(model, src, bos=1, eos=2, beam=4, max_len_a=0.0, max_len_b=3)
    assert len(hyps) == 4 and all(len(h) <= 2 for h in hyps)  # at most 3 steps, the last is EOS
    # each row decoded alone gives the same result: batching does not mix sentences
    for i in range(4):
        alone = beam_search(model, src[i:i + 1], bos=1, eos=2, beam=4, max_len_a=0.0, max_len_b=3)
        assert alone[0] == hyps[i]


@pytest.mark.parametrize("lenpen,min_len", [(0.6, 1), (1.0, 1), (0.6, 0), (0.6, 2)])
def test_wide_beam_finds_the_exhaustive_best(lenpen, min_len):
    """A beam wider than every hypothesis set is exhaustive: its output must be the argmax over all
    outputs of at most 3 steps, and at least ``min_len`` tokens, of sum log p / len ** lenpen, here
    scored by full forward passes."""
    torch.manual_seed(0)
    vocab = 8  # pad 0, bos 1, eos 2, five real tokens
    model = Transformer(ModelConfig(vocab_size=vocab, d_model=16, ffn_dim=24, heads=2, encoder_layers=1,
                                    decoder_layers=2, dropout=0.0, max_positions=16)).eval()
    src, _ = batch(n=3, s=5, vocab=vocab, seed=7)
    real = range(3, vocab)
    outputs = [[]] + [[a] for a in real] + [[a, b] for a in real for b in real]
    outputs = [out for out in outputs if len(out) >= min_len]

    def score(row, out):
        prev = torch.tensor([[1] + out])
        with torch.no_grad():
            logits = model(src[row:row + 1], prev)[0].float()
        logits[:, [0, 1]] = float("-inf")  # padding and BOS are never produced
        logp = torch.log_softmax(logits, -1)
        target = out + [2]
        return float(sum(logp[i, tok] for i, tok in enumerate(target))) / len(target) ** lenpen

    hyps = beam_search(model, src, bos=1, eos=2, beam=64, lenpen=lenpen, max_len_a=0.0, max_len_b=3, min_len=min_len)
    for row in range(3):
        best = max(outputs, key=lambda out: score(row, out))
        assert hyps[row] == best


@pytest.mark.parametrize("beam", [1, 4])
def test_min_len_blocks_an_eos_that_dominates(beam):
    """A model that always prefers EOS: fairseq's rule (min_len 1) still gives one token at least;
    with min_len 0 every output is empty."""
    model = tiny()
    plain = model.decode

    def eos_first(*args, **kwargs):
        logits = plain(*args, **kwargs)
        logits[..., 2] += 50.0
        return logits

    model.decode = eos_first
    src, _ = batch(n=6, s=6, seed=4)
    assert decode(model, src, bos=1, eos=2, beam=beam, min_len=0) == [[]] * 6
    assert all(len(h) == 1 for h in decode(model, src, bos=1, eos=2, beam=beam))  # default min_len 1
    assert all(len(h) == 3 for h in decode(model, src, bos=1, eos=2, beam=beam, min_len=3))
    # the length limit wins where the two meet
    assert all(len(h) == 1 for h in decode(model, src, bos=1, eos=2, beam=beam, min_len=5, max_len_a=0.0, max_len_b=2))


def test_too_long_input_is_a_clear_error():
    model = tiny()
    with pytest.raises(ValueError, match="exceeds max_positions 40"):
        model.encode(torch.ones(1, 41, dtype=torch.long))
