#!/usr/bin/env bash
# Installs what the project needs and is missing: Debian packages (QEMU, wabt's wasm2c, clang, lld;
# gdisk, fdisk, dosfstools and mtools for the fs tests' disks; console-setup-linux for the font of the
# kernel's screen console) with apt-get, and the npm packages pinned in package-lock.json with npm ci.
# Usage: scripts/deps.sh [system] [npm] [debug] [iso]   (system and npm when no argument is given;
#        debug adds gdb, which only `make debug` needs; iso what `make iso` and its test need: GRUB
#        for a BIOS and for UEFI, xorriso and mtools for grub-mkrescue, OVMF to boot UEFI in QEMU)
set -euo pipefail
cd "$(dirname "$0")/.."
want_system=0; want_npm=0; want_debug=0; want_iso=0
[ $# -eq 0 ] && { want_system=1; want_npm=1; }
for a in "$@"; do case "$a" in system) want_system=1 ;; npm) want_npm=1 ;; debug) want_debug=1 ;; iso) want_iso=1 ;; *) echo "deps.sh: unknown part $a" >&2; exit 2 ;; esac; done

if [ $want_system = 1 ] || [ $want_debug = 1 ] || [ $want_iso = 1 ]; then
  missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v wasm2c >/dev/null || missing+=(wabt)
  command -v clang >/dev/null || missing+=(clang)
  command -v ld.lld >/dev/null || missing+=(lld)
  command -v objcopy >/dev/null || missing+=(binutils)
  # The fs tests make disks with Debian's own partitioning and FAT tools (test/lib/fat-images.js).
  [ -x /usr/sbin/sgdisk ] || command -v sgdisk >/dev/null || missing+=(gdisk)
  [ -x /usr/sbin/sfdisk ] || command -v sfdisk >/dev/null || missing+=(fdisk)
  [ -x /usr/sbin/mkfs.fat ] || command -v mkfs.fat >/dev/null || missing+=(dosfstools)
  command -v mcopy >/dev/null || missing+=(mtools)
  [ -f /usr/share/consolefonts/Uni2-VGA16.psf.gz ] || missing+=(console-setup-linux)
  [ $want_debug = 1 ] && { command -v gdb >/dev/null || missing+=(gdb); }
  if [ $want_iso = 1 ]; then
    command -v grub-mkrescue >/dev/null || missing+=(grub-common)
    [ -f /usr/lib/grub/i386-pc/moddep.lst ] || missing+=(grub-pc-bin)
    [ -f /usr/lib/grub/x86_64-efi/moddep.lst ] || missing+=(grub-efi-amd64-bin)
    command -v xorriso >/dev/null || missing+=(xorriso)
    command -v mformat >/dev/null || missing+=(mtools)
    [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ -f /usr/share/OVMF/OVMF_CODE.fd ] || missing+=(ovmf)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]} (apt-get)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ $want_npm = 1 ]; then
  # npm ci again only when package-lock.json changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "deps: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
