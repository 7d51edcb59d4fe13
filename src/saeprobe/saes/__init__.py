"""SAE architectures: one small class each, registered by key."""

from saeprobe.saes.base import ARCHITECTURES, SparseAutoencoder, TrainingLoss, load_sae, register
from saeprobe.saes.topk import TopKSAE

__all__ = ["ARCHITECTURES", "SparseAutoencoder", "TopKSAE", "TrainingLoss", "load_sae", "register"]
