"""+TS and +Adapter: parameter counts against hand formulas, routing by the batch's pair/target,
gradients only in the routed module; the system vocabulary and model configs of each architecture."""

import pytest
import torch

from neuralloc.decoding import beam_search, greedy
from neuralloc.model import ModelConfig, Transformer, context_maker

PAIRS = ["it-en", "en-it", "ro-en", "en-ro", "it-ro"]  # targets: en, it, ro
V, D, F, H, L = 31, 16, 24, 2, 2


def cfg(**kw) -> ModelConfig:
    sizes = {"vocab_size": V, "d_model": D, "ffn_dim": F, "heads": H, "encoder_layers": L, "decoder_layers": L}
    return ModelConfig(**{**sizes, "dropout": 0.0, "max_positions": 40, **kw})


def base_count(d=D, f=F, layers=L, vocab=V) -> int:
    """Hand formula: tied embedding + per layer attention blocks (4 d x d + bias), FFN, layer norms."""
    attn = 4 * (d * d + d)
    ffn = d * f + f + f * d + d
    norm = 2 * d
    enc = layers * (attn + ffn + 2 * norm)
    dec = layers * (2 * attn + ffn + 3 * norm)
    return vocab * d + enc + dec


def test_parameter_counts_match_hand_formulas():
    assert Transformer(cfg()).num_parameters() == base_count()
    targets = 3
    attn_blocks = L + 2 * L  # encoder self, decoder self, cross
    ts = Transformer(cfg(route_pairs=PAIRS, target_specific_attention=True)).num_parameters()
    assert ts == base_count() + (targets - 1) * attn_blocks * 4 * (D * D + D)
    r = 5
    adapter = Transformer(cfg(route_pairs=PAIRS, adapter_dim=r)).num_parameters()
    per_adapter = 2 * D + D * r + r + r * D + D
    assert adapter == base_count() + len(PAIRS) * 2 * L * per_adapter
    assert Transformer(cfg(ffn_dim=40)).num_parameters() == base_count(f=40)


def test_paper_scale_counts_match_the_papers_differences():
    """At the paper's M2M size (8 pairs, 4 target languages) the extra parameters are the paper's:
    121.42M - 64.69M for +TS and 77.43M - 64.69M for +Adapter (vocabulary-independent)."""
    pairs = ["it-en", "en-it", "ro-en", "en-ro", "nl-en", "en-nl", "it-ro", "ro-it"]
    base = Transformer(ModelConfig(vocab_size=100)).num_parameters()
    ts = Transformer(ModelConfig(vocab_size=100, route_pairs=pairs, target_specific_attention=True)).num_parameters()
    ad = Transformer(ModelConfig(vocab_size=100, route_pairs=pairs, adapter_dim=128)).num_parameters()
    assert round((ts - base) / 1e6, 2) == round(121.42 - 64.69, 2)
    assert round((ad - base) / 1e6, 2) == round(77.43 - 64.69, 2)


def batch(pairs_idx, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = len(pairs_idx)
    return torch.randint(4, V, (n, 6), generator=g), torch.randint(4, V, (n, 5), generator=g), torch.tensor(pairs_idx)


def routed_model(**kw):
    torch.manual_seed(0)
    model = Transformer(cfg(route_pairs=PAIRS, **kw)).eval()
    if kw.get("adapter_dim"):  # adapters start as the identity; make them do something
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "up_weight" in name:
                    p.normal_(0, 0.5)
    return model


@pytest.mark.parametrize("kw", [{"target_specific_attention": True}, {"adapter_dim": 4}])
def test_swapping_the_route_changes_the_output_and_rows_are_independent(kw):
    model = routed_model(**kw)
    make = context_maker(model.cfg, PAIRS)
    src, prev, pair = batch([0, 2, 3])
    out = model(src, prev, make(pair))
    swapped = pair.clone()
    swapped[1] = 1  # ro-en -> en-it: another target language and another pair
    out2 = model(src, prev, make(swapped))
    assert not torch.allclose(out[1], out2[1])
    torch.testing.assert_close(out[[0, 2]], out2[[0, 2]])  # the other examples are untouched
    alone = model(src[1:2], prev[1:2], make(pair[1:2]))  # a row's output does not depend on its batch
    torch.testing.assert_close(alone[0], out[1], atol=1e-5, rtol=1e-5)


def test_target_specific_gradients_reach_only_the_routed_parameters():
    model = routed_model(target_specific_attention=True)
    make = context_maker(model.cfg, PAIRS)
    targets = model.cfg.target_langs()
    src, prev, pair = batch([0, 2])  # it-en, ro-en: both target en
    model(src, prev, make(pair)).sum().backward()
    w = model.encoder.layers[0].self_attn.q.weight.grad
    en = targets.index("en")
    assert w[en].abs().sum() > 0
    assert all(w[g].abs().sum() == 0 for g in range(len(targets)) if g != en)


def test_adapter_gradients_reach_only_the_pairs_adapter():
    model = routed_model(adapter_dim=4)
    make = context_maker(model.cfg, PAIRS)
    src, prev, pair = batch([3, 3])  # en-ro only
    model(src, prev, make(pair)).sum().backward()
    for layer in list(model.encoder.layers) + list(model.decoder.layers):
        g = layer.adapter.down_weight.grad
        assert g[3].abs().sum() > 0
        assert all(g[i].abs().sum() == 0 for i in range(len(PAIRS)) if i != 3)


@pytest.mark.parametrize("kw", [{"target_specific_attention": True}, {"adapter_dim": 4}])
def test_routed_models_decode_incrementally_like_the_full_forward(kw):
    model = routed_model(**kw)
    ctx = context_maker(model.cfg, PAIRS)(torch.tensor([0, 4, 3]))
    src, prev, _ = batch([0, 4, 3])
    full = model(src, prev, ctx)
    memory, mask = model.encode(src, ctx)
    cache = [{} for _ in model.decoder.layers]
    steps = [model.decode(prev[:, t:t + 1], memory, mask, ctx, cache=cache, offset=t) for t in range(prev.size(1))]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    # beam 1 search (with its repeated rows) == greedy for routed models too
    assert beam_search(model, src, 1, 2, ctx, beam=1, lenpen=1.0) == greedy(model, src, 1, 2, ctx)


def test_a_pair_the_model_has_no_route_for_is_a_clear_error():
    model = routed_model(adapter_dim=4)
    with pytest.raises(ValueError, match="nl-en"):
        context_maker(model.cfg, ["it-en", "nl-en"])
    with pytest.raises(ValueError, match="pair_route"):
        src, prev, _ = batch([0])
        model(src, prev)
