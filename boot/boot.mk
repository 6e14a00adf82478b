# The bare-metal host (included by the top-level Makefile).
#   make kernel                 build/kernel.elf (ELF32 multiboot image: the driver build/nvme.wasm and
#                               the shell build/shell.wasm, the decoder build/trace.wasm, the
#                               filesystem module build/fs.wasm) + build/kernel64.elf (symbols)
#   make run [CMD="a; b"] [DISK=image] [QEMU_OPTS="-m 512M ..."]
#                               boot QEMU with build/disk.img (or DISK, a raw image, written in
#                               place) as an NVMe disk; default CMD shows bring-up, `info` and LBA 0,
#                               then the nvme> prompt
#   make debug [CMD=...]        the debug kernel (build/debug/, boot/build-debug.sh: the modules with
#                               their function names), QEMU halted with a GDB stub (:1234) and gdb with
#                               its symbols, run to kmain: then `break bringUp`, `continue`
#   make debug-kernel           just build/debug/kernel.elf + kernel64.elf
#   make iso                    build/nvme-wasm.iso: GRUB for a BIOS and for UEFI, boot/grub.cfg's menu and
#                               the kernel (boot/iso.sh); write it to a USB stick to boot a PC (README.md)
# QEMU_OPTS: options for QEMU (-m 512M, -smp 2, -machine q35, -device ...) or for boot/qemu.sh
# (--machine q35, --iommu, --accel tcg, --console script: see its header); both kinds may be mixed.

KERNEL := $(BUILD)/kernel.elf
DEFAULT_DISK := $(BUILD)/disk.img
DISK ?= $(DEFAULT_DISK)
DEBUG_DIR := $(BUILD)/debug
DEBUG_KERNEL := $(DEBUG_DIR)/kernel.elf
ISO := $(BUILD)/nvme-wasm.iso
BOOT_SOURCES := $(wildcard boot/*.c boot/*.h boot/*.S boot/*.ld boot/include/*.h) boot/build.sh boot/font.js
RUN_CMD := $(if $(CMD),$(CMD),info; read nvme0n1 0 1)
# The command line reaches the scripts through the environment, as it is: written into a recipe's
# shell words, a double quote in it (a path with blanks: ls nvme0n1p1 "/a b") would end the word.
run debug: export NVME_WASM_RUN_CMD := $(RUN_CMD)
QEMU_OPTS ?=

.PHONY: kernel run debug debug-kernel disk-check iso deps-iso

kernel: $(KERNEL)
$(KERNEL): $(WASM) $(SHELL_WASM) $(TRACE_WASM) $(FS_WASM) $(BOOT_SOURCES) | deps-system
	boot/build.sh $(WASM) $(BUILD) $(SHELL_WASM) $(TRACE_WASM) $(FS_WASM)

iso: $(ISO)
$(ISO): $(KERNEL) boot/grub.cfg boot/iso.sh boot/mb-video.js | deps-iso
	boot/iso.sh --kernel $(KERNEL) --out $(ISO)
deps-iso:
	@scripts/deps.sh iso

debug-kernel: $(DEBUG_KERNEL)
$(DEBUG_KERNEL): $(GUEST_SOURCES) $(WASM) $(BOOT_SOURCES) boot/build-debug.sh boot/debug-wasm.js boot/w2c-names.js | deps-system deps-npm
	boot/build-debug.sh $(DEBUG_DIR)

$(DEFAULT_DISK):
	node boot/mkdisk.js $@ 64

# DISK names an image of the user's: it must exist (only the default one is made here).
disk-check:
	@[ -f "$(DISK)" ] || { echo "make: DISK=$(DISK): no such image (make run without DISK makes $(DEFAULT_DISK))" >&2; exit 2; }

run: deps wasm kernel $(if $(filter $(DEFAULT_DISK),$(DISK)),$(DEFAULT_DISK),disk-check)
	@boot/qemu.sh --disk "$(DISK)" --cmd "$$NVME_WASM_RUN_CMD" $(QEMU_OPTS)

debug: deps wasm $(DEBUG_KERNEL) $(if $(filter $(DEFAULT_DISK),$(DISK)),$(DEFAULT_DISK),disk-check)
	@scripts/deps.sh debug
	@boot/debug.sh --kernel $(DEBUG_KERNEL) $(QEMU_OPTS) --disk "$(DISK)" --cmd "$$NVME_WASM_RUN_CMD"
