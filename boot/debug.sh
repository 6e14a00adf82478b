#!/usr/bin/env bash
# `make debug`: QEMU halted at reset with a GDB stub on :1234 (boot/qemu.sh --debug), the
# serial console going to build/serial.log, and gdb attached with build/kernel64.elf's
# symbols and a hardware breakpoint on kmain. Arguments are passed on to boot/qemu.sh.
# Quitting gdb stops QEMU.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOG="$ROOT/build/serial.log"
: > "$LOG"
# Its own session, so that quitting gdb stops the whole group: qemu.sh and the QEMU it started.
setsid "$ROOT/boot/qemu.sh" --accel tcg --debug --serial-log "$LOG" "$@" </dev/null &
QPID=$!
trap 'kill -- -$QPID 2>/dev/null; wait $QPID 2>/dev/null' EXIT
echo "debug.sh: serial console in $LOG (tail -f it in another terminal)" >&2
sleep 0.5
gdb -q "$ROOT/build/kernel64.elf" \
  -ex "set architecture i386:x86-64" \
  -ex "target remote localhost:1234" \
  -ex "hbreak kmain" \
  -ex "echo \nQEMU is halted at reset; 'continue' runs to kmain.\n"
