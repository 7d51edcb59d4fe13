"""Encode one dataset's activations through one SAE into a sparse latent matrix."""

from pathlib import Path

import numpy as np

from saeprobe.encoding import encode_activations, save_latents
from saeprobe.logs import job_logger
from saeprobe.paths import activation_file_name
from saeprobe.saes import load_sae

log = job_logger(snakemake.log[0], snakemake.threads)
sae = load_sae(Path(snakemake.input.sae).parent)
activations = np.load(Path(snakemake.input.activations) / activation_file_name(snakemake.params.layer))
latents = encode_activations(sae, activations)
save_latents(snakemake.output[0], latents)
log.info("%d rows -> %d latents, mean L0 %.1f", latents.shape[0], latents.shape[1], latents.getnnz() / max(1, latents.shape[0]))
