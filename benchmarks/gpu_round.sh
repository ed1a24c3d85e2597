#!/usr/bin/env bash
# One GPU round: every fast path and its plain baseline on the same card, in one run (< 8 minutes on an
# H100/H200). Figures go to $OUT/<section>.json (the device tool sets $OUT; default ./gpu_round_out) and a
# summary table is printed at the end. Rerunnable: each run rewrites the JSON files.
#
#   bash benchmarks/gpu_round.sh            # GPU: real-size architectures, random bf16 weights
#   bash benchmarks/gpu_round.sh --smoke    # CPU: tiny models, checks that every section executes
#
# Sections run as separate processes (memory freed in between), each under its own time limit; a section
# that runs out of time keeps the rows it measured. See benchmarks/gpu_round.py for what each one measures.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
export OUT="${OUT:-$PWD/gpu_round_out}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
MODE=()
if [[ "${1:-}" == "--smoke" ]]; then
  MODE=(--smoke)
fi
# section  time limit (s)  in-section budget (s): later rows are skipped past it
PLAN=(
  "synth_qwen 140 95"
  "synth_llava 150 100"
  "filter 75 50"
  "sft 70 45"
)
start=$(date +%s)
for entry in "${PLAN[@]}"; do
  read -r section limit budget <<<"$entry"
  echo "== $section (limit ${limit}s) =="
  timeout --signal=TERM --kill-after=10 "$limit" "$PY" benchmarks/gpu_round.py --section "$section" \
    --budget-s "$budget" "${MODE[@]}" 2>"$OUT/$section.stderr.txt"
  rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "$section: exit code $rc (124: time limit); last stderr lines:"
    tail -n 5 "$OUT/$section.stderr.txt"
  fi
done
echo "== summary ($(( $(date +%s) - start )) s) =="
"$PY" benchmarks/gpu_round.py --summary | tee "$OUT/summary.txt"
