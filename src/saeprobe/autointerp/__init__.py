"""Autointerp: LLM explanations of SAE latents, and how well they predict activity (SAEBench's detection score)."""
