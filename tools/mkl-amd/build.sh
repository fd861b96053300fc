#!/usr/bin/env bash
# Builds libmkl_intel_kernels.so beside this script (git-ignored) and prints its absolute path, for
#   LD_PRELOAD=$(bash tools/mkl-amd/build.sh) dotnet run -c Release --project ...
# Needs a C compiler (cc or gcc). See README.md here.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/bin/libmkl_intel_kernels.so"
compiler="$(command -v cc || command -v gcc || true)"
if [[ -z "$compiler" ]]; then
  echo "tools/mkl-amd/build.sh: no C compiler (cc or gcc) on PATH; install one (Debian: apt install gcc)." >&2
  exit 1
fi
mkdir -p "$here/bin"
if [[ ! -f "$out" || "$here/mkl_intel_kernels.c" -nt "$out" ]]; then
  "$compiler" -shared -fPIC -O2 -o "$out" "$here/mkl_intel_kernels.c"
fi
echo "$out"
