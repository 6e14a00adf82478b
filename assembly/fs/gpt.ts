// The GUID Partition Table (UEFI 2.10 section 5.3): a header at block 1 (the primary) and a copy at
// the disk's last block (the backup), each naming an array of partition entries; the header's
// CRC-32 covers its HeaderSize bytes with the CRC field as zero, and the array's CRC-32 is in the
// header. A primary that fails a check is replaced by the backup, and the scan's note says so.
// Partitions are numbered by entry index + 1, empty entries (type GUID zero) skipped, as Linux does.
import { FS_SCHEME_GPT } from "../common/fs-abi";
import { readBytes, nsBlocks, blockShift } from "./disk";
import { fail, failed, say, sayDec, sayBytes, outbox, replyBegin, textBytesSaid } from "./reply";
import { FSR_TEXT } from "../common/fs-abi";
import { crc32Update } from "./crc32";
import { addPart, checkLayout, labelOf, partCount, tableClear, LABEL_BYTES_MAX } from "./table";
import { utf16ToUtf8 } from "./utf16";

const HEADER_BYTES_MIN: u32 = 92;          // section 5.3.2, table 5.5: the fields defined
const HEADER_READ_BYTES: u32 = 512;
const SIGNATURE_LOW: u32 = 0x20494645;     // "EFI "
const SIGNATURE_HIGH: u32 = 0x54524150;    // "PART"
const REVISION_1_0: u32 = 0x00010000;
const H_SIGNATURE: u32 = 0;
const H_REVISION: u32 = 8;
const H_HEADER_SIZE: u32 = 12;
const H_HEADER_CRC: u32 = 16;
const H_MY_LBA: u32 = 24;
const H_FIRST_USABLE: u32 = 40;
const H_LAST_USABLE: u32 = 48;
const H_ENTRIES_LBA: u32 = 72;
const H_ENTRIES: u32 = 80;
const H_ENTRY_SIZE: u32 = 84;
const H_ENTRIES_CRC: u32 = 88;
const ENTRY_BYTES_MIN: u32 = 128;
const ENTRY_BYTES_MAX: u32 = 4096;         // 128 x 2^n (section 5.3.2); larger ones are refused
const ENTRIES_MAX: u32 = 1024;             // entries read, at most (sgdisk makes 128)
const E_TYPE: u32 = 0;
const E_FIRST: u32 = 32;
const E_LAST: u32 = 40;
const E_NAME: u32 = 56;
const NAME_UNITS: u32 = 36;
const WHY_BYTES_MAX: u32 = 200;

const header: usize = memory.data(<i32>HEADER_READ_BYTES, 8);
const entry: usize = memory.data(<i32>ENTRY_BYTES_MAX, 8);

function h32(field: u32): u32 { return load<u32>(header + <usize>field); }
function h64(field: u32): u64 { return load<u64>(header + <usize>field); }

// Reads and checks the header at `block`; false (said) when a check fails.
function readHeader(block: u64): bool {
  if (!readBytes(block << blockShift, header, HEADER_READ_BYTES)) return false;
  if (h32(H_SIGNATURE) != SIGNATURE_LOW || h32(H_SIGNATURE + 4) != SIGNATURE_HIGH) return fail("no \"EFI PART\" signature");
  if (h32(H_REVISION) != REVISION_1_0) return fail("revision is not 1.0");
  const size = h32(H_HEADER_SIZE);
  if (size < HEADER_BYTES_MIN || size > HEADER_READ_BYTES || size > (<u32>1 << blockShift)) return fail("header size out of range");
  const stored = h32(H_HEADER_CRC);
  store<u32>(header + <usize>H_HEADER_CRC, 0);
  const crc = crc32Update(0, header, size);
  store<u32>(header + <usize>H_HEADER_CRC, stored);
  if (crc != stored) return fail("header CRC-32 does not match");
  if (h64(H_MY_LBA) != block) return fail("MyLBA is not the block it is in");
  const first = h64(H_FIRST_USABLE);
  const last = h64(H_LAST_USABLE);
  if (first > last || last >= nsBlocks) return fail("usable blocks outside the disk");
  const entrySize = h32(H_ENTRY_SIZE);
  if (entrySize < ENTRY_BYTES_MIN || entrySize > ENTRY_BYTES_MAX || (entrySize & (entrySize - 1)) != 0) return fail("entry size is not 128 x 2^n (up to 4096)");
  const entries = h32(H_ENTRIES);
  if (entries > ENTRIES_MAX) return fail("more than 1024 entries");
  const arrayBlocks = ((<u64>entries * <u64>entrySize) + (<u64>1 << blockShift) - 1) >> blockShift;
  const at = h64(H_ENTRIES_LBA);
  if (at < 2 || at >= nsBlocks || arrayBlocks > nsBlocks - at) return fail("the entry array lies outside the disk");
  return true;
}

// The entry array's CRC-32 against the header's; false (said) when they differ.
function checkEntries(): bool {
  const entrySize = h32(H_ENTRY_SIZE);
  const base = h64(H_ENTRIES_LBA) << blockShift;
  let crc: u32 = 0;
  for (let i: u32 = 0; i < h32(H_ENTRIES); i++) {
    if (!readBytes(base + <u64>i * <u64>entrySize, entry, entrySize)) return false;
    crc = crc32Update(crc, entry, entrySize);
  }
  if (crc != h32(H_ENTRIES_CRC)) return fail("partition entry array CRC-32 does not match");
  return true;
}

// The non-empty entries as partitions, in entry order.
function takeEntries(): bool {
  const entrySize = h32(H_ENTRY_SIZE);
  const base = h64(H_ENTRIES_LBA) << blockShift;
  for (let i: u32 = 0; i < h32(H_ENTRIES); i++) {
    if (!readBytes(base + <u64>i * <u64>entrySize, entry, entrySize)) return false;
    const guid0 = load<u64>(entry + <usize>E_TYPE);
    const guid1 = load<u64>(entry + <usize>(E_TYPE + 8));
    if (guid0 == 0 && guid1 == 0) continue;
    const first = load<u64>(entry + <usize>E_FIRST);
    const last = load<u64>(entry + <usize>E_LAST);
    if (last < first) { fail("entry "); sayDec(<u64>(i + 1)); say(": its last block is before its first"); return false; }
    const p = addPart(i + 1, FS_SCHEME_GPT, first, last - first + 1);
    if (p == null) return false;
    p.guid0 = guid0; p.guid1 = guid1;
    p.labelBytes = utf16ToUtf8(entry + <usize>E_NAME, NAME_UNITS, labelOf(partCount - 1), LABEL_BYTES_MAX);
  }
  return checkLayout(h64(H_FIRST_USABLE), h64(H_LAST_USABLE));
}

// One header (primary or backup) and its entries; false (said) when anything fails.
function scanCopy(block: u64): bool {
  return readHeader(block) && checkEntries() && takeEntries();
}

// Why the primary was not used, when the backup was: the scan's note.
const why: usize = memory.data(<i32>WHY_BYTES_MAX);
let whyBytes: u32 = 0;
const other: usize = memory.data(<i32>WHY_BYTES_MAX);
export let usedBackup = false;
export let backupBlock: u64 = 0;
export function whyPrimary(): usize { return why; }
export function whyPrimaryBytes(): u32 { return whyBytes; }

// Reads the GPT: the primary, else the backup at the last block (usedBackup, and why the primary
// was not used in whyPrimary); false (said, for both copies) when neither is usable.
export function scanGpt(): bool {
  usedBackup = false;
  whyBytes = 0;
  if (scanCopy(1)) return true;
  if (!failed) return false;
  whyBytes = saved(why);
  tableClear();
  replyBegin();
  backupBlock = nsBlocks - 1;
  if (scanCopy(backupBlock)) { usedBackup = true; return true; }
  const otherBytes = saved(other);
  replyBegin();
  fail("GPT unusable: primary header: "); sayBytes(why, whyBytes);
  say("; backup header: "); sayBytes(other, otherBytes);
  return false;
}

// Copies the failure text said so far to `dst` (at most WHY_BYTES_MAX bytes); returns its length.
function saved(dst: usize): u32 {
  const n = textBytesSaid() < WHY_BYTES_MAX ? textBytesSaid() : WHY_BYTES_MAX;
  memory.copy(dst, outbox + <usize>FSR_TEXT, <usize>n);
  return n;
}
