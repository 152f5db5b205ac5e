"""The vocabulary of neuron sites, shared by the model, importance, allocation, masks and analysis.

A site is named by its module path in ``model.Transformer``: ``{side}.layers.{i}.{kind}.{proj}``
with side ``encoder`` or ``decoder``, kind one of ``KINDS`` and proj ``q``, ``k``, ``v``, ``out``
(attention) or ``fc1``, ``fc2`` (FFN). Plain string functions, no torch: the analysis and figure
jobs read site names without importing the model.
"""

from __future__ import annotations

import re

STACKS = ("encoder", "decoder")
KINDS = ("self_attn", "cross_attn", "ffn")
PROJECTIONS = {"self_attn": ("q", "k", "v", "out"), "cross_attn": ("q", "k", "v", "out"), "ffn": ("fc1", "fc2")}
# A site name; the layer may be negative (counted from the top) where a config names a site.
SITE_RE = re.compile(r"(?P<side>encoder|decoder)\.layers\.(?P<layer>-?\d+)\.(?P<kind>\w+)\.(?P<proj>\w+)")


def site_error(name: str, layers: dict[str, int]) -> str | None:
    """Why ``name`` is not a neuron site of a model with ``layers`` ({"encoder": n, "decoder": m});
    None when it is one. A negative layer counts from the top."""
    m = SITE_RE.fullmatch(name)
    if not m:
        return "not of the form {encoder|decoder}.layers.L.{kind}.{projection}"
    side, layer, kind, proj = m["side"], int(m["layer"]), m["kind"], m["proj"]
    if kind not in KINDS or (side == "encoder" and kind == "cross_attn"):
        allowed = [k for k in KINDS if side == "decoder" or k != "cross_attn"]
        return f"{side} layers have {', '.join(allowed)}, not {kind!r}"
    if proj not in PROJECTIONS[kind]:
        return f"{kind} has projections {', '.join(PROJECTIONS[kind])}, not {proj!r}"
    if not -layers[side] <= layer < layers[side]:
        return f"layer {layer} is outside [-{layers[side]}, {layers[side]}) for {layers[side]} {side} layers"
    return None


def site_side(name: str) -> str:
    """'encoder' or 'decoder': the half of the model a site is in."""
    return name.split(".", 1)[0]


def site_layer(name: str) -> int:
    """The layer index of a site (0 = the bottom layer of its side)."""
    return int(name.split(".")[2])


def site_projection(name: str) -> str:
    """'q', 'k', 'v', 'out', 'fc1' or 'fc2'."""
    return name.rsplit(".", 1)[-1]


def site_kind(name: str) -> str:
    """'self_attn', 'cross_attn' or 'ffn': the module a site belongs to."""
    return name.split(".")[-2]


def site_tokens(name: str) -> str:
    """'source' or 'target': whose token positions a site's outputs are computed at. Cross-attention
    keys and values are decoder sites, but computed from the encoder output at source positions."""
    if site_side(name) == "encoder" or name.endswith(("cross_attn.k", "cross_attn.v")):
        return "source"
    return "target"
