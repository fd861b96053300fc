#!/usr/bin/env bash
# Puts the original LieConv's code (https://github.com/mfinzi/LieConv, MIT licence) into .original/ for
# tools/gpu/original_baseline.py: lie_conv/*.py and corm_data/collate.py, nothing else. .original/ is ignored by git
# (this script adds it to .git/info/exclude): the original's code never enters this project.
#
# usage (repository root):  bash tools/gpu/fetch_original.sh [SOURCE]
#   SOURCE: a clone of the original (a folder), or a git URL to clone from (default the GitHub one above).
# Session 21 timed the files of these commits: lieConv.py 93affb18, lieGroups.py 90fa2dc9, utils.py,
# masked_batchnorm.py and hamiltonian.py 8e859ddc, moleculeTrainer.py c75e2db3, dynamicsTrainer.py 60930666,
# datasets.py 90653779, corm_data/collate.py 8afa7874.
set -euo pipefail
source=${1:-https://github.com/mfinzi/LieConv.git}
root=$(git rev-parse --show-toplevel)
cd "$root"
clone=$source
if [ ! -d "$source" ]; then
  clone=$(mktemp -d)
  trap 'rm -rf "$clone"' EXIT
  git clone --quiet --depth 1 "$source" "$clone"
fi
for needed in lie_conv/lieConv.py lie_conv/lieGroups.py corm_data/collate.py; do
  [ -f "$clone/$needed" ] || { echo "$source has no $needed: not a copy of the original LieConv" >&2; exit 1; }
done
rm -rf .original
mkdir -p .original/lie_conv .original/corm_data
cp "$clone"/lie_conv/*.py .original/lie_conv/
[ -f .original/lie_conv/__init__.py ] || : > .original/lie_conv/__init__.py
# corm_data stays a namespace package (no __init__.py): tools/gpu/original_shims/corm_data adds a stand-in for its
# dataset utilities, which import packages a training step does not need.
cp "$clone/corm_data/collate.py" .original/corm_data/
grep -qxF '/.original/' .git/info/exclude 2>/dev/null || echo '/.original/' >> .git/info/exclude
echo "ready: .original/ ($(ls .original/lie_conv | wc -l) files of lie_conv/); the device call carries [\".gpu\", \".original\"]"
