"""One dataset's residual and SAE codes pooled over each prompt's tokens (mean, max); the token tensor is not kept."""

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from saeprobe.activations import ResidualExtractor
from saeprobe.atomic import atomic_dir, write_json
from saeprobe.encoding import save_latents
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir, load_model
from saeprobe.paths import pooled_latents_file_name, pooled_residual_file_name
from saeprobe.saes import load_sae

log = job_logger(snakemake.log[0], snakemake.threads)
settings, layer = snakemake.params.model, snakemake.params.layer
texts = pd.read_parquet(snakemake.input.dataset, columns=["text"])["text"].tolist()
model, tokenizer = load_model(checkpoint_dir(snakemake.input.model), settings["dtype"])
device = next(model.parameters()).device
saes = {name: load_sae(Path(weights).parent).eval().to(device)
        for name, weights in zip(snakemake.params.saes, snakemake.input.saes)}
extractor = ResidualExtractor(model, tokenizer, [layer], settings["max_seq_len"], settings["batch_size"],
                              settings["chat_template"])
pooled = extractor.pooled_activations(texts, {name: sae.encode for name, sae in saes.items()})
with atomic_dir(snakemake.output[0]) as staging:
    for pooling in snakemake.params.poolings:
        np.save(staging / pooled_residual_file_name(pooling), pooled["residual"][pooling])
        for name in saes:
            save_latents(staging / pooled_latents_file_name(name, pooling), sp.csr_matrix(pooled[name][pooling]))
    write_json(staging / "meta.json", {"rows": len(texts), "layer": layer, "saes": list(saes),
                                       "poolings": list(snakemake.params.poolings)})
log.info("%d prompts pooled at layer %d for the residual and %s", len(texts), layer, list(saes))
