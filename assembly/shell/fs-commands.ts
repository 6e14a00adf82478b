// The shell's filesystem commands (docs/shell.md): parts, ls, cat and sum. The partition tables and
// the FAT volumes are read by fs.wasm, a module of its own reached through the host (fs-link.ts);
// these commands check their words, send requests and print the answers.
import { put, putLine, putDec, putHex, putHexDigits, putByte, putBytes, newline, flush, console_write } from "../common/console";
import {
  FS_OP_PARTS, FS_OP_PART, FS_OP_STAT, FS_OP_LIST, FS_OP_OPEN, FS_OP_READ, FSR_STATUS, FSR_KIND, FSR_TYPE, FSR_START,
  FSR_BLOCKS, FSR_GUID, FSR_NUMBER, FS_STATUS_END, FS_KIND_DIR, FS_SCHEME_MBR, FS_PATH_BYTES_MAX, FS_TEXT_BYTES_MAX,
} from "../common/fs-abi";
import { wordCount, wordPtr, wordLen } from "./words";
import { namespaceByName, partNumber, nsRefused, putDevName } from "./devices";
import { errorBegin, errorWord, unknownDevice } from "./io-commands";
import { fsRequest, fs32, fs64, fsText, fsTextBytes, fsWhy, response } from "./fs-link";
import { crc32Update } from "./crc32";
import { pollStop } from "./session";

const CHAR_QUOTE: u32 = 34;
const CHAR_BACKSLASH: u32 = 92;
const CHAR_SLASH: u32 = 47;
const CHAR_SPACE: u32 = 32;
const CHAR_DASH: u32 = 45;
const LIST_ENTRIES_MAX: u32 = 65536;       // a FAT directory holds at most this many
const NAME_BYTES_MAX: u32 = 1024;
const path: usize = memory.data(<i32>(FS_PATH_BYTES_MAX + 1 + NAME_BYTES_MAX));
let pathBytes: u32 = 0;                    // the normalised PATH word: '/' first, no '/' last
let argNs: u32 = 0;

// Bytes of a name or label, quoted when they hold a blank, a quote, a backslash or a control
// byte (or nothing): "\"" and "\\" escaped, control bytes as \xNN. Other bytes as they are (UTF-8).
export function putQuoted(ptr: usize, n: u32, always: bool): void {
  let plain = !always && n > 0;
  for (let i: u32 = 0; i < n; i++) {
    const c = <u32>load<u8>(ptr + <usize>i);
    if (c <= CHAR_SPACE || c == CHAR_QUOTE || c == CHAR_BACKSLASH || c == 127) plain = false;
  }
  if (plain) { putBytes(ptr, <i32>n); return; }
  putByte(CHAR_QUOTE);
  for (let i: u32 = 0; i < n; i++) {
    const c = <u32>load<u8>(ptr + <usize>i);
    if (c == CHAR_QUOTE || c == CHAR_BACKSLASH) { putByte(CHAR_BACKSLASH); putByte(c); }
    else if (c < CHAR_SPACE || c == 127) { putByte(CHAR_BACKSLASH); putByte(120); putHexDigits(<u64>c, 2); }
    else putByte(c);
  }
  putByte(CHAR_QUOTE);
}

// DEV (a namespace for parts; a partition, or a namespace holding a FAT volume, for the others).
function deviceWord(cmd: string, wantNamespace: bool): bool {
  const ns = namespaceByName(wordPtr(1), wordLen(1));
  if (ns < 0) { unknownDevice(cmd); return false; }
  if (wantNamespace && partNumber != 0) { errorBegin(cmd); put(": not a namespace:"); errorWord(1); newline(); return false; }
  if (nsRefused() != 0) { errorBegin(cmd); put(" dev="); putDevName(); putLine(": namespace not usable"); return false; }
  argNs = <u32>ns;
  return true;
}

function fsFailed(cmd: string, withPath: bool): void {
  errorBegin(cmd); put(" dev="); putDevName();
  if (withPath) { put(" path="); putQuoted(path, pathBytes, false); }
  put(": "); fsWhy(); newline();
}

// ---- parts DEV ----

export function cmdParts(): void {
  if (wordCount != 2) { errorBegin("parts"); putLine(": usage: parts DEV"); return; }
  if (!deviceWord("parts", true)) return;
  if (!fsRequest(FS_OP_PARTS, argNs, 0, 0, 0, 0, 0, 0)) { fsFailed("parts", false); return; }
  if (fsTextBytes() != 0) { put("note: "); putDevName(); put(": "); putBytes(fsText(), <i32>fsTextBytes()); newline(); }
  const count = fs32(FSR_KIND);
  for (let i: u32 = 0; i < count; i++) {
    if (!fsRequest(FS_OP_PART, argNs, 0, i, 0, 0, 0, 0)) { fsFailed("parts", false); return; }
    if (fs32(FSR_STATUS) == FS_STATUS_END) break;
    put("part name="); putDevName(); putByte(112); putDec(<u64>fs32(FSR_NUMBER));
    put(" start_lba="); putDec(fs64(FSR_START));
    put(" blocks="); putDec(fs64(FSR_BLOCKS));
    put(" type=");
    if (fs32(FSR_KIND) == FS_SCHEME_MBR) putHex(<u64>fs32(FSR_TYPE), 2);
    else putGuid();
    put(" label="); putQuoted(fsText(), fsTextBytes(), true);
    newline();
  }
}

// The response's GUID as stored (the first three fields little-endian), in the usual lower-case form.
function putGuid(): void {
  const g = response + <usize>FSR_GUID;
  putHexDigits(<u64>load<u32>(g), 8); putByte(CHAR_DASH);
  putHexDigits(<u64>load<u16>(g + 4), 4); putByte(CHAR_DASH);
  putHexDigits(<u64>load<u16>(g + 6), 4); putByte(CHAR_DASH);
  putHexDigits(<u64>load<u8>(g + 8), 2); putHexDigits(<u64>load<u8>(g + 9), 2); putByte(CHAR_DASH);
  for (let i = 10; i < 16; i++) putHexDigits(<u64>load<u8>(g + <usize>i), 2);
}

// ---- ls, cat, sum: DEV PATH ----

// DEV PATH checked; the path normalised into `path` ('/' first, no '/' last unless it is the root).
function pathArguments(cmd: string): bool {
  if (wordCount != 3) { errorBegin(cmd); put(": usage: "); put(cmd); putLine(" DEV PATH"); return false; }
  if (!deviceWord(cmd, false)) return false;
  const p = wordPtr(2);
  let n = <u32>wordLen(2);
  while (n > 1 && <u32>load<u8>(p + <usize>(n - 1)) == CHAR_SLASH) n--;
  const lead: u32 = n > 0 && <u32>load<u8>(p) == CHAR_SLASH ? 0 : 1;
  if (n + lead > FS_PATH_BYTES_MAX) { errorBegin(cmd); putLine(": PATH longer than 1024 bytes"); return false; }
  if (lead != 0) store<u8>(path, <u8>CHAR_SLASH);
  memory.copy(path + <usize>lead, p, <usize>n);
  pathBytes = n + lead;
  return true;
}

function putEntry(isDir: bool, bytes: u32, size: u64): void {
  put(isDir ? "dir path=" : "file path=");
  putQuoted(path, bytes, false);
  if (!isDir) { put(" bytes="); putDec(size); }
  newline();
}

export function cmdLs(): void {
  if (!pathArguments("ls")) return;
  if (!fsRequest(FS_OP_STAT, argNs, partNumber, 0, 0, 0, path, pathBytes)) { fsFailed("ls", true); return; }
  if (fs32(FSR_KIND) != FS_KIND_DIR) { putEntry(false, pathBytes, fs64(FSR_START)); return; }
  const base = pathBytes == 1 ? 0 : pathBytes;    // "/" joins as "/name"
  for (let i: u32 = 0; i < LIST_ENTRIES_MAX; i++) {
    if (pollStop()) { put("ls dev="); putDevName(); putLine(" stopped (Ctrl-C)"); return; }
    if (!fsRequest(FS_OP_LIST, argNs, partNumber, i, 0, 0, path, pathBytes)) { pathBytes = base == 0 ? 1 : base; fsFailed("ls", true); return; }
    if (fs32(FSR_STATUS) == FS_STATUS_END) return;
    const n = fsTextBytes() < NAME_BYTES_MAX ? fsTextBytes() : NAME_BYTES_MAX;
    store<u8>(path + <usize>base, <u8>CHAR_SLASH);
    memory.copy(path + <usize>(base + 1), fsText(), <usize>n);
    putEntry(fs32(FSR_KIND) == FS_KIND_DIR, base + 1 + n, fs64(FSR_START));
  }
}

// Opens PATH and streams its bytes through `each`; the file's size, or -1 (said) on failure, or
// -2 when Ctrl-C stopped it (stoppedAt says where).
let stoppedAt: u64 = 0;
let streamCrc: u32 = 0;
function streamFile(cmd: string, toConsole: bool): i64 {
  if (!fsRequest(FS_OP_OPEN, argNs, partNumber, 0, 0, 0, path, pathBytes)) { fsFailed(cmd, true); return -1; }
  const handle = fs32(FSR_TYPE);
  const size = fs64(FSR_START);
  streamCrc = 0;
  let offset: u64 = 0;
  for (let turns: u64 = 0; offset < size && turns <= size / <u64>FS_TEXT_BYTES_MAX + 1; turns++) {
    if (pollStop()) { stoppedAt = offset; return -2; }
    if (!fsRequest(FS_OP_READ, argNs, partNumber, handle, offset, FS_TEXT_BYTES_MAX, 0, 0)) { if (toConsole) newline(); fsFailed(cmd, true); return -1; }
    const n = fsTextBytes();
    if (n == 0) break;
    if (toConsole) { flush(); console_write(fsText(), <i32>n); }
    else streamCrc = crc32Update(streamCrc, fsText(), n);
    offset += <u64>n;
  }
  if (offset != size) { errorBegin(cmd); put(" dev="); putDevName(); put(" path="); putQuoted(path, pathBytes, false); putLine(": the file ended early"); return -1; }
  return <i64>size;
}

function putStoppedFile(cmd: string): void {
  put(cmd); put(" path="); putQuoted(path, pathBytes, false); put(" stopped at byte="); putDec(stoppedAt); putLine(" (Ctrl-C)");
}

export function cmdCat(): void {
  if (!pathArguments("cat")) return;
  const size = streamFile("cat", true);
  if (size == -2) { newline(); putStoppedFile("cat"); }
}

export function cmdSum(): void {
  if (!pathArguments("sum")) return;
  const size = streamFile("sum", false);
  if (size == -2) { putStoppedFile("sum"); return; }
  if (size < 0) return;
  put("sum path="); putQuoted(path, pathBytes, false);
  put(" bytes="); putDec(<u64>size);
  put(" crc32="); putHex(<u64>streamCrc, 8);
  newline();
}
