// Namespaces the driver found: the block devices nvme0n1, nvme0n2, ... (NVMe 1.4 section 5.15.2.2).
// A namespace whose format the driver cannot use is still listed, with the reason it is refused.
import { IDNS_NSZE, IDNS_NLBAF, IDNS_FLBAS, IDNS_NSATTR, IDNS_LBAF0 } from "./registers";

export const MAX_NAMESPACES: u32 = 64;
const NS_BYTES: u32 = 48;
const table: usize = memory.data(<i32>(MAX_NAMESPACES * NS_BYTES), 8);
let count: u32 = 0;

// Reasons a namespace is refused.
export const REASON_METADATA: u32 = 1;     // the format in use carries metadata (MS > 0)
export const REASON_BLOCK_SIZE: u32 = 2;   // LBA data size outside 512 B .. 64 KiB
export const REASON_BAD_FORMAT: u32 = 3;   // FLBAS points past NLBAF: the device's data is inconsistent
export const REASON_EMPTY: u32 = 4;        // NSZE is 0

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
  refused: u32;     // a REASON_ value; 0 when usable
  lbaFormat: u32;
}

export function namespaceCount(): u32 {
  return count;
}

export function namespaceAt(i: u32): Namespace {
  return changetype<Namespace>(table + <usize>(i * NS_BYTES));
}

export function findNamespace(ctrl: u32, nsid: u32): Namespace | null {
  for (let i: u32 = 0; i < count; i++) {
    const ns = namespaceAt(i);
    if (ns.ctrl == ctrl && ns.nsid == nsid) return ns;
  }
  return null;
}

// Forgets a controller's namespaces (before it is identified again).
export function dropNamespaces(ctrl: u32): void {
  let w: u32 = 0;
  for (let r: u32 = 0; r < count; r++) {
    if (namespaceAt(r).ctrl == ctrl) continue;
    if (w != r) memory.copy(table + <usize>(w * NS_BYTES), table + <usize>(r * NS_BYTES), <usize>NS_BYTES);
    w++;
  }
  count = w;
}

// Decodes an Identify Namespace page; returns the entry, or null when the table is full.
export function addNamespace(ctrl: u32, nsid: u32, page: usize): Namespace | null {
  if (count == MAX_NAMESPACES) return null;
  const ns = namespaceAt(count);
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
    ns.refused = REASON_BAD_FORMAT;
  } else {
    const lbaf = load<u32>(page + <usize>(IDNS_LBAF0 + format * 4));
    ns.metadataBytes = lbaf & 0xffff;
    ns.lbaShift = (lbaf >> 16) & 0xff;
    if (ns.lbaShift < MIN_LBA_SHIFT || ns.lbaShift > MAX_LBA_SHIFT) ns.refused = REASON_BLOCK_SIZE;
    else if (ns.metadataBytes != 0) ns.refused = REASON_METADATA;
    else if (ns.blocks == 0) ns.refused = REASON_EMPTY;
  }
  count++;
  return ns;
}

export function reasonText(reason: u32): string {
  switch (reason) {
    case REASON_METADATA: return "metadata per block is not supported";
    case REASON_BLOCK_SIZE: return "logical block size outside 512 B to 64 KiB";
    case REASON_BAD_FORMAT: return "FLBAS selects a format beyond NLBAF";
    case REASON_EMPTY: return "namespace size is 0";
  }
  return "";
}
