"""A fit's iterations replayed as CUDA graphs.

On a GPU an eager iteration of the v2 fit is some 1,500 small kernel
launches, bound by the CPU; captured once as a CUDA graph, it replays as
one. A graph replays fixed shapes with the values of the moment, so each
distinct iteration (a phase's quantization mode and sample offset) gets
its own, and the values a schedule changes (learning rates, temperature)
must be tensors changed in place.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Hashable

import torch

Outputs = tuple[torch.Tensor, ...]


class GraphReplay:
    """Runs ``step(*args)`` for a key: the first time eagerly, and with ``enabled``
    (a CUDA fit) captured as a CUDA graph that the next calls with the key replay.

    The eager run goes on a side stream, as capture wants: it creates the
    optimizer's state. ``before_capture`` runs between it and the capture
    (the step's gradients are cleared, so the capture allocates its own).
    Where a capture fails, a warning says so and every later call runs eagerly.
    """

    def __init__(self, step: Callable[..., Outputs], before_capture: Callable[[], None],
                 enabled: bool):
        self.step, self.before_capture, self.enabled = step, before_capture, enabled
        self.graphs: dict[Hashable, tuple[torch.cuda.CUDAGraph, Outputs]] = {}

    def __call__(self, key: Hashable, *args) -> Outputs:
        if key in self.graphs:
            graph, outputs = self.graphs[key]
            graph.replay()
            return outputs
        side = torch.cuda.Stream() if self.enabled else None
        with torch.cuda.stream(side) if self.enabled else contextlib.nullcontext():
            outputs = self.step(*args)
        if self.enabled:
            torch.cuda.current_stream().wait_stream(side)
            try:
                graph = torch.cuda.CUDAGraph()
                self.before_capture()
                with torch.cuda.graph(graph):
                    captured = self.step(*args)
                self.graphs[key] = graph, captured
            except RuntimeError as e:
                warnings.warn(f"CUDA graph capture failed, the fit goes on without: {e}")
                self.enabled = False
        return outputs
