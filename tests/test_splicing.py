import random

import pytest
import torch

from saeprobe.models import load_model
from saeprobe.saes import TopKSAE
from saeprobe.splicing import REFERENCE_PASSES, CrossEntropySplicer, loss_recovered, spliced_quality
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


def test_reference_passes_and_a_spliced_pass_give_the_full_evaluation(tiny_model_dir):
    """What sae_evaluate assembles from the layer's shared reference file
    equals one evaluation of all three passes."""
    model, tokenizer = load_model(tiny_model_dir)
    rng = random.Random(1)
    texts = [random_prompt(rng, 3, 10) for _ in range(6)]
    splicer = CrossEntropySplicer(model, tokenizer, layer=1, batch_size=4)
    sae = TopKSAE(d_in=32, width=64, k=4)
    sae.init_weights(torch.Generator().manual_seed(0))
    full = splicer.cross_entropies(texts, sae)
    assert full["spliced"] != pytest.approx(full["clean"], abs=1e-3)  # the SAE does change the loss
    reference = splicer.cross_entropies(texts, passes=REFERENCE_PASSES)
    spliced = splicer.cross_entropies(texts, sae, passes=("spliced",))
    assert set(reference) == {"clean", "ablated", "n_tokens"} and set(spliced) == {"spliced", "n_tokens"}
    quality = spliced_quality(reference, spliced)
    assert quality["ce_clean"] == pytest.approx(full["clean"], abs=1e-6)
    assert quality["ce_ablated"] == pytest.approx(full["ablated"], abs=1e-6)
    assert quality["ce_spliced"] == pytest.approx(full["spliced"], abs=1e-6)
    assert quality["ce_loss_recovered"] == pytest.approx(loss_recovered(full), abs=1e-6)


def test_a_reference_of_other_tokens_or_a_spliced_pass_without_an_sae_is_refused(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    splicer = CrossEntropySplicer(model, tokenizer, layer=1)
    with pytest.raises(ValueError, match="needs an SAE"):
        splicer.cross_entropies(["w1 w2 w3"])
    with pytest.raises(ValueError, match="unknown passes"):
        splicer.cross_entropies(["w1 w2 w3"], passes=("noisy",))
    with pytest.raises(ValueError, match="stale"):
        spliced_quality({"clean": 1.0, "ablated": 2.0, "n_tokens": 5}, {"spliced": 1.5, "n_tokens": 4})
