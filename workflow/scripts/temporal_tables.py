"""A temporal analysis's table across SAEs: smoothness, chunk probing or the alignment study."""

from saeprobe.atomic import atomic_path
from saeprobe.logs import job_logger
from saeprobe.temporal.tables import smoothness_table, stacked_table

log = job_logger(snakemake.log[0])
files = list(snakemake.input)
table = smoothness_table(files) if snakemake.rule == "smoothness_table" else stacked_table(files)
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)
log.info("%s: %d rows from %d files", snakemake.rule, len(table), len(files))
