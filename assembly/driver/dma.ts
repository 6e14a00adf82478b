// The DMA window is the guest's whole linear memory (docs/abi.md): it never grows, so an
// address handed to a device stays valid. Everything a device reads or writes (queues, PRP
// lists, identify pages, data buffers) comes from this page allocator, at bring-up time only;
// nothing is allocated on the IO path.
import { dma_address } from "./imports";

export const PAGE_BYTES: u32 = 4096;

let next: usize = 0;
let limit: usize = 0;
let busSkew: u64 = 0;  // the window's bus address, whose low bits an alignment must account for

function alignUp(v: usize, a: usize): usize {
  return (v + a - 1) & ~(a - 1);
}

// The first page handed out: past the module's static data (__heap_base), and at a fixed address
// while that data ends below it, so that the bus addresses a device is given (and the traces, tests
// and docs that show them) do not move each time the data grows or shrinks. 0x6000 is where the
// data put it before the printed literals were stored as ASCII (host/ascii-strings.js).
const FIRST_PAGE: usize = 0x6000;

function init(): void {
  const heap = alignUp(__heap_base, <usize>PAGE_BYTES);
  next = heap > FIRST_PAGE ? heap : FIRST_PAGE;
  limit = <usize>memory.size() << 16;
  busSkew = dma_address(0, 1);
}

// `bytes` of zeroed memory whose **bus address** is aligned to `align` (a power of two, at least a
// page: a controller with 16 KiB pages needs its queues on 16 KiB bus boundaries, whatever the
// window's own alignment); 0 when the window is exhausted.
export function allocPages(bytes: u32, align: u32 = PAGE_BYTES): usize {
  if (next == 0) init();
  if (align < PAGE_BYTES) align = PAGE_BYTES;
  const skew = <usize>(busSkew & <u64>(align - 1));
  const start = alignUp(next + skew, <usize>align) - skew;
  const size = alignUp(<usize>bytes, <usize>PAGE_BYTES);
  if (start + size > limit || start + size < start) return 0;
  memory.fill(start, 0, size);
  next = start + size;
  return start;
}

// The bus address a device must be given for [ptr, ptr+len): never a linear-memory offset.
export function busAddress(ptr: usize, len: u32): u64 {
  return dma_address(ptr, len);
}

// The bus address of the window's last byte: no address the driver hands a device is higher.
export function windowLastBusAddress(): u64 {
  if (next == 0) init();
  return dma_address(limit - 1, 1);
}
