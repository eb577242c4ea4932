#!/usr/bin/env bash
# Installs the Debian packages d2l-swift needs, skipping those already installed:
#   libopenblas-dev, liblapacke-dev   BLAS (CBLAS) and LAPACKE, linked by Sources/CBLAS
#   zlib1g-dev                        gzip decompression of the IDX data files
#   dataset-fashion-mnist             the real Fashion-MNIST files, /usr/share/datasets/fashion-mnist/
#   libopenmpi-dev, openmpi-bin       Open MPI (libmpi, mpirun), linked by Sources/CMPI for
#                                     data-parallel training (`mpirun -np K d2l lenet`)
# Uses sudo when not run as root. Nothing is downloaded at run time by the package itself.
set -euo pipefail

packages=(libopenblas-dev liblapacke-dev zlib1g-dev dataset-fashion-mnist libopenmpi-dev openmpi-bin)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-dependencies: all of ${packages[*]} are installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-dependencies: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
