// The driver's view of its host: every import of nvme.wasm but console_write (which every module
// shares, assembly/common/console.ts). The contract is docs/abi.md; both hosts (host/machine.js
// under Node, boot/host.c on bare metal) implement it. Clients (shell.wasm, …) import none of this.

// The boot command line; returns its full length, which may exceed cap.
@external("env", "cmdline")
export declare function cmdline(ptr: usize, cap: i32): i32;

// Monotonic time, and the call every busy-wait loop makes on each turn.
@external("env", "now_ns")
export declare function now_ns(): u64;
@external("env", "relax")
export declare function relax(): void;
// A full memory barrier: every store before it reaches memory, as a device sees it, before any load
// after it (x86 mfence). The shadow doorbells need it (nvme/queue.ts ring): the tail stored in the
// shadow buffer must be visible before the controller's EventIdx is read.
@external("env", "fence")
export declare function fence(): void;

// PCI configuration space; bdf = bus << 8 | dev << 3 | fn, off dword-aligned.
@external("env", "pci_read32")
export declare function pci_read32(bdf: u32, off: u32): u32;
@external("env", "pci_write32")
export declare function pci_write32(bdf: u32, off: u32, value: u32): void;

// MMIO: the host decodes and maps a BAR; the driver only ever holds a handle and offsets.
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

// Interrupts: the host routes lines, the driver programs its device. irq_msi_address/data answer
// for MSI-X and MSI lines.
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

// A request the host submitted has finished: called once per request, from poll, interrupt,
// tick or shutdown only. It must not call back into the driver.
@external("env", "request_done")
export declare function request_done(tag: u64, status: u32, errorLba: u64): void;

// Tracing (docs/trace.md): the driver says once what is to be traced (a TRACE_* mask of
// common/abi.ts), then reports what only it sees: each command as written to its SQ, each completion
// as consumed, each bring-up stage begun (`where` = controller << 16 | queue, or stage). `ptr` points
// at the entry in the driver's memory, `len` bytes. Only called while the mask asks for them.
@external("env", "trace_begin")
export declare function trace_begin(mask: u32): void;
@external("env", "trace_event")
export declare function trace_event(kind: u32, where: u32, ptr: usize, len: u32): void;

export const ATTACH_INTX: u32 = 0;
export const ATTACH_MSIX: u32 = 1;
export const ATTACH_MSI: u32 = 2;
