#!/usr/bin/env bash
# Every GPU check of the project in one run, for the lent CUDA machine (see README, "Benchmarks on a GPU"):
#   1. the main job (RotMNIST T(2) through ML.NET: Fit, Save, Load, PredictionEngine) with --device cuda;
#   2. the group tour on the GPU (Exp, Log and kernel inputs keep their promises in float32 on CUDA);
#   3. the benchmark set with --device cuda, one configuration per process, each with the peak device memory
#      that nvidia-smi saw while it ran, less what was in use before (CUDA context and caching-allocator
#      reserve included: TorchSharp 0.107 exposes no allocator statistics).
# A device call may run 10 minutes and a lent machine has 15 in all, start-up included: every app has a time
# limit, and no configuration starts unless its limit still fits before LIECONV_DEADLINE_S (default 560 s after the
# start), most telling configurations first. Results go to $OUT (the device tool's output folder) or to the folder
# given as the first argument.
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
configs=${LIECONV_CONFIGS:-rotmnist-t2 qm9-t3 springs-hlieresnet-t2 rotmnist-so2 rotmnist-trivial rotmnist-se2 qm9-se3 springs-fc scaling-t3-256 scaling-t3-1k scaling-t3-4k scaling-t3-16k scaling-t3-64k scaling-t3-128k}
steps=${LIECONV_STEPS:-10}
deadline=${LIECONV_DEADLINE_S:-560}
config_limit=120
read -r -a main_args <<< "${LIECONV_MAIN_ARGS:-}"   # e.g. "--epochs 1 --train-size 200" for a quick try
mkdir -p "$out"
# prepare.sh packs the apps as one tarball to stay within what a device call carries.
[ -n "${LIECONV_APPS:-}" ] || [ -d .gpu/apps ] || tar xzf .gpu/apps.tgz -C .gpu
# launch SECONDS APP.dll ARGS...: runs an app under a time limit (timeout cannot run a shell function).
launch() {
  local limit=$1 app=$2; shift 2
  if [ -n "${LIECONV_LAUNCH:-}" ]; then timeout "$limit" "$LIECONV_LAUNCH" "$apps/$app" "$@"
  else timeout "$limit" bash .gpu/device-run.sh "apps/$app" "$@"; fi
}
elapsed() { echo $(( $(date +%s) - began )); }
log() { echo "[$(elapsed) s] $*" | tee -a "$out/checks.log"; }
has_smi=false; command -v nvidia-smi > /dev/null && has_smi=true
used_mb() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1 | tr -d ' '; }
$has_smi && nvidia-smi > "$out/nvidia-smi.txt" 2>&1

log "1. main job on $device"
launch 180 LieConv.Samples.RotMnist.dll --device "$device" --out "$out/rotmnist" "${main_args[@]}" > "$out/rotmnist.txt" 2>&1
log "   exit $?: $(tail -n 1 "$out/rotmnist.txt" | cut -c1-300)"

log "2. group tour on $device"
launch 60 LieConv.Samples.Equivariance.dll --device "$device" > "$out/equivariance.txt" 2>&1
log "   exit $?"

log "3. benchmarks on $device ($steps steps after 2 warm-up)"
: > "$out/benchmarks.jsonl"
for config in $configs; do
  if [ $(( $(elapsed) + config_limit )) -gt "$deadline" ]; then log "   $config: not started (its ${config_limit} s would pass the ${deadline} s deadline)"; continue; fi
  idle=0; peakfile="$out/.peak"; echo 0 > "$peakfile"
  if $has_smi; then
    idle=$(used_mb)
    ( while sleep 0.1; do u=$(used_mb); [ "$u" -gt "$(cat "$peakfile")" ] && echo "$u" > "$peakfile"; done ) &
    poller=$!
  fi
  start=$(date +%s)
  launch "$config_limit" LieConv.Benchmarks.dll --device "$device" --config "$config" --steps "$steps" --warmup 2 \
    > "$out/.line" 2>> "$out/benchmarks.err"
  code=$?
  $has_smi && { kill "$poller" 2>/dev/null; wait "$poller" 2>/dev/null; }
  peak=$(cat "$peakfile")
  line=$(grep '^{' "$out/.line" | tail -1)
  [ -n "$line" ] || line="{\"config\":\"$config\",\"error\":\"exit $code\"}"
  # The device-memory column is added outside the app: the benchmark cannot read CUDA allocator statistics.
  echo "${line%\}},\"device_peak_mb\":$((peak > idle ? peak - idle : 0)),\"wall_s\":$(( $(date +%s) - start ))}" >> "$out/benchmarks.jsonl"
  log "   $config: exit $code, $(( $(date +%s) - start )) s"
done
rm -f "$out/.peak" "$out/.line"
log "done"
