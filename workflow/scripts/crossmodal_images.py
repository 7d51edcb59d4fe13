"""Image features for cross-modal stitching: the digits through a small CNN trained here, or CIFAR-100 through ResNet50."""

import numpy as np

from saeprobe.atomic import atomic_dir, write_json
from saeprobe.crossmodal.images import (classifier_accuracy, digits_images, digits_split, image_features,
                                        resnet50_cifar100_features, save_encoder, train_digit_encoder)
from saeprobe.logs import job_logger
from saeprobe.paths import image_features_file_name

log = job_logger(snakemake.log[0], snakemake.threads)
source, seed = snakemake.wildcards.images, snakemake.params.seed
with atomic_dir(snakemake.output[0]) as staging:
    if source == "digits":
        images, labels = digits_images()
        train, held_out = digits_split(labels, seed)
        encoder = train_digit_encoder(images[train], labels[train], seed)
        save_encoder(staging / "encoder.safetensors", encoder)
        # The stitched images are those the encoder never saw.
        features, labels = image_features(encoder, images[held_out]), labels[held_out]
        meta = {"source": source, "encoder_train_images": len(train),
                "encoder_held_out_accuracy": classifier_accuracy(encoder, images[held_out], labels)}
    else:
        features, labels = resnet50_cifar100_features(snakemake.params.root, "train", range(100),
                                                      snakemake.params.per_class, seed)
        meta = {"source": source, "model": "torchvision resnet50 IMAGENET1K_V2, fc removed"}
    np.savez(staging / image_features_file_name(), features=features, labels=labels)
    write_json(staging / "meta.json", {**meta, "images": len(labels), "classes": len(np.unique(labels)),
                                       "feature_dim": features.shape[1]})
log.info("%s: %d images of %d classes, %d-d features; %s", source, len(labels), len(np.unique(labels)),
         features.shape[1], meta)
