import random

import pytest
import torch

from saeprobe.models import load_model
from saeprobe.saes import TopKSAE
from saeprobe.splicing import CrossEntropySplicer, loss_recovered
from conftest import random_prompt


class IdentitySAE(TopKSAE):
    """Reconstructs its input exactly: the spliced pass must equal the clean one."""

    architecture = "identity-for-tests"  # never registered

    def forward(self, x):
        return x


def test_identity_splice_recovers_everything_and_zero_sae_recovers_nothing(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    rng = random.Random(0)
    texts = [random_prompt(rng, 3, 10) for _ in range(10)]
    splicer = CrossEntropySplicer(model, tokenizer, layer=1, batch_size=4)

    identity = IdentitySAE(d_in=32, width=64, k=4)
    ce = splicer.cross_entropies(texts, identity)
    assert ce["spliced"] == pytest.approx(ce["clean"], abs=1e-4)
    assert ce["ablated"] != pytest.approx(ce["clean"], abs=1e-3)  # the ablation does change the loss
    assert loss_recovered(ce) == pytest.approx(1.0, abs=1e-3)

    zero = TopKSAE(d_in=32, width=64, k=4)
    with torch.no_grad():
        for p in zero.parameters():
            p.zero_()
    ce_zero = splicer.cross_entropies(texts, zero)
    assert ce_zero["spliced"] == pytest.approx(ce_zero["ablated"], abs=1e-4)
    assert loss_recovered(ce_zero) == pytest.approx(0.0, abs=1e-3)


def test_clean_pass_matches_a_plain_forward(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    text = "w1 w2 w3 w4 w5"
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits[0, :-1]
    expected = torch.nn.functional.cross_entropy(logits, ids[0, 1:]).item()
    ce = CrossEntropySplicer(model, tokenizer, layer=2).cross_entropies([text], IdentitySAE(32, 64, k=4))
    assert ce["clean"] == pytest.approx(expected, abs=1e-4)
    assert ce["n_tokens"] == 4
