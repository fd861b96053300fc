#!/usr/bin/env bash
# Builds what tools/gpu/checks.sh runs on the lent CUDA machine (PyTorch, no .NET) and packs it into .gpu/.
#
# usage (repository root, this machine):  bash tools/gpu/prepare.sh
# then with the device tool:              run  command "bash tools/gpu/checks.sh"  carry [".gpu", ".original"]
#
# The apps are published with TorchBackend=external (no libtorch of their own: the device machine's PyTorch
# libtorch, with CUDA, is used) and packed by ../shared/gpu/pack.sh with a copy of this machine's .NET runtime.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
pack="$root/../shared/gpu/pack.sh"
[ -f "$pack" ] || { echo "prepare.sh needs ../shared/gpu/pack.sh (the GPU reference material)" >&2; exit 2; }
pub=$(mktemp -d)
trap 'rm -rf "$pub"' EXIT
# One folder for the three apps: they share every library, and the device tool carries at most 64 MiB.
for project in Tests/LieConv.Benchmarks Samples/Equivariance Samples/RotMnist; do
  # Own build folders (--artifacts-path): the bin/ and obj/ of the usual CPU build stay as they are.
  dotnet publish "$project" -c Release -p:TorchBackend=external --artifacts-path "$pub/build" -o "$pub/apps" -v quiet -nologo
done
# Everything but the .NET runtime tarball (slow to make, never changes) is rebuilt.
[ -d .gpu ] && find .gpu -mindepth 1 -maxdepth 1 ! -name dotnet-runtime.tgz -exec rm -rf {} +
bash "$pack" "$pub/apps"
tar czf .gpu/apps.tgz -C .gpu apps
rm -rf .gpu/apps
# The QM9 benchmarks read ../shared/data, which the device machine's copy of the working tree lacks; the apps also
# look in .gpu/shared (an ancestor's shared/ folder). .gpu/ is ignored by git, so the data never enters the project.
qm9="data/qm9/lieconv_npz/test.npz"
if [ -f "$root/../shared/$qm9" ]; then
  mkdir -p ".gpu/shared/$(dirname "$qm9")" && cp "$root/../shared/$qm9" ".gpu/shared/$qm9"
else
  echo "note: ../shared/$qm9 is absent, so the QM9 benchmarks will print skipped lines on the device" >&2
fi
# The original's code for the GPU baseline (tools/gpu/original_baseline.py) is never part of the project:
# tools/gpu/fetch_original.sh puts it in .original/ (ignored by git), and the device call carries it as well.
carry='".gpu"'
[ -d .original ] && carry='".gpu", ".original"' || echo "note: no .original/ (tools/gpu/fetch_original.sh), so checks.sh will time our steps only" >&2
size=$(du -smc .gpu $( [ -d .original ] && echo .original) | tail -1 | cut -f1)
[ "$size" -le 64 ] || { echo "what a device call would carry is ${size} MiB, over its 64 MiB" >&2; exit 1; }
echo "ready (${size} MiB); on the device: bash tools/gpu/checks.sh, carry [${carry}]"
