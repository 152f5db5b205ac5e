"""A plain Transformer encoder-decoder (fairseq ``transformer`` base by default) whose neuron
sites are addressable by stable names.

A *neuron site* is a linear layer whose output units are the neurons of the method: the q, k, v
and out projections of every attention block and fc1, fc2 of every FFN. Each ``SiteLinear`` knows
its name, which is its module path (``encoder.layers.0.self_attn.q``,
``decoder.layers.5.cross_attn.v``, ``decoder.layers.2.ffn.fc1`` ...). A forward pass takes a
``SiteContext`` that can (a) multiply any site's output by a per-example mask and (b) keep each
site's output (with its gradient) for importance: no hooks, no string-keyed globals.

Two baselines route examples to their own parameters: +TS (Blackwood et al. 2018) keeps one set
of attention parameters per target language, +Adapter (Bapna & Firat 2019) one bottleneck
adapter per pair after every layer. ``ModelConfig.route_pairs`` names the pairs they are indexed
by, and the SiteContext carries each example's route (see ``context_maker``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class ModelConfig:
    vocab_size: int
    pad_id: int = 0
    d_model: int = 512
    ffn_dim: int = 2048
    heads: int = 8
    encoder_layers: int = 6
    decoder_layers: int = 6
    dropout: float = 0.1
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    pre_norm: bool = False  # fairseq's transformer base (the paper) is post-norm
    max_positions: int = 256
    route_pairs: list[str] = field(default_factory=list)  # pairs the routed modules below are indexed by
    target_specific_attention: bool = False  # +TS: every attention block has one parameter set per target language
    adapter_dim: int = 0  # +Adapter: bottleneck width of the per-pair adapters after every layer; 0 = none

    def __post_init__(self):
        if (self.target_specific_attention or self.adapter_dim) and not self.route_pairs:
            raise ValueError("target-specific attention and adapters need route_pairs")

    def target_langs(self) -> list[str]:
        return sorted({p.split("-")[1] for p in self.route_pairs})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Route:
    """Which parameter set each row of a batch uses (+TS: its target language, +Adapter: its pair),
    grouped once per batch on the host: the rows sorted by group (``order``, on the device), each
    group's size, and the permutation back (``inverse``). Routed modules then split and reassemble
    their rows without reading anything back from the device."""

    ids: np.ndarray      # (B,) the group of each row, on the host
    order: Tensor        # (B,) rows sorted by group (stable), on the device
    inverse: Tensor      # (B,) the permutation that undoes ``order``
    groups: tuple[int, ...]  # the groups present, ascending
    counts: tuple[int, ...]  # their sizes

    @classmethod
    def of(cls, ids, device="cpu") -> "Route":
        ids = np.asarray(ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        groups, counts = np.unique(ids, return_counts=True)
        move = lambda a: torch.from_numpy(a).to(device, non_blocking=True)  # noqa: E731
        return cls(ids, move(order), move(inverse), tuple(groups.tolist()), tuple(counts.tolist()))

    def repeat(self, repeats: int) -> "Route":
        """The route of a batch whose rows are each repeated ``repeats`` times (beam search)."""
        return Route.of(np.repeat(self.ids, repeats), self.order.device)

    def select(self, rows: np.ndarray) -> "Route":
        """The route of the batch reduced to ``rows`` (host indices)."""
        return Route.of(self.ids[rows], self.order.device)


@dataclass
class SiteContext:
    """What neuron sites do during one forward pass.

    ``masks``: site name -> (batch, width) multipliers, one row per example (already gathered by
    the example's pair). ``record``: when a dict, every site stores its output there (with
    ``retain_grad`` when grad is enabled) for importance estimation. ``pair_route`` and
    ``target_route``: each example's parameter set in the routed baselines.
    """

    masks: dict[str, Tensor] | None = None
    record: dict[str, Tensor] | None = None
    pair_route: Route | None = None    # index of each example's pair in ModelConfig.route_pairs
    target_route: Route | None = None  # index of each example's target language in target_langs()

    def expand(self, repeats: int) -> "SiteContext":
        """The same context for a batch whose rows are repeated ``repeats`` times (beam search; beams
        are only ever reordered within their sentence, so the rows stay right)."""
        if repeats == 1:
            return self
        masks = {k: m.repeat_interleave(repeats, dim=0) for k, m in self.masks.items()} if self.masks else self.masks
        return replace(self, masks=masks, **self._routes(lambda r: r.repeat(repeats)))

    def select(self, rows: np.ndarray) -> "SiteContext":
        """The context of the batch reduced to ``rows`` (host indices; beam search drops finished
        sentences)."""
        index = None
        if self.masks:
            device = next(iter(self.masks.values())).device
            index = torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(device, non_blocking=True)
        masks = {k: m.index_select(0, index) for k, m in self.masks.items()} if self.masks else self.masks
        return replace(self, masks=masks, **self._routes(lambda r: r.select(rows)))

    def _routes(self, fn) -> dict:
        return {name: None if r is None else fn(r) for name, r in
                (("pair_route", self.pair_route), ("target_route", self.target_route))}


NO_SITES = SiteContext()


def context_maker(cfg: ModelConfig, pairs: list[str], masks_for: Callable[[Tensor], SiteContext] | None = None,
                  device="cpu") -> Callable[[Tensor], SiteContext]:
    """pair ids of a batch (indices into ``pairs``: a NumPy array, or the batch's host tensor) ->
    the SiteContext for it: the method's masks from ``masks_for``, and each example's route when the model has routed
    modules (grouped on the host: routing reads nothing back from the device)."""
    routed = cfg.target_specific_attention or cfg.adapter_dim > 0
    if routed:
        missing = [p for p in pairs if p not in cfg.route_pairs]
        if missing:
            raise ValueError(f"the model has pair-routed modules for {cfg.route_pairs} only, not for {missing}")
        targets = cfg.target_langs()
        pair_route = np.array([cfg.route_pairs.index(p) for p in pairs], dtype=np.int64)
        target_route = np.array([targets.index(p.split("-")[1]) for p in pairs], dtype=np.int64)

    def make(pair_ids) -> SiteContext:
        if isinstance(pair_ids, Tensor):
            if pair_ids.device.type != "cpu":
                raise ValueError("context_for takes the batch's host pair ids (reading them from the device would stall it)")
            pair_ids = pair_ids.numpy()
        ids = np.asarray(pair_ids, dtype=np.int64)
        ctx = masks_for(ids) if masks_for else NO_SITES
        if not routed:
            return ctx
        return replace(ctx, pair_route=Route.of(pair_route[ids], device), target_route=Route.of(target_route[ids], device))

    return make


def routed(x: Tensor, route: Route, fn: Callable[[int, Tensor], Tensor]) -> Tensor:
    """``fn(g, rows)`` applied to the rows of ``x`` whose group is g, reassembled in row order."""
    if len(route.groups) == 1:
        return fn(route.groups[0], x)
    parts = x.index_select(0, route.order).split(route.counts)
    return torch.cat([fn(g, rows) for g, rows in zip(route.groups, parts)]).index_select(0, route.inverse)


class SiteLinear(nn.Linear):
    """``nn.Linear`` whose output units are neurons of the site ``self.site``. With ``groups`` > 0
    (+TS) it holds one weight and bias per target language and routes each example to its own."""

    site: str = ""

    def __init__(self, in_features: int, out_features: int, groups: int = 0):
        super().__init__(in_features, out_features)
        self.groups = groups
        if groups:
            self.weight = nn.Parameter(torch.empty(groups, out_features, in_features))
            self.bias = nn.Parameter(torch.zeros(groups, out_features))

    def reset_parameters_xavier(self) -> None:
        for w in self.weight.view(-1, self.out_features, self.in_features):
            nn.init.xavier_uniform_(w)
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, ctx: SiteContext = NO_SITES) -> Tensor:
        if self.groups:
            if ctx.target_route is None:
                raise ValueError(f"{self.site} is target-specific: the SiteContext needs target_route")
            y = routed(x, ctx.target_route, lambda g, rows: F.linear(rows, self.weight[g], self.bias[g]))
        else:
            y = super().forward(x)
        if ctx.masks is not None and self.site in ctx.masks:
            y = y * ctx.masks[self.site].to(y.dtype).unsqueeze(1)  # (B, W) over (B, T, W)
        if ctx.record is not None:
            if y.requires_grad:
                y.retain_grad()
            ctx.record[self.site] = y
        return y


class Attention(nn.Module):
    def __init__(self, d_model: int, heads: int, dropout: float, groups: int = 0):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads, self.dropout = heads, dropout
        self.q, self.k, self.v, self.out = (SiteLinear(d_model, d_model, groups) for _ in range(4))

    def _split(self, x: Tensor) -> Tensor:  # (B, T, D) -> (B, H, T, D/H)
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x: Tensor, memory: Tensor | None, mask: Tensor | None, ctx: SiteContext,
                causal: bool = False, cache: dict | None = None, cache_key: str = "") -> Tensor:
        """Self-attention when ``memory`` is None, else cross-attention over ``memory``.

        ``cache`` (incremental decoding): self-attention appends this step's keys/values;
        cross-attention computes the memory's keys/values once.
        """
        q = self._split(self.q(x, ctx))
        if cache is not None and memory is not None and cache_key in cache:
            k, v = cache[cache_key]
        else:
            src = x if memory is None else memory
            k, v = self._split(self.k(src, ctx)), self._split(self.v(src, ctx))
            if cache is not None:
                if memory is None and cache_key in cache:
                    pk, pv = cache[cache_key]
                    k, v = torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2)
                cache[cache_key] = (k, v)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0,
            is_causal=causal and cache is None,
        )
        b, h, t, dh = y.shape
        return self.out(y.transpose(1, 2).reshape(b, t, h * dh), ctx)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, ffn_dim: int, activation_dropout: float):
        super().__init__()
        self.fc1, self.fc2 = SiteLinear(d_model, ffn_dim), SiteLinear(ffn_dim, d_model)
        self.activation_dropout = activation_dropout

    def forward(self, x: Tensor, ctx: SiteContext) -> Tensor:
        h = F.dropout(F.relu(self.fc1(x, ctx)), self.activation_dropout, self.training)
        return self.fc2(h, ctx)


class Adapters(nn.Module):
    """+Adapter: one residual bottleneck adapter per pair (LayerNorm -> d->r -> ReLU -> r->d),
    routed by the example's pair. Not neuron sites: the method never sees them."""

    def __init__(self, d_model: int, dim: int, pairs: int):
        super().__init__()
        self.norm_weight = nn.Parameter(torch.ones(pairs, d_model))
        self.norm_bias = nn.Parameter(torch.zeros(pairs, d_model))
        self.down_weight = nn.Parameter(torch.empty(pairs, dim, d_model))
        self.down_bias = nn.Parameter(torch.zeros(pairs, dim))
        self.up_weight = nn.Parameter(torch.zeros(pairs, d_model, dim))  # starts as the identity
        self.up_bias = nn.Parameter(torch.zeros(pairs, d_model))
        for w in self.down_weight:
            nn.init.xavier_uniform_(w)

    def _one(self, g: int, x: Tensor) -> Tensor:
        h = F.layer_norm(x, x.shape[-1:], self.norm_weight[g], self.norm_bias[g])
        h = F.relu(F.linear(h, self.down_weight[g], self.down_bias[g]))
        return x + F.linear(h, self.up_weight[g], self.up_bias[g])

    def forward(self, x: Tensor, ctx: SiteContext) -> Tensor:
        if ctx.pair_route is None:
            raise ValueError("the model has per-pair adapters: the SiteContext needs pair_route")
        return routed(x, ctx.pair_route, self._one)


class _Sublayers(nn.Module):
    """Residual + layer norm around each sublayer, pre- or post-norm, and the pair's adapter
    after the layer when the model has adapters."""

    def __init__(self, cfg: ModelConfig, n: int):
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(cfg.d_model) for _ in range(n))
        self.pre_norm, self.dropout = cfg.pre_norm, cfg.dropout
        self.attn_groups = len(cfg.target_langs()) if cfg.target_specific_attention else 0
        self.adapter = Adapters(cfg.d_model, cfg.adapter_dim, len(cfg.route_pairs)) if cfg.adapter_dim else None

    def adapt(self, x: Tensor, ctx: SiteContext) -> Tensor:
        return x if self.adapter is None else self.adapter(x, ctx)

    def residual(self, i: int, x: Tensor, fn) -> Tensor:
        if self.pre_norm:
            return x + F.dropout(fn(self.norms[i](x)), self.dropout, self.training)
        return self.norms[i](x + F.dropout(fn(x), self.dropout, self.training))


class EncoderLayer(_Sublayers):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg, 2)
        self.self_attn = Attention(cfg.d_model, cfg.heads, cfg.attention_dropout, self.attn_groups)
        self.ffn = FeedForward(cfg.d_model, cfg.ffn_dim, cfg.activation_dropout)

    def forward(self, x: Tensor, src_mask: Tensor, ctx: SiteContext) -> Tensor:
        x = self.residual(0, x, lambda h: self.self_attn(h, None, src_mask, ctx))
        return self.adapt(self.residual(1, x, lambda h: self.ffn(h, ctx)), ctx)


class DecoderLayer(_Sublayers):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg, 3)
        self.self_attn = Attention(cfg.d_model, cfg.heads, cfg.attention_dropout, self.attn_groups)
        self.cross_attn = Attention(cfg.d_model, cfg.heads, cfg.attention_dropout, self.attn_groups)
        self.ffn = FeedForward(cfg.d_model, cfg.ffn_dim, cfg.activation_dropout)

    def forward(self, x, memory, memory_mask, ctx, cache=None):
        x = self.residual(0, x, lambda h: self.self_attn(h, None, None, ctx, causal=True, cache=cache, cache_key="self"))
        x = self.residual(1, x, lambda h: self.cross_attn(h, memory, memory_mask, ctx, cache=cache, cache_key="cross"))
        return self.adapt(self.residual(2, x, lambda h: self.ffn(h, ctx)), ctx)


def sinusoidal_positions(n: int, d: int) -> Tensor:
    pos = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    table = torch.zeros(n, d)
    table[:, 0::2], table[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
    return table


class Stack(nn.Module):
    def __init__(self, cfg: ModelConfig, layer, n: int):
        super().__init__()
        self.layers = nn.ModuleList(layer(cfg) for _ in range(n))
        self.final_norm = nn.LayerNorm(cfg.d_model) if cfg.pre_norm else nn.Identity()


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_id)
        nn.init.normal_(self.embed.weight, mean=0.0, std=cfg.d_model ** -0.5)
        with torch.no_grad():
            self.embed.weight[cfg.pad_id].zero_()
        self.register_buffer("positions", sinusoidal_positions(cfg.max_positions + 1, cfg.d_model), persistent=False)
        self.encoder = Stack(cfg, EncoderLayer, cfg.encoder_layers)
        self.decoder = Stack(cfg, DecoderLayer, cfg.decoder_layers)
        for name, module in self.named_modules():
            if isinstance(module, SiteLinear):
                module.site = name
                module.reset_parameters_xavier()

    # ---- the vocabulary of neuron sites ---------------------------------------------------
    def sites(self) -> dict[str, SiteLinear]:
        """Site name -> module, in model order."""
        return {m.site: m for m in self.modules() if isinstance(m, SiteLinear)}

    def site_widths(self) -> dict[str, int]:
        return {name: m.out_features for name, m in self.sites().items()}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- forward -------------------------------------------------------------------------
    def _embed(self, tokens: Tensor, offset: int = 0) -> Tensor:
        if tokens.size(1) + offset > self.cfg.max_positions:
            raise ValueError(f"sequence of {tokens.size(1) + offset} tokens exceeds max_positions {self.cfg.max_positions}")
        x = self.embed(tokens) * math.sqrt(self.cfg.d_model)
        x = x + self.positions[offset:offset + tokens.size(1)].to(x.dtype)
        return F.dropout(x, self.cfg.dropout, self.training)

    def encode(self, src: Tensor, ctx: SiteContext = NO_SITES) -> tuple[Tensor, Tensor]:
        """(memory, key-padding mask for attention over it, shaped (B, 1, 1, S))."""
        mask = (src != self.cfg.pad_id)[:, None, None, :]
        x = self._embed(src)
        for layer in self.encoder.layers:
            x = layer(x, mask, ctx)
        return self.encoder.final_norm(x), mask

    def decode(self, prev: Tensor, memory: Tensor, memory_mask: Tensor, ctx: SiteContext = NO_SITES,
               cache: list[dict] | None = None, offset: int = 0, fp32_logits: bool = False) -> Tensor:
        """Logits (B, T, V) for decoder inputs ``prev``; with ``cache``, ``prev`` is the new step.
        ``fp32_logits``: the output projection in fp32 even under bf16 autocast (decoding: bf16
        logits change which token wins, see docs/benchmarks.md; training's loss upcasts anyway)."""
        x = self._embed(prev, offset)
        for i, layer in enumerate(self.decoder.layers):
            x = layer(x, memory, memory_mask, ctx, None if cache is None else cache[i])
        x = self.decoder.final_norm(x)
        if fp32_logits:
            with torch.autocast(x.device.type, enabled=False):
                return F.linear(x.float(), self.embed.weight.float())
        return F.linear(x, self.embed.weight)  # output projection tied to the embeddings

    def forward(self, src: Tensor, prev: Tensor, ctx: SiteContext = NO_SITES) -> Tensor:
        memory, mask = self.encode(src, ctx)
        return self.decode(prev, memory, mask, ctx)


def site_widths(cfg: ModelConfig) -> dict[str, int]:
    """Site name -> width of a model with config ``cfg``, without allocating its weights."""
    with torch.device("meta"):
        return Transformer(cfg).site_widths()
