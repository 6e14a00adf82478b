#!/usr/bin/env bash
# The debug kernel, for `make debug` (boot/debug.sh) and test/qemu/debug.test.js:
#   boot/build-debug.sh [OUTDIR]        (default build/debug)
# 1. boot/debug-wasm.js: OUTDIR/nvme.wasm, shell.wasm, trace.wasm, fs.wasm, the modules of build/ with a
#    name section (the driver's names made short: bringUp, submit, reap; without the section the
#    driver is build/nvme.wasm byte for byte, which it checks). build/*.wasm are not touched.
# 2. boot/build.sh on them with W2C_KEEP_NAMES=1 (boot/w2c-names.js: the C functions are named
#    bringUp, not w2c_bringUp) and the generated C compiled for a debugger: DEBUG_GUEST_OPT
#    (default -O1 -fno-inline-functions: every wasm function stays a C function of its own, with
#    its symbol, so `break submit` stops on every call, and backtraces show the AssemblyScript
#    call chain).
# Gives OUTDIR/kernel.elf (what QEMU boots) and OUTDIR/kernel64.elf (what gdb reads).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT/build/debug}"
command -v node >/dev/null || { echo "boot/build-debug.sh: node is missing (make deps installs it)" >&2; exit 1; }
node "$ROOT/boot/debug-wasm.js" "$OUT"
W2C_KEEP_NAMES=1 GUEST_OPT="${DEBUG_GUEST_OPT:--O1 -fno-inline-functions}" \
  "$ROOT/boot/build.sh" "$OUT/nvme.wasm" "$OUT" "$OUT/shell.wasm" "$OUT/trace.wasm" "$OUT/fs.wasm"
echo "build-debug: $OUT/kernel.elf, symbols in $OUT/kernel64.elf"
