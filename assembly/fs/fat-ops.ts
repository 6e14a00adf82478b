// The filesystem requests (docs/fs-interface.md): stat, list, open and read, on the FAT volume of a
// partition (or of a whole namespace, partition 0). Paths are '/'-separated, empty parts ignored,
// names compared without ASCII case as FAT does, against the long name and the 8.3 name alike.
import { FSR_KIND, FSR_TYPE, FSR_START, FS_KIND_FILE, FS_KIND_DIR, FS_STATUS_END, FSR_STATUS, FS_TEXT_BYTES_MAX, FS_PATH_BYTES_MAX } from "../common/fs-abi";
import { useNamespace, cacheClear, readBytes } from "./disk";
import { openPart } from "./partitions";
import { tableClear } from "./table";
import { mount, clusterBytes, clusterByte, next, validCluster, clusterCount, CHAIN_END, CHAIN_FAILED } from "./fat";
import { dirOpen, dirNext, entryIsDir, entryCluster, entrySize, entryIsDot, nameAt, nameBytes, longName, longNameBytes, shortName, shortNameBytes } from "./dir";
import { fail, say, sayDec, set32, set64, textAt, textRoom, textAdvance } from "./reply";

const CHAR_SLASH: u32 = 0x2f;

// What the last lookup found.
let foundDir = true;
let foundCluster: u32 = 0;
let foundSize: u32 = 0;

// The open file (FS_OP_OPEN): its handle is `handle`, valid until any other request.
let handle: u32 = 0;
let openValid = false;
let openFirst: u32 = 0;
let openSize: u32 = 0;
let cursorIndex: u32 = 0;     // the cursor: cluster number `cursorCluster` is the file's cluster cursorIndex
let cursorCluster: u32 = 0;

// Partition `number` of namespace `ns` (0: the whole namespace) mounted; false (said) otherwise.
function mountPart(ns: u32, number: u32): bool {
  openValid = false;
  if (number == 0) {
    tableClear();
    cacheClear();
    if (!useNamespace(ns)) return false;
  } else if (openPart(ns, number) == null) return false;
  return mount();
}

function lowerAscii(c: u32): u32 { return c >= 0x41 && c <= 0x5a ? c + 0x20 : c; }

function sameName(a: usize, aBytes: u32, b: usize, bBytes: u32): bool {
  if (aBytes != bBytes) return false;
  for (let i: u32 = 0; i < aBytes; i++) {
    if (lowerAscii(<u32>load<u8>(a + <usize>i)) != lowerAscii(<u32>load<u8>(b + <usize>i))) return false;
  }
  return true;
}

// Finds `name` in the directory at `dirCluster`; sets found*; false (said) when it is not there.
function findIn(dirCluster: u32, name: usize, bytes: u32): bool {
  if (!dirOpen(dirCluster)) return false;
  for (let turns: u32 = 0; turns <= 65536; turns++) {
    const r = dirNext();
    if (r < 0) return false;
    if (r == 0) return fail("no such file or directory");
    if (!(longNameBytes != 0 && sameName(longName, longNameBytes, name, bytes)) && !sameName(shortName, shortNameBytes, name, bytes)) continue;
    foundDir = entryIsDir;
    foundCluster = entryCluster;
    foundSize = entrySize;
    if (foundDir && foundCluster != 0 && !validCluster(foundCluster)) { fail("directory at cluster "); sayDec(<u64>foundCluster); say(", outside the volume"); return false; }
    return true;
  }
  return fail("a directory walk did not end");
}

// Resolves `path`: found* describe what it names (the root: a directory at cluster 0).
function lookup(path: usize, bytes: u32): bool {
  foundDir = true;
  foundCluster = 0;
  foundSize = 0;
  let start: u32 = 0;
  for (let i: u32 = 0; i <= bytes; i++) {   // bytes <= FS_PATH_BYTES_MAX (main.ts)
    if (i < bytes && <u32>load<u8>(path + <usize>i) != CHAR_SLASH) continue;
    if (i > start) {
      if (!foundDir) return fail("not a directory");
      if (!findIn(foundCluster, path + <usize>start, i - start)) return false;
    }
    start = i + 1;
  }
  return true;
}

export function opStat(ns: u32, number: u32, path: usize, bytes: u32): void {
  if (!mountPart(ns, number) || !lookup(path, bytes)) return;
  set32(FSR_KIND, foundDir ? FS_KIND_DIR : FS_KIND_FILE);
  set64(FSR_START, <u64>foundSize);
}

// The listing in progress: the directory iterator (dir.ts) stands after entry listIndex of the
// directory listPath of (listNs, listPart), as long as listValid (no other request came since).
let listValid = false;
let listNs: u32 = 0;
let listPart: u32 = 0;
let listIndex: u32 = 0;
const listPath: usize = memory.data(<i32>FS_PATH_BYTES_MAX);
let listPathBytes: u32 = 0;

// Any request but a list ends the listing in progress (it may move the iterator or the disk).
export function forgetList(): void { listValid = false; }

function continuesList(ns: u32, number: u32, path: usize, bytes: u32, index: u32): bool {
  return listValid && ns == listNs && number == listPart && index == listIndex + 1 && bytes == listPathBytes &&
    memory.compare(path, listPath, <usize>bytes) == 0;
}

// Entry `index` of the directory `path`, "." and ".." not counted: its name, kind and size. Asked
// for in order (0, 1, 2, …, the shell's ls does), each entry continues from the one before; any other
// index walks the directory from its start.
export function opList(ns: u32, number: u32, path: usize, bytes: u32, index: u32): void {
  let k: u32 = 0;
  if (continuesList(ns, number, path, bytes, index)) k = index;
  else {
    listValid = false;
    if (!mountPart(ns, number) || !lookup(path, bytes)) return;
    if (!foundDir) { fail("not a directory"); return; }
    if (!dirOpen(foundCluster)) return;
  }
  for (let turns: u32 = 0; turns <= 65536; turns++) {
    const r = dirNext();
    if (r < 0) { listValid = false; return; }
    if (r == 0) { listValid = false; set32(FSR_STATUS, FS_STATUS_END); return; }
    if (entryIsDot) continue;
    if (k++ != index) continue;
    listValid = true;
    listNs = ns; listPart = number; listIndex = index; listPathBytes = bytes;
    memory.copy(listPath, path, <usize>bytes);
    set32(FSR_KIND, entryIsDir ? FS_KIND_DIR : FS_KIND_FILE);
    set64(FSR_START, entryIsDir ? 0 : <u64>entrySize);
    const n = nameBytes() < textRoom() ? nameBytes() : textRoom();
    memory.copy(textAt(), nameAt(), <usize>n);
    textAdvance(n);
    return;
  }
  fail("a directory walk did not end");
}

// Opens the file `path`: its chain is walked to the end once, so a read never meets a broken one.
export function opOpen(ns: u32, number: u32, path: usize, bytes: u32): void {
  if (!mountPart(ns, number) || !lookup(path, bytes)) return;
  if (foundDir) { fail("is a directory"); return; }
  if (!checkChain(foundCluster, foundSize)) return;
  handle++;
  openValid = true;
  openFirst = foundCluster;
  openSize = foundSize;
  cursorIndex = 0;
  cursorCluster = foundCluster;
  set32(FSR_KIND, FS_KIND_FILE);
  set32(FSR_TYPE, handle);
  set64(FSR_START, <u64>foundSize);
}

// A file of `size` bytes from cluster `first`: exactly the clusters it needs, then the end of the
// chain. A cycle never reaches the end, so it is found within the file's own cluster count.
function checkChain(first: u32, size: u32): bool {
  const needed = (<u64>size + <u64>clusterBytes - 1) / <u64>clusterBytes;
  if (needed == 0) return true;
  if (needed > <u64>clusterCount) return fail("the file is larger than the volume");
  if (!validCluster(first)) { fail("the file starts at cluster "); sayDec(<u64>first); say(", outside the volume"); return false; }
  let c = first;
  for (let k: u64 = 1; k <= needed; k++) {
    const n = next(c);
    if (n == CHAIN_FAILED) return false;
    if (n == CHAIN_END) {
      if (k == needed) return true;
      fail("the cluster chain ends after "); sayDec(k); say(" of "); sayDec(needed); say(" clusters");
      return false;
    }
    c = <u32>n;
  }
  fail("the cluster chain is longer than the file's "); sayDec(needed); say(" clusters (a cycle?)");
  return false;
}

// Up to `len` bytes from `offset` of the open file `h`.
export function opRead(h: u32, offset: u64, len: u32): void {
  if (!openValid || h != handle) { fail("no such open file (another request closed it)"); return; }
  if (len > FS_TEXT_BYTES_MAX) { fail("a read longer than 8192 bytes"); return; }
  if (offset >= <u64>openSize) return;
  const left = <u64>openSize - offset;
  let n = <u64>len < left ? len : <u32>left;
  let done: u32 = 0;
  for (let turns: u32 = 0; done < n && turns <= n; turns++) {
    const at = offset + <u64>done;
    const index = <u32>(at / <u64>clusterBytes);
    if (index < cursorIndex) { cursorIndex = 0; cursorCluster = openFirst; }
    while (cursorIndex < index) {
      const c = next(cursorCluster);
      if (c <= 0) { if (c == CHAIN_END) fail("the cluster chain changed since the file was opened"); return; }
      cursorCluster = <u32>c;
      cursorIndex++;
    }
    const within = <u32>(at % <u64>clusterBytes);
    const piece = n - done < clusterBytes - within ? n - done : clusterBytes - within;
    if (!readBytes(clusterByte(cursorCluster) + <u64>within, textAt(), piece)) return;
    textAdvance(piece);
    done += piece;
  }
}
