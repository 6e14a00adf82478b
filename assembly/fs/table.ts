// The partitions found by the last scan of a namespace (mbr.ts, gpt.ts), numbered as Linux numbers
// them: nvme0n1p1 is number 1. Up to PARTS_MAX; a number may be missing (an empty GPT entry).
import { fail, say, sayDec } from "./reply";

export const PARTS_MAX: u32 = 128;
export const LABEL_BYTES_MAX: u32 = 112;  // 36 UTF-16 units of a GPT name, at most 3 UTF-8 bytes each

@unmanaged
export class Part {
  number: u32;       // 1..: the p in nvme0n1p1
  scheme: u32;       // FS_SCHEME_MBR or FS_SCHEME_GPT
  mbrType: u32;      // the MBR partition type byte (0 for GPT)
  labelBytes: u32;   // UTF-8 bytes of the label (GPT)
  start: u64;        // first block
  blocks: u64;
  guid0: u64;        // the GPT type GUID as stored (16 bytes)
  guid1: u64;
}
const PART_BYTES: u32 = 48;
const parts: usize = memory.data(<i32>(PARTS_MAX * PART_BYTES), 8);
const labels: usize = memory.data(<i32>(PARTS_MAX * LABEL_BYTES_MAX), 8);
export let partCount: u32 = 0;

export function tableClear(): void { partCount = 0; }

export function part(i: u32): Part {
  assert(i < partCount, "partition index out of range");
  return changetype<Part>(parts + <usize>(i * PART_BYTES));
}

export function labelOf(i: u32): usize { return labels + <usize>(i * LABEL_BYTES_MAX); }

// Adds a partition; null (said) when the table is full.
export function addPart(number: u32, scheme: u32, start: u64, blocks: u64): Part | null {
  if (partCount == PARTS_MAX) { fail("more than 128 partitions"); return null; }
  const p = changetype<Part>(parts + <usize>(partCount * PART_BYTES));
  p.number = number; p.scheme = scheme; p.mbrType = 0; p.labelBytes = 0;
  p.start = start; p.blocks = blocks; p.guid0 = 0; p.guid1 = 0;
  partCount++;
  return p;
}

// The partition numbered `number`, or null.
export function byNumber(number: u32): Part | null {
  for (let i: u32 = 0; i < partCount; i++) if (part(i).number == number) return part(i);
  return null;
}

// Every partition inside blocks [first, last], none empty and none overlapping another; false
// (said) otherwise.
export function checkLayout(first: u64, last: u64): bool {
  for (let i: u32 = 0; i < partCount; i++) {
    const p = part(i);
    if (p.blocks == 0 || p.start < first || p.start > last || p.blocks - 1 > last - p.start) {
      fail("partition "); sayDec(<u64>p.number); say(" (blocks "); sayDec(p.start); say("+"); sayDec(p.blocks);
      say(") is empty or outside blocks "); sayDec(first); say(".."); sayDec(last);
      return false;
    }
    for (let k: u32 = 0; k < i; k++) {
      const q = part(k);
      if (p.start < q.start + q.blocks && q.start < p.start + p.blocks) {
        fail("partitions "); sayDec(<u64>q.number); say(" and "); sayDec(<u64>p.number); say(" overlap");
        return false;
      }
    }
  }
  return true;
}
