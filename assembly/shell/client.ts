// Everything shell.wasm imports: the block interface the host provides to clients (module "blk",
// docs/block-interface.md), and console, time, command line and poweroff (module "env"). No PCI,
// MMIO, DMA or interrupt import: the shell reaches the hardware only through the driver, and its
// data only through copies the host makes between the driver's memory and this module's.

// ---- blk: the driver, as the host lets a client see it ----
// Records (layouts in common/abi.ts) copied into this module's memory; the byte count, or -1.
@external("blk", "controller_count")
export declare function controller_count(): u32;
@external("blk", "namespace_count")
export declare function namespace_count(): u32;
@external("blk", "describe_controller")
export declare function describe_controller(index: u32, ptr: usize): i32;
@external("blk", "describe_namespace")
export declare function describe_namespace(index: u32, ptr: usize): i32;
@external("blk", "identify_data")
export declare function identify_data(index: u32, ptr: usize): i32;
@external("blk", "controller_stats")
export declare function controller_stats(index: u32, ptr: usize): i32;
// This client's share of the driver's buffer memory: offsets 0 .. buffer_bytes() - 1.
@external("blk", "buffer_bytes")
export declare function buffer_bytes(): u32;
// Copies between this module's memory and the share; 0, or -1 if a range is outside either.
@external("blk", "buffer_write")
export declare function buffer_write(offset: u32, ptr: usize, len: u32): i32;
@external("blk", "buffer_read")
export declare function buffer_read(offset: u32, ptr: usize, len: u32): i32;
// A request on namespace `ns` with data at `offset` of the share; never waits. 0 = queued.
@external("blk", "submit")
export declare function submit(tag: u32, op: u32, ns: u32, lba: u64, blocks: u32, offset: u32): u32;
// Waits up to timeout_ns for completions of this client's requests; copies up to `cap` records
// (DONE_* of common/abi.ts) to ptr and returns how many.
@external("blk", "complete")
export declare function complete(ptr: usize, cap: u32, timeout_ns: u64): i32;
// Error lines the driver has printed (bring-up, recovery, shutdown): they make a run fail too.
@external("blk", "driver_errors")
export declare function driver_errors(): u32;
// Orderly shutdown of every controller; returns the error lines it printed.
@external("blk", "shutdown")
export declare function shutdown(): u32;

// ---- env ----
// Console input: up to cap bytes; 0 on timeout, -1 at end of input. Raw: the shell edits lines.
@external("env", "console_read")
export declare function console_read(ptr: usize, cap: i32, timeout_ns: u64): i32;
// The boot command line; returns its full length, which may exceed cap.
@external("env", "cmdline")
export declare function cmdline(ptr: usize, cap: i32): i32;
@external("env", "now_ns")
export declare function now_ns(): u64;
// The end of the run: exit code 0 only when code is 0. Does not return.
@external("env", "poweroff")
export declare function poweroff(code: i32): void;
