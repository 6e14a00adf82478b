#!/usr/bin/env bash
# `make debug`: QEMU halted at reset with a GDB stub on :1234 (boot/qemu.sh --debug), the serial
# console going to build/serial.log, and gdb attached with the kernel's symbols, run to kmain: the
# kernel and its guests are in memory then, so breakpoints on the driver's functions hold:
#
#   (gdb) break bringUp          # the driver's functions by their AssemblyScript names
#   (gdb) continue
#
#   boot/debug.sh [--kernel K.elf] [--at-reset] [boot/qemu.sh options]
#     --kernel K.elf   the ELF32 image QEMU boots; gdb reads the 64-bit one next to it (kernel.elf ->
#                      kernel64.elf). Default build/debug/kernel.elf (boot/build-debug.sh: the
#                      functions of the wasm modules named as in AssemblyScript), else
#                      build/kernel.elf (wasm2c's w2c_fNN names).
#     --at-reset       stay at the reset vector instead of running to kmain (for the boot code; set
#                      hardware breakpoints, `hbreak`, before the kernel is loaded: the multiboot
#                      loader copies it over any software breakpoint)
# Other arguments are passed on to boot/qemu.sh. Quitting gdb stops QEMU.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOG="$ROOT/build/serial.log"
KERNEL="" AT_RESET=0 ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) KERNEL="$2"; shift 2 ;;
    --at-reset) AT_RESET=1; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
if [ -z "$KERNEL" ]; then
  KERNEL="$ROOT/build/debug/kernel.elf"
  [ -f "$KERNEL" ] || KERNEL="$ROOT/build/kernel.elf"
fi
SYMBOLS="${KERNEL%.elf}64.elf"
[ -f "$KERNEL" ] && [ -f "$SYMBOLS" ] || { echo "debug.sh: $KERNEL or $SYMBOLS missing (make debug builds them)" >&2; exit 1; }
: > "$LOG"
# Its own session, so that quitting gdb stops the whole group: qemu.sh and the QEMU it started.
setsid "$ROOT/boot/qemu.sh" --accel tcg --debug --serial-log "$LOG" --kernel "$KERNEL" "${ARGS[@]}" </dev/null &
QPID=$!
trap 'kill -- -$QPID 2>/dev/null; wait $QPID 2>/dev/null' EXIT
echo "debug.sh: serial console in $LOG (tail -f it in another terminal); symbols from $SYMBOLS" >&2
sleep 0.5
if [ $AT_RESET = 1 ]; then
  START=(-ex "hbreak kmain" -ex "echo \nQEMU is halted at reset; 'continue' runs to kmain.\n")
else
  START=(-ex "thbreak kmain" -ex "continue"
    -ex "echo \nAt kmain, the guests loaded: e.g. 'break bringUp' (or submit, reap, Z_envZ_mmio_write32), then 'continue'.\n")
fi
gdb -q "$SYMBOLS" \
  -ex "set architecture i386:x86-64" \
  -ex "target remote localhost:1234" \
  "${START[@]}"
