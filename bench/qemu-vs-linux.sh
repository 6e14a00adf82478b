#!/usr/bin/env bash
# This driver and Linux's, in the same QEMU configuration (bench/lib.sh: q35, -cpu max, one vCPU,
# 512 MiB, TCG, a 1 GiB null-co NVMe backend that reads zeroes), back to back on the same machine:
#   1. nvme-wasm: the shell's `bench` (random block-aligned IO through the block interface, on the
#      shell's IO queue pair), one boot per job;
#   2. the device floor: `bench` at QD1, polled (irq=poll), for each job's operation and block size,
#      in one boot; the device part of an IO (doorbell -> completion seen, from the driver's stats
#      record) is what QEMU itself takes per command, and 1e6 / that the most IOPS any driver
#      reaches at QD1 (at depth QEMU overlaps commands, so deeper jobs can pass it);
#   3. Linux: bench/linux-fio.sh, Debian's kernel and fio, the same jobs in one boot, the deep ones
#      last: Linux 6.1 loses completions on QEMU 7.2.22 now and then at depth (seen: 128 KiB QD8,
#      4 KiB QD8 and QD32 with io_uring, QD32 with libaio: 30 s I/O timeouts, aborts, resets). Such a
#      job is "timed out", never a figure, and the jobs after it run again in a fresh boot
#      (bench/lib.sh linux_jobs);
# all of it ROUNDS times (the machine's speed drifts: medians compare), then a table of medians: both
# figures, their ratio, each one's ratio to the floor, and each driver's range over the rounds.
# A benchmark: figures only, never a verdict. Under TCG the guest CPU is the bottleneck, so the
# figures mostly measure the work each IO costs a guest.
#   bench/qemu-vs-linux.sh [IOS]          (requests per nvme-wasm job, default 60000)
#   ROUNDS=N (default 3)    NO_LINUX=1: only this driver's lines and the floor
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IOS="${1:-60000}"
ROUNDS="${ROUNDS:-3}"
KERNEL="${KERNEL:-$ROOT/build/kernel.elf}"
[ -f "$KERNEL" ] || { echo "qemu-vs-linux: $KERNEL missing (make kernel)" >&2; exit 1; }
. "$ROOT/bench/lib.sh"

# The jobs: name, boot options, bench arguments (op, 512-byte blocks, QD, IOs), the floor they are
# measured against (op-blocks at QD1 polled), and the unit of the table (iops or mib_s).
JOBS="randread-4k-qd1 irq=msix read 8 1 $IOS read-8 iops
randread-4k-qd1-poll irq=poll read 8 1 $IOS read-8 iops
randread-4k-qd32 irq=msix read 8 32 $IOS read-8 iops
read-128k-qd8 irq=msix read 256 8 $((IOS / 4)) read-256 mib_s
randwrite-4k-qd1 irq=msix write 8 1 $IOS write-8 iops"
LINUX_ORDER="randread-4k-qd1 randread-4k-qd1-poll randwrite-4k-qd1 randread-4k-qd32 read-128k-qd8"
# Per job (or floor kind): the figures of every round, space-separated.
declare -A OURS_IOPS OURS_MIB LINUX_IOPS LINUX_MIB LINUX_TIMEOUTS FLOOR_US
kinds=$(awk '{ print $7 }' <<<"$JOBS" | sort -u)

ours_round() { # 1. one boot per job
  while read -r job boot op blocks qd ios _ _; do
    local line; line=$(qemu_run "$boot" "bench nvme0n1 $op $blocks $qd $ios" | grep -m1 '^bench ')
    OURS_IOPS[$job]+=" $(field iops "$line")"; OURS_MIB[$job]+=" $(field mib_s "$line")"
    echo "nvme-wasm job=$job iops=$(field iops "$line") mib_s=$(field mib_s "$line") device_us_avg=$(field device_us_avg "$line") host_us_avg=$(field host_us_avg "$line") (${line:-no bench line})"
  done <<<"$JOBS"
}

floor_round() { # 2. one boot, every kind at QD1 polled
  local cmds="" k out line
  for k in $kinds; do cmds+="${cmds:+; }bench nvme0n1 ${k%-*} ${k#*-} 1 $((IOS / 2))"; done
  out=$(qemu_run "irq=poll" "$cmds" | grep '^bench ')
  for k in $kinds; do
    line=$(grep -m1 " op=${k%-*} block_bytes=$((${k#*-} * 512)) " <<<"$out")
    FLOOR_US[$k]+=" $(field device_us_avg "$line")"
    echo "floor op=${k%-*} block_bytes=$((${k#*-} * 512)) qd=1 irq=poll device_us_avg=$(field device_us_avg "$line") floor_iops=$(floor_iops "$(field device_us_avg "$line")") (${line:-no bench line})"
  done
}

linux_round() { # 3. one boot, and more if a job timed out
  local line name
  while read -r line; do
    echo "$line"
    name=$(field job "$line")
    [ -n "$name" ] || continue
    if [ -n "$(field iops "$line")" ]; then LINUX_IOPS[$name]+=" $(field iops "$line")"; LINUX_MIB[$name]+=" $(field mib_s "$line")"
    elif [[ "$line" == *timed-out* ]]; then LINUX_TIMEOUTS[$name]+=" x"
    fi
  done < <(linux_jobs $LINUX_ORDER)
}

for round in $(seq "$ROUNDS"); do
  echo "# round $round of $ROUNDS"
  ours_round
  floor_round
  [ -n "${NO_LINUX:-}" ] || linux_round
done

med() { tr ' ' '\n' <<<"$1" | median; }
medi() { med "$1" | awk '{ printf "%d\n", $1 + 0.5 }'; }  # whole IOPS or MiB/s
span() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR > 1) printf "%s-%s\n", lo, hi; else if (NR) print lo }'; }
echo
echo "# medians of $ROUNDS rounds; floor_iops = 1e6 / the median device part at QD1 polled; ranges are min-max over the rounds"
printf '%-22s %12s %22s %6s %10s %10s %11s %15s %15s\n' job nvme-wasm linux ratio floor_iops wasm/floor linux/floor wasm-range linux-range
while read -r job _ _ _ _ _ kind unit; do
  if [ "$unit" = mib_s ]; then ours=${OURS_MIB[$job]:-} linux=${LINUX_MIB[$job]:-} suffix=" MiB/s"; else ours=${OURS_IOPS[$job]:-} linux=${LINUX_IOPS[$job]:-} suffix=""; fi
  o=$(medi "$ours"); l=$(medi "$linux"); oi=$(medi "${OURS_IOPS[$job]:-}"); li=$(medi "${LINUX_IOPS[$job]:-}")
  floor=$(floor_iops "$(med "${FLOOR_US[$kind]:-}")")
  lost=$(wc -w <<<"${LINUX_TIMEOUTS[$job]:-}")
  lcell="${l:-n/a}${l:+$suffix}"
  if [ -z "$l" ] && [ "$lost" -gt 0 ]; then lcell="timed out"; elif [ "$lost" -gt 0 ]; then lcell+=" ($lost timed out)"; fi
  [ -n "${NO_LINUX:-}" ] && lcell="-"
  r=$(ratio "$o" "$l"); [ "$r" = - ] || r+=x
  printf '%-22s %12s %22s %6s %10s %10s %11s %15s %15s\n' "$job" "${o:-n/a}${o:+$suffix}" "$lcell" "$r" "${floor:-n/a}" \
    "$(ratio2 "$oi" "$floor")" "$(ratio2 "$li" "$floor")" "$(span "$ours")" "$(span "$linux")"
done <<<"$JOBS"
