"""Collect every SAE's held-out quality metrics into one CSV."""

import json

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.logs import job_logger

log = job_logger(snakemake.log[0])
FIRST = ["model", "sae", "architecture", "layer", "width"]  # then hyperparameters and metrics, as written

table = pd.DataFrame([json.loads(open(path).read()) for path in snakemake.input])
table["model"] = snakemake.wildcards.model
table = table[FIRST + [c for c in table.columns if c not in FIRST]]
write_table(snakemake.output[0], table)
log.info("\n%s", table.to_string())
