"""L2 logistic-regression baseline on one dataset's raw activations (normal setting)."""

from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.logs import job_logger
from saeprobe.probing import baseline_normal

log = job_logger(snakemake.log[0], snakemake.threads)
layer = int(snakemake.wildcards.layer)
labels = pd.read_parquet(snakemake.input.dataset, columns=["label"])["label"].to_numpy()
activations = np.load(Path(snakemake.input.activations) / f"layer_{layer}.npy")
table = baseline_normal(activations, labels, engine=snakemake.params.engine, model=snakemake.wildcards.model,
                        dataset=snakemake.wildcards.dataset, layer=layer)
write_table(snakemake.output[0], table)
log.info("\n%s", table.to_string())
