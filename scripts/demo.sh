#!/usr/bin/env bash
# The main job on the embedded defaults, from a fresh clone: install what is
# missing, build, then simulate a scan, reconstruct it into demo/recon.nxs and
# report the accuracy against the ground truth.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
./build/tomoline --version
./build/tomoline demo -o demo "$@"
