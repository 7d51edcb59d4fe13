"""The figure of one representation table."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_representation

log = job_logger(snakemake.log[0])
name = snakemake.wildcards.name
try:
    table = pd.read_csv(snakemake.input[0])
except pd.errors.EmptyDataError:  # a table with no rows and no columns
    table = pd.DataFrame()
plot_representation(name, table, snakemake.output[0], model=snakemake.wildcards.model)
log.info("%s: drawn from %s", name, snakemake.input[0])
