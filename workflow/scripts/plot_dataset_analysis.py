"""Figure of one of kurexi's per-dataset analyses, over every analysed SAE and dataset."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import DATASET_ANALYSIS_PLOTS

log = job_logger(snakemake.log[0])
analysis = snakemake.wildcards.analysis
table = pd.read_parquet(snakemake.input[0])
DATASET_ANALYSIS_PLOTS[analysis](table, snakemake.output[0], title=f"{snakemake.wildcards.model}: {analysis}")
log.info("plotted %d rows", len(table))
