#!/usr/bin/env bash
# Shadow doorbells and SGLs against the plain path, on bare metal in QEMU (the configuration of
# bench/lib.sh: q35, -cpu max, one vCPU, TCG, a 1 GiB null-co NVMe disk). Each round boots every
# combination of `dbbuf=on|off` and `sgl=on|off`, in an order that rotates from round to round, twice:
# polled (`irq=poll`: 4 KiB reads at QD1 and QD32, 128 KiB reads at QD8) and with the default
# interrupts (4 KiB reads at QD1 and QD32). Prints every run's line as it comes, then per job and
# combination the median IOPS, the spread (lowest-highest) and the median device part per IO
# (`device_us_avg`, docs/shell.md), and the median of the per-round ratios to the plain path
# (dbbuf=off sgl=off) of the same round: runs minutes apart on a shared machine differ more than the
# options do, runs of one round less. Figures are printed, never judged.
#   bench/dbbuf-sgl.sh [ROUNDS]      (default 5)
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KERNEL="$ROOT/build/kernel.elf"
[ -f "$KERNEL" ] || { echo "dbbuf-sgl: $KERNEL missing (make kernel)" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
ROUNDS=${1:-5}
COMBOS=("dbbuf=off; sgl=off" "dbbuf=on; sgl=off" "dbbuf=off; sgl=on" "dbbuf=on; sgl=on")
POLLED="bench nvme0n1 read 8 1 20000; bench nvme0n1 read 8 32 60000; bench nvme0n1 read 256 8 4000"
IRQ="bench nvme0n1 read 8 1 20000; bench nvme0n1 read 8 32 60000"
declare -A IOPS DEVUS ROUND

record() { # $1 combo index, $2 irq mode, $3 output
  local line job
  while read -r line; do
    job="$2 blocks=$(field block_bytes "$line") qd=$(field qd "$line")"
    IOPS["$1|$job"]+="$(field iops "$line") "
    ROUND["$1|$job|$r"]=$(field iops "$line")
    DEVUS["$1|$job"]+="$(field device_us_avg "$line") "
    echo "round=$r combo=\"${COMBOS[$1]}\" irq=$2 $line"
  done < <(grep '^bench ' <<<"$3")
}

start=$(date +%s)
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < ${#COMBOS[@]}; k++)); do
    i=$(( (k + r) % ${#COMBOS[@]} ))
    record "$i" poll "$(qemu_run "irq=poll; ${COMBOS[$i]}" "$POLLED")"
    record "$i" msix "$(qemu_run "${COMBOS[$i]}" "$IRQ")"
  done
done

nums() { tr ' ' '\n' <<<"$1"; }
# The median over rounds of combination $1's IOPS / the plain path's, for job $2.
paired() {
  local q
  for ((q = 0; q < ROUNDS; q++)); do ratio2 "${ROUND["$1|$2|$q"]:-}" "${ROUND["0|$2|$q"]:-}"; done | grep -v '^-$' | median
}
echo "dbbuf-sgl: $ROUNDS rounds in $(( $(date +%s) - start )) s; medians (lowest-highest), device_us_avg median, median of per-round ratios to dbbuf=off sgl=off"
for job in "poll blocks=4096 qd=1" "poll blocks=4096 qd=32" "poll blocks=131072 qd=8" "msix blocks=4096 qd=1" "msix blocks=4096 qd=32"; do
  for ((i = 0; i < ${#COMBOS[@]}; i++)); do
    v=${IOPS["$i|$job"]:-}
    [ -n "$v" ] || continue
    printf '%-26s %-20s iops=%s (%s-%s) device_us=%s vs_plain=%s\n' "$job" "${COMBOS[$i]}" "$(nums "$v" | median)" \
      "$(nums "$v" | grep -v '^$' | sort -g | head -1)" "$(nums "$v" | grep -v '^$' | sort -g | tail -1)" "$(nums "${DEVUS["$i|$job"]}" | median)" "$(paired "$i" "$job")"
  done
done
