"""The normal setting's baselines and SAE probes on one pooling of one dataset's prompts."""

from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.encoding import load_latents
from saeprobe.logs import job_logger
from saeprobe.paths import pooled_latents_file_name, pooled_residual_file_name
from saeprobe.probing import baseline_table, sae_probe_table

log = job_logger(snakemake.log[0], snakemake.threads)
pooling, folder = snakemake.wildcards.pooling, Path(snakemake.input.pooled)
rows = pd.read_parquet(snakemake.input.dataset, columns=["label", "text"])
labels, texts = rows["label"].to_numpy(), (rows["text"].to_numpy(), None)
ids = {"model": snakemake.wildcards.model, "dataset": snakemake.wildcards.dataset, "layer": snakemake.params.layer}
residual = np.load(folder / pooled_residual_file_name(pooling))
tables = [baseline_table(method, residual, labels, engine=snakemake.params.engine, texts=texts, **ids)
          for method in snakemake.params.baselines]
for sae in snakemake.params.saes:
    latents = load_latents(folder / pooled_latents_file_name(sae, pooling))
    tables.append(sae_probe_table(latents, labels, ks=snakemake.params.ks, ranking=snakemake.params.ranking,
                                  engine=snakemake.params.engine, texts=texts, sae=sae, **ids))
table = pd.concat(tables, ignore_index=True).assign(pooling=pooling)
write_table(snakemake.output[0], table)
log.info("\n%s", table[["method", "sae", "k", "test_auc"]].to_string())
