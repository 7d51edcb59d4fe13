"""What an LLM is shown about a latent: example windows over a token corpus (SAEBench's rules)."""
