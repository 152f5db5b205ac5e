"""The vocabulary of neuron sites, shared by the model, importance, allocation, masks and analysis.

A site is named by its module path in ``model.Transformer``: ``{side}.layers.{i}.{kind}.{proj}``
with side ``encoder`` or ``decoder``, kind one of ``KINDS`` and proj ``q``, ``k``, ``v``, ``out``
(attention) or ``fc1``, ``fc2`` (FFN). Plain string functions, no torch: the analysis and figure
jobs read site names without importing the model.
"""

from __future__ import annotations

KINDS = ("self_attn", "cross_attn", "ffn")


def site_side(name: str) -> str:
    """'encoder' or 'decoder': the half of the model a site is in."""
    return name.split(".", 1)[0]


def site_kind(name: str) -> str:
    """'self_attn', 'cross_attn' or 'ffn': the module a site belongs to."""
    return name.split(".")[-2]


def site_tokens(name: str) -> str:
    """'source' or 'target': whose token positions a site's outputs are computed at. Cross-attention
    keys and values are decoder sites, but computed from the encoder output at source positions."""
    if site_side(name) == "encoder" or name.endswith(("cross_attn.k", "cross_attn.v")):
        return "source"
    return "target"
