"""dictionary_learning's side of tests/test_foreign_formats.py. Runs in
.venv-dictionary-learning (tests/foreign/make_envs.sh) and never imports saeprobe.

    python dictionary_learning_side.py OUT CASE...

For each CASE (a name in CASES), a dictionary of dictionary_learning's own
class with random weights, saved as its trainers save the finished SAE
(``ae.pt``: the state_dict; ``config.json``: the trainer's config, of which
``utils.load_dictionary`` reads ``dict_class`` and ``k``), in OUT/CASE; then
loaded with ``load_dictionary``: OUT/CASE/expected.npz holds the inputs and
what that dictionary encodes and decodes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from dictionary_learning.dictionary import AutoEncoder, AutoEncoderNew, GatedAutoEncoder, JumpReluAutoEncoder
from dictionary_learning.trainers.batch_top_k import BatchTopKSAE
from dictionary_learning.trainers.matryoshka_batch_top_k import MatryoshkaBatchTopKSAE
from dictionary_learning.trainers.top_k import AutoEncoderTopK
from dictionary_learning.utils import load_dictionary

D_IN, WIDTH, K = 8, 24, 4
GROUP_SIZES = [4, 8, 12]  # Matryoshka groups, summing to WIDTH


def randomise(ae: torch.nn.Module, generator: torch.Generator) -> None:
    """Every float parameter and buffer drawn afresh (biases start at 0 in every
    class, which would hide a wrong convention); thresholds positive."""
    with torch.no_grad():
        for name, tensor in [*ae.named_parameters(), *ae.named_buffers()]:
            if tensor.is_floating_point():
                values = torch.randn(tensor.shape, generator=generator)
                tensor.copy_(values.abs() + 0.2 if name == "threshold" else values * 0.5)


def scale_decoder_columns(ae: AutoEncoder, norms: torch.Tensor) -> None:
    """decoder.weight [d_in, width] with column i at norm norms[i]."""
    with torch.no_grad():
        ae.decoder.weight.mul_(norms / ae.decoder.weight.norm(dim=0))


# case -> (class, its arguments besides (D_IN, WIDTH), which its trainer's config also records)
CASES = {
    "AutoEncoder": (AutoEncoder, {}),
    "AutoEncoder with free decoder norms": (AutoEncoder, {}),
    "AutoEncoderNew": (AutoEncoderNew, {}),
    "AutoEncoderTopK": (AutoEncoderTopK, {"k": K}),
    "BatchTopKSAE": (BatchTopKSAE, {"k": K}),
    "MatryoshkaBatchTopKSAE": (MatryoshkaBatchTopKSAE, {"k": K, "group_sizes": GROUP_SIZES}),
    "JumpReluAutoEncoder": (JumpReluAutoEncoder, {}),
    "GatedAutoEncoder": (GatedAutoEncoder, {}),
}


def save_and_load(case: str, folder: Path, generator: torch.Generator) -> None:
    cls, arguments = CASES[case]
    ae = cls(D_IN, WIDTH, **arguments)
    randomise(ae, generator)
    if case == "AutoEncoder":  # the original StandardTrainer's ConstrainedAdam keeps unit columns
        scale_decoder_columns(ae, torch.ones(WIDTH))
    if case == "AutoEncoder with free decoder norms":  # as StandardTrainerAprilUpdate leaves them
        scale_decoder_columns(ae, 0.2 + 2.8 * torch.rand(WIDTH, generator=generator))
    folder.mkdir(parents=True)
    torch.save({name: tensor.cpu() for name, tensor in ae.state_dict().items()}, folder / "ae.pt")
    trainer = {"dict_class": cls.__name__, "activation_dim": D_IN, "dict_size": WIDTH, **arguments}
    (folder / "config.json").write_text(json.dumps({"trainer": trainer}, indent=4))

    loaded, _ = load_dictionary(str(folder), device="cpu")
    inputs = torch.randn(200, D_IN, generator=generator) + torch.linspace(-2.0, 2.0, D_IN)
    with torch.no_grad():
        latents = loaded.encode(inputs)
        reconstructions = loaded.decode(latents)
    np.savez(folder / "expected.npz", inputs=inputs.numpy(), latents=latents.numpy(),
             reconstructions=reconstructions.numpy())


if __name__ == "__main__":
    torch.manual_seed(0)  # AutoEncoder.normalize_decoder checks itself on torch.randn inputs
    out, *cases = sys.argv[1:]
    for i, case in enumerate(cases):
        save_and_load(case, Path(out) / case, torch.Generator().manual_seed(i))
