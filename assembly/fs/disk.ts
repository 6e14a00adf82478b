// Bytes of a namespace, read through the block interface and waited for: the only way this module
// reaches a disk. Reads go through a small cache of lines (LINE_BYTES_MIN or one block, whichever is
// larger), so the many small reads of a table or a FAT cost one request per line. Every read is
// bounded by a window (a partition, or the whole namespace): nothing outside it is ever read.
import { describe_namespace, buffer_bytes, buffer_read, submit, complete } from "./client";
import {
  OP_READ, NAMESPACE_RECORD_BYTES, NS_BLOCKS, NS_LBA_SHIFT, NS_REFUSED, DONE_RECORD_BYTES, DONE_TAG, DONE_STATUS,
  ERR_BUSY,
} from "../common/abi";
import { fail, say, sayDec, sayHex } from "./reply";

const LINE_BYTES_MIN: u32 = 8192;
const LINE_BYTES_MAX: u32 = 65536;          // the largest block the driver accepts (64 KiB)
const LINES: u32 = 4;
const DONE_CAP: u32 = 4;
const WAIT_SLICE_NS: u64 = 10_000_000;
// The driver completes every request within its retries and resets (each bounded by CAP.TO); this
// many empty waits of WAIT_SLICE_NS (1000 s) means the host or driver is broken.
const WAITS_MAX: u32 = 100_000;
const BUSY_TRIES_MAX: u32 = 1000;

const nsRecord: usize = memory.data(<i32>NAMESPACE_RECORD_BYTES, 8);
const records: usize = memory.data(<i32>(DONE_CAP * DONE_RECORD_BYTES), 8);
const lines: usize = memory.data(<i32>(LINES * LINE_BYTES_MAX), 16);
const lineNs = memory.data<u32>([0, 0, 0, 0]);
const lineIndex = memory.data<u64>([0, 0, 0, 0]);   // the line's number within its window
const lineWindow = memory.data<u64>([0, 0, 0, 0]);  // the window's first block
const lineValid = memory.data<u32>([0, 0, 0, 0]);
let lineNext: u32 = 0;
let nextTag: u32 = 1;

export let nsIndex: u32 = 0;
export let blockShift: u32 = 9;
export let nsBlocks: u64 = 0;
let lineBytes: u32 = LINE_BYTES_MIN;
let windowStart: u64 = 0;     // blocks
let windowBlocks: u64 = 0;

// Forgets every cached line: the disk may have been written since (the shell's fill, zero, trim).
export function cacheClear(): void {
  for (let i: u32 = 0; i < LINES; i++) store<u32>(lineValid + <usize>(i * 4), 0);
}

// Takes namespace `ns` (its whole extent as the window); false, with the failure said, if it is
// not there or not usable.
export function useNamespace(ns: u32): bool {
  if (describe_namespace(ns, nsRecord) != <i32>NAMESPACE_RECORD_BYTES) return fail("no such namespace");
  if (load<u32>(nsRecord + <usize>NS_REFUSED) != 0) return fail("the namespace is not usable");
  nsIndex = ns;
  blockShift = load<u32>(nsRecord + <usize>NS_LBA_SHIFT);
  nsBlocks = load<u64>(nsRecord + <usize>NS_BLOCKS);
  assert(blockShift >= 9 && blockShift <= 16, "block size outside what the driver accepts");
  lineBytes = (<u32>1 << blockShift) > LINE_BYTES_MIN ? <u32>1 << blockShift : LINE_BYTES_MIN;
  assert(lineBytes <= buffer_bytes(), "the share is smaller than a cache line");
  windowStart = 0;
  windowBlocks = nsBlocks;
  return true;
}

export function setWindow(start: u64, blocks: u64): void {
  assert(start <= nsBlocks && blocks <= nsBlocks - start, "window outside the namespace");
  windowStart = start;
  windowBlocks = blocks;
}

export function windowBytes(): u64 { return windowBlocks << blockShift; }

// Reads one request of `blocks` blocks at window block `lba` into the share at 0, waited for.
function readBlocks(lba: u64, blocks: u32): bool {
  const tag = nextTag++;
  let status: u32 = ERR_BUSY;
  for (let tries: u32 = 0; tries < BUSY_TRIES_MAX && status == ERR_BUSY; tries++) {
    status = submit(tag, OP_READ, nsIndex, windowStart + lba, blocks, 0);
    if (status == ERR_BUSY) complete(records, 0, WAIT_SLICE_NS);
  }
  if (status != 0) { fail("read of block "); sayDec(windowStart + lba); say(" refused: status "); sayHex(status); return false; }
  for (let waits: u32 = 0; waits < WAITS_MAX; waits++) {
    const n = complete(records, DONE_CAP, WAIT_SLICE_NS);
    for (let i = 0; i < n; i++) {
      const r = records + <usize>(i * <i32>DONE_RECORD_BYTES);
      if (load<u32>(r + <usize>DONE_TAG) != tag) continue;
      const done = load<u32>(r + <usize>DONE_STATUS);
      if (done == 0) return true;
      fail("read of block "); sayDec(windowStart + lba); say(" failed: status "); sayHex(done);
      return false;
    }
  }
  return fail("a read was never completed");
}

// The cache line holding window line `index`, loaded if needed; 0 on failure.
function line(index: u64): usize {
  for (let i: u32 = 0; i < LINES; i++) {
    if (load<u32>(lineValid + <usize>(i * 4)) != 0 && load<u32>(lineNs + <usize>(i * 4)) == nsIndex &&
        load<u64>(lineIndex + <usize>(i * 8)) == index && load<u64>(lineWindow + <usize>(i * 8)) == windowStart) {
      return lines + <usize>(i * LINE_BYTES_MAX);
    }
  }
  const slot = lineNext;
  lineNext = (lineNext + 1) % LINES;
  store<u32>(lineValid + <usize>(slot * 4), 0);
  const perLine = <u64>(lineBytes >> blockShift);
  const lba = index * perLine;
  const blocks = windowBlocks - lba < perLine ? windowBlocks - lba : perLine;
  if (!readBlocks(lba, <u32>blocks)) return 0;
  const ptr = lines + <usize>(slot * LINE_BYTES_MAX);
  buffer_read(0, ptr, <u32>(blocks << blockShift));
  store<u32>(lineNs + <usize>(slot * 4), nsIndex);
  store<u64>(lineIndex + <usize>(slot * 8), index);
  store<u64>(lineWindow + <usize>(slot * 8), windowStart);
  store<u32>(lineValid + <usize>(slot * 4), 1);
  return ptr;
}

// `len` bytes from byte `offset` of the window into `ptr`; false, with the failure said, when
// they pass the window's end or a read fails.
export function readBytes(offset: u64, ptr: usize, len: u32): bool {
  const end = windowBytes();
  if (offset > end || <u64>len > end - offset) return fail("a read past the end of the partition");
  let done: u32 = 0;
  for (let turns: u32 = 0; done < len && turns <= len / lineBytes + 2; turns++) {
    const at = offset + <u64>done;
    const p = line(at / <u64>lineBytes);
    if (p == 0) return false;
    const within = <u32>(at % <u64>lineBytes);
    const n = len - done < lineBytes - within ? len - done : lineBytes - within;
    memory.copy(ptr + <usize>done, p + <usize>within, <usize>n);
    done += n;
  }
  assert(done == len, "readBytes did not finish");
  return true;
}
