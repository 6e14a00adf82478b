// Namespaces the driver found: the block devices nvme0n1, nvme0n2, ... (NVMe 1.4 section 5.15.2.2).
// A namespace whose format the driver cannot use is still listed, with the reason it is refused.
import { IDNS_NSZE, IDNS_NLBAF, IDNS_FLBAS, IDNS_NSATTR, IDNS_LBAF0 } from "./registers";
import { REFUSED_METADATA, REFUSED_BLOCK_SIZE, REFUSED_BAD_FORMAT, REFUSED_EMPTY } from "../../common/words";

export const MAX_NAMESPACES: u32 = 64;
const NS_BYTES: u32 = 48;
const table: usize = memory.data(<i32>(MAX_NAMESPACES * NS_BYTES), 8);
let count: u32 = 0;

// The smallest and largest logical block the driver handles: 2^9 .. 2^16 bytes.
export const MIN_LBA_SHIFT: u32 = 9;
export const MAX_LBA_SHIFT: u32 = 16;

@unmanaged
export class Namespace {
  ctrl: u32;        // controller index (nvmeN)
  nsid: u32;
  lbaShift: u32;    // log2 of the logical block size
  metadataBytes: u32;
  blocks: u64;      // NSZE
  readonly: u32;    // NSATTR bit 0: write protected
  refused: u32;     // a REFUSED_ value of common/words.ts; 0 when usable
  lbaFormat: u32;
  maxBlocks: u32;   // blocks one command may carry on its controller (MDTS, and NLB's 16 bits)
}
if (offsetof<Namespace>() > NS_BYTES) ERROR("Namespace outgrew NS_BYTES");

export function namespaceCount(): u32 {
  return count;
}

// The i-th namespace, for callers that have checked i < namespaceCount().
// @ts-ignore: decorator
@inline export function entry(i: u32): Namespace {
  return changetype<Namespace>(table + <usize>(i * NS_BYTES));
}

export function namespaceAt(i: u32): Namespace {
  assert(i < count, "namespace index out of range");
  return entry(i);
}

// Decodes an Identify Namespace page; returns the entry, or null when the table is full.
export function addNamespace(ctrl: u32, nsid: u32, page: usize): Namespace | null {
  if (count == MAX_NAMESPACES) return null;
  const ns = entry(count);
  memory.fill(changetype<usize>(ns), 0, <usize>NS_BYTES);
  ns.ctrl = ctrl;
  ns.nsid = nsid;
  ns.blocks = load<u64>(page + <usize>IDNS_NSZE);
  ns.readonly = <u32>load<u8>(page + <usize>IDNS_NSATTR) & 1;
  const nlbaf = <u32>load<u8>(page + <usize>IDNS_NLBAF);
  // FLBAS bits 3:0 select the format; NVMe 2.0 adds bits 6:5 as the upper bits when NLBAF > 16.
  const flbas = <u32>load<u8>(page + <usize>IDNS_FLBAS);
  const format = (flbas & 0xf) | (nlbaf >= 16 ? ((flbas >> 5) & 3) << 4 : 0);
  ns.lbaFormat = format;
  if (format > nlbaf || format >= 64) {
    ns.refused = REFUSED_BAD_FORMAT;
  } else {
    const lbaf = load<u32>(page + <usize>(IDNS_LBAF0 + format * 4));
    ns.metadataBytes = lbaf & 0xffff;
    ns.lbaShift = (lbaf >> 16) & 0xff;
    if (ns.lbaShift < MIN_LBA_SHIFT || ns.lbaShift > MAX_LBA_SHIFT) ns.refused = REFUSED_BLOCK_SIZE;
    else if (ns.metadataBytes != 0) ns.refused = REFUSED_METADATA;
    else if (ns.blocks == 0) ns.refused = REFUSED_EMPTY;
  }
  count++;
  return ns;
}
