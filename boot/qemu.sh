#!/usr/bin/env bash
# Boots the bare-metal kernel in QEMU. Used by `make run`, `make debug`, boot/bench-qemu.sh
# and the QEMU tests (test/qemu/helpers.js).
#
#   boot/qemu.sh [options] [QEMU options] [-- more QEMU arguments]
#     --kernel PATH      kernel to boot (default build/kernel.elf)
#     --cmd "A; B"       the guest's command line (QEMU -append)
#     --disk PATH        attach PATH (raw) as an NVMe controller, serial nvmewasm0 (repeatable:
#                        nvmewasm1, ...); add controllers/namespaces yourself after --
#     --machine pc|q35   (default pc)
#     --iommu            add an Intel VT-d IOMMU (-device intel-iommu, before the NVMe devices;
#                        q35 only): the kernel then confines the devices' DMA to the driver's window
#     --memory SIZE      QEMU -m (default 128M)
#     --accel auto|tcg|kvm  (default auto = TCG unless the CPU has vmx/svm and a probe boot
#                        under KVM works; the result is cached in build/.accel, or in the file
#                        $NVME_WASM_ACCEL_CACHE names: the tests keep it out of build/)
#     --debug            start halted with a GDB stub on :1234 (-s -S)
#     --serial-log FILE  serial to FILE instead of stdio
#     --quiet            do not print the banner and QEMU command line
#     --dry-run          print the QEMU command line and exit
#     --console tty|script|auto  whether a person types at the serial console: tty adds
#                        console=tty to the guest's command line (line editing, history, Ctrl-C
#                        stops a command, typed errors do not fail the run: docs/shell.md); auto
#                        (default) is tty when standard input is a terminal and there is no
#                        --serial-log
#   Any other option is QEMU's and goes to QEMU after this script's own, with the words that follow
#   it up to the next option (-m 512M, -smp 2, -device nvme,...): QEMU takes the last of a repeated
#   -m or -machine, so `make run QEMU_OPTS="-m 512M"` works. Options after -- go to QEMU as they are.
#
# Exit status: the guest's poweroff code. ACPI poweroff (code 0) makes QEMU exit 0; the kernel
# reports any other code c through isa-debug-exit, where QEMU exits (c << 1) | 1, mapped back
# to c here. 124 = too little memory for the guests, 125 = trap in the guest, 126 = CPU
# exception (see boot/kernel.h); 1 = QEMU itself failed (or isa-debug-exit(0) after a failed
# ACPI poweroff).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KERNEL="$ROOT/build/kernel.elf"
CMD="" HAVE_CMD=0 CONSOLE=auto MACHINE=pc IOMMU=0 MEMORY=128M ACCEL="${NVME_WASM_ACCEL:-auto}" DEBUG=0 QUIET=0 DRY=0 SERIAL_LOG=""
DISKS=()
PASS=()   # QEMU's own options given among this script's
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) KERNEL="$2"; shift 2 ;;
    --cmd) CMD="$2"; HAVE_CMD=1; shift 2 ;;
    --disk) DISKS+=("$2"); shift 2 ;;
    --machine) MACHINE="$2"; shift 2 ;;
    --iommu) IOMMU=1; shift ;;
    --memory) MEMORY="$2"; shift 2 ;;
    --accel) ACCEL="$2"; shift 2 ;;
    --debug) DEBUG=1; shift ;;
    --serial-log) SERIAL_LOG="$2"; shift 2 ;;
    --quiet) QUIET=1; shift ;;
    --dry-run) DRY=1; shift ;;
    --console) CONSOLE="$2"; shift 2 ;;
    --) shift; break ;;
    -*) PASS+=("$1"); shift
        while [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; do PASS+=("$1"); shift; done ;;
    *) echo "qemu.sh: unexpected argument $1 (see the comment at the top of boot/qemu.sh)" >&2; exit 2 ;;
  esac
done
EXTRA=("${PASS[@]}" "$@")
case "$CONSOLE" in
  tty) ;;
  script) ;;
  auto) if [ -t 0 ] && [ -z "$SERIAL_LOG" ]; then CONSOLE=tty; else CONSOLE=script; fi ;;
  *) echo "qemu.sh: --console must be tty, script or auto" >&2; exit 2 ;;
esac
# A person at the console: the shell's prompt edits lines (docs/shell.md, console=tty).
if [ "$CONSOLE" = tty ]; then
  if [ $HAVE_CMD = 1 ] && [ -n "$CMD" ]; then CMD="$CMD; console=tty"; else CMD="console=tty"; fi
  HAVE_CMD=1
fi
if [ $IOMMU = 1 ] && [ "$MACHINE" != q35 ]; then
  echo "qemu.sh: --iommu needs --machine q35 (QEMU's intel-iommu is a q35 device)" >&2; exit 2
fi

command -v qemu-system-x86_64 >/dev/null || { echo "qemu.sh: qemu-system-x86_64 is missing (make deps installs it)" >&2; exit 1; }
[ -f "$KERNEL" ] || { echo "qemu.sh: $KERNEL does not exist (make kernel builds it)" >&2; exit 1; }

# KVM only when it can really help: /dev/kvm may be a software-only KVM (no vmx/svm) under
# which guests crawl or hang in SeaBIOS (boot/README.md, "QEMU 7.2 facts met here").
kvm_usable() {
  grep -qwE 'vmx|svm' /proc/cpuinfo 2>/dev/null || return 1
  [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
  local cache="${NVME_WASM_ACCEL_CACHE:-$ROOT/build/.accel}"
  if [ -f "$cache" ] && [ "$cache" -nt "$KERNEL" ]; then [ "$(cat "$cache")" = kvm ]; return; fi
  local verdict=tcg
  if timeout 10 qemu-system-x86_64 -accel kvm -machine "$MACHINE" -m 64M -kernel "$KERNEL" -append "poweroff" \
       -display none -serial null -net none -device isa-debug-exit,iobase=0xf4,iosize=4 </dev/null >/dev/null 2>&1; then
    verdict=kvm
  fi
  mkdir -p "$(dirname "$cache")" && echo "$verdict" > "$cache"
  [ "$verdict" = kvm ]
}
case "$ACCEL" in
  tcg) ;;
  kvm) ;;
  auto) if kvm_usable; then ACCEL=kvm; else ACCEL=tcg; fi ;;
  *) echo "qemu.sh: --accel must be auto, tcg or kvm" >&2; exit 2 ;;
esac

ARGS=(qemu-system-x86_64 -machine "$MACHINE" -accel "$ACCEL" -m "$MEMORY" -kernel "$KERNEL"
      -display none -net none -device isa-debug-exit,iobase=0xf4,iosize=4)
[ "$ACCEL" = kvm ] && ARGS+=(-cpu host)
[ $HAVE_CMD = 1 ] && ARGS+=(-append "$CMD")
# QEMU wants the IOMMU before the PCI devices it translates for.
[ $IOMMU = 1 ] && ARGS+=(-device intel-iommu)
if [ -n "$SERIAL_LOG" ]; then ARGS+=(-serial "file:$SERIAL_LOG")
elif [ -t 0 ]; then ARGS+=(-serial mon:stdio)   # a terminal: Ctrl-A X quits, Ctrl-A C is the monitor
else ARGS+=(-serial stdio); fi
i=0
for d in "${DISKS[@]}"; do
  ARGS+=(-drive "file=$d,format=raw,if=none,id=d$i" -device "nvme,drive=d$i,serial=nvmewasm$i")
  i=$((i + 1))
done
[ $DEBUG = 1 ] && ARGS+=(-s -S)
ARGS+=("${EXTRA[@]}")

if [ $DRY = 1 ]; then printf '%q ' "${ARGS[@]}"; echo; exit 0; fi
if [ $QUIET = 0 ]; then
  { printf 'qemu.sh: '; printf '%q ' "${ARGS[@]}"; echo; } >&2
  if [ -t 0 ] && [ -z "$SERIAL_LOG" ]; then echo "qemu.sh: to quit QEMU press Ctrl-A then X (the shell's 'poweroff' also ends the run)" >&2; fi
fi

"${ARGS[@]}"
rc=$?
if [ $rc -ge 3 ] && [ $((rc % 2)) = 1 ]; then
  code=$(( (rc - 1) / 2 ))
  [ $QUIET = 0 ] && echo "qemu.sh: guest exit code $code" >&2
  exit $code
fi
exit $rc
