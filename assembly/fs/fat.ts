// A FAT volume (Microsoft's FAT specification, "FAT: General Overview of On-Disk Format" 1.03):
// the BPB in its first sector checked strictly, the type found from the cluster count as the
// specification says (below 4085 FAT12, below 65525 FAT16, else FAT32), and the FAT's entries read
// with every value classified: a next cluster, the end of a chain, or a failure (free, bad, or a
// number past the last cluster). Read-only: nothing is ever written.
import { readBytes, windowBytes } from "./disk";
import { fail, say, sayDec } from "./reply";

// BPB fields (section 3.1 and 3.3), byte offsets in sector 0.
const BS_JMP_BOOT: u32 = 0;
const BPB_BYTES_PER_SEC: u32 = 11;   // u16
const BPB_SEC_PER_CLUS: u32 = 13;    // u8
const BPB_RSVD_SEC_CNT: u32 = 14;    // u16
const BPB_NUM_FATS: u32 = 16;        // u8
const BPB_ROOT_ENT_CNT: u32 = 17;    // u16
const BPB_TOT_SEC16: u32 = 19;       // u16
const BPB_FAT_SZ16: u32 = 22;        // u16
const BPB_TOT_SEC32: u32 = 32;       // u32
const BPB_FAT_SZ32: u32 = 36;        // u32 (FAT32)
const BPB_EXT_FLAGS: u32 = 40;       // u16 (FAT32): bit 7 set = only FAT bits 3:0 is active
const BPB_ROOT_CLUS: u32 = 44;       // u32 (FAT32)
const SIGNATURE_OFFSET: u32 = 510;
const SIGNATURE: u32 = 0xaa55;
const JMP_SHORT: u32 = 0xeb;
const JMP_NEAR: u32 = 0xe9;
const EXT_FLAGS_ONE_FAT: u32 = 0x80;
const EXT_FLAGS_ACTIVE_MASK: u32 = 0x0f;
const SECTOR_READ_BYTES: u32 = 512;
const BYTES_PER_SEC_MIN: u32 = 512;
const BYTES_PER_SEC_MAX: u32 = 4096;
const SEC_PER_CLUS_MAX: u32 = 128;
const NUM_FATS_MAX: u32 = 2;
const DIR_ENTRY_BYTES: u32 = 32;
// Section 3.5: the cluster counts that decide the type.
const FAT12_CLUSTERS_MAX: u32 = 4084;
const FAT16_CLUSTERS_MAX: u32 = 65524;
const FAT32_CLUSTERS_MAX: u32 = 0x0ffffff5;   // cluster numbers up to 0x0FFFFFF6 exclusive
export const FIRST_CLUSTER: u32 = 2;
// Entry values (section 4): bad cluster and the smallest end-of-chain mark, per type.
const FAT12_BAD: u32 = 0xff7;
const FAT16_BAD: u32 = 0xfff7;
const FAT32_BAD: u32 = 0x0ffffff7;
const FAT32_ENTRY_MASK: u32 = 0x0fffffff;     // the top 4 bits are reserved

export const FAT12: u32 = 12;
export const FAT16: u32 = 16;
export const FAT32: u32 = 32;

const bpb: usize = memory.data(<i32>SECTOR_READ_BYTES, 8);
const entryBytes: usize = memory.data(8, 8);
export let fatType: u32 = 0;
export let clusterCount: u32 = 0;     // data clusters: numbers 2 .. clusterCount + 1
export let clusterBytes: u32 = 0;
export let rootCluster: u32 = 0;      // FAT32; 0 for FAT12/16, whose root is a fixed region
export let rootStart: u64 = 0;        // FAT12/16: the root directory's first byte
export let rootEntries: u32 = 0;      // FAT12/16: its entries
let fatStart: u64 = 0;                // the FAT in use, its first byte
let dataStart: u64 = 0;

function u8At(field: u32): u32 { return <u32>load<u8>(bpb + <usize>field); }
function u16At(field: u32): u32 { return <u32>load<u16>(bpb + <usize>field); }
function u32At(field: u32): u32 { return load<u32>(bpb + <usize>field); }
function isPowerOfTwo(v: u32): bool { return v != 0 && (v & (v - 1)) == 0; }

// Reads and checks the BPB of the window (a partition); false (said) when it is not a FAT volume
// this module can read safely.
export function mount(): bool {
  fatType = 0;
  if (windowBytes() < <u64>SECTOR_READ_BYTES) return fail("not a FAT filesystem: smaller than one sector");
  if (!readBytes(0, bpb, SECTOR_READ_BYTES)) return false;
  const jmp = u8At(BS_JMP_BOOT);
  if ((jmp != JMP_SHORT && jmp != JMP_NEAR) || u16At(SIGNATURE_OFFSET) != SIGNATURE) {
    return fail("not a FAT filesystem: no boot jump or no 55AA signature in its first sector");
  }
  const bps = u16At(BPB_BYTES_PER_SEC);
  if (bps < BYTES_PER_SEC_MIN || bps > BYTES_PER_SEC_MAX || !isPowerOfTwo(bps)) { fail("bad BPB: bytes per sector "); sayDec(<u64>bps); return false; }
  const spc = u8At(BPB_SEC_PER_CLUS);
  if (spc > SEC_PER_CLUS_MAX || !isPowerOfTwo(spc)) { fail("bad BPB: sectors per cluster "); sayDec(<u64>spc); return false; }
  const reserved = u16At(BPB_RSVD_SEC_CNT);
  if (reserved == 0) return fail("bad BPB: no reserved sectors");
  const fats = u8At(BPB_NUM_FATS);
  if (fats == 0 || fats > NUM_FATS_MAX) { fail("bad BPB: FAT count "); sayDec(<u64>fats); return false; }
  const total = u16At(BPB_TOT_SEC16) != 0 ? u16At(BPB_TOT_SEC16) : u32At(BPB_TOT_SEC32);
  if (total == 0 || <u64>total * <u64>bps > windowBytes()) return fail("bad BPB: the volume is larger than its partition (or empty)");
  const fatSectors = u16At(BPB_FAT_SZ16) != 0 ? u16At(BPB_FAT_SZ16) : u32At(BPB_FAT_SZ32);
  if (fatSectors == 0) return fail("bad BPB: FAT size 0");
  const rootEntCnt = u16At(BPB_ROOT_ENT_CNT);
  const rootSectors = (rootEntCnt * DIR_ENTRY_BYTES + bps - 1) / bps;
  const meta = <u64>reserved + <u64>fats * <u64>fatSectors + <u64>rootSectors;
  if (meta >= <u64>total) return fail("bad BPB: no room for data after the FATs and the root directory");
  const clusters = <u32>((<u64>total - meta) / <u64>spc);
  if (clusters == 0) return fail("bad BPB: no data cluster");
  return layout(bps, spc, reserved, fats, fatSectors, rootEntCnt, rootSectors, clusters);
}

// The type and where things are, from checked BPB values; the type-specific checks.
function layout(bps: u32, spc: u32, reserved: u32, fats: u32, fatSectors: u32, rootEntCnt: u32, rootSectors: u32, clusters: u32): bool {
  fatType = clusters <= FAT12_CLUSTERS_MAX ? FAT12 : clusters <= FAT16_CLUSTERS_MAX ? FAT16 : FAT32;
  if (fatType == FAT32 && clusters > FAT32_CLUSTERS_MAX) return fail("bad BPB: too many clusters");
  const entriesBytes = fatType == FAT12 ? (<u64>(clusters + 2) * 3 + 1) / 2 : <u64>(clusters + 2) * <u64>(fatType / 8);
  if (entriesBytes > <u64>fatSectors * <u64>bps) return fail("bad BPB: the FAT is too small for the clusters");
  let activeFat: u32 = 0;
  if (fatType == FAT32) {
    if (rootEntCnt != 0 || u16At(BPB_FAT_SZ16) != 0) return fail("bad BPB: FAT32 with a fixed root directory");
    rootCluster = u32At(BPB_ROOT_CLUS);
    if (rootCluster < FIRST_CLUSTER || rootCluster > clusters + 1) { fail("bad BPB: root cluster "); sayDec(<u64>rootCluster); return false; }
    const flags = u16At(BPB_EXT_FLAGS);
    if ((flags & EXT_FLAGS_ONE_FAT) != 0) activeFat = flags & EXT_FLAGS_ACTIVE_MASK;
    if (activeFat >= fats) return fail("bad BPB: the active FAT does not exist");
  } else {
    if (rootEntCnt == 0) return fail("bad BPB: FAT12/16 without root directory entries");
    rootCluster = 0;
  }
  clusterCount = clusters;
  clusterBytes = bps * spc;
  fatStart = (<u64>reserved + <u64>activeFat * <u64>fatSectors) * <u64>bps;
  rootStart = (<u64>reserved + <u64>fats * <u64>fatSectors) * <u64>bps;
  rootEntries = rootEntCnt;
  dataStart = rootStart + <u64>rootSectors * <u64>bps;
  return true;
}

export function clusterByte(cluster: u32): u64 {
  assert(cluster >= FIRST_CLUSTER && cluster <= clusterCount + 1, "cluster outside the volume");
  return dataStart + <u64>(cluster - FIRST_CLUSTER) * <u64>clusterBytes;
}

export function validCluster(cluster: u32): bool {
  return cluster >= FIRST_CLUSTER && cluster <= clusterCount + 1;
}

// The FAT's entry for `cluster` (a valid one), raw; 0xffffffff when the read failed (said).
function entry(cluster: u32): u32 {
  if (fatType == FAT12) {
    if (!readBytes(fatStart + <u64>(cluster + cluster / 2), entryBytes, 2)) return 0xffffffff;
    const v = <u32>load<u16>(entryBytes);
    return (cluster & 1) != 0 ? v >> 4 : v & 0xfff;
  }
  if (fatType == FAT16) {
    if (!readBytes(fatStart + <u64>cluster * 2, entryBytes, 2)) return 0xffffffff;
    return <u32>load<u16>(entryBytes);
  }
  if (!readBytes(fatStart + <u64>cluster * 4, entryBytes, 4)) return 0xffffffff;
  return load<u32>(entryBytes) & FAT32_ENTRY_MASK;
}

export const CHAIN_END: i64 = 0;     // next(): the chain ends here
export const CHAIN_FAILED: i64 = -1; // next(): said why

// The cluster after `cluster` in its chain, CHAIN_END, or CHAIN_FAILED (said: a free or bad
// cluster in the chain, or a number past the last cluster).
export function next(cluster: u32): i64 {
  assert(validCluster(cluster), "next() of a cluster outside the volume");
  const v = entry(cluster);
  if (v == 0xffffffff) return CHAIN_FAILED;
  const bad = fatType == FAT12 ? FAT12_BAD : fatType == FAT16 ? FAT16_BAD : FAT32_BAD;
  if (v > bad) return CHAIN_END;
  if (v == bad) { fail("cluster "); sayDec(<u64>cluster); say(" leads to a cluster marked bad"); return CHAIN_FAILED; }
  if (v == 0) { fail("cluster "); sayDec(<u64>cluster); say(" leads to a free cluster"); return CHAIN_FAILED; }
  if (!validCluster(v)) { fail("cluster "); sayDec(<u64>cluster); say(" leads to cluster "); sayDec(<u64>v); say(", past the end of the volume"); return CHAIN_FAILED; }
  return <i64>v;
}
