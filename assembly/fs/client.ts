// Everything fs.wasm imports: the block interface the host gives a client (module "blk",
// docs/block-interface.md). Nothing else: it prints nothing (its answers go back in messages,
// docs/fs-interface.md), reads no console, and never touches a register or a DMA address.
@external("blk", "describe_namespace")
export declare function describe_namespace(index: u32, ptr: usize): i32;
// This module's share of the driver's buffer memory: offsets 0 .. buffer_bytes() - 1.
@external("blk", "buffer_bytes")
export declare function buffer_bytes(): u32;
@external("blk", "buffer_read")
export declare function buffer_read(offset: u32, ptr: usize, len: u32): i32;
@external("blk", "submit")
export declare function submit(tag: u32, op: u32, ns: u32, lba: u64, blocks: u32, offset: u32): u32;
@external("blk", "complete")
export declare function complete(ptr: usize, cap: u32, timeout_ns: u64): i32;
