#!/usr/bin/env bash
# IOPS against queue depth, and where the time goes, in the QEMU configuration of
# bench/qemu-vs-linux.sh (bench/lib.sh: q35, -cpu max, one vCPU, 512 MiB, TCG, 1 GiB null-co):
#   1. the device floor: the shell's `bench` at QD1, polled (irq=poll), per block size; the device's
#      part of each IO there (doorbell -> completion seen, the driver's stats record) is the time QEMU
#      takes per command, and 1e6 / that is the most IOPS any driver gets at QD1;
#   2. nvme-wasm: `bench` random reads at QD 1 2 4 8 16 32 64 and 4, 16 and 128 KiB, one boot per
#      block size (interrupts: MSI-X unless --irq poll);
#   3. with --linux: Linux's nvme driver and fio (bench/linux-fio.sh), io_uring 4 KiB random reads at
#      the same depths, one boot (the depths after one that timed out again in a fresh boot).
# A benchmark: figures only, never a verdict; about a minute without --linux, a few more with it.
# One line per point, `key=value` fields, for bench/plot.js (lines starting with # are comments):
#   floor driver=nvme-wasm irq=poll op=read block_bytes=N qd=1 iops=N device_us_avg=X floor_iops=N rounds=R
#   sweep driver=nvme-wasm irq=msix op=read block_bytes=N qd=Q ios=N iops=N mib_s=N device_us_avg=X host_us_avg=X floor_ratio=F rounds=R
#   sweep driver=linux engine=io_uring op=read block_bytes=4096 qd=Q iops=N mib_s=N floor_ratio=F rounds=R timed_out_rounds=T
#   sweep driver=linux engine=io_uring op=read block_bytes=4096 qd=Q timed-out io_timeouts=N timed_out_rounds=T
#
#   bench/sweep.sh [--linux] [--rounds N] [--irq msix|poll] [--scale F]
#     --rounds N: everything N times (default 1), each point the median of its rounds (the machine's
#     speed drifts); --scale F scales the IOs per point (default 1). Raw lines are printed as comments.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KERNEL="${KERNEL:-$ROOT/build/kernel.elf}"
. "$ROOT/bench/lib.sh"
LINUX=0 IRQ=msix SCALE=1 ROUNDS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --linux) LINUX=1; shift ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --irq) IRQ="$2"; shift 2 ;;
    --scale) SCALE="$2"; shift 2 ;;
    *) echo "sweep: unknown option $1 (see the comment at the top of bench/sweep.sh)" >&2; exit 2 ;;
  esac
done
[ -f "$KERNEL" ] || { echo "sweep: $KERNEL missing (make kernel)" >&2; exit 1; }
case "$IRQ" in msix|poll) ;; *) echo "sweep: --irq msix or poll" >&2; exit 2 ;; esac

QDS="1 2 4 8 16 32 64"
# Block sizes in the backend's 512-byte blocks, and the IOs per point: about 0.1 to 1 s each.
SIZES="8 32 256"
ios_for() { awk -v b="$1" -v s="$SCALE" 'BEGIN { n = b == 8 ? 20000 : b == 32 ? 10000 : 4000; printf "%d\n", n * s < 1 ? 1 : n * s }'; }
declare -A FLOOR

echo "# sweep: $(date -u +%Y-%m-%dT%H:%MZ), $(qemu-system-x86_64 --version | head -1), kernel $(basename "$KERNEL"), $ROUNDS round(s)"
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT

# One round: the floor (one boot, QD1 polled, each block size), nvme-wasm (one boot per block size,
# every depth), Linux (one boot, every depth). Raw lines go to $RAW, tagged, and out as comments.
round() {
  local cmds="" b q out line
  for b in $SIZES; do cmds+="${cmds:+; }bench nvme0n1 read $b 1 $(ios_for "$b")"; done
  qemu_run "irq=poll" "$cmds" | grep '^bench ' | sed 's/^/floor /' >>"$RAW"
  for b in $SIZES; do
    cmds=""
    for q in $QDS; do cmds+="${cmds:+; }bench nvme0n1 read $b $q $(ios_for "$b")"; done
    out=$(qemu_run "irq=$IRQ" "$cmds")
    grep -q '^bench ' <<<"$out" || echo "# nvme-wasm block_bytes=$((b * 512)): no bench line ($(grep -m1 -E '^(error|trap)' <<<"$out"))"
    grep '^bench ' <<<"$out" | sed 's/^/ours /' >>"$RAW"
  done
  [ "$LINUX" = 1 ] && linux_jobs $(for q in $QDS; do echo "randread-4k-qd$q-uring"; done) | sed 's/^/linux /' >>"$RAW"
}
for r in $(seq "$ROUNDS"); do
  before=$(grep -c '' "$RAW")
  round
  tail -n +$((before + 1)) "$RAW" | sed "s/^/# round $r: /"
done

# The median over the rounds of field $1 in the lines on stdin.
medof() { while read -r l; do field "$1" "$l"; done | median; }
medus() { medof "$1" | awk '{ printf "%.2f\n", $1 }'; }          # microseconds, two decimals
medint() { medof "$1" | awk '{ printf "%d\n", $1 + 0.5 }'; }      # whole IOPS, MiB/s, IOs

# 1. The floor per block size: the median device part at QD1 polled.
for b in $SIZES; do
  bytes=$((b * 512))
  runs=$(grep "^floor .* block_bytes=$bytes " "$RAW")
  dev=$(medus device_us_avg <<<"$runs")
  FLOOR[$bytes]=$(floor_iops "$dev")
  echo "floor driver=nvme-wasm irq=poll op=read block_bytes=$bytes qd=1 iops=$(medint iops <<<"$runs") device_us_avg=${dev:-n/a} floor_iops=${FLOOR[$bytes]:-n/a} rounds=$ROUNDS"
done

# 2. nvme-wasm: medians per block size and depth.
for b in $SIZES; do
  bytes=$((b * 512))
  for q in $QDS; do
    runs=$(grep "^ours .* block_bytes=$bytes qd=$q " "$RAW")
    [ -n "$runs" ] || continue
    iops=$(medint iops <<<"$runs")
    echo "sweep driver=nvme-wasm irq=$IRQ op=read block_bytes=$bytes qd=$q ios=$(medint ios <<<"$runs") iops=$iops mib_s=$(medint mib_s <<<"$runs") device_us_avg=$(medus device_us_avg <<<"$runs") host_us_avg=$(medus host_us_avg <<<"$runs") floor_ratio=$(ratio2 "$iops" "${FLOOR[$bytes]:-}") rounds=$(grep -c '' <<<"$runs")"
  done
done

# 3. Linux: medians per depth of the rounds that gave a figure; timed out when none did.
[ "$LINUX" = 1 ] || exit 0
for q in $QDS; do
  runs=$(grep "^linux .* qd=$q\$" "$RAW")
  [ -n "$runs" ] || continue
  engine=$(field engine "$(head -1 <<<"$runs")")
  good=$(grep ' iops=' <<<"$runs")
  lost=$(grep -c 'timed-out' <<<"$runs")
  if [ -n "$good" ]; then
    iops=$(medint iops <<<"$good")
    echo "sweep driver=linux engine=$engine op=read block_bytes=4096 qd=$q iops=$iops mib_s=$(medint mib_s <<<"$good") floor_ratio=$(ratio2 "$iops" "${FLOOR[4096]:-}") rounds=$(grep -c '' <<<"$good") timed_out_rounds=$lost"
  elif [ "$lost" -gt 0 ]; then
    echo "sweep driver=linux engine=$engine op=read block_bytes=4096 qd=$q timed-out io_timeouts=$(medint io_timeouts <<<"$runs") timed_out_rounds=$lost"
  else
    echo "# linux qd=$q: no figure in any round ($(head -1 <<<"$runs"))"
  fi
done
exit 0
