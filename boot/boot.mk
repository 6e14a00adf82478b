# The bare-metal host (included by the top-level Makefile).
#   make kernel                 build/kernel.elf (ELF32 multiboot image: the driver build/nvme.wasm and
#                               the shell build/shell.wasm) + build/kernel64.elf (symbols)
#   make run [CMD="a; b"]       boot QEMU with build/disk.img as an NVMe disk; default CMD shows
#                               bring-up, `info` and LBA 0, then the nvme> prompt
#   make debug [CMD=...]        QEMU halted with a GDB stub (:1234) and gdb with the kernel's symbols
# Boot options for QEMU go through boot/qemu.sh (see its header), e.g. QEMU_OPTS="--machine q35".

KERNEL := $(BUILD)/kernel.elf
DISK := $(BUILD)/disk.img
BOOT_SOURCES := $(wildcard boot/*.c boot/*.h boot/*.S boot/*.ld boot/include/*.h) boot/build.sh
RUN_CMD := $(if $(CMD),$(CMD),info; read nvme0n1 0 1)
QEMU_OPTS ?=

.PHONY: kernel run debug

kernel: $(KERNEL)
$(KERNEL): $(WASM) $(SHELL_WASM) $(BOOT_SOURCES) | deps-system
	boot/build.sh $(WASM) $(BUILD) $(SHELL_WASM)

$(DISK):
	node boot/mkdisk.js $@ 64

run: deps wasm kernel $(DISK)
	@boot/qemu.sh $(QEMU_OPTS) --disk $(DISK) --cmd "$(RUN_CMD)"

debug: deps wasm kernel $(DISK)
	@scripts/deps.sh debug
	@boot/debug.sh $(QEMU_OPTS) --disk $(DISK) --cmd "$(RUN_CMD)"
