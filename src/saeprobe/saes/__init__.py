"""SAE architectures: one small class each, registered by key."""

from saeprobe.saes.base import ARCHITECTURES, SparseAutoencoder, TrainingLoss, load_sae, register
from saeprobe.saes.batchtopk import BatchTopKSAE
from saeprobe.saes.gated import GatedSAE
from saeprobe.saes.jumprelu import JumpReLUSAE
from saeprobe.saes.matryoshka import MatryoshkaBatchTopKSAE
from saeprobe.saes.panneal import PAnnealSAE
from saeprobe.saes.relu import ReLUAprilSAE, ReLUSAE
from saeprobe.saes.temporal import TemporalMatryoshkaBatchTopKSAE
from saeprobe.saes.topk import TopKSAE

__all__ = [
    "ARCHITECTURES", "BatchTopKSAE", "GatedSAE", "JumpReLUSAE", "MatryoshkaBatchTopKSAE", "PAnnealSAE",
    "ReLUAprilSAE", "ReLUSAE", "SparseAutoencoder", "TemporalMatryoshkaBatchTopKSAE", "TopKSAE", "TrainingLoss",
    "load_sae", "register",
]
