"""Counting what stalls a GPU: reads of tensor values back to the host.

On a GPU, ``int(t)``, ``t.item()``, ``t.tolist()``, ``bool(t)``, ``t.nonzero()``, ``torch.unique``
(whose output size depends on the values) and the like wait for every kernel queued before them:
the host cannot queue the next step's work until the GPU has caught up. ``DeviceReads`` counts
these calls on tensors, whatever device they live on, so that a CPU run says how many a GPU run
would make (the code keeps host-side bookkeeping in NumPy, so every torch read it counts is a
device read there). Used by ``tests/test_gpu_paths.py`` and ``bench/device_reads.py``.
"""

from __future__ import annotations

from collections import Counter

from torch.overrides import TorchFunctionMode

READS = frozenset({"__int__", "__float__", "__bool__", "__index__", "item", "tolist", "numpy", "cpu", "nonzero",
                   "unique", "unique_consecutive", "_unique2", "masked_select", "equal", "allclose"})


class DeviceReads(TorchFunctionMode):
    """``with DeviceReads() as reads: ...``; then ``reads.total`` and ``reads.calls`` (name -> count)."""

    def __init__(self):
        super().__init__()
        self.calls: Counter = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in READS:
            self.calls[name] += 1
        return func(*args, **(kwargs or {}))

    @property
    def total(self) -> int:
        return sum(self.calls.values())
