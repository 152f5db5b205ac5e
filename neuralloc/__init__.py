"""Importance-based neuron allocation for multilingual NMT (Xie et al., ACL 2021).

The package holds all logic; the Snakemake rules in ``rules/`` only wire its entry points.
"""

__version__ = "0.1.0"
