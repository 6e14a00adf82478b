# nvme-wasm: the driver (assembly/driver -> build/nvme.wasm) and its client, the shell (assembly/shell ->
# build/shell.wasm), run by two hosts (host/ for Node, boot/ for bare metal).
#   make run            install what is missing, build, boot QEMU with a default NVMe disk, shell prompt
#   make run CMD="info; crc nvme0n1 0 2048; poweroff"   run commands, exit with QEMU's exit code
#   make test           every test: model, driver against model, QEMU end to end
#   make kernel         build/kernel.elf only
#   make iso            build/nvme-wasm.iso, bootable by a BIOS or UEFI (GRUB): write it to a USB stick
#   make debug          QEMU halted with a GDB stub, and GDB with the kernel's symbols
#   make bench          throughput figures (Node model and QEMU); never a pass/fail
#   make sweep          IOPS against queue depth, both drivers, and the device floor: build/sweep.txt,
#                       drawn as build/bench-qd.svg (copy it to docs/ to update the README's plot)
#   make soak           long fuzz and fault soak (sim, and a QEMU sample); figures and failures
#   make diagrams       the sequence diagrams of docs/bring-up.md (docs/diagrams/, from a Node trace)
#   make format         format the JavaScript with Prettier (.prettierrc.json; make test checks it)

SHELL := /bin/bash
BUILD := build
WASM  := $(BUILD)/nvme.wasm
SHELL_WASM := $(BUILD)/shell.wasm
TRACE_WASM := $(BUILD)/trace.wasm
FS_WASM := $(BUILD)/fs.wasm
GUEST_SOURCES := $(shell find assembly -name '*.ts') asconfig.json host/ascii-strings.js

.PHONY: all deps deps-npm deps-system wasm kernel run test debug bench sweep soak diagrams format clean

all: wasm kernel

deps:
	@scripts/deps.sh
deps-npm:
	@scripts/deps.sh npm
deps-system:
	@scripts/deps.sh system

# host/build.js builds the four modules (each only when stale), so all are outputs of one recipe.
wasm: $(WASM) $(SHELL_WASM) $(TRACE_WASM) $(FS_WASM)
$(WASM) $(SHELL_WASM) $(TRACE_WASM) $(FS_WASM) &: $(GUEST_SOURCES) | deps-npm
	node host/build.js

include boot/boot.mk

test: deps deps-iso wasm kernel
	npx vitest run

bench: deps wasm kernel
	node bench/node-throughput.js
	node bench/crc32.js
	boot/bench-qemu.sh
	bench/qemu-vs-linux.sh

sweep: deps wasm kernel
	bench/sweep.sh --linux --rounds 3 | tee $(BUILD)/sweep.txt
	node bench/plot.js $(BUILD)/sweep.txt $(BUILD)/bench-qd.svg

# One trace=all run under Node, cut at each stage line: docs/diagrams/stage-N.svg (docs/trace.md).
diagrams: deps-npm wasm
	node host/diagrams.js docs/diagrams

# The JavaScript, formatted by Prettier with .prettierrc.json (test/machine/format.test.js checks it).
format: deps-npm
	npx prettier --write $$(git ls-files '*.js' '*.mjs')

clean:
	rm -rf $(BUILD)

# The long fuzz and soak: 100,000 shell inputs, 1,000 seeded fault runs, a QEMU sample (SOAK_ARGS
# passes --inputs/--runs/--seed/--qemu to test/fuzz/soak.js).
soak: deps wasm kernel
	node test/fuzz/soak.js $(SOAK_ARGS)
