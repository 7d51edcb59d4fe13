"""Multi-token pooling (SAE-Probes): the mean and max over a prompt's tokens, the first left out."""

import numpy as np
import torch

from saeprobe.activations import ResidualExtractor
from saeprobe.models import load_model


def test_pooled_residual_and_codes_equal_a_plain_forward(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    texts = ["w1 w2 w3 w4", "w5 w6", "w7 w8 w9 w10 w11 w12", "w13"]
    extractor = ResidualExtractor(model, tokenizer, [1], batch_size=2)  # batches of unequal lengths: padding
    pooled = extractor.pooled_activations(texts, {"doubled": lambda tokens: 2 * tokens})
    assert set(pooled) == {"residual", "doubled"} and pooled["residual"]["mean"].shape == (4, 32)
    for i, text in enumerate(texts[:3]):
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            after_block_1 = model(ids, output_hidden_states=True).hidden_states[2][0, 1:]  # the first token left out
        np.testing.assert_allclose(pooled["residual"]["mean"][i], after_block_1.mean(0).numpy(), atol=1e-4)
        np.testing.assert_allclose(pooled["residual"]["max"][i], after_block_1.max(0).values.numpy(), atol=1e-4)
        np.testing.assert_allclose(pooled["doubled"]["max"][i], 2 * after_block_1.max(0).values.numpy(), atol=2e-4)
    # One token is the attention sink alone: nothing to pool.
    assert not pooled["residual"]["mean"][3].any() and not pooled["residual"]["max"][3].any()


def test_the_table_keeps_the_last_token_rows_of_the_same_methods_only():
    import pandas as pd

    from saeprobe.multitoken import multitoken_table

    def row(dataset, method, sae="", k=None, layer=15, auc=0.8, **extra):
        return {"dataset": dataset, "method": method, "sae": sae, "k": k, "layer": layer, "test_auc": auc, **extra}

    pooled = [pd.DataFrame([row("a", "logreg_l2", pooling="mean"), row("a", "sae_topk_l1", "s", 16, pooling="mean")])]
    last = pd.DataFrame([
        row("a", "logreg_l2"), row("a", "sae_topk_l1", "s", 16), row("a", "sae_topk_l1", "s", 4),  # another k
        row("a", "ridge"), row("a", "sae_topk_l1", "t", 16),  # a baseline and an SAE not pooled
        row("b", "logreg_l2"), row("a", "logreg_l2", layer=7),  # a dataset not pooled, another layer
    ])
    table = multitoken_table(pooled, last, baselines=["logreg_l2"], saes=["s"], ks=[16], layer=15)
    assert sorted(zip(table["method"], table["pooling"])) == [
        ("logreg_l2", "last"), ("logreg_l2", "mean"), ("sae_topk_l1", "last"), ("sae_topk_l1", "mean")]
    assert set(table["dataset"]) == {"a"} and set(table["layer"]) == {15}
