"""Cross-modal stitching (analysis-methods.md §6.7, after kurexi/SAEs
``extensions/model_stitching.py``): a ridge map from a text representation
into an image-feature space, scored by whether each text concept lands near
images of its paired class.

``images`` supplies the image features (offline: sklearn digits and a tiny
CNN trained once; cluster: ResNet50 on CIFAR-100); ``stitching`` fits and
scores the map over random concept->class bijections, with a shuffled control.
"""

from saeprobe.crossmodal.images import (
    DigitEncoder,
    classifier_accuracy,
    digits_images,
    digits_split,
    image_features,
    load_encoder,
    resnet50_cifar100_features,
    sample_per_class,
    save_encoder,
    train_digit_encoder,
)
from saeprobe.crossmodal.stitching import (
    StitchMap,
    ZScore,
    fit_stitch,
    nearest_class_accuracy,
    stitching_scores,
    zscore_fit,
)

__all__ = [
    "DigitEncoder",
    "StitchMap",
    "ZScore",
    "classifier_accuracy",
    "digits_images",
    "digits_split",
    "fit_stitch",
    "image_features",
    "load_encoder",
    "nearest_class_accuracy",
    "resnet50_cifar100_features",
    "sample_per_class",
    "save_encoder",
    "stitching_scores",
    "train_digit_encoder",
    "zscore_fit",
]
