#!/usr/bin/env bash
# Linux's own NVMe driver in the QEMU configuration of bench/qemu-vs-linux.sh, so the two drivers
# can be compared in the same QEMU, on the same machine, back to back. It boots Debian's kernel
# (package linux-image-amd64) with a small initramfs of its own: static busybox, fio and its
# libraries, and the nvme module with what it depends on, loaded with one poll queue so that
# polled jobs really poll. fio then runs the jobs below against /dev/nvme0n1 with direct IO.
# A benchmark: it prints one line per job and never judges.
#
#   bench/linux-fio.sh [JOB|SET …]   runs the jobs named (in that order, in one boot), or a set:
#                                    compare (default: the five of bench/qemu-vs-linux.sh, deep ones last), sweep
#                                    (io_uring 4 KiB random reads at QD 1 2 4 8 16 32 64)
#   prints, per job:  linux job=NAME engine=E iops=N mib_s=N io_irqs=N rw=RW bs=BS qd=Q
#              or:    linux job=NAME engine=E timed-out io_timeouts=N rw=RW bs=BS qd=Q
#              or:    linux job=NAME engine=E error="…" rw=RW bs=BS qd=Q
#              or:    linux job=NAME engine=E skipped after=JOB rw=RW bs=BS qd=Q   (not run: JOB timed out
#                     earlier in the same boot, and what follows a controller reset is not a figure)
# A job is timed out when the kernel logged an NVMe I/O timeout while it ran (Linux 6.1 on QEMU
# 7.2.22 loses completions now and then at depth — seen on 128 KiB QD8, on 4 KiB QD8 and QD32 with
# io_uring, on QD32 with libaio: 30 s timeouts, aborts, resets, and fio then reports 0 IOPS for that
# job and those after it), when fio reported 0 IOPS, or when it never reported before TIMEOUT. The
# jobs after a timed-out one in the same boot are not run (`skipped`): run them again in a fresh
# boot (bench/lib.sh linux_jobs does), and put deep jobs last.
# Environment: RUNTIME (seconds per job, default 5), RAMP (default 1), TIMEOUT (seconds for the
# whole QEMU run, default 300). Everything comes from Debian packages (apt-get, as root).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNTIME=${RUNTIME:-5} RAMP=${RAMP:-1} TIMEOUT=${TIMEOUT:-300}

# Every job: name, rw, block size, depth, engine, extra. QD1 with interrupts is pvsync2 (one
# synchronous request at a time), QD1 polled is io_uring with hipri on the poll queue, the deeper
# ones io_uring.
ALL_JOBS="randread-4k-qd1 randread 4k 1 pvsync2
randread-4k-qd1-poll randread 4k 1 io_uring --hipri=1
randread-4k-qd32 randread 4k 32 io_uring
read-128k-qd8 randread 128k 8 io_uring
randwrite-4k-qd1 randwrite 4k 1 pvsync2
randread-4k-qd32-libaio randread 4k 32 libaio"
for q in 1 2 4 8 16 32 64; do ALL_JOBS+=$'\n'"randread-4k-qd$q-uring randread 4k $q io_uring"; done
SET_compare="randread-4k-qd1 randread-4k-qd1-poll randwrite-4k-qd1 randread-4k-qd32 read-128k-qd8"  # deep jobs last
SET_sweep="randread-4k-qd1-uring randread-4k-qd2-uring randread-4k-qd4-uring randread-4k-qd8-uring randread-4k-qd16-uring randread-4k-qd32-uring randread-4k-qd64-uring"
names=()
for a in "${@:-compare}"; do
  case "$a" in
    compare) names+=($SET_compare) ;;
    sweep) names+=($SET_sweep) ;;
    *) grep -q "^$a " <<<"$ALL_JOBS" || { echo "linux-fio: unknown job $a (the jobs are at the top of bench/linux-fio.sh)" >&2; exit 2; }
       names+=("$a") ;;
  esac
done
JOBS=$(for n in "${names[@]}"; do grep "^$n " <<<"$ALL_JOBS"; done)

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v fio >/dev/null || need+=(fio)
command -v cpio >/dev/null || need+=(cpio)
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || need+=(busybox-static)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
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
timeouts() { dmesg | grep -c 'nvme.* timeout' ; }
tainted=""
while read name rw bs qd engine extra; do
  if [ -n "\$tainted" ]; then echo "@@skipped \$name \$tainted"; continue; fi
  echo "@@start \$name"
  before=\$(irqs) lost=\$(timeouts)
  out=\$(fio --name=\$name --filename=/dev/nvme0n1 --direct=1 --rw=\$rw --bs=\$bs --iodepth=\$qd \\
    --ioengine=\$engine \$extra --time_based --runtime=$RUNTIME --ramp_time=$RAMP --norandommap \\
    --randrepeat=1 --output-format=terse --terse-version=3 2>&1)
  line=\$(echo "\$out" | grep '^3;' || true)
  lost=\$((\$(timeouts) - lost))
  if [ -n "\$line" ]; then echo "@@job \$name \$engine \$((\$(irqs) - before)) \$lost \$line"
  else echo "@@error \$name \$engine \$(echo "\$out" | tr '\n' ' ' | cut -c1-200)"; fi
  [ "\$lost" -gt 0 ] && tainted=\$name  # what follows would measure the reset's aftermath
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
# section from field 47 (47 KiB, 48 KiB/s, 49 IOPS). A job that never reported, reported 0 IOPS, or
# saw an NVMe I/O timeout in the kernel log timed out (its figure would measure the 30 s timeout).
while read -r name rw bs qd engine _; do
  shape="rw=$rw bs=$bs qd=$qd"
  if line=$(grep "^@@job $name " "$LOG"); then
    awk -v n="$name" -v e="$engine" -v s="$shape" '{ split($6, f, ";"); iops = f[8] + f[49]
      if ($5 > 0 || iops == 0) printf "linux job=%s engine=%s timed-out io_timeouts=%d %s\n", n, e, $5, s
      else printf "linux job=%s engine=%s iops=%d mib_s=%d io_irqs=%d %s\n", n, e, iops, (f[7] + f[48]) / 1024, $4, s }' <<<"$line"
  elif line=$(grep "^@@error $name " "$LOG"); then
    echo "linux job=$name engine=$engine error=\"${line#@@error $name $engine }\" $shape"
  elif line=$(grep "^@@skipped $name " "$LOG"); then
    echo "linux job=$name engine=$engine skipped after=${line##* } $shape"
  elif ! grep -qx "@@start $name" "$LOG"; then
    echo "linux job=$name engine=$engine skipped after=timeout-of-the-run $shape"
  else
    echo "linux job=$name engine=$engine timed-out io_timeouts=$(grep -c 'nvme.* timeout' "$LOG") $shape"
  fi
done <<<"$JOBS"
