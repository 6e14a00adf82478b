// The MBR partition table (the PC's, as UEFI 2.10 section 5.2.1 describes it): block 0 ends in the
// signature 55h AAh (byte 510) and holds four 16-byte entries from byte 446. An entry of type EEh
// is a protective MBR: the disk is GPT (gpt.ts). An extended partition (type 05h, 0Fh or 85h)
// holds a chain of extended boot records, each in the first block of its piece: entry 0 a logical
// partition (its start relative to that EBR), entry 1 the next EBR (relative to the extended
// partition's start). Primaries are numbered 1..4 by entry, logical partitions from 5 in chain
// order, as Linux does; the extended partition itself is not listed (it only holds the others).
import { FS_SCHEME_MBR } from "../common/fs-abi";
import { readBytes, nsBlocks, blockShift } from "./disk";
import { fail, say, sayDec } from "./reply";
import { addPart, checkLayout, partCount } from "./table";

const SECTOR_BYTES: u32 = 512;             // what is read of block 0 and of each EBR
const SIGNATURE_OFFSET: u32 = 510;
const SIGNATURE: u32 = 0xaa55;             // bytes 55h AAh, little-endian
const ENTRIES_OFFSET: u32 = 446;
const ENTRY_BYTES: u32 = 16;
const ENTRY_BOOT: u32 = 0;                 // 00h or 80h (active)
const ENTRY_TYPE: u32 = 4;
const ENTRY_START: u32 = 8;                // u32 first block
const ENTRY_BLOCKS: u32 = 12;              // u32 block count
const BOOT_ACTIVE: u32 = 0x80;
const TYPE_EMPTY: u32 = 0;
const TYPE_EXTENDED_CHS: u32 = 0x05;
const TYPE_EXTENDED_LBA: u32 = 0x0f;
const TYPE_EXTENDED_LINUX: u32 = 0x85;
export const TYPE_GPT_PROTECTIVE: u32 = 0xee;
const PRIMARIES: u32 = 4;
const FIRST_LOGICAL: u32 = 5;
const LOGICAL_MAX: u32 = 64;               // EBRs followed, at most: a longer chain is refused as a loop

const sector: usize = memory.data(<i32>SECTOR_BYTES, 8);
const seenEbr: usize = memory.data(<i32>(LOGICAL_MAX * 8), 8);

function entry(i: u32, field: u32): usize { return sector + <usize>(ENTRIES_OFFSET + i * ENTRY_BYTES + field); }
function entryType(i: u32): u32 { return <u32>load<u8>(entry(i, ENTRY_TYPE)); }
function isExtended(type: u32): bool {
  return type == TYPE_EXTENDED_CHS || type == TYPE_EXTENDED_LBA || type == TYPE_EXTENDED_LINUX;
}

// Reads the 512-byte record at `block` into `sector`; false (said) if it has no signature.
function readRecord(block: u64, isMbr: bool): bool {
  if (!readBytes(block << blockShift, sector, SECTOR_BYTES)) return false;
  if (<u32>load<u16>(sector + <usize>SIGNATURE_OFFSET) != SIGNATURE) {
    fail("no partition table: no 55AA signature in the "); say(isMbr ? "MBR at block " : "EBR at block "); sayDec(block);
    return false;
  }
  return true;
}

// 1: block 0 is a protective MBR (the caller reads the GPT); 0: the MBR's partitions are in the
// table; -1: failed (said).
export function scanMbr(): i32 {
  if (!readRecord(0, true)) return -1;
  for (let i: u32 = 0; i < PRIMARIES; i++) if (entryType(i) == TYPE_GPT_PROTECTIVE) return 1;
  let extStart: u64 = 0;
  let extBlocks: u64 = 0;
  for (let i: u32 = 0; i < PRIMARIES; i++) {
    const type = entryType(i);
    if (type == TYPE_EMPTY) continue;
    const boot = <u32>load<u8>(entry(i, ENTRY_BOOT));
    if (boot != 0 && boot != BOOT_ACTIVE) { fail("MBR entry "); sayDec(<u64>(i + 1)); say(": boot indicator is neither 00h nor 80h: not a partition table"); return -1; }
    const start = <u64>load<u32>(entry(i, ENTRY_START));
    const blocks = <u64>load<u32>(entry(i, ENTRY_BLOCKS));
    if (isExtended(type)) {
      if (extBlocks != 0) { fail("two extended partitions"); return -1; }
      if (blocks == 0 || start == 0 || start >= nsBlocks || blocks > nsBlocks - start) { fail("the extended partition lies outside the disk"); return -1; }
      extStart = start; extBlocks = blocks;
      continue;
    }
    const p = addPart(i + 1, FS_SCHEME_MBR, start, blocks);
    if (p == null) return -1;
    p.mbrType = type;
  }
  if (extBlocks != 0 && !scanLogical(extStart, extBlocks)) return -1;
  if (partCount == 0 && extBlocks == 0 && looksLikeFatBootSector()) {
    fail("no partition table: block 0 is a FAT boot sector (a filesystem without a table: name the namespace itself)");
    return -1;
  }
  return checkLayout(1, nsBlocks - 1) ? 0 : -1;
}

// No entry, and a boot jump (EBh or E9h) with a power-of-two sector size from 512 to 4096 at
// byte 11: a FAT volume's first sector, as Linux's MBR reader also tells it apart.
function looksLikeFatBootSector(): bool {
  const jmp = <u32>load<u8>(sector);
  const bps = <u32>load<u16>(sector + 11);
  return (jmp == 0xeb || jmp == 0xe9) && bps >= 512 && bps <= 4096 && (bps & (bps - 1)) == 0;
}

// Follows the EBR chain of the extended partition at [extStart, extStart + extBlocks).
function scanLogical(extStart: u64, extBlocks: u64): bool {
  let ebr = extStart;
  for (let k: u32 = 0; k < LOGICAL_MAX; k++) {
    for (let s: u32 = 0; s < k; s++) {
      if (load<u64>(seenEbr + <usize>(s * 8)) == ebr) { fail("the extended partition's EBR chain loops back to block "); sayDec(ebr); return false; }
    }
    store<u64>(seenEbr + <usize>(k * 8), ebr);
    if (!readRecord(ebr, false)) return false;
    const type = entryType(0);
    if (type != TYPE_EMPTY) {
      const start = ebr + <u64>load<u32>(entry(0, ENTRY_START));
      const blocks = <u64>load<u32>(entry(0, ENTRY_BLOCKS));
      if (start < extStart || blocks == 0 || start - extStart >= extBlocks || blocks > extBlocks - (start - extStart)) {
        fail("logical partition "); sayDec(<u64>(FIRST_LOGICAL + k)); say(" lies outside the extended partition"); return false;
      }
      const p = addPart(FIRST_LOGICAL + k, FS_SCHEME_MBR, start, blocks);
      if (p == null) return false;
      p.mbrType = type;
    }
    const nextType = entryType(1);
    const nextRel = <u64>load<u32>(entry(1, ENTRY_START));
    if (nextType == TYPE_EMPTY) return true;
    if (!isExtended(nextType)) { fail("EBR at block "); sayDec(ebr); say(": its link entry is not an extended partition"); return false; }
    if (nextRel >= extBlocks) { fail("EBR at block "); sayDec(ebr); say(": the next EBR lies outside the extended partition"); return false; }
    ebr = extStart + nextRel;
  }
  return fail("the extended partition's EBR chain is longer than 64 links");
}
