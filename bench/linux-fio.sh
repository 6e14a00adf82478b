#!/usr/bin/env bash
# Linux's own NVMe driver in the QEMU configuration of bench/qemu-vs-linux.sh, so the two drivers
# can be compared in the same QEMU, on the same machine, back to back. It boots Debian's kernel
# (package linux-image-amd64) with a small initramfs of its own: static busybox, fio and its
# libraries, and the nvme module with what it depends on, loaded with one poll queue so that
# polled jobs really poll. fio then runs the jobs below against /dev/nvme0n1 with direct IO.
# A benchmark: it prints one line per job and never judges.
#
#   bench/linux-fio.sh            prints: linux job=NAME engine=E iops=N mib_s=N io_irqs=N
#                                 or:     linux job=NAME engine=E timed-out|error="…"
# Environment: RUNTIME (seconds per job, default 5), RAMP (default 1), TIMEOUT (seconds for the
# whole QEMU run, default 300). Everything comes from Debian packages (apt-get, as root).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNTIME=${RUNTIME:-5} RAMP=${RAMP:-1} TIMEOUT=${TIMEOUT:-300}

# The jobs, in the order of bench/qemu-vs-linux.sh: name, rw, block size, depth, engine, extra.
# QD1 with interrupts is pvsync2 (one synchronous request at a time), QD1 polled is io_uring with
# hipri on the poll queue, the deeper ones io_uring.
JOBS="randread-4k-qd1 randread 4k 1 pvsync2
randread-4k-qd1-poll randread 4k 1 io_uring --hipri=1
randread-4k-qd32 randread 4k 32 io_uring
read-128k-qd8 randread 128k 8 io_uring
randwrite-4k-qd1 randwrite 4k 1 pvsync2"

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v fio >/dev/null || need+=(fio)
command -v cpio >/dev/null || need+=(cpio)
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || need+=(busybox-static)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-amd64)
if [ ${#need[@]} -gt 0 ]; then
  echo "linux-fio: installing ${need[*]} (apt-get)" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
KERNEL=$(ls -v /boot/vmlinuz-* | tail -1)
KVER=${KERNEL#/boot/vmlinuz-}
MODS=/lib/modules/$KVER
[ -r "$KERNEL" ] && [ -f "$MODS/modules.dep" ] || { echo "linux-fio: $KERNEL or $MODS/modules.dep is missing" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
R=$WORK/root
mkdir -p "$R"/{bin,proc,sys,dev,etc,usr/bin,"lib/modules/$KVER"}

# busybox, and fio with every shared library ldd names (the loader included).
cp /bin/busybox "$R/bin/busybox"
cp -L "$(command -v fio)" "$R/usr/bin/fio"
for lib in $(ldd "$(command -v fio)" | grep -o '/[^ )]*'); do
  mkdir -p "$R$(dirname "$lib")" && cp -L "$lib" "$R$lib"
done
# nvme.ko and its dependencies, where modules.dep says they are, so busybox modprobe finds them.
cp "$MODS/modules.dep" "$R/lib/modules/$KVER/"
for ko in $(grep '^kernel/drivers/nvme/host/nvme\.ko' "$MODS/modules.dep" | tr -d ':'); do
  mkdir -p "$R/lib/modules/$KVER/$(dirname "$ko")"
  case "$ko" in
    *.xz) xz -dc "$MODS/$ko" > "$R/lib/modules/$KVER/$ko" ;;
    *.zst) zstd -qdc "$MODS/$ko" > "$R/lib/modules/$KVER/$ko" ;;
    *) cp "$MODS/$ko" "$R/lib/modules/$KVER/$ko" ;;
  esac
done
echo "$JOBS" > "$R/etc/jobs"
cat > "$R/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
modprobe nvme poll_queues=1
for i in \$(seq 100); do [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
echo none > /sys/block/nvme0n1/queue/scheduler 2>/dev/null
irqs() { awk '/nvme0q[1-9]/ { for (i = 2; i <= NF; i++) if (\$i ~ /^[0-9]+\$/) n += \$i } END { print n + 0 }' /proc/interrupts; }
while read name rw bs qd engine extra; do
  before=\$(irqs)
  out=\$(fio --name=\$name --filename=/dev/nvme0n1 --direct=1 --rw=\$rw --bs=\$bs --iodepth=\$qd \\
    --ioengine=\$engine \$extra --time_based --runtime=$RUNTIME --ramp_time=$RAMP --norandommap \\
    --randrepeat=1 --output-format=terse --terse-version=3 2>&1)
  line=\$(echo "\$out" | grep '^3;' || true)
  if [ -n "\$line" ]; then echo "@@job \$name \$engine \$((\$(irqs) - before)) \$line"
  else echo "@@error \$name \$engine \$(echo "\$out" | tr '\n' ' ' | cut -c1-200)"; fi
done < /etc/jobs
poweroff -f
EOF
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet) > "$WORK/initrd"

LOG=$WORK/console.log
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -machine q35 -m 512M -smp 1 \
  -nodefaults -display none -no-reboot -serial stdio -kernel "$KERNEL" -initrd "$WORK/initrd" \
  -append "console=ttyS0 quiet panic=-1" \
  -drive driver=null-co,size=1G,read-zeroes=on,if=none,id=d0 -device nvme,drive=d0,serial=linuxfio \
  </dev/null 2>&1 | tr -d '\r' > "$LOG" || true

# fio's terse format, version 3: the read section from field 6 (6 KiB, 7 KiB/s, 8 IOPS), the write
# section from field 47 (47 KiB, 48 KiB/s, 49 IOPS). A job that never reported timed out.
while read -r name _ _ _ engine _; do
  if line=$(grep "^@@job $name " "$LOG"); then
    awk -v n="$name" -v e="$engine" '{ split($5, f, ";"); printf "linux job=%s engine=%s iops=%d mib_s=%d io_irqs=%d\n", n, e, f[8] + f[49], (f[7] + f[48]) / 1024, $4 }' <<<"$line"
  elif line=$(grep "^@@error $name " "$LOG"); then
    echo "linux job=$name engine=$engine error=\"${line#@@error $name $engine }\""
  else
    echo "linux job=$name engine=$engine timed-out"
  fi
done <<<"$JOBS"
