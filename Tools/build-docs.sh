#!/usr/bin/env bash
# Builds the DocC archives of the library products (Engine, Datasets, Training, Models) offline,
# through swift-docc-plugin and the toolchain's docc, with warnings treated as errors (so every
# symbol link must resolve). Archives: .build/plugins/Swift-DocC/outputs/<Target>.doccarchive.
#
#   Tools/build-docs.sh                 all four products
#   Tools/build-docs.sh Engine          one of them
#
# Preview one in a browser: swift package --disable-sandbox preview-documentation --target Engine
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(Engine Datasets Training Models)
arguments=()
for target in "${targets[@]}"; do arguments+=(--target "$target"); done
swift package --disable-sandbox generate-documentation "${arguments[@]}" --warnings-as-errors
