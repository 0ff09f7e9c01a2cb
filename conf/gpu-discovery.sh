#!/usr/bin/env bash
# Spark resource discovery script: prints this host's NVIDIA GPUs as
# {"name":"gpu","addresses":["0","1",...]}. Needs nvidia-smi.
set -euo pipefail
ids=$(nvidia-smi --query-gpu=index --format=csv,noheader | tr -d ' ' | paste -sd, -)
echo "{\"name\":\"gpu\",\"addresses\":[\"${ids//,/\",\"}\"]}"
