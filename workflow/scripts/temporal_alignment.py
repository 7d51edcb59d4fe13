"""The HH-RLHF alignment study of one SAE: its high-level features ranked by
|rejected - chosen| mean activation over the responses, with the length confound."""

from pathlib import Path

import numpy as np
import torch

from saeprobe.activations import ResidualExtractor
from saeprobe.atomic import atomic_path, write_json
from saeprobe.datasets import source_file
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir, load_model
from saeprobe.saes import load_sae
from saeprobe.temporal.alignment import (common_prefix_chars, length_summary, pair_differences, rank_features,
                                         read_explanations, read_preference_pairs, response_means,
                                         response_token_mask)
from saeprobe.temporal.smoothness import sae_groups

log = job_logger(snakemake.log[0], snakemake.threads)
settings, layer, model_settings = snakemake.params.settings, snakemake.params.layer, snakemake.params.model
pairs = read_preference_pairs(source_file(settings["pairs"])).head(settings["n_pairs"])
prefixes = [common_prefix_chars(c, r) for c, r in zip(pairs["chosen"], pairs["rejected"])]
sae = load_sae(Path(snakemake.input.sae).parent).eval()
columns = sae_groups(sae).get("h", slice(None))  # the high-level group, or every latent of an SAE without one
model, tokenizer = load_model(checkpoint_dir(snakemake.input.model), model_settings["dtype"])
if tokenizer.pad_token_id is None:
    tokenizer.pad_token = tokenizer.eos_token
extractor = ResidualExtractor(model, tokenizer, [layer], batch_size=model_settings["batch_size"])
sae.to(next(model.parameters()).device)


def side_means(texts):
    """Per text, the high-level codes averaged over its response tokens, and the response length."""
    means, lengths = [], []
    for start in range(0, len(texts), model_settings["batch_size"]):
        batch = tokenizer(texts[start:start + model_settings["batch_size"]], truncation=True, padding=True,
                          max_length=settings["max_length"], return_offsets_mapping=True, return_tensors="np")
        mask = response_token_mask(batch["offset_mapping"], prefixes[start:start + len(batch["input_ids"])],
                                   batch["attention_mask"])
        acts = extractor.token_row_activations(batch["input_ids"], np.float32, batch["attention_mask"])[layer]
        with torch.no_grad():  # SAEs encode [tokens, d]
            flat = torch.from_numpy(acts.reshape(-1, acts.shape[-1])).to(sae.W_enc.device)
            codes = sae.encode(flat)[:, columns].cpu().numpy().reshape(*acts.shape[:2], -1)
        m, n = response_means(codes, mask)
        means.append(m)
        lengths.append(n)
    return np.concatenate(means), np.concatenate(lengths)


rejected, rejected_lengths = side_means(pairs["rejected"].tolist())
chosen, chosen_lengths = side_means(pairs["chosen"].tolist())
differences = pair_differences(rejected, chosen, rejected_lengths, chosen_lengths)
explanations = read_explanations(snakemake.input.explanations[0]) if snakemake.input.explanations else {}
features = rank_features(differences, settings["top"], explanations).assign(sae=snakemake.wildcards.sae)
with atomic_path(snakemake.output.features) as tmp:
    features.to_csv(tmp, index=False)
summary = length_summary(rejected_lengths, chosen_lengths)
lengths = {"sae": snakemake.wildcards.sae, "pairs_read": len(pairs),
           **{key: None if isinstance(value, float) and np.isnan(value) else value  # JSON has no NaN: null
              for key, value in summary.items()}}
write_json(snakemake.output.lengths, lengths)
log.info("%d of %d pairs with both responses; lengths %s; top features:\n%s", int(differences.kept.sum()),
         len(pairs), lengths, features.head(10))
