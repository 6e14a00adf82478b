#!/usr/bin/env bash
# Builds the bare-metal kernel around the driver, a client module, the trace decoder and the
# filesystem module:
#   boot/build.sh [DRIVER.wasm] [OUTDIR] [CLIENT.wasm] [TRACE.wasm] [FS.wasm]
#       (defaults: build/nvme.wasm build build/shell.wasm build/trace.wasm build/fs.wasm)
# The driver becomes nvme.c (wasm2c -n nvme), the client shell.c (wasm2c -n shell), the decoder
# trace.c (wasm2c -n trace), the filesystem module fs.c (wasm2c -n fs); host.c links them (the
# clients' `blk` imports call the driver's exports; the shell's fs.call runs fs.wasm's fs_handle
# with copies both ways; the driver's trace_begin/trace_event and the host's own MMIO,
# configuration and interrupt paths feed the decoder).
# Probe mode: a DRIVER.wasm that exports main itself (test/qemu/kernel.test.js's probe guests) is
# built alone, and the kernel calls its main; CLIENT.wasm and TRACE.wasm are not used then.
# Modules with a name section (the debug variants of boot/debug-wasm.js) keep their function
# names in the C: a function the name section calls bringUp is the C function bringUp, not
# w2c_bringUp (boot/w2c-names.js), so gdb's `break bringUp` finds it.
# GUEST_OPT overrides the optimisation flags of the generated C (default -O3 with more inlining).
# OUTDIR/kernel.elf is what QEMU boots (ELF32, multiboot v1); OUTDIR/kernel64.elf is the
# same image with 64-bit symbols, for gdb. Intermediate files go to OUTDIR/boot/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WASM="${1:-$ROOT/build/nvme.wasm}"
OUT="${2:-$ROOT/build}"
CLIENT="${3:-$ROOT/build/shell.wasm}"
DECODER="${4:-$ROOT/build/trace.wasm}"
FS="${5:-$ROOT/build/fs.wasm}"
OBJ="$OUT/boot"
BOOT="$ROOT/boot"
mkdir -p "$OBJ"

for t in clang ld.lld objcopy; do
  command -v "$t" >/dev/null || { echo "boot/build.sh: $t is missing (make deps installs it)" >&2; exit 1; }
done
[ -f "$WASM" ] || { echo "boot/build.sh: $WASM does not exist (make wasm builds it)" >&2; exit 1; }

# wasm2c and its wasm-rt.h must come from the same wabt. Several may be on PATH (npm's wabt
# package puts a wasm2c without headers in node_modules/.bin), so take the first one that has
# its header next to it; WASM2C=/path/to/wasm2c overrides.
WASM2C="${WASM2C:-}" RT_H=""
cands=()
[ -n "$WASM2C" ] && cands+=("$WASM2C")
while IFS= read -r c; do cands+=("$c"); done < <(type -ap wasm2c)
for c in "${cands[@]}"; do
  d="$(dirname "$(readlink -f "$c")")"
  for h in "$d/../include/wasm-rt.h" "$d/../share/wabt/wasm2c/wasm-rt.h"; do
    if [ -f "$h" ]; then WASM2C="$c"; RT_H="$(readlink -f "$h")"; break 2; fi
  done
done
if [ -z "$RT_H" ]; then
  echo "boot/build.sh: no wasm2c with its wasm-rt.h found (tried: ${cands[*]:-none}); install wabt (make deps)" >&2; exit 1
fi

# wabt renamed the generated symbols in 1.0.33: Z_envZ_<name> before, w2c_env_<name> after.
ver="$("$WASM2C" --version 2>/dev/null | head -1 | tr -d '[:space:]')"
if [[ ! "$ver" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+) ]]; then
  echo "boot/build.sh: cannot parse '$WASM2C --version' output '$ver'; need wabt 1.0.32 or newer" >&2; exit 1
fi
maj=${BASH_REMATCH[1]} min=${BASH_REMATCH[2]} pat=${BASH_REMATCH[3]}
n=$(( maj * 1000000 + min * 1000 + pat ))
if (( n < 1000032 )); then
  echo "boot/build.sh: wasm2c $ver is too old: need wabt 1.0.32 or newer" >&2; exit 1
elif (( n < 1000033 )); then
  NAMES=-DW2C_NEW_NAMES=0
else
  NAMES=-DW2C_NEW_NAMES=1   # written against the 1.0.33+ naming scheme; built and tested with 1.0.32 only
fi
cp "$RT_H" "$OBJ/wasm-rt.h"
for extra in wasm-rt-exceptions.h; do
  [ -f "$(dirname "$RT_H")/$extra" ] && cp "$(dirname "$RT_H")/$extra" "$OBJ/"
done

"$WASM2C" -n nvme "$WASM" -o "$OBJ/nvme.c"
# Which kind of module: the generated header declares its exports (either naming scheme).
exports() { grep -Eq "\b(Z_nvmeZ_|w2c_nvme_)$1\(" "$OBJ/nvme.h"; }
rm -f "$OBJ"/{shell,trace,fs}.{c,h,o}   # left over from a build of the other kind
GUESTS=(nvme)
# One C function serves an env import for every module (host.c), so a module importing more than
# its kind may would get the real thing: refuse, as host/build.js does. $1 the generated header,
# $2 the env imports allowed, $3 what the module is, $4 why.
only_env_imports() {
  local bad=() name
  while IFS= read -r name; do
    [[ "$2" == *" $name "* ]] || bad+=("env.$name")
  done < <(grep -oE '\b(Z_envZ_|w2c_env_)[A-Za-z0-9_]+\(' "$1" | sed -E 's/^(Z_envZ_|w2c_env_)//; s/\($//' | sort -u)
  if [ ${#bad[@]} -gt 0 ]; then
    echo "boot/build.sh: $3 imports ${bad[*]}: $4" >&2; exit 1
  fi
}
if exports main; then
  MODE=(-DGUEST_HAS_MAIN=1)
elif exports start_cmdline; then
  MODE=(-DGUEST_HAS_MAIN=0)
  [ -f "$CLIENT" ] || { echo "boot/build.sh: client $CLIENT does not exist (make wasm builds build/shell.wasm)" >&2; exit 1; }
  "$WASM2C" -n shell "$CLIENT" -o "$OBJ/shell.c"
  grep -Eq '\b(Z_shellZ_|w2c_shell_)main\(' "$OBJ/shell.h" || {
    echo "boot/build.sh: client $CLIENT does not export main" >&2; exit 1; }
  # A client importing the driver's hardware ABI would get it: only a client's env imports
  # (docs/abi.md, "A client's imports").
  only_env_imports "$OBJ/shell.h" " memory abort console_write console_read cmdline now_ns poweroff " \
    "client $CLIENT" "a client reaches devices only through the driver's blk interface"
  GUESTS+=(shell)
  # The trace decoder: fed by host.c, prints on the console, touches nothing else.
  [ -f "$DECODER" ] || { echo "boot/build.sh: trace decoder $DECODER does not exist (make wasm builds build/trace.wasm)" >&2; exit 1; }
  "$WASM2C" -n trace "$DECODER" -o "$OBJ/trace.c"
  for x in buffer mmio config irq command completion stage quirk reap; do
    grep -Eq "\b(Z_traceZ_|w2c_trace_)$x\(" "$OBJ/trace.h" || {
      echo "boot/build.sh: trace decoder $DECODER does not export $x (buffer mmio config irq command completion stage quirk reap)" >&2; exit 1; }
  done
  only_env_imports "$OBJ/trace.h" " memory abort console_write " "trace decoder $DECODER" "the decoder only prints"
  GUESTS+=(trace)
  MODE+=(-DGUEST_HAS_TRACE=1)
  # The filesystem module: a second client of blk, answering the shell's messages (fs.call).
  [ -f "$FS" ] || { echo "boot/build.sh: filesystem module $FS does not exist (make wasm builds build/fs.wasm)" >&2; exit 1; }
  "$WASM2C" -n fs "$FS" -o "$OBJ/fs.c"
  for x in fs_inbox fs_inbox_bytes fs_outbox fs_handle; do
    grep -Eq "\b(Z_fsZ_|w2c_fs_)$x\(" "$OBJ/fs.h" || {
      echo "boot/build.sh: filesystem module $FS does not export $x (fs_inbox fs_inbox_bytes fs_outbox fs_handle)" >&2; exit 1; }
  done
  only_env_imports "$OBJ/fs.h" " memory abort " "filesystem module $FS" "it answers messages and reads through blk only"
  GUESTS+=(fs)
  # A client that calls fs.wasm (the shell) is instantiated with it; another client is not.
  if grep -Eq '\b(Z_fsZ_call|w2c_fs_call)\(' "$OBJ/shell.h"; then MODE+=(-DCLIENT_HAS_FS=1); fi
else
  echo "boot/build.sh: $WASM exports neither main (a probe guest) nor start_cmdline (the driver)" >&2; exit 1
fi

# The debug kernel (boot/build-debug.sh sets W2C_KEEP_NAMES=1): each module's functions get the
# names of its name section in the C (bringUp, not w2c_bringUp), for gdb.
if [ "${W2C_KEEP_NAMES:-0}" = 1 ]; then
  command -v node >/dev/null || { echo "boot/build.sh: W2C_KEEP_NAMES=1 needs node (boot/w2c-names.js)" >&2; exit 1; }
  declare -A SOURCE=([nvme]="$WASM" [shell]="$CLIENT" [trace]="$DECODER" [fs]="$FS")
  for g in "${GUESTS[@]}"; do
    node "$BOOT/w2c-names.js" "$OBJ/$g.c" "${SOURCE[$g]}" "$OBJ" "$BOOT/include" || exit 1
  done
fi

CFLAGS=(--target=x86_64-unknown-none-elf -ffreestanding -nostdlibinc -fno-pic -fno-pie -mcmodel=small
  -mno-red-zone -fno-stack-protector -fno-asynchronous-unwind-tables -fno-math-errno
  -O2 -g -std=gnu11 -Wall -Wno-unused-function -Wno-unused-variable -Wno-unused-but-set-variable
  -I"$BOOT/include" -I"$OBJ" -I"$BOOT"
  -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -DWASM_RT_SKIP_SIGNAL_RECOVERY=1
  -DWASM_RT_USE_STACK_DEPTH_COUNT=1 -DWASM_RT_MAX_CALL_STACK_DEPTH=400
  "$NAMES" "${MODE[@]}")

clang "${CFLAGS[@]}" -c "$BOOT/entry.S" -o "$OBJ/entry.o"
# The screen console's font (boot/font.js: glyphs of a Debian console font, not kept here).
node "$BOOT/font.js" "$OBJ/font.c"
KERNEL_OBJS=("$OBJ/entry.o" "$OBJ/font.o")
pids=()
for f in console arch host iommu runtime screen vga fb ps2; do
  clang "${CFLAGS[@]}" -c "$BOOT/$f.c" -o "$OBJ/$f.o" & pids+=($!)
  KERNEL_OBJS+=("$OBJ/$f.o")
done
clang "${CFLAGS[@]}" -c "$OBJ/font.c" -o "$OBJ/font.o" & pids+=($!)
# The guests' wasm2c output: inline more than -O2 would. Under TCG every call and return is a
# lookup in the translated-code cache, and the driver's hot path is made of small functions.
GUEST_CFLAGS=(${GUEST_OPT:--O3 -mllvm -inline-threshold=1000})
# Fixed memories (boot/guest-memory.h): a module whose memory the host gives it (host.c's arenas,
# sizes as host.c's env_init sets them) gets loads and stores at the arena's address, checked
# against its size as constants. Only wasm2c 1.0.32's access functions are rewritten; any other
# output keeps wasm2c's own checks (correct, slower), and the build says so. FIXED_MEMORY lists
# the modules it applies to (default "nvme shell trace fs"; FIXED_MEMORY=none for A/B measurements).
declare -A ARENA=([nvme]=guest_arena [shell]=client_arena [trace]=decoder_arena [fs]=fs_arena)
declare -A ARENA_BYTES=([nvme]=$((256 * 65536)) [shell]=$((32 * 65536)) [trace]=$((4 * 65536)) [fs]=$((8 * 65536)))
declare -A ARENA_SLOT=([nvme]=0 [shell]=1 [trace]=2 [fs]=3)
fixed_memory() {   # $1 the module; sets MEMORY_CFLAGS to the extra compile options, or none
  local c="$OBJ/$1.c" imp="instance->Z_envZ_memory = Z_envZ_memory(Z_env_instance);"
  MEMORY_CFLAGS=()
  [[ " ${FIXED_MEMORY:-nvme shell trace fs} " == *" $1 "* ]] || return 0
  grep -qF "$imp" "$c" || return 0     # a memory of its own (runtime.c), or other wasm2c names
  if [ "$(grep -cF '#define MEMCHECK(mem, a, t) RANGE_CHECK(mem, a, sizeof(t))' "$c")" != 1 ] ||
     [ "$(grep -cF 'wasm_rt_memcpy(&mem->data[addr],' "$c")" != 1 ] ||
     [ "$(grep -cF 'wasm_rt_memcpy(&result, &mem->data[addr], sizeof(t1));' "$c")" != 1 ] ||
     [ "$(grep -cF 'wasm_asm("" ::"r"(result));                            \' "$c")" != 1 ]; then
    echo "boot/build.sh: note: $1.c's memory accesses are not wasm2c 1.0.32's: they keep wasm2c's checks" >&2
    return 0
  fi
  # wasm_asm("" ::"r"(result)) after each load becomes GUEST_LOAD_ORDER: kept in the driver, whose
  # memory a device writes (loads stay in program order: a CQE's phase before the rest of it),
  # dropped elsewhere, where it only kept clang from reusing what it had loaded.
  sed -i -e 's/^#define MEMCHECK(mem, a, t) RANGE_CHECK(mem, a, sizeof(t))$/#define MEMCHECK(mem, a, t) GUEST_MEMCHECK(a, sizeof(t))/' \
    -e 's/wasm_rt_memcpy(&mem->data\[addr\],/wasm_rt_memcpy(\&GUEST_MEMORY_DATA[addr],/' \
    -e 's/wasm_rt_memcpy(&result, &mem->data\[addr\], sizeof(t1));/wasm_rt_memcpy(\&result, \&GUEST_MEMORY_DATA[addr], sizeof(t1));/' \
    -e 's/^    wasm_asm("" ::"r"(result));                            \\$/    GUEST_LOAD_ORDER(result);                              \\/' \
    -e "s/^  $imp\$/&\n  GUEST_MEMORY_CHECK(instance->Z_envZ_memory, \"$1\");/" "$c"
  [ "$(grep -c 'GUEST_MEMORY_DATA\[addr\]' "$c")" = 2 ] && grep -q '^  GUEST_MEMORY_CHECK(' "$c" &&
    ! grep -q 'wasm_asm("" ::"r"(result));                            \\$' "$c" ||
    { echo "boot/build.sh: rewriting $1.c's memory accesses failed" >&2; exit 1; }
  MEMORY_CFLAGS=(-include "$BOOT/guest-memory.h" -DGUEST_MEMORY="${ARENA[$1]}" -DGUEST_MEMORY_BYTES="${ARENA_BYTES[$1]}u"
    -DGUEST_MEMORY_SLOT="${ARENA_SLOT[$1]}" -DGUEST_MEMORY_GUARD="${GUARD_PAGES:-1}" -DGUEST_MEMORY_DMA=$([ "$1" = nvme ] && echo 1 || echo 0))
}
for g in "${GUESTS[@]}"; do
  fixed_memory "$g"
  # Loops in the shell start at a 512-byte boundary, so one shorter than that (the CRC's, 278
  # bytes) never crosses a 4 KiB page. QEMU's TCG chains translated blocks directly only within a
  # page: a loop across a page boundary looks its next block up on every turn. The CRC loop
  # across a boundary made `crc` 3 times slower, and where it falls moves with every change of
  # the code before it. Costs 190 KB of padding in the kernel image, none of it run in a loop.
  LOOP_CFLAGS=(); [[ " ${ALIGN_LOOPS_IN:-shell} " == *" $g "* ]] && LOOP_CFLAGS=(-falign-loops=${ALIGN_LOOPS:-512})
  clang "${CFLAGS[@]}" "${GUEST_CFLAGS[@]}" "${MEMORY_CFLAGS[@]}" "${LOOP_CFLAGS[@]}" -Wno-everything -c "$OBJ/$g.c" -o "$OBJ/$g.o" & pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ $failed = 0 ] || { echo "boot/build.sh: compiling failed (messages above)" >&2; exit 1; }
GUEST_OBJS=()
for g in "${GUESTS[@]}"; do GUEST_OBJS+=("$OBJ/$g.o"); done
# With guard pages a runaway recursion is caught by the kernel stack's 4 KiB guard page, so no
# function of a module may move the stack pointer by a page or more at once (it could step over the
# guard) or by an amount known only at run time (alloca). Today's largest frame is 200 bytes.
for g in "${GUESTS[@]}"; do
  grep -q 'guest_text' <(objdump -h "$OBJ/$g.o") || continue
  big=$(objdump -d --no-show-raw-insn "$OBJ/$g.o" | awk '
    /sub +\$0x[0-9a-f]+,%rsp/ { v = $NF; sub(/^\$0x/, "", v); sub(/,%rsp$/, "", v); n = 0
      for (i = 1; i <= length(v); i++) n = n * 16 + index("0123456789abcdef", substr(v, i, 1)) - 1
      if (n >= 4096) { print "a frame of " n " bytes"; exit } }
    /sub +%r[a-z0-9]+,%rsp/ { print "a frame sized at run time"; exit }')
  if [ -n "$big" ]; then
    echo "boot/build.sh: $g.o has $big: it could step over the stack's guard page; build with GUARD_PAGES=0" >&2; exit 1
  fi
done

ld.lld -nostdlib -static -z max-page-size=4096 -z noexecstack --no-dynamic-linker -T "$BOOT/linker.ld" \
  -o "$OUT/kernel64.elf" "${KERNEL_OBJS[@]}" \
  "${GUEST_OBJS[@]}"
# QEMU's multiboot loader takes 32-bit ELF only; the entry is 32-bit code anyway.
objcopy -O elf32-i386 --strip-debug "$OUT/kernel64.elf" "$OUT/kernel.elf"
