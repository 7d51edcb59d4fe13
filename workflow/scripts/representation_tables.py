"""The representation analyses' tables: separability, selectivity, feature reuse and cluster separation."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.logs import job_logger
from saeprobe.representation.tables import representation_tables

log = job_logger(snakemake.log[0])
files = {representation: snakemake.input[representation] for representation in snakemake.params.representations}
tables = representation_tables([pd.read_parquet(f[0]) for f in files.values()],
                               [pd.read_parquet(f[1]) for f in files.values()],
                               [pd.read_parquet(f[2]) for f in files.values()], snakemake.params.groups)
for name, table in tables.items():
    write_table(snakemake.output[name], table)
    log.info("%s: %d rows", name, len(table))
