#!/usr/bin/env bash
# Spark resource discovery script: prints this host's NVIDIA GPUs as
# {"name":"gpu","addresses":["0","1",...]}. Needs nvidia-smi.
#
# Fake mode, for trying a GPU cluster's scheduling on a machine without GPUs (examples/bin/cluster-example
# gives each Worker its own): BIOS_FAKE_GPU_ADDRESS=1 reports the one GPU "1" without calling nvidia-smi
# (a comma-separated list reports several: BIOS_FAKE_GPU_ADDRESS=0,1).
set -euo pipefail
if [ -n "${BIOS_FAKE_GPU_ADDRESS:-}" ]; then
  ids="${BIOS_FAKE_GPU_ADDRESS// /}"
  if ! [[ "$ids" =~ ^[0-9]+(,[0-9]+)*$ ]]; then
    echo "gpu-discovery.sh: BIOS_FAKE_GPU_ADDRESS=\"$BIOS_FAKE_GPU_ADDRESS\" must be GPU ordinals such as 1 or 0,1" >&2
    exit 1
  fi
else
  ids=$(nvidia-smi --query-gpu=index --format=csv,noheader | tr -d ' ' | paste -sd, -)
fi
echo "{\"name\":\"gpu\",\"addresses\":[\"${ids//,/\",\"}\"]}"
