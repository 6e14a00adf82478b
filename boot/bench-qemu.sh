#!/usr/bin/env bash
# Bare-metal figures, printed, never judged: kernel image size, time from QEMU start to the
# `nvme> ` prompt under TCG, and `crc` throughput over a 64 MiB namespace. A figure that cannot
# be measured (no prompt, no crc line) is printed as n/a with the reason; the exit status is 0
# unless the kernel is missing.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KERNEL="$ROOT/build/kernel.elf"
[ -f "$KERNEL" ] || { echo "bench-qemu: $KERNEL missing (make kernel)" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
IMG="$TMP/bench.img"
node "$ROOT/boot/mkdisk.js" "$IMG" 64
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

filesz=0 memsz=0
while read -r _ _ _ _ fs ms _; do filesz=$((filesz + fs)); memsz=$((memsz + ms)); done < <(readelf -lW "$KERNEL" | grep ' LOAD ')
echo "bench-qemu: kernel image build/kernel.elf $(stat -c %s "$KERNEL") bytes; loads $filesz bytes of code and data, $memsz bytes with bss (18.25 MiB of that are the three modules' memories)"

# Boot to the prompt: QEMU in its own process group, serial to a file we poll.
LOG="$TMP/prompt.log"
t0=$(now_ms)
setsid "$ROOT/boot/qemu.sh" --quiet --accel tcg --disk "$IMG" </dev/null >"$LOG" 2>&1 &
QPID=$!
prompt=""
while [ $(( $(now_ms) - t0 )) -lt 60000 ]; do
  if grep -q 'nvme> ' "$LOG" 2>/dev/null; then prompt=$(( $(now_ms) - t0 )); break; fi
  kill -0 $QPID 2>/dev/null || break
  sleep 0.01
done
kill -- -$QPID 2>/dev/null; wait $QPID 2>/dev/null
if [ -n "$prompt" ]; then echo "bench-qemu: QEMU start to 'nvme> ' prompt (TCG, pc, one controller): ${prompt} ms"
else echo "bench-qemu: QEMU start to 'nvme> ' prompt: n/a (no prompt within 60 s; last lines: $(tail -2 "$LOG" | tr '\r\n' '  '))"; fi

# crc over the whole 64 MiB namespace, twice in one boot; the second is timed (a boot's first pass
# over fresh guest memory is slower and varies most). Serial lines are stamped with the host's clock
# as they arrive: the crc takes the time from the line before its own (bench/ab.sh does the same
# for A/B comparisons of kernels).
"$ROOT/boot/qemu.sh" --quiet --accel tcg --disk "$IMG" --cmd "crc nvme0n1 0 131072; crc nvme0n1 0 131072; poweroff" </dev/null 2>&1 |
  perl -MTime::HiRes=time -ne '$| = 1; s/\r//g; printf "%.6f %s", time, $_' >"$TMP/crc.log"
line=$(grep ' crc dev=' "$TMP/crc.log" | sed -n 2p)
if [ -n "$line" ]; then
  awk -v l="${line#* }" '/ crc dev=/ { n++; if (n == 2) { ms = ($1 - prev) * 1000
      printf "bench-qemu: crc of 64 MiB: %d ms, %.1f MB/s (TCG, the second crc of a boot; %s)\n", ms, 64 * 1048576 / 1e3 / ms, l } }
    { prev = $1 }' "$TMP/crc.log"
else
  echo "bench-qemu: crc throughput: n/a ($(grep -m1 -E ' (error|trap)' "$TMP/crc.log" | cut -d' ' -f2- || echo 'no crc line'))"
fi
exit 0
