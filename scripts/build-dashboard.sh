#!/usr/bin/env bash
# Rebuilds the dashboard (dashboard/src → dashboard/dist) with its locked toolchain (Vite,
# TypeScript, from dashboard/package-lock.json). dist/ is committed and embedded in the
# `palier` binary (services/api/src/http/dashboard.rs), so `cargo build` needs no Node.js; run
# this after changing dashboard/ and commit dist/ with the sources. The build is deterministic:
# CI (.ci/run) runs it and fails when `git diff --exit-code dashboard/dist` shows a difference.
set -euo pipefail
cd "$(dirname "$0")/../dashboard"
npm ci --no-audit --no-fund --loglevel=error
# Type-check, then bundle.
npm run --silent build -- --logLevel warn
