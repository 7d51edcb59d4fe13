"""Round trips through the real SAE libraries: checkpoints that SAELens
(6.54.12) and dictionary_learning (0.1.0) write themselves, read by our
``load_pretrained``, and our ``save_saelens`` output opened by SAELens, each
compared with what the library itself encodes and decodes.

The libraries' pins conflict with ours, so each runs in its own virtual
environment (.venv-saelens, .venv-dictionary-learning, made by ``make
foreign-envs``, i.e. tests/foreign/make_envs.sh), through a script of
tests/foreign/ that never imports saeprobe. Without those environments the
tests skip, unless SAEPROBE_REQUIRE_FOREIGN=1 (as in CI): then they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import saeprobe.saes  # noqa: F401  (registers every architecture)
from saeprobe.saes import ARCHITECTURES
from saeprobe.saes.formats import CheckpointFormatError, load_pretrained, save_saelens
from sae_helpers import random_sae
from workflow_helpers import REPO

FOREIGN = REPO / "tests/foreign"
DICTIONARY_LEARNING_CASES = [
    "AutoEncoder", "AutoEncoder with free decoder norms", "AutoEncoderNew", "AutoEncoderTopK", "BatchTopKSAE",
    "MatryoshkaBatchTopKSAE", "JumpReluAutoEncoder", "GatedAutoEncoder",
]


def run_in_venv(venv: str, script: str, *args: str | Path) -> None:
    """``script`` of tests/foreign/ run by the Python of ``venv`` (at the repository root)."""
    python = REPO / venv / "bin/python"
    if not (REPO / venv / ".installed").is_file():
        message = f"no {venv}: create it with `make foreign-envs` (tests/foreign/make_envs.sh; 3 minutes, 2 GB)"
        if os.environ.get("SAEPROBE_REQUIRE_FOREIGN") == "1":
            pytest.fail(message)
        pytest.skip(message)
    # -I: neither PYTHONPATH nor user site-packages, so nothing of ours leaks in; no hub, no wandb.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    result = subprocess.run([str(python), "-I", str(FOREIGN / script), *map(str, args)],
                            capture_output=True, text=True, env=env, timeout=600)
    if result.returncode:
        pytest.fail(f"{venv}: {script} {' '.join(map(str, args))} failed:\n{result.stderr[-4000:]}")


def assert_same_encodings(ours, theirs) -> None:
    """The same latents and reconstructions, and latents that make a real test:
    some fire and some do not."""
    assert 0 < (theirs["latents"] > 0).mean() < 1
    np.testing.assert_allclose(ours["latents"], theirs["latents"], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(ours["reconstructions"], theirs["reconstructions"], atol=1e-5, rtol=1e-5)


def encodings(sae, inputs: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        latents = sae.eval().encode(torch.from_numpy(inputs))
        return {"latents": latents.numpy(), "reconstructions": sae.decode(latents).numpy()}


# -- SAELens's own TopK, BatchTopK and Gated SAEs, trained and saved by SAELens, read by us
@pytest.fixture(scope="module")
def saelens_trained(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("trained by saelens")
    run_in_venv(".venv-saelens", "saelens_side.py", "train", folder)
    return folder


@pytest.mark.parametrize(("saved_as", "architecture"), [
    ("topk-final", "topk"),  # the finished SAE, as SAELens's trainer saves it: decoder norms folded
    ("topk-checkpoint", "topk"),  # a checkpoint during training: norms not folded yet
    ("batchtopk-final", "jumprelu"),  # saved as a JumpReLU whose encoder centres its input
    ("gated-final", "gated"),  # an encoder that does not centre its input
])
def test_saelens_trained_sae_encodes_as_saelens_does(saelens_trained, saved_as, architecture):
    sae = load_pretrained(saelens_trained / saved_as)
    assert sae.architecture == architecture
    inputs = np.load(saelens_trained / "inputs.npy")
    assert_same_encodings(encodings(sae, inputs), np.load(saelens_trained / saved_as / "saelens.npz"))


def test_saelens_batchtopk_training_checkpoint_is_refused(saelens_trained):
    """SAELens itself opens it only to resume training (no inference class for 'batchtopk')."""
    with pytest.raises(CheckpointFormatError, match="a SAELens training checkpoint"):
        load_pretrained(saelens_trained / "batchtopk-checkpoint")


# -- ours, written by save_saelens, opened by SAELens
@pytest.fixture(scope="module")
def saelens_opened_ours(tmp_path_factory) -> Path:
    """One save_saelens folder per architecture, with our encodings (ours.npz),
    each then opened and encoded by SAELens."""
    folder = tmp_path_factory.mktemp("ours for saelens")
    inputs = (torch.randn(200, 8) + torch.linspace(-2.0, 2.0, 8)).numpy()
    np.save(folder / "inputs.npy", inputs)
    for architecture in ARCHITECTURES:
        sae = random_sae(architecture, d_in=8, width=24, k=4)
        save_saelens(sae, folder / architecture, metadata={"model_name": "tiny"})
        np.savez(folder / architecture / "ours.npz", **encodings(sae, inputs))
    run_in_venv(".venv-saelens", "saelens_side.py", "open", folder)
    return folder


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_saelens_opens_ours_with_our_metadata(saelens_opened_ours, architecture):
    folder = saelens_opened_ours / architecture
    assert_same_encodings(np.load(folder / "ours.npz"), np.load(folder / "saelens.npz"))
    metadata = json.loads((folder / "saelens_metadata.json").read_text())
    assert metadata["saeprobe_architecture"] == architecture and metadata["model_name"] == "tiny"


# -- dictionary_learning's own classes, saved as its trainers save them, read by us
@pytest.fixture(scope="module")
def dictionary_learning_checkpoints(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dictionary learning")
    run_in_venv(".venv-dictionary-learning", "dictionary_learning_side.py", folder, *DICTIONARY_LEARNING_CASES)
    return folder


@pytest.mark.parametrize("case", DICTIONARY_LEARNING_CASES)
def test_dictionary_learning_checkpoint_encodes_as_load_dictionary_does(dictionary_learning_checkpoints, case):
    expected = np.load(dictionary_learning_checkpoints / case / "expected.npz")
    sae = load_pretrained(dictionary_learning_checkpoints / case)
    assert_same_encodings(encodings(sae, expected["inputs"]), expected)
