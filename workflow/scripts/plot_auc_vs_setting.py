"""Figure: mean test AUC against a setting's grid (training size, imbalance, label noise)."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_auc_vs_setting

log = job_logger(snakemake.log[0])
table = pd.read_parquet(snakemake.input[0])
setting = snakemake.params.setting
plot_auc_vs_setting(table, setting, snakemake.params.main_layer, snakemake.output[0],
                    title=f"{snakemake.wildcards.model}, {setting}: SAE probes vs baselines")
log.info("plotted %d rows", len(table))
