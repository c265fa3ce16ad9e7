#!/usr/bin/env bash
# Install the Debian packages tomoline needs to build and test, if any is missing.
# Runs apt-get update first whenever it installs. Needs root (or sudo).
set -euo pipefail
packages=(cmake make gcc g++ git pkg-config libfftw3-dev libhdf5-dev hdf5-tools hdf5-filter-plugin
          hdf5-filter-plugin-blosc-serial libzmq3-dev libtiff-dev libpng-dev libsqlite3-dev libpq-dev libssl-dev
          postgresql libcriterion-dev libgsl-dev clang libclang-rt-14-dev
          openmpi-bin libopenmpi-dev libhdf5-openmpi-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: error: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
