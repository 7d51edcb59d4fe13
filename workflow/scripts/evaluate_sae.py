"""SAE quality: held-out reconstruction metrics and the fraction of CE loss recovered."""

from pathlib import Path

import pandas as pd

from saeprobe.atomic import write_json
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir, load_model
from saeprobe.paths import corpus_file_name
from saeprobe.saes import load_sae
from saeprobe.splicing import CrossEntropySplicer, loss_recovered, pick_eval_texts
from saeprobe.splits import normal_split
from saeprobe.training import ActivationShards, evaluate_sae

log = job_logger(snakemake.log[0], snakemake.threads)
layer = snakemake.params.layer
settings = snakemake.params.model
evaluation = snakemake.params.evaluation
sae = load_sae(Path(snakemake.input.sae).parent).eval()
data = ActivationShards([Path(f) / corpus_file_name(layer) for f in snakemake.input.corpus])
quality = {"sae": snakemake.wildcards.sae, "layer": layer, "architecture": sae.architecture, "width": sae.width,
           **sae.hyperparameters(), **evaluate_sae(sae, data.eval_rows())}

# Test-split prompts: never in an SAE corpus built from the training splits.
test_texts = []
for path in snakemake.input.datasets:
    frame = pd.read_parquet(path, columns=["text", "label"])
    test_texts += frame["text"].iloc[normal_split(frame["label"].to_numpy())[1]].tolist()
texts = pick_eval_texts(test_texts, evaluation["ce_texts"], evaluation["seed"])
model, tokenizer = load_model(checkpoint_dir(snakemake.input.model), settings["dtype"])
sae.to(next(model.parameters()).device)
splicer = CrossEntropySplicer(model, tokenizer, layer, evaluation["ce_max_seq_len"], settings["batch_size"],
                              settings["chat_template"])
ce = splicer.cross_entropies(texts, sae)
quality |= {"ce_clean": ce["clean"], "ce_spliced": ce["spliced"], "ce_ablated": ce["ablated"],
            "ce_tokens": ce["n_tokens"], "ce_loss_recovered": loss_recovered(ce)}
write_json(snakemake.output[0], quality)
log.info("%s", quality)
