"""Train one SAE on its layer's token or sequence corpus; resumes from its checkpoint after a kill."""

from pathlib import Path

from saeprobe.atomic import write_json
from saeprobe.config import sae_spec
from saeprobe.logs import job_logger
from saeprobe.paths import corpus_file_name
from saeprobe.temporal.sequences import SequenceShards
from saeprobe.training import ActivationShards, evaluate_sae, train_sae

log = job_logger(snakemake.log[0], snakemake.threads)
spec = sae_spec(snakemake.params.spec)
if spec.corpus == "sequences":
    data = SequenceShards(snakemake.input.corpus, snakemake.input.heldout, spec.layer)
    sae = spec.build(data.d_in)
    data.pair_mode = sae.pair_mode if sae.trains_on_pairs else None
    log.info("sequence corpus: %d training tokens in rows of %d, %d held out, d_in %d, pairs: %s", data.n_train,
             data.length, data.n_eval, data.d_in, data.pair_mode or "none")
else:
    data = ActivationShards([Path(folder) / corpus_file_name(spec.layer) for folder in snakemake.input.corpus])
    sae = spec.build(data.d_in)
    log.info("corpus: %d training rows, %d held out, d_in %d", data.n_train, data.n_eval, data.d_in)

sae = train_sae(sae, data, spec.train, snakemake.params.checkpoint, log=log.info)
metrics = {"sae": spec.name, "layer": spec.layer, "architecture": spec.architecture, "width": spec.width,
           **spec.hyperparameters, "steps": spec.train.steps, "train_rows": data.n_train, "corpus": spec.corpus,
           **evaluate_sae(sae, data.eval_rows())}
sae.cpu().save(Path(snakemake.output.weights).parent)
write_json(snakemake.output.metrics, metrics)
Path(snakemake.params.checkpoint).unlink(missing_ok=True)  # optimiser state: ~3x the SAE, no longer needed
log.info("held-out metrics: %s", metrics)
