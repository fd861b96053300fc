#!/usr/bin/env bash
# Every GPU check of the project in one run, for the lent CUDA machine (see README, "Benchmarks on a GPU"):
#   1. the main job (RotMNIST SO(2) through ML.NET: Fit, Save, Load, PredictionEngine) with --device cuda;
#   2. the group tour on the GPU (Exp, Log and kernel inputs keep their promises in float32 on CUDA);
#   3. the benchmark set with --device cuda, one configuration per process, each followed by the original's step on
#      the same GPU where the original is at hand (tools/gpu/original_baseline.py; the original's code in .original/, from
#      tools/gpu/fetch_original.sh),
#      each line with the peak device memory that nvidia-smi saw while it ran, less what was in use before (CUDA
#      context and caching-allocator reserve included: TorchSharp 0.107 exposes no allocator statistics, so both sides
#      are measured the same way). Each of our lines also says whether a training step synchronised with the host
#      (CudaSynchronisationCheck in the benchmark).
# A device call may run 10 minutes and a lent machine has 15 in all, start-up included: every app has a time
# limit, and nothing starts unless its limit still fits before LIECONV_DEADLINE_S (default 575 s after the start),
# most telling configurations first. Results go to $OUT (the device tool's output folder, which returns at most 8
# files) or to the folder given as the first argument: checks.log, nvidia-smi.txt, rotmnist.txt, equivariance.txt,
# benchmarks.jsonl, stderr.txt.
#
# usage (device machine, repository root, .gpu/ from tools/gpu/prepare.sh):  bash tools/gpu/checks.sh [out]
# Locally, to try the script itself on the CPU: LIECONV_DEVICE=cpu LIECONV_LAUNCH=dotnet LIECONV_APPS=<folder with
# the three apps published with the cpu backend> LIECONV_CONFIGS="springs-fc" LIECONV_STEPS=2
# LIECONV_MAIN_ARGS="--epochs 1 --train-size 100 --test-size 50" bash tools/gpu/checks.sh /tmp/out
set -uo pipefail
began=$(date +%s)
out=${1:-${OUT:-gpu-results}}
device=${LIECONV_DEVICE:-cuda}
apps=${LIECONV_APPS:-.gpu/apps}
paired=${LIECONV_CONFIGS:-rotmnist-t2 qm9-t3 springs-hlieresnet-t2 rotmnist-se2 qm9-se3 rotmnist-so2 rotmnist-trivial springs-fc}
scaling=${LIECONV_SCALING:-scaling-t3-256 scaling-t3-1k scaling-t3-4k scaling-t3-16k scaling-t3-64k scaling-t3-128k}
steps=${LIECONV_STEPS:-10}
deadline=${LIECONV_DEADLINE_S:-575}
ours_limit=100 original_limit=80
original=${LIECONV_ORIGINAL:-.original}
python=${LIECONV_PYTHON:-python3}   # the one with PyTorch
qm9=.gpu/shared/data/qm9/lieconv_npz/test.npz; [ -f "$qm9" ] || qm9=../shared/data/qm9/lieconv_npz/test.npz
# The main job at 360 steps (3,000 digits, 3 epochs), as planned for the device's time: it checks the CUDA route through
# ML.NET (Fit, save, load, PredictionEngine); the README's default is 1,200 steps. "" runs the default.
read -r -a main_args <<< "${LIECONV_MAIN_ARGS---train-size 3000 --epochs 3}"   # e.g. "--epochs 1 --train-size 200" for a quick try
mkdir -p "$out"
err="$out/stderr.txt"; : > "$err"
# prepare.sh packs the apps as one tarball to stay within what a device call carries.
[ -n "${LIECONV_APPS:-}" ] || [ -d .gpu/apps ] || tar xzf .gpu/apps.tgz -C .gpu
if [ -z "${LIECONV_LAUNCH:-}" ]; then
  # What .gpu/device-run.sh does, once: unpack the .NET runtime and find PyTorch's libtorch (a Python start each
  # time would cost seconds per app).
  [ -x /tmp/dotnet/dotnet ] || { mkdir -p /tmp/dotnet && tar xzf .gpu/dotnet-runtime.tgz -C /tmp/dotnet; }
  export DOTNET_ROOT=/tmp/dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  torchlib=$("$python" -c "import torch,os;print(os.path.join(os.path.dirname(torch.__file__),'lib'))")
  export LD_LIBRARY_PATH="$torchlib:${LD_LIBRARY_PATH:-}"
fi
runner=${LIECONV_LAUNCH:-/tmp/dotnet/dotnet}   # what starts a .NET app
# launch SECONDS APP.dll ARGS...: runs an app under a time limit.
launch() {
  local limit=$1 app=$2; shift 2
  timeout "$limit" "$runner" "$apps/$app" "$@"
}
elapsed() { echo $(( $(date +%s) - began )); }
log() { echo "[$(elapsed) s] $*" | tee -a "$out/checks.log"; }
fits() { [ $(( $(elapsed) + $1 )) -le "$deadline" ]; }
has_smi=false; command -v nvidia-smi > /dev/null && has_smi=true
used_mb() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1 | tr -d ' '; }
$has_smi && nvidia-smi > "$out/nvidia-smi.txt" 2>&1
has_original=false; [ -d "$original" ] && "$python" -c "import torch" 2> /dev/null && has_original=true

# measured NAME LIMIT COMMAND...: runs one benchmark process, appends its JSON line to benchmarks.jsonl with the peak
# device memory nvidia-smi saw (less what was in use before) and the wall time.
measured() {
  local name=$1 limit=$2; shift 2
  if ! fits "$limit"; then log "   $name: not started (its ${limit} s would pass the ${deadline} s deadline)"; return; fi
  local idle=0 poller= peakfile="$out/.peak" start code line peak
  echo 0 > "$peakfile"
  if $has_smi; then
    idle=$(used_mb)
    ( while sleep 0.1; do u=$(used_mb); [ "$u" -gt "$(cat "$peakfile")" ] && echo "$u" > "$peakfile"; done ) &
    poller=$!
  fi
  start=$(date +%s)
  timeout "$limit" "$@" > "$out/.line" 2>> "$err"
  code=$?
  [ -n "$poller" ] && { kill "$poller" 2>/dev/null; wait "$poller" 2>/dev/null; }
  peak=$(cat "$peakfile")
  line=$(grep '^{' "$out/.line" | tail -1)
  [ -n "$line" ] || line="{\"config\":\"$name\",\"error\":\"exit $code\"}"
  echo "${line%\}},\"device_peak_mb\":$((peak > idle ? peak - idle : 0)),\"process_wall_s\":$(( $(date +%s) - start ))}" >> "$out/benchmarks.jsonl"
  log "   $name: exit $code, $(( $(date +%s) - start )) s: $(echo "$line" | grep -o '"train_ms": *[0-9.]*\|"host_synchronisation": *"[^"]*"\|"error": *"[^"]*"' | tr '\n' ' ' | cut -c1-240)"
}
ours() { measured "$1 (ours)" "$ours_limit" "$runner" "$apps/LieConv.Benchmarks.dll" \
  --device "$device" --config "$1" --steps "$steps" --warmup 2; }
theirs() { $has_original && measured "$1 (original)" "$original_limit" env PYTHONUNBUFFERED=1 "$python" tools/gpu/original_baseline.py \
  --original "$original" --device "$device" --configs "$1" --steps "$steps" --warmup 2 --budget-s 45 --qm9 "$qm9"; }

log "1. main job on $device"
launch 150 LieConv.Samples.RotMnist.dll --device "$device" --out /tmp/rotmnist-run "${main_args[@]}" > "$out/rotmnist.txt" 2>&1
log "   exit $?: $(tail -n 1 "$out/rotmnist.txt" | cut -c1-300)"

log "2. group tour on $device"
launch 45 LieConv.Samples.Equivariance.dll --device "$device" > "$out/equivariance.txt" 2>&1
log "   exit $?"

log "3. benchmarks on $device ($steps steps after 2 warm-up), ours then the original's (original at hand: $has_original)"
: > "$out/benchmarks.jsonl"
for config in $paired; do ours "$config"; theirs "$config"; done
for config in $scaling; do ours "$config"; done
rm -f "$out/.peak" "$out/.line"
log "done"
