# The bare-metal host (included by the top-level Makefile).
#   make kernel                 build/kernel.elf (ELF32 multiboot image: the driver build/nvme.wasm and
#                               the shell build/shell.wasm) + build/kernel64.elf (symbols)
#   make run [CMD="a; b"]       boot QEMU with build/disk.img as an NVMe disk; default CMD shows
#                               bring-up, `info` and LBA 0, then the nvme> prompt
#   make debug [CMD=...]        the debug kernel (build/debug/, boot/build-debug.sh: the modules with
#                               their function names), QEMU halted with a GDB stub (:1234) and gdb with
#                               its symbols, run to kmain: then `break bringUp`, `continue`
#   make debug-kernel           just build/debug/kernel.elf + kernel64.elf
# Boot options for QEMU go through boot/qemu.sh (see its header), e.g. QEMU_OPTS="--machine q35".

KERNEL := $(BUILD)/kernel.elf
DISK := $(BUILD)/disk.img
DEBUG_DIR := $(BUILD)/debug
DEBUG_KERNEL := $(DEBUG_DIR)/kernel.elf
BOOT_SOURCES := $(wildcard boot/*.c boot/*.h boot/*.S boot/*.ld boot/include/*.h) boot/build.sh
RUN_CMD := $(if $(CMD),$(CMD),info; read nvme0n1 0 1)
QEMU_OPTS ?=

.PHONY: kernel run debug debug-kernel

kernel: $(KERNEL)
$(KERNEL): $(WASM) $(SHELL_WASM) $(TRACE_WASM) $(BOOT_SOURCES) | deps-system
	boot/build.sh $(WASM) $(BUILD) $(SHELL_WASM) $(TRACE_WASM)

debug-kernel: $(DEBUG_KERNEL)
$(DEBUG_KERNEL): $(GUEST_SOURCES) $(WASM) $(BOOT_SOURCES) boot/build-debug.sh boot/debug-wasm.js boot/w2c-names.js | deps-system deps-npm
	boot/build-debug.sh $(DEBUG_DIR)

$(DISK):
	node boot/mkdisk.js $@ 64

run: deps wasm kernel $(DISK)
	@boot/qemu.sh $(QEMU_OPTS) --disk $(DISK) --cmd "$(RUN_CMD)"

debug: deps wasm $(DEBUG_KERNEL) $(DISK)
	@scripts/deps.sh debug
	@boot/debug.sh --kernel $(DEBUG_KERNEL) $(QEMU_OPTS) --disk $(DISK) --cmd "$(RUN_CMD)"
