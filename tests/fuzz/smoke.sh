#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A fuzz smoke run: FUZZER explores for SECONDS with a random seed, from
# its committed seed corpus, writing new inputs into a fresh scratch corpus
# (removed afterwards; the committed corpus is never written). The seed is
# printed: COIL_FUZZ_SEED=<seed> repeats the run. Crashes are kept as
# crash-* files in the current directory.
#   usage: smoke.sh FUZZER SEED_CORPUS_DIR [SECONDS]
set -euo pipefail
fuzzer=$1 corpus=$2 secs=${3:-10}
seed=${COIL_FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
work=$(mktemp -d "${TMPDIR:-/tmp}/coil-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "fuzz smoke: $(basename "$fuzzer") for ${secs} s, seed $seed (COIL_FUZZ_SEED=$seed repeats it)"
"$fuzzer" -max_total_time="$secs" -seed="$seed" -timeout=20 -artifact_prefix="$PWD/" \
    "$work" "$corpus"
