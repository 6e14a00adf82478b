#!/usr/bin/env bash
# Several kernels compared under TCG, interleaved: a benchmark for A/B comparisons of the bare-metal
# host. It prints figures and never fails on one.
#   bench/ab.sh [--job crc|qd1] [--rounds N] [--per-boot K] [--mib M] [--ios I] KERNEL.elf [KERNEL.elf ...]
# Each round boots every kernel once, in turn (so a slow minute of the shared machine hits all of
# them alike), and each boot measures K times:
#   crc  (default) the shell's `crc` over a whole M MiB image (default 64, boot/mkdisk.js), `pc`
#        machine as boot/bench-qemu.sh boots it, after one untimed crc (a boot's first pass over
#        its memory is slower, by up to half, and varies most). Every line of the serial output is stamped with the
#        host's clock as it arrives; a `crc` takes the time from the line before it to its own line,
#        so boot and poweroff are not in it. All the CRCs must agree. Figure: MB/s (10^6 bytes/s).
#   qd1  `bench nvme0n1 read 8 1 I` (4 KiB random reads, QD1, default I = 20000) booted with
#        irq=poll, in bench/lib.sh's configuration (q35, -cpu max, 512 MiB, 1 GiB null-co NVMe)
#        as bench/qemu-vs-linux.sh measures the floor. Figures: IOPS, and the bench line's
#        device_us_avg (the floor: QEMU's part of an IO) and host_us_avg (everything else); the
#        ratio to the floor is (1e6 / IOPS) against device_us_avg, i.e. device / (device + host).
# Prints one line per measurement, then per kernel the median, lowest and highest of each figure.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
JOB=crc ROUNDS=5 PER_BOOT=3 MIB=64 IOS=20000
KERNELS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --job) JOB="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --per-boot) PER_BOOT="$2"; shift 2 ;;
    --mib) MIB="$2"; shift 2 ;;
    --ios) IOS="$2"; shift 2 ;;
    -*) echo "ab: unknown option $1" >&2; exit 2 ;;
    *) KERNELS+=("$1"); shift ;;
  esac
done
[ ${#KERNELS[@]} -gt 0 ] || { echo "usage: bench/ab.sh [--job crc|qd1] [--rounds N] [--per-boot K] [--mib M] [--ios I] KERNEL.elf..." >&2; exit 2; }
case "$JOB" in crc|qd1) ;; *) echo "ab: --job is crc or qd1" >&2; exit 2 ;; esac
for k in "${KERNELS[@]}"; do [ -f "$k" ] || { echo "ab: $k does not exist" >&2; exit 2; }; done
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
KERNEL="${KERNELS[0]}"
. "$ROOT/bench/lib.sh"

if [ "$JOB" = crc ]; then
  IMG="$TMP/bench.img"
  node "$ROOT/boot/mkdisk.js" "$IMG" "$MIB" >/dev/null
  BLOCKS=$(( MIB * 2048 ))
  CMD="crc nvme0n1 0 $BLOCKS"   # not timed: the first pass over fresh guest memory is slower
  for _ in $(seq "$PER_BOOT"); do CMD="$CMD; crc nvme0n1 0 $BLOCKS"; done
else
  CMD="irq=poll"
  for _ in $(seq "$PER_BOOT"); do CMD="$CMD; bench nvme0n1 read 8 1 $IOS"; done
fi

for r in $(seq "$ROUNDS"); do
  for k in "${KERNELS[@]}"; do
    if [ "$JOB" = crc ]; then
      "$ROOT/boot/qemu.sh" --kernel "$k" --quiet --accel tcg --disk "$IMG" --cmd "$CMD; poweroff" </dev/null 2>&1 |
        perl -MTime::HiRes=time -ne '$| = 1; s/\r//g; printf "%.6f %s", time, $_' >"$TMP/out"
      awk -v k="$k" -v r="$r" -v bytes=$(( MIB * 1048576 )) '
        / crc dev=/ { if (seen) { ms = ($1 - prev) * 1000; crc = $NF
                        printf "ab: round=%d kernel=%s ms=%.0f mb_s=%.1f %s\n", r, k, ms, bytes / 1e3 / ms, crc
                        if (first == "") first = crc; else if (crc != first) printf "ab: kernel=%s CRCS DISAGREE\n", k }
                      seen = 1 }
        { prev = $1 }' "$TMP/out" | tee -a "$TMP/lines"
      grep -q " crc dev=.*count=$BLOCKS" "$TMP/out" || echo "ab: round=$r kernel=$k no crc line: $(grep -m1 -E 'error|trap|exception' "$TMP/out")"
    else
      KERNEL="$k" qemu_run "${CMD%%;*}" "${CMD#*; }" >"$TMP/out"
      grep '^bench ' "$TMP/out" | while read -r line; do
        echo "ab: round=$r kernel=$k iops=$(field iops "$line") device_us_avg=$(field device_us_avg "$line") host_us_avg=$(field host_us_avg "$line")"
      done | tee -a "$TMP/lines"
      grep -q '^bench ' "$TMP/out" || echo "ab: round=$r kernel=$k no bench line: $(grep -m1 -E 'error|trap|exception' "$TMP/out")"
    fi
  done
done

# median, lowest and highest of figure $2 over kernel $1's lines
stat() {
  grep -F " kernel=$1 " "$TMP/lines" | sed -n "s/.* $2=\([0-9.]*\).*/\1/p" | sort -g |
    awk -v f="$2" '{ v[NR] = $1 } END { if (NR) printf " %s=%g (%g..%g)", f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }'
}
for k in "${KERNELS[@]}"; do
  n=$(grep -cF " kernel=$k " "$TMP/lines")
  if [ "$JOB" = crc ]; then echo "ab: kernel=$k crcs=$n median$(stat "$k" mb_s)"
  else echo "ab: kernel=$k benches=$n median$(stat "$k" iops)$(stat "$k" device_us_avg)$(stat "$k" host_us_avg)"; fi
done
