#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command: installs what is missing, builds memscope and its examples
# (Release, into build/demo) and runs the voxel demo with its dashboard on
# http://localhost:9090/. Arguments go to the demo, e.g.:
#   scripts/demo.sh --leak                # the mesh system leaks; watch the slope
#   scripts/demo.sh --scale-budgets 0.1   # sector transitions take Chunks over budget
#   scripts/demo.sh --help                # every flag (docs/demo.md explains them)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh build
cmake -S . -B build/demo -G Ninja --log-level=WARNING -DCMAKE_BUILD_TYPE=Release \
      -DMEMSCOPE_BUILD_EXAMPLES=ON -DMEMSCOPE_BUILD_TESTS=OFF -DMEMSCOPE_BUILD_BENCH=OFF
cmake --build build/demo --target voxel_demo
exec build/demo/examples/voxel_demo "$@"
