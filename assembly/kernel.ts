// The guest's view of its host: every import of the driver, and nothing else.
// This is the only file with @external declarations. The contract is docs/abi.md;
// both hosts (host/machine.js under Node, boot/host.c on bare metal) implement it.

// Console: bytes out, bytes in (raw; the shell echoes and edits lines itself).
@external("env", "console_write")
export declare function console_write(ptr: usize, len: i32): void;
@external("env", "console_read")
export declare function console_read(ptr: usize, cap: i32, timeout_ns: u64): i32;

// The boot command line; returns its full length, which may exceed cap.
@external("env", "cmdline")
export declare function cmdline(ptr: usize, cap: i32): i32;

// Monotonic time, and the call every busy-wait loop makes on each turn.
@external("env", "now_ns")
export declare function now_ns(): u64;
@external("env", "relax")
export declare function relax(): void;

// PCI configuration space; bdf = bus << 8 | dev << 3 | fn, off dword-aligned.
@external("env", "pci_read32")
export declare function pci_read32(bdf: u32, off: u32): u32;
@external("env", "pci_write32")
export declare function pci_write32(bdf: u32, off: u32, value: u32): void;

// MMIO: the host decodes and maps a BAR; the guest only ever holds a handle and offsets.
@external("env", "mmio_map")
export declare function mmio_map(bdf: u32, bar: u32): i32;
@external("env", "mmio_size")
export declare function mmio_size(handle: i32): u32;
@external("env", "mmio_read32")
export declare function mmio_read32(handle: i32, off: u32): u32;
@external("env", "mmio_write32")
export declare function mmio_write32(handle: i32, off: u32, value: u32): void;

// The bus address a device must use for [ptr, ptr+len) of linear memory; 0 if out of range.
@external("env", "dma_address")
export declare function dma_address(ptr: usize, len: u32): u64;

// Interrupts: the host routes lines, the guest programs its device.
@external("env", "irq_attach")
export declare function irq_attach(bdf: u32, mode: u32): i32;
@external("env", "irq_msi_address")
export declare function irq_msi_address(line: i32): u64;
@external("env", "irq_msi_data")
export declare function irq_msi_data(line: i32): u32;
@external("env", "irq_wait")
export declare function irq_wait(timeout_ns: u64): u32;
@external("env", "irq_ack")
export declare function irq_ack(line: i32): void;

// The end of the run: exit code 0 only when code is 0. Does not return.
@external("env", "poweroff")
export declare function poweroff(code: i32): void;

export const IRQ_MODE_INTX: u32 = 0;
export const IRQ_MODE_MSIX: u32 = 1;
