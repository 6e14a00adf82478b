#!/usr/bin/env bash
# This driver and Linux's, in the same QEMU configuration (q35, -cpu max, one vCPU, 512 MiB, TCG,
# a 1 GiB null-co NVMe backend that reads zeroes), back to back on the same machine:
#   1. nvme-wasm: the shell's `bench` (random block-aligned IO through the block interface, one IO
#      queue), one boot per job;
#   2. Linux: bench/linux-fio.sh, Debian's kernel and fio, the same jobs;
# then a table with the ratio per job. A benchmark: figures only, never a verdict. Under TCG the
# guest CPU is the bottleneck, so the figures mostly measure the work each IO costs a guest.
#   bench/qemu-vs-linux.sh [IOS]          (requests per nvme-wasm job, default 60000)
#   NO_LINUX=1 bench/qemu-vs-linux.sh     only this driver's lines
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IOS="${1:-60000}"
KERNEL="${KERNEL:-$ROOT/build/kernel.elf}"
[ -f "$KERNEL" ] || { echo "qemu-vs-linux: $KERNEL missing (make kernel)" >&2; exit 1; }
DEV=(-cpu max -drive driver=null-co,size=1G,read-zeroes=on,if=none,id=d0 -device nvme,drive=d0,serial=nvmewasm0)

run() { # $1 = boot options, $2 = bench command
  "$ROOT/boot/qemu.sh" --kernel "$KERNEL" --quiet --accel tcg --machine q35 --memory 512M --cmd "$1; $2; poweroff" -- "${DEV[@]}" </dev/null 2>&1
}

declare -A OURS LINUX
ours() { # $1 = job name, stdin = guest output
  local line iops mib
  line=$(grep '^bench ' | head -1)
  iops=$(sed -n 's/.* iops=\([0-9]*\).*/\1/p' <<<"$line"); mib=$(sed -n 's/.* mib_s=\([0-9]*\).*/\1/p' <<<"$line")
  echo "nvme-wasm job=$1 iops=${iops:-n/a} mib_s=${mib:-n/a} ($line)"
  OURS[$1]="${iops:-} ${mib:-}"
}

ours randread-4k-qd1 < <(run "irq=msix" "bench nvme0n1 read 8 1 $IOS")
ours randread-4k-qd1-poll < <(run "irq=poll" "bench nvme0n1 read 8 1 $IOS")
ours randread-4k-qd32 < <(run "irq=msix" "bench nvme0n1 read 8 32 $IOS")
ours read-128k-qd8 < <(run "irq=msix" "bench nvme0n1 read 256 8 $((IOS / 4))")
ours randwrite-4k-qd1 < <(run "irq=msix" "bench nvme0n1 write 8 1 $IOS")
[ -n "${NO_LINUX:-}" ] && exit 0

while read -r line; do
  echo "$line"
  name=$(sed -n 's/.* job=\([^ ]*\).*/\1/p' <<<"$line")
  iops=$(sed -n 's/.* iops=\([0-9]*\).*/\1/p' <<<"$line"); mib=$(sed -n 's/.* mib_s=\([0-9]*\).*/\1/p' <<<"$line")
  [ -n "$name" ] && LINUX[$name]="${iops:-} ${mib:-}"
done < <("$ROOT/bench/linux-fio.sh")

echo
printf '%-22s %14s %14s %8s\n' job nvme-wasm linux ratio
for job in randread-4k-qd1 randread-4k-qd1-poll randread-4k-qd32 read-128k-qd8 randwrite-4k-qd1; do
  read -r oi om <<<"${OURS[$job]:-}"; read -r li lm <<<"${LINUX[$job]:-}"
  if [ "$job" = read-128k-qd8 ]; then o=$om l=$lm unit=" MiB/s"; else o=$oi l=$li unit=""; fi
  if [ -n "$o" ] && [ -n "$l" ] && [ "$l" -gt 0 ]; then
    printf '%-22s %14s %14s %7.1fx\n' "$job" "$o$unit" "$l$unit" "$(awk -v a="$o" -v b="$l" 'BEGIN { print a / b }')"
  else
    printf '%-22s %14s %14s %8s\n' "$job" "${o:-n/a}" "${l:-timed out}" "-"
  fi
done
