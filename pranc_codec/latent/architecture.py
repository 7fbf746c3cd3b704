"""The two networks of a v2 file, synthesis and entropy model, as one flat weight vector."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .container import Head
from .entropy_model import ArmShape
from .synthesis import SynthesisShape


@dataclass(frozen=True)
class Architecture:
    """The two networks a header describes; their weights share one flat vector."""

    synthesis: SynthesisShape
    arm: ArmShape

    @classmethod
    def of(cls, h: Head) -> Architecture:
        return cls(SynthesisShape(h.levels, h.syn_width, h.syn_layers, h.syn_res, h.channels),
                   ArmShape(h.arm_context, h.arm_width, h.arm_layers))

    def layer_sizes(self) -> list[int]:
        return self.synthesis.layer_sizes() + self.arm.layer_sizes()

    @property
    def n_params(self) -> int:
        return self.synthesis.n_params + self.arm.n_params

    def init_exps(self) -> np.ndarray:
        return np.concatenate([self.synthesis.init_exps(), self.arm.init_exps()])

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(synthesis weights, entropy-model weights) of the flat vector."""
        return theta[:self.synthesis.n_params], theta[self.synthesis.n_params:]
