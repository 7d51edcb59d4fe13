"""Each per-dataset analysis over every analysed SAE and dataset (parquet and CSV)."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.logs import job_logger
from saeprobe.paths import DATASET_ANALYSES

log = job_logger(snakemake.log[0])
for analysis in DATASET_ANALYSES:
    # An analysis that does not apply to a dataset (no OOD set, not audited) left an empty table.
    frames = [frame for frame in map(pd.read_parquet, snakemake.input[analysis]) if len(frame)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["sae", "dataset"])
    table.insert(0, "model", snakemake.wildcards.model)
    write_table(snakemake.output[analysis], table)
    write_table(snakemake.output[f"{analysis}_csv"], table)
    log.info("%s: %d rows", analysis, len(table))
