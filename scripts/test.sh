#!/usr/bin/env bash
# The project's test command (the one the README names and CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
