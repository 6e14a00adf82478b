// Directories of a mounted FAT volume (fat.ts), entry by entry (FAT specification section 6):
// 32-byte entries, the first name byte 00h ending the directory and E5h marking a deleted entry,
// long-name entries (section 7: attribute 0Fh, sequence numbers from 0x40|N down to 1, each with
// the short name's checksum) before the short entry they name. A long name whose sequence or
// checksum does not hold is dropped and the 8.3 name used, as Windows does. Every walk is bounded:
// a directory has at most DIR_ENTRIES_MAX entries, and its chain is followed through next().
import { readBytes } from "./disk";
import { fail, sayDec, say } from "./reply";
import { fatType, FAT32, clusterBytes, clusterByte, clusterCount, next, rootCluster, rootStart, rootEntries, validCluster, CHAIN_END, CHAIN_FAILED } from "./fat";
import { utf16ToUtf8 } from "./utf16";

const ENTRY_BYTES: u32 = 32;
const DIR_ENTRIES_MAX: u32 = 65536;         // section 6: a directory holds at most 65,536 entries
const D_NAME: u32 = 0;                      // 11 bytes: 8 name, 3 extension, space-padded
const D_ATTR: u32 = 11;
const D_NT_RES: u32 = 12;                   // bit 3: base in lower case, bit 4: extension (Windows NT, mtools)
const D_FST_CLUS_HI: u32 = 20;
const D_FST_CLUS_LO: u32 = 26;
const D_FILE_SIZE: u32 = 28;
const NAME_END: u32 = 0x00;
const NAME_DELETED: u32 = 0xe5;
const NAME_KANJI_E5: u32 = 0x05;            // a first byte of E5h stored as 05h
const ATTR_VOLUME_ID: u32 = 0x08;
const ATTR_DIRECTORY: u32 = 0x10;
const ATTR_LONG_NAME: u32 = 0x0f;
const ATTR_LONG_NAME_MASK: u32 = 0x3f;
const NT_LOWER_BASE: u32 = 0x08;
const NT_LOWER_EXT: u32 = 0x10;
const L_ORD: u32 = 0;
const L_NAME1: u32 = 1;                     // 5 units
const L_TYPE: u32 = 12;
const L_CHKSUM: u32 = 13;
const L_NAME2: u32 = 14;                    // 6 units
const L_FST_CLUS_LO: u32 = 26;
const L_NAME3: u32 = 28;                    // 2 units
const LAST_LONG_ENTRY: u32 = 0x40;
const ORD_MASK: u32 = 0x1f;
const LONG_ENTRIES_MAX: u32 = 20;           // 255 characters, 13 an entry
const UNITS_PER_ENTRY: u32 = 13;
const CHAR_SPACE: u32 = 0x20;
const CHAR_DOT: u32 = 0x2e;
const CHAR_QUESTION: u32 = 0x3f;
export const NAME_BYTES_MAX: u32 = 800;     // 260 UTF-16 units as UTF-8, at most 3 bytes each

const raw: usize = memory.data(<i32>ENTRY_BYTES, 8);
const units: usize = memory.data(<i32>(LONG_ENTRIES_MAX * UNITS_PER_ENTRY * 2 + 2), 8);
export const longName: usize = memory.data(<i32>NAME_BYTES_MAX);
export let longNameBytes: u32 = 0;          // 0: no valid long name for this entry
export const shortName: usize = memory.data(16);
export let shortNameBytes: u32 = 0;
export let entryIsDir = false;
export let entryCluster: u32 = 0;
export let entrySize: u32 = 0;
export let entryIsDot = false;              // "." or "..": present in subdirectories, never listed

// The iterator: a fixed root region (FAT12/16) or a chain of clusters.
let fixed = false;
let cluster: u32 = 0;
let inCluster: u32 = 0;    // entries read of the current cluster
let seen: u32 = 0;         // entries read of the directory
let ended = false;
let lfnCount: u32 = 0;     // entries of the long name being gathered (0: none)
let lfnExpect: u32 = 0;    // the sequence number the next long entry must have
let lfnChecksum: u32 = 0;

// Opens the directory whose first cluster is `first`; 0 is the root.
export function dirOpen(first: u32): bool {
  fixed = first == 0 && fatType != FAT32;
  cluster = first == 0 && fatType == FAT32 ? rootCluster : first;
  if (!fixed && !validCluster(cluster)) { fail("a directory starts at cluster "); sayDec(<u64>cluster); say(", outside the volume"); return false; }
  if (!fixed && !checkDirChain(cluster)) return false;
  inCluster = 0;
  seen = 0;
  ended = false;
  lfnCount = 0;
  return true;
}

// A directory's chain, walked once before any entry is read: it must end within the volume's
// cluster count and a directory's 65,536 entries, so a cycle is met before a name is listed twice.
function checkDirChain(first: u32): bool {
  const perCluster = clusterBytes / ENTRY_BYTES;
  const limit = (DIR_ENTRIES_MAX + perCluster - 1) / perCluster;
  let c = first;
  for (let k: u32 = 1; k <= limit && k <= clusterCount; k++) {
    const n = next(c);
    if (n == CHAIN_FAILED) return false;
    if (n == CHAIN_END) return true;
    c = <u32>n;
  }
  fail("a directory's cluster chain does not end within "); sayDec(<u64>limit); say(" clusters (a cycle?)");
  return false;
}

// Reads the next raw entry into `raw`: 1, 0 at the directory's end, -1 failed (said).
function nextRaw(): i32 {
  if (ended) return 0;
  if (fixed) {
    if (seen == rootEntries) return 0;
    if (!readBytes(rootStart + <u64>seen * ENTRY_BYTES, raw, ENTRY_BYTES)) return -1;
    seen++;
    return 1;
  }
  if (seen == DIR_ENTRIES_MAX) { fail("a directory longer than 65536 entries (a cycle in its FAT chain?)"); return -1; }
  if (inCluster == clusterBytes / ENTRY_BYTES) {
    const n = next(cluster);
    if (n == CHAIN_FAILED) return -1;
    if (n == CHAIN_END) { ended = true; return 0; }
    cluster = <u32>n;
    inCluster = 0;
  }
  if (!readBytes(clusterByte(cluster) + <u64>inCluster * ENTRY_BYTES, raw, ENTRY_BYTES)) return -1;
  inCluster++;
  seen++;
  return 1;
}

function rawByte(i: u32): u32 { return <u32>load<u8>(raw + <usize>i); }

// Section 7.2: the checksum of the 11-byte short name that long entries carry.
function shortChecksum(): u32 {
  let sum: u32 = 0;
  for (let i: u32 = 0; i < 11; i++) sum = ((((sum & 1) << 7) | (sum >> 1)) + rawByte(D_NAME + i)) & 0xff;
  return sum;
}

// Takes a long-name entry into the name being gathered, or drops the gathering when out of order.
function takeLong(): void {
  const ord = rawByte(L_ORD);
  const seq = ord & ORD_MASK;
  const chk = rawByte(L_CHKSUM);
  const sane = seq >= 1 && seq <= LONG_ENTRIES_MAX && rawByte(L_TYPE) == 0 && load<u16>(raw + <usize>L_FST_CLUS_LO) == 0;
  if ((ord & LAST_LONG_ENTRY) != 0 && sane) {
    lfnCount = seq; lfnExpect = seq; lfnChecksum = chk;
    store<u16>(units + <usize>(seq * UNITS_PER_ENTRY * 2), 0);   // ends a name that fills its last entry
  } else if (!sane || lfnCount == 0 || seq != lfnExpect || chk != lfnChecksum) {
    lfnCount = 0;
    return;
  }
  const at = units + <usize>((seq - 1) * UNITS_PER_ENTRY * 2);
  memory.copy(at, raw + <usize>L_NAME1, 10);
  memory.copy(at + 10, raw + <usize>L_NAME2, 12);
  memory.copy(at + 22, raw + <usize>L_NAME3, 4);
  lfnExpect = seq - 1;
}

// The 8.3 name of the short entry in `raw`, with the case bits, as UTF-8 ('?' for bytes above 7Fh).
function takeShort(): void {
  const lowerBase = (rawByte(D_NT_RES) & NT_LOWER_BASE) != 0;
  const lowerExt = (rawByte(D_NT_RES) & NT_LOWER_EXT) != 0;
  let n: u32 = 0;
  let baseEnd: u32 = 8;
  while (baseEnd > 0 && rawByte(D_NAME + baseEnd - 1) == CHAR_SPACE) baseEnd--;
  let extEnd: u32 = 11;
  while (extEnd > 8 && rawByte(D_NAME + extEnd - 1) == CHAR_SPACE) extEnd--;
  for (let i: u32 = 0; i < extEnd; i++) {
    if (i >= baseEnd && i < 8) continue;
    if (i == 8) { store<u8>(shortName + <usize>n, <u8>CHAR_DOT); n++; }
    let c = rawByte(D_NAME + i);
    if (i == 0 && c == NAME_KANJI_E5) c = NAME_DELETED;
    if (c >= 0x80 || c < 0x20) c = CHAR_QUESTION;
    if (c >= 0x41 && c <= 0x5a && (i < 8 ? lowerBase : lowerExt)) c += 0x20;
    store<u8>(shortName + <usize>n, <u8>c);
    n++;
  }
  shortNameBytes = n;
}

// The next entry of the directory, names and fields set: 1, 0 at its end, -1 failed (said).
// Deleted entries, volume labels and long-name entries are read through, not returned.
export function dirNext(): i32 {
  for (let turns: u32 = 0; turns <= DIR_ENTRIES_MAX; turns++) {
    const r = nextRaw();
    if (r <= 0) return r;
    const first = rawByte(D_NAME);
    if (first == NAME_END) { ended = true; return 0; }
    const attr = rawByte(D_ATTR);
    if (first == NAME_DELETED) { lfnCount = 0; continue; }
    if ((attr & ATTR_LONG_NAME_MASK) == ATTR_LONG_NAME) { takeLong(); continue; }
    if ((attr & ATTR_VOLUME_ID) != 0) { lfnCount = 0; continue; }
    takeShort();
    longNameBytes = 0;
    if (lfnCount != 0 && lfnExpect == 0 && lfnChecksum == shortChecksum()) {
      longNameBytes = utf16ToUtf8(units, lfnCount * UNITS_PER_ENTRY, longName, NAME_BYTES_MAX);
    }
    lfnCount = 0;
    entryIsDir = (attr & ATTR_DIRECTORY) != 0;
    const hi = fatType == FAT32 ? <u32>load<u16>(raw + <usize>D_FST_CLUS_HI) << 16 : 0;
    entryCluster = hi | <u32>load<u16>(raw + <usize>D_FST_CLUS_LO);
    entrySize = load<u32>(raw + <usize>D_FILE_SIZE);
    entryIsDot = first == CHAR_DOT && (shortNameBytes == 1 || (shortNameBytes == 2 && rawByte(D_NAME + 1) == CHAR_DOT));
    return 1;
  }
  fail("a directory walk did not end");
  return -1;
}

// The entry's name: the long one when valid, else the 8.3 one.
export function nameAt(): usize { return longNameBytes != 0 ? longName : shortName; }
export function nameBytes(): u32 { return longNameBytes != 0 ? longNameBytes : shortNameBytes; }
