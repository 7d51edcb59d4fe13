"""SAE name strings of sae-sensitivity -> hub repositories and folders, checked
against the worked examples of ``analysis-methods.md`` §3."""

import subprocess
import sys

import pytest

from saeprobe.sensitivity.sae_names import (
    REFERENCE_SAE_EXAMPLES,
    ReferenceSae,
    UnknownReferenceSae,
    resolve_reference_sae,
)

PYTHIA, GEMMA = "EleutherAI/pythia-160m-deduped", "google/gemma-2-2b"


@pytest.mark.parametrize(
    "name, model, layer, architecture, repo, path",
    [
        ("py_4k_btopk_s0", PYTHIA, 8, "batchtopk",
         "adamkarvonen/saebench_pythia-160m-deduped_width-2pow12_date-0108",
         "BatchTopK_pythia-160m-deduped__0108/resid_post_layer_8/trainer_0"),
        ("py_65k_relu_s5", PYTHIA, 8, "relu",
         "adamkarvonen/saebench_pythia-160m-deduped_width-2pow16_date-0108",
         "Standard_pythia-160m-deduped__0108/resid_post_layer_8/trainer_5"),
        ("gem_4k_jumprelu_s1", GEMMA, 12, "jumprelu",
         "adamkarvonen/saebench_gemma-2-2b_width-2pow12_date-0108",
         "JumpRelu_gemma-2-2b__0108/resid_post_layer_12/trainer_1"),
        ("gem_16k_topk_s3", GEMMA, 12, "topk",
         "canrager/saebench_gemma-2-2b_width-2pow14_date-0107",
         "gemma-2-2b_top_k_width-2pow14_date-0107/resid_post_layer_12/trainer_3"),
        ("gem_65k_pan_s4", GEMMA, 12, "relu",
         "canrager/saebench_gemma-2-2b_width-2pow16_date-0107",
         "gemma-2-2b_p_anneal_width-2pow16_date-0107/resid_post_layer_12/trainer_4"),
    ],
)
def test_saebench_worked_examples_resolve_as_in_the_reference(name, model, layer, architecture, repo, path):
    assert resolve_reference_sae(name) == ReferenceSae(name, model, layer, architecture, repo, path, "ae.pt")


@pytest.mark.parametrize(
    "code, architecture",
    [("btopk", "batchtopk"), ("matbtopk", "matryoshka_batchtopk"), ("topk", "topk"), ("relu", "relu"),
     ("jumprelu", "jumprelu"), ("gated", "gated"), ("pan", "relu")],
)
def test_every_type_code_maps_to_our_architecture(code, architecture):
    assert resolve_reference_sae(f"gem_16k_{code}_s2").architecture == architecture


@pytest.mark.parametrize(
    "name, layer, path",
    [
        ("gscope_16k_l0_82", 12, "layer_12/width_16k/average_l0_82"),
        ("gscope_layer12_131k_l0_67", 12, "layer_12/width_131k/average_l0_67"),
        ("gscope_layer5_1m_l0_300", 5, "layer_5/width_1m/average_l0_300"),  # other layers: any L0
    ],
)
def test_gemmascope_names_resolve_to_their_folder(name, layer, path):
    expected = ReferenceSae(name, GEMMA, layer, "jumprelu", "google/gemma-scope-2b-pt-res", path, "params.npz")
    assert resolve_reference_sae(name) == expected


def test_the_examples_all_resolve():
    assert [resolve_reference_sae(n).name for n in REFERENCE_SAE_EXAMPLES] == list(REFERENCE_SAE_EXAMPLES)


@pytest.mark.parametrize(
    "name, fragments",
    [
        ("pi_4k_btopk_s0", ["'pi_4k_btopk_s0'", "model prefix 'pi'", "py, gem"]),
        ("py_8k_btopk_s0", ["width '8k'", "4k, 16k, 65k"]),
        ("py_4k_bopk_s0", ["type 'bopk'", "btopk, matbtopk, topk, relu, jumprelu, gated, pan"]),
        ("py_4k_btopk_s6", ["sparsity 's6'", "s0, s1, s2, s3, s4, s5"]),
        ("py_4k_btopk", ["'py_4k_btopk'", "'py_4k_btopk_s0'", "'gscope_16k_l0_82'"]),
        ("gscope_16k_82", ["'gscope_16k_82'", "'py_4k_btopk_s0'", "'gscope_16k_l0_82'"]),
        ("gscope_16k_l0_44", ["average_l0 44", "width 16k at layer 12", "22, 41, 82, 176, 445"]),
        ("gscope_128k_l0_82", ["width '128k'", "16k, 32k, 65k, 131k, 262k, 524k, 1m"]),
    ],
)
def test_wrong_names_raise_saying_what_is_wrong_and_the_choices(name, fragments):
    with pytest.raises(UnknownReferenceSae) as error:
        resolve_reference_sae(name)
    assert isinstance(error.value, ValueError)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_the_module_imports_nothing_heavy():
    # The Snakefile imports it while parsing, so a fresh interpreter must not load numpy or torch.
    code = "import sys, saeprobe.sensitivity.sae_names; print(sorted({'numpy', 'torch'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
