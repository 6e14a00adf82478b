#!/usr/bin/env bash
# Makes a bootable ISO image of the kernel with GRUB, for a BIOS and for UEFI (make iso):
#   boot/iso.sh [--kernel build/kernel.elf] [--out build/nvme-wasm.iso] [--timeout SECONDS]
# The image holds GRUB for both (grub-mkrescue: El Torito with GRUB i386-pc, an EFI system
# partition with GRUB x86_64-efi, and a hybrid MBR so it also boots written to a USB stick), the
# menu boot/grub.cfg (--timeout replaces its `set timeout`) and /boot/kernel.elf: a copy of the
# kernel with the multiboot header's video flag set (boot/mb-video.js), so that GRUB under UEFI
# hands it a framebuffer.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KERNEL="$ROOT/build/kernel.elf"
OUT="$ROOT/build/nvme-wasm.iso"
TIMEOUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) KERNEL="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    *) echo "boot/iso.sh: unknown argument $1 (see the comment at the top of boot/iso.sh)" >&2; exit 2 ;;
  esac
done
if [ -n "$TIMEOUT" ] && ! [[ "$TIMEOUT" =~ ^[0-9]{1,4}$ ]]; then
  echo "boot/iso.sh: --timeout takes whole seconds (0 boots the first entry at once), not '$TIMEOUT'" >&2; exit 2
fi
for t in grub-mkrescue xorriso mformat node; do
  command -v "$t" >/dev/null || { echo "boot/iso.sh: $t is missing (make deps-iso installs it)" >&2; exit 1; }
done
for p in i386-pc x86_64-efi; do
  [ -f "/usr/lib/grub/$p/moddep.lst" ] || { echo "boot/iso.sh: GRUB's $p modules are missing in /usr/lib/grub/$p (make deps-iso installs them)" >&2; exit 1; }
done
[ -f "$KERNEL" ] || { echo "boot/iso.sh: $KERNEL does not exist (make kernel builds it)" >&2; exit 1; }

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/nvme-wasm-iso.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/boot/grub"
node "$ROOT/boot/mb-video.js" "$KERNEL" "$STAGE/boot/kernel.elf"
if [ -n "$TIMEOUT" ]; then
  sed "s/^set timeout=.*/set timeout=$TIMEOUT/" "$ROOT/boot/grub.cfg" > "$STAGE/boot/grub/grub.cfg"
  grep -q "^set timeout=$TIMEOUT\$" "$STAGE/boot/grub/grub.cfg" || { echo "boot/iso.sh: boot/grub.cfg has no 'set timeout=' line to replace" >&2; exit 1; }
else
  cp "$ROOT/boot/grub.cfg" "$STAGE/boot/grub/grub.cfg"
fi
mkdir -p "$(dirname "$OUT")"
# grub-mkrescue talks a lot (xorriso's progress): shown only when it fails.
if ! log="$(grub-mkrescue -o "$OUT.tmp" "$STAGE" -- -volid NVME_WASM 2>&1)"; then
  echo "$log" >&2
  rm -f "$OUT.tmp"
  echo "boot/iso.sh: grub-mkrescue failed (above)" >&2; exit 1
fi
mv "$OUT.tmp" "$OUT"
echo "boot/iso.sh: $OUT ($(( $(stat -c %s "$OUT") / 1024 / 1024 )) MiB): BIOS and UEFI, kernel $(basename "$KERNEL")"
