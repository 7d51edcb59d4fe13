"""Image features for cross-modal stitching (analysis-methods.md §6.7).

The reference (kurexi/SAEs ``extensions/model_stitching.py``) maps text into
the 2048-d pooled features of an ImageNet ResNet50 applied to CIFAR-100. Two
sources of image features live here:

* **Offline path** (runs anywhere, needs no download): scikit-learn's
  ``load_digits`` (1797 images, 8x8, 10 classes, shipped inside sklearn) and a
  tiny CNN trained on them once, whose penultimate layer is the feature space.
  ``digits_images`` -> ``digits_split`` -> ``train_digit_encoder`` on the train
  rows -> ``sample_per_class`` on the held-out rows -> ``image_features``.
* **Cluster path**: ``resnet50_cifar100_features``, the reference's setting.
  It needs torchvision (imported inside the function) and downloads CIFAR-100
  and the ResNet50 weights on first use, so it runs only where both work.

The digits give at most 10 image classes, so the offline path stitches at most
10 text concepts (the reference uses 100).
"""

from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from saeprobe.atomic import atomic_path

FEATURE_DIM = 64
DIGIT_SIDE = 8  # load_digits images are 8x8 with values 0..16
_DIGIT_MAX = 16.0
_ENCODER_FORMAT = "saeprobe-digit-encoder"  # safetensors metadata tag checked by load_encoder
RESNET_SIZE = 224  # the reference resizes CIFAR's 32x32 to 224 (bicubic)


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's digits as ``(images float32 [n, 1, 8, 8] in [0, 1], labels int64 [n])``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images_n188 = (digits.images / _DIGIT_MAX).astype(np.float32)[:, None]
    return images_n188, digits.target.astype(np.int64)


def digits_split(labels: np.ndarray, seed: int = 0, test_fraction: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Stratified ``(train_rows, test_rows)``: the encoder trains on the first,
    the stitching images come from the second (images the encoder never saw)."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    train, test = train_test_split(np.arange(len(labels)), test_size=test_fraction,
                                   stratify=labels, random_state=seed)
    return np.sort(train), np.sort(test)


def sample_per_class(labels: np.ndarray, classes: Sequence[int], per_class: int, seed: int) -> np.ndarray:
    """Row indices of ``per_class`` rows of each class, grouped in the order of ``classes``.

    Each class draws without replacement from its own generator, seeded by
    ``(seed, class)``, so adding or removing a class leaves the others' rows
    unchanged (the reference also seeds each class's draw separately). Within a
    class the rows are in ascending order. Labels must be non-negative ints.
    """
    labels = np.asarray(labels)
    picks = []
    for cls in classes:
        rows = np.flatnonzero(labels == cls)
        if len(rows) < per_class:
            raise ValueError(f"class {cls} has {len(rows)} rows; {per_class} per class were requested")
        rng = np.random.default_rng([seed, int(cls)])
        picks.append(np.sort(rng.choice(rows, per_class, replace=False)))
    return np.concatenate(picks) if picks else np.empty(0, dtype=np.int64)


class DigitEncoder(nn.Module):
    """Two 3x3 convolutions (ReLU), a 2x2 max-pool and a linear layer to the
    ``feature_dim`` embedding; a linear head classifies from there.

    The embedding has no ReLU: with one, about 40% of its 64 units died in training.
    """

    def __init__(self, feature_dim: int = FEATURE_DIM, n_classes: int = 10, channels: Sequence[int] = (16, 32)):
        super().__init__()
        c1, c2 = channels
        self.feature_dim, self.n_classes, self.channels = int(feature_dim), int(n_classes), [int(c1), int(c2)]
        side = DIGIT_SIDE // 2
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * side * side, feature_dim),
        )
        self.head = nn.Linear(feature_dim, n_classes)

    def features(self, x_n188: torch.Tensor) -> torch.Tensor:
        return self.body(x_n188)

    def forward(self, x_n188: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x_n188))

    def config(self) -> dict:
        return {"feature_dim": self.feature_dim, "n_classes": self.n_classes, "channels": self.channels}


def _image_tensor(images) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, DIGIT_SIDE, DIGIT_SIDE):
        raise ValueError(f"images must be [n, 1, {DIGIT_SIDE}, {DIGIT_SIDE}], got shape {tuple(x.shape)}")
    return x


def train_digit_encoder(images: np.ndarray, labels: np.ndarray, seed: int = 0, epochs: int = 30,
                        feature_dim: int = FEATURE_DIM, batch_size: int = 128,
                        learning_rate: float = 2e-3) -> DigitEncoder:
    """Train a ``DigitEncoder`` with cross-entropy (Adam); returned in eval mode.

    Deterministic for a given seed: the weights are initialised under
    ``torch.manual_seed(seed)`` (inside ``fork_rng``, so the caller's global
    generator is untouched), each epoch's batch order comes from a generator
    seeded with ``seed``, and torch runs on one thread meanwhile (restored
    after), so no reduction depends on the core count. One thread is also the
    faster choice for a net this small: ~2 s for the defaults on 1257 digits.
    Labels must be 0..n_classes-1.
    """
    x_n188 = _image_tensor(images)
    y_n = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    if len(y_n) != len(x_n188):
        raise ValueError(f"{len(x_n188)} images but {len(y_n)} labels")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = DigitEncoder(feature_dim, n_classes=int(y_n.max()) + 1)
    order = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=learning_rate)
    encoder.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(epochs):
            perm = torch.randperm(len(y_n), generator=order)
            for start in range(0, len(perm), batch_size):
                batch = perm[start:start + batch_size]
                loss = nn.functional.cross_entropy(encoder(x_n188[batch]), y_n[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return encoder.eval()


def _batched(encoder: DigitEncoder, images, batch_size: int, fn) -> np.ndarray:
    x_n188 = _image_tensor(images)
    device = next(encoder.parameters()).device
    encoder.eval()
    with torch.no_grad():
        chunks = [fn(x_n188[i:i + batch_size].to(device)).cpu().numpy() for i in range(0, len(x_n188), batch_size)]
    return np.concatenate(chunks) if chunks else np.empty((0,), dtype=np.float32)


def image_features(encoder: DigitEncoder, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The encoder's ``features`` of ``images`` as float32 [n, feature_dim] (puts it in eval mode)."""
    return _batched(encoder, images, batch_size, encoder.features).astype(np.float32).reshape(-1, encoder.feature_dim)


def classifier_accuracy(encoder: DigitEncoder, images: np.ndarray, labels: np.ndarray, batch_size: int = 512) -> float:
    """Fraction of ``images`` whose head prediction equals ``labels`` (the encoder's own quality check)."""
    logits_nk = _batched(encoder, images, batch_size, encoder)
    return float((logits_nk.argmax(axis=1) == np.asarray(labels)).mean())


def save_encoder(path: str | os.PathLike, encoder: DigitEncoder) -> None:
    """One safetensors file, atomically; the config rides in the file's metadata,
    so a single output holds everything ``load_encoder`` needs."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    metadata = {"format": _ENCODER_FORMAT, "config": json.dumps(encoder.config(), sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_encoder(path: str | os.PathLike) -> DigitEncoder:
    """Read a file written by ``save_encoder``; returned in eval mode on the CPU."""
    with safe_open(str(path), framework="pt") as fh:
        metadata = fh.metadata() or {}
    if metadata.get("format") != _ENCODER_FORMAT:
        raise ValueError(f"{path}: not a digit encoder written by save_encoder (no {_ENCODER_FORMAT!r} metadata)")
    encoder = DigitEncoder(**json.loads(metadata["config"]))
    encoder.load_state_dict(load_file(str(path)))
    return encoder.eval()


def _matching_torchvision() -> str:
    """The torchvision series built for this torch (2.N pairs with 0.(N+15) since torch 2.0)."""
    major, minor = (int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
    return f"torchvision 0.{minor + 15}.x" if major == 2 else "the torchvision release matching it"


def _import_torchvision():
    try:
        import torchvision
    except ImportError as err:
        raise ImportError(
            f"the CIFAR-100/ResNet50 image features need torchvision, which is not installed: "
            f"pip install torchvision, the release built for the installed torch {torch.__version__} "
            f"({_matching_torchvision()}; for a CUDA build use the same --index-url as torch). "
            f"Without it, use the offline digits path (digits_images, train_digit_encoder)."
        ) from err
    return torchvision


def resnet50_cifar100_features(root: str | os.PathLike, split: str, classes: Sequence[int], per_class: int,
                               seed: int, batch_size: int = 64,
                               device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Cluster path: ResNet50 (``IMAGENET1K_V2``, fc removed) features of CIFAR-100 images.

    Draws ``per_class`` images of each class in ``classes`` from the ``split``
    ("train" or "test") with ``sample_per_class``, resizes them from 32x32 to
    224x224 (bicubic) and normalises with the weights' ImageNet mean and std.
    The weights' own ``transforms()`` is not used: it resizes to 232 (bilinear)
    and centre-crops, which is not the reference's preprocessing. Downloads
    CIFAR-100 into ``root`` and the weights into the torch hub cache on first use.
    Returns ``(features float32 [n, 2048], labels int64 [n])``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    torchvision = _import_torchvision()
    from torchvision.models import ResNet50_Weights, resnet50
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    dataset = torchvision.datasets.CIFAR100(str(root), train=split == "train", download=True)
    labels_all = np.asarray(dataset.targets, dtype=np.int64)
    rows = sample_per_class(labels_all, classes, per_class, seed)
    weights = ResNet50_Weights.IMAGENET1K_V2
    preset = weights.transforms()  # only for its ImageNet mean and std
    model = resnet50(weights=weights)
    model.fc = nn.Identity()  # keep the 2048-d pooled feature
    model.eval().to(device)
    chunks = []
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch = torch.from_numpy(dataset.data[rows[start:start + batch_size]]).permute(0, 3, 1, 2).float() / 255
            batch = tvf.resize(batch, [RESNET_SIZE, RESNET_SIZE], interpolation=InterpolationMode.BICUBIC,
                               antialias=True).clamp_(0, 1)  # bicubic overshoots; PIL's uint8 path clips too
            batch = tvf.normalize(batch, preset.mean, preset.std)
            chunks.append(model(batch.to(device)).cpu().numpy())
    return np.concatenate(chunks).astype(np.float32), labels_all[rows]
