"""The part of speech of every probed prompt's last token, or why no tagger could run."""

from pathlib import Path

import pandas as pd

from saeprobe.atomic import atomic_path, write_json
from saeprobe.logs import job_logger
from saeprobe.temporal.part_of_speech import TaggerUnavailable, last_token_tags, load_tagger

log = job_logger(snakemake.log[0], snakemake.threads)
frames = [pd.read_parquet(path, columns=["text"]).assign(dataset=Path(path).stem) for path in snakemake.input]
rows = pd.concat([f.reset_index(names="row") for f in frames], ignore_index=True)
try:
    nlp, tagger = load_tagger()
    rows["pos"] = last_token_tags(rows["text"].tolist(), nlp)
    status = {"tagger": tagger, "skipped": None}
    log.info("tagged %d prompts with %s: %s", len(rows), tagger, rows["pos"].value_counts().to_dict())
except TaggerUnavailable as err:
    rows["pos"] = ""
    status = {"tagger": None, "skipped": str(err)}
    log.warning("the syntax task is left out: %s", err)
with atomic_path(snakemake.output.table) as tmp:
    rows[["dataset", "row", "text", "pos"]].to_parquet(tmp, index=False)
write_json(snakemake.output.tagger, status)
