#!/usr/bin/env bash
# Set up (scripts/setup.sh), lint, type-check the package (mypy, configured in
# pyproject.toml) and run the test suite on the real data in ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CLASSIT_SHARED_DATA=${CLASSIT_SHARED_DATA:-$(cd .. && pwd)/shared/data}
.venv/bin/ruff check classit_eval tasks tests benchmarks scripts
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
