#!/usr/bin/env bash
# This driver in the QEMU configuration of ../common/bench/linux-fio-baseline.sh (q35, -cpu max,
# one vCPU, 512 MiB, TCG, a 1 GiB null-co NVMe backend that reads zeroes), running the same jobs
# through the shell's `bench` (random block-aligned LBAs, one IO queue), so the two drivers can
# be compared in the same QEMU on the same machine. Run the Linux script right before or after.
# Prints one line per job; a benchmark: figures only, never a verdict.
#   bench/qemu-vs-linux.sh [IOS]      (IOS per job, default 60000)
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IOS="${1:-60000}"
KERNEL="$ROOT/build/kernel.elf"
[ -f "$KERNEL" ] || { echo "qemu-vs-linux: $KERNEL missing (make kernel)" >&2; exit 1; }
DEV=(-cpu max -drive driver=null-co,size=1G,read-zeroes=on,if=none,id=d0 -device nvme,drive=d0,serial=nvmewasm0)

run() { # $1 = boot options, $2 = bench commands
  "$ROOT/boot/qemu.sh" --quiet --accel tcg --machine q35 --memory 512M --cmd "$1; $2; poweroff" -- "${DEV[@]}" </dev/null 2>&1
}

report() { # $1 = job name, stdin = guest output
  grep '^bench ' | while read -r line; do
    iops=$(sed -n 's/.* iops=\([0-9]*\).*/\1/p' <<<"$line"); mib=$(sed -n 's/.* mib_s=\([0-9]*\).*/\1/p' <<<"$line")
    echo "nvme-wasm accel=tcg backend=null job=$1 iops=$iops bw_mibs=$mib ($line)"
  done
}

run "irq=msix" "bench nvme0n1 read 8 1 $IOS" | report randread-4k-qd1
run "irq=poll" "bench nvme0n1 read 8 1 $IOS" | report randread-4k-qd1-poll
run "irq=msix" "bench nvme0n1 read 8 32 $IOS" | report randread-4k-qd32
run "irq=msix" "bench nvme0n1 read 256 8 $((IOS / 4))" | report read-128k-qd8
run "irq=msix" "bench nvme0n1 write 8 1 $IOS" | report randwrite-4k-qd1
