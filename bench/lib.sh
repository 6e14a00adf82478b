# Shared by bench/qemu-vs-linux.sh and bench/sweep.sh (sourced, not run): the QEMU configuration
# both drivers are measured in — q35, -cpu max, one vCPU, 512 MiB, TCG, a 1 GiB null-co NVMe backend
# that reads zeroes (512-byte blocks) — and reading `key=value` fields out of result lines.
# Expects ROOT (the repository) and KERNEL (build/kernel.elf) to be set.
DEV=(-cpu max -drive driver=null-co,size=1G,read-zeroes=on,if=none,id=d0 -device nvme,drive=d0,serial=nvmewasm0)

# Boots nvme-wasm with boot options $1 and runs the shell commands $2, then powers off; prints the
# guest's output (carriage returns removed).
qemu_run() {
  "$ROOT/boot/qemu.sh" --kernel "$KERNEL" --quiet --accel tcg --machine q35 --memory 512M \
    --cmd "$1; $2; poweroff" -- "${DEV[@]}" </dev/null 2>&1 | tr -d '\r'
}

# The value of field $1 in line $2 (`… $1=VALUE …`), or nothing.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# IOPS a device time per IO of $1 microseconds allows at QD1: 1e6 / $1 (nothing when $1 is empty or 0).
floor_iops() { [ -n "$1" ] && awk -v us="$1" 'BEGIN { if (us > 0) printf "%d\n", 1e6 / us }'; }

# $1 / $2 with one decimal, or "-" when either is missing or $2 is 0.
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.1f\n", a / b }'; }
# The same with two decimals (ratios to the floor, mostly below 1).
ratio2() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'; }

# The median of the numbers on stdin (one per line; blank lines ignored), or nothing.
median() { grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Linux's jobs (bench/linux-fio.sh names), in one boot; jobs it skipped because an earlier one timed
# out (Linux 6.1 on QEMU 7.2.22 loses completions now and then at depth) run again in a fresh boot,
# until each has a line of its own: at most one boot per job. Prints every job's final line.
linux_jobs() {
  local left=("$@") out skipped boots=0
  while [ ${#left[@]} -gt 0 ] && [ $boots -lt $# ]; do
    out=$("$ROOT/bench/linux-fio.sh" "${left[@]}")
    boots=$((boots + 1))
    grep '^linux job=' <<<"$out" | grep -v ' skipped '
    skipped=$(grep ' skipped ' <<<"$out" | sed -n 's/.* job=\([^ ]*\).*/\1/p')
    read -r -a left <<<"$(echo $skipped)"
  done
}
