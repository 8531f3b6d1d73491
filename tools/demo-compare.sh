#!/usr/bin/env bash
# REG against plain focal loss in `reg demo`, on the same seeds: the table of docs/demo.md.
# Usage: tools/demo-compare.sh [SEEDS…] (default 1 2 3); extra demo options in $DEMO_OPTIONS.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product reg >&2
reg=.build/release/reg
seeds=("$@")
((${#seeds[@]})) || seeds=(1 2 3)
echo "| seed | loss | final epoch loss | mAP50 | mAP50-95 | F1 @ ½ | mIoU |"
echo "|---|---|--:|--:|--:|--:|--:|"
for seed in "${seeds[@]}"; do
    for variant in "REG β = +0.5, δ = 8" "REG β = −0.5, δ = 8" "plain focal"; do
        flags=(--seed "$seed" ${DEMO_OPTIONS:-})
        case $variant in
            "plain focal") flags+=(--no-refinement) ;;
            *−0.5*) flags+=(--beta -0.5) ;;
        esac
        out=$("$reg" demo "${flags[@]}" 2>/dev/null)
        loss=$(grep '^epoch ' <<<"$out" | tail -1 | awk '{print $NF}')
        det=$(grep -E '^  mean +mAP50' <<<"$out")
        map50=$(awk '{for (i = 1; i <= NF; i++) if ($i == "mAP50") print $(i + 3)}' <<<"$det")
        map5095=$(awk '{for (i = 1; i <= NF; i++) if ($i == "mAP50-95") print $(i + 3)}' <<<"$det")
        f1=$(awk '{for (i = 1; i <= NF; i++) if ($i == "F1") print $(i + 1)}' <<<"$det")
        miou=$(grep -E '^  mean +mIoU' <<<"$out" | awk '{print $NF}')
        echo "| $seed | $variant | $loss | $map50 | $map5095 | $f1 | $miou |"
    done
done
