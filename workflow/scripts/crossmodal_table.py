"""Cross-modal stitching scores across the text representations."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.logs import job_logger

log = job_logger(snakemake.log[0])
table = pd.concat([pd.read_parquet(f) for f in snakemake.input], ignore_index=True)
write_table(snakemake.output[0], table.drop(columns=["pairing_accuracies"]))
log.info("%d representations", len(table))
