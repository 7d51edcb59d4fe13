"""saeprobe: sparse-autoencoder probing of language models.

The Snakemake workflow in this repository calls into this package; every
stage's logic lives here so it can be imported and unit-tested.
"""

__version__ = "0.1.0"
