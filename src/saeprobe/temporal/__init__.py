"""Temporal SAEs (Bhalla, Oesterling et al. 2025): high-level latents that change
slowly along a sequence, and the evaluations of that smoothness."""
