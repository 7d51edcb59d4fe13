"""SAELens's side of tests/test_foreign_formats.py. Runs in .venv-saelens
(tests/foreign/make_envs.sh) and never imports saeprobe.

    python saelens_side.py train DIR
        A TopK and a BatchTopK SAE of SAELens's own training classes with
        their default configs, and a Gated one whose encoder does not centre
        its input, each trained a few steps on random data and saved as
        SAELens's trainer saves the finished SAE (``save_inference_model``:
        DIR/NAME-final) and as it saves its checkpoints during training
        (``save_model``: DIR/NAME-checkpoint); then what each encodes, as
        ``SAE.load_from_disk`` opens it (but the BatchTopK checkpoint, which
        SAELens only resumes training from).

    python saelens_side.py open DIR
        What each folder DIR/NAME (written by our ``save_saelens``) encodes,
        as ``SAE.load_from_disk`` opens it.

Both encode DIR/inputs.npy (``train`` writes it, ``open`` reads it) and write
the latents and their reconstructions to DIR/NAME/saelens.npz, and the
metadata that SAELens loaded to DIR/NAME/saelens_metadata.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from sae_lens import SAE
from sae_lens.saes.batchtopk_sae import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
from sae_lens.saes.gated_sae import GatedTrainingSAE, GatedTrainingSAEConfig
from sae_lens.saes.sae import TrainingSAE, TrainStepInput
from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

D_IN, WIDTH, K = 8, 24, 4
STEPS, BATCH = 40, 64


def off_centre_data(n: int, generator: torch.Generator) -> torch.Tensor:
    """Inputs whose mean is far from 0, so that b_dec (and its centring) matters."""
    return torch.randn(n, D_IN, generator=generator) + torch.linspace(-3.0, 3.0, D_IN)


def save_encodings(sae_folder: Path, inputs: torch.Tensor) -> None:
    sae = SAE.load_from_disk(sae_folder)
    with torch.no_grad():
        latents = sae.encode(inputs)
        reconstructions = sae.decode(latents)
    np.savez(sae_folder / "saelens.npz", latents=latents.numpy(), reconstructions=reconstructions.numpy())
    (sae_folder / "saelens_metadata.json").write_text(json.dumps(sae.cfg.metadata.to_dict()))


def train(sae: TrainingSAE, generator: torch.Generator) -> None:
    optimizer = torch.optim.Adam(sae.parameters(), lr=3e-2)
    # Penalty coefficients at their full values (SAELens's trainer warms them up).
    coefficients = {name: getattr(c, "value", c) for name, c in sae.get_coefficients().items()}
    for step, batch in enumerate(off_centre_data(STEPS * BATCH, generator).split(BATCH)):
        step_input = TrainStepInput(sae_in=batch, coefficients=coefficients, dead_neuron_mask=None,
                                    n_training_steps=step, is_logging_step=False)
        loss = sae.training_forward_pass(step_input).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    norms = sae.W_dec.norm(dim=-1)
    assert not torch.allclose(norms, torch.ones_like(norms)), "training left unit decoder rows: nothing to fold"


def train_and_save(folder: Path) -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    # Everything else at SAELens's training defaults: rescale_acts_by_decoder_norm=True,
    # decoder rows initialised at norm 0.1, apply_b_dec_to_input=True.
    saes = {"topk": TopKTrainingSAE(TopKTrainingSAEConfig(d_in=D_IN, d_sae=WIDTH, k=K)),
            "batchtopk": BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(d_in=D_IN, d_sae=WIDTH, k=K)),
            # ours centres: reading it folds b_dec into both the gate and the magnitude biases
            "gated": GatedTrainingSAE(GatedTrainingSAEConfig(d_in=D_IN, d_sae=WIDTH, apply_b_dec_to_input=False))}
    for name, sae in saes.items():
        train(sae, generator)
        sae.save_inference_model(folder / f"{name}-final")  # decoder norms folded; BatchTopK as JumpReLU
        sae.save_model(folder / f"{name}-checkpoint")  # as trained: SAELens rescales by the norms when encoding

    inputs = off_centre_data(200, generator)
    np.save(folder / "inputs.npy", inputs.numpy())
    for name in ("topk-final", "topk-checkpoint", "batchtopk-final", "gated-final"):
        save_encodings(folder / name, inputs)


def open_ours(folder: Path) -> None:
    inputs = torch.from_numpy(np.load(folder / "inputs.npy"))
    for sae_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        save_encodings(sae_folder, inputs)


if __name__ == "__main__":
    command, folder = sys.argv[1:]
    {"train": train_and_save, "open": open_ours}[command](Path(folder))
