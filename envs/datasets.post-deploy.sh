#!/usr/bin/env bash
# Data files only: the package itself is never imported.
set -euo pipefail
pip install --no-deps "sae-probes==0.4.2"
