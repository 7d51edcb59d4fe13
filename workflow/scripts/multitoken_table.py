"""The multi-token probes beside the last-token probes of the same methods."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.logs import job_logger
from saeprobe.multitoken import multitoken_table

log = job_logger(snakemake.log[0])
pooled = [pd.read_parquet(f) for f in snakemake.input.pooled]
table = multitoken_table(pooled, pd.read_parquet(snakemake.input.last_token), snakemake.params.baselines,
                         snakemake.params.saes, snakemake.params.ks, snakemake.params.layer)
write_table(snakemake.output[0], table)
log.info("%d rows:\n%s", len(table), table.groupby(["method", "sae", "k", "pooling"], dropna=False)["test_auc"].mean())
