// The command language of DESIGN.md, the same in both hosts: commands separated by ';' (boot
// command line) or one line at a time (the `nvme> ` prompt). Results are single lines of
// key=value words; every failure is one line beginning "error: ", and nothing else happens.
import { now_ns, console_read } from "./kernel";
import {
  put, putLine, putByte, putDec, putHex, putBdf, putCtrlName, putNsName, putDeviceString, newline, flush, putError, countFailure,
} from "./console";
import {
  Controller, count as controllerCount, at as controllerAt, STATE_READY, STATE_STOPPED, STATE_FAILED, putFailure, printVersion,
  shutdown, MAX_COMMAND_BYTES,
} from "./nvme/controller";
import { Namespace, namespaceCount, namespaceAt, reasonText } from "./nvme/namespace";
import { transfer, randomIo, flush as flushNamespace, failedLba, OP_READ, OP_WRITE } from "./nvme/io";
import { putStatus, ERR_NOT_READY } from "./nvme/status";
import { irqModeName } from "./nvme/interrupts";
import { IDC_MN, IDC_SN, IDC_FR, IDC_VID } from "./nvme/registers";
import { namespaceByName, blockBytes } from "./block";
import { crc32Update } from "./crc32";
import { fillPattern, checkPattern } from "./pattern";
import { hexdump } from "./hexdump";
import { deviceId, vendorId } from "./pci";
import { allocPages } from "./dma";

// The data buffer every command of the shell goes through, allocated once at start.
export const IO_BUFFER_BYTES: u32 = 8 << 20;
let ioBuffer: usize = 0;
const READ_MAX_BYTES: u64 = 1 << 20;  // `read` prints a hex dump: keep it to 1 MiB

export let poweroffRequested = false;

export function initShell(): bool {
  ioBuffer = allocPages(IO_BUFFER_BYTES, 64 << 10);
  return ioBuffer != 0;
}

// ---- words ----

const MAX_WORDS: i32 = 8;
const words: usize = memory.data(MAX_WORDS * 8); // (ptr: u32, len: u32) pairs
let wordCount: i32 = 0;

function wordPtr(i: i32): usize { return <usize>load<u32>(words + <usize>(i * 8)); }
function wordLen(i: i32): i32 { return <i32>load<u32>(words + <usize>(i * 8 + 4)); }

function isSpace(c: u32): bool { return c == 32 || c == 9 || c == 13 || c == 10; }

// Splits [ptr, ptr+len) into words; false if there are more than MAX_WORDS.
function split(ptr: usize, len: i32): bool {
  wordCount = 0;
  let i = 0;
  while (i < len) {
    while (i < len && isSpace(<u32>load<u8>(ptr + <usize>i))) i++;
    if (i == len) break;
    const start = i;
    while (i < len && !isSpace(<u32>load<u8>(ptr + <usize>i))) i++;
    if (wordCount == MAX_WORDS) return false;
    store<u32>(words + <usize>(wordCount * 8), <u32>(ptr + <usize>start));
    store<u32>(words + <usize>(wordCount * 8 + 4), <u32>(i - start));
    wordCount++;
  }
  return true;
}

function wordIs(i: i32, s: string): bool {
  const n = wordLen(i);
  if (n != s.length) return false;
  const p = wordPtr(i);
  for (let k = 0; k < n; k++) if (<i32>load<u8>(p + <usize>k) != s.charCodeAt(k)) return false;
  return true;
}

// Decimal or 0x-hexadecimal, no sign, no overflow past 64 bits.
let numberOk = false;
function number(i: i32): u64 {
  numberOk = false;
  const p = wordPtr(i);
  const n = wordLen(i);
  let v: u64 = 0;
  if (n > 2 && load<u8>(p) == 48 && (load<u8>(p + 1) | 0x20) == 120) {
    if (n - 2 > 16) return 0;
    for (let k = 2; k < n; k++) {
      const c = <u32>load<u8>(p + <usize>k) | 0x20;
      let d: u32;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else return 0;
      v = (v << 4) | <u64>d;
    }
    numberOk = true;
    return v;
  }
  if (n == 0 || n > 20) return 0;
  for (let k = 0; k < n; k++) {
    const c = <u32>load<u8>(p + <usize>k);
    if (c < 48 || c > 57) return 0;
    const d = <u64>(c - 48);
    if (v > (0xffffffffffffffff - d) / 10) return 0;
    v = v * 10 + d;
  }
  numberOk = true;
  return v;
}

// ---- error lines ----

function errorBegin(cmd: string): void {
  putError();
  put(cmd);
}

function errorWord(i: i32): void {
  put(" \"");
  putDeviceString(wordPtr(i), wordLen(i));
  put("\"");
}

function putDevRange(ns: Namespace, lba: u64, count: u64): void {
  put(" dev="); putNsName(ns.ctrl, ns.nsid);
  put(" lba="); putDec(lba);
  put(" count="); putDec(count);
}

// ---- argument checks shared by the IO commands ----

let argNs: Namespace | null = null;
let argLba: u64 = 0;
let argCount: u64 = 0;
let argSeed: u64 = 0;

// DEV LBA COUNT [SEED]: every word checked before any IO is issued.
function ioArguments(cmd: string, withSeed: bool, maxBytes: u64): bool {
  const want = withSeed ? 5 : 4;
  if (wordCount != want) {
    errorBegin(cmd);
    put(": usage: "); put(cmd); putLine(withSeed ? " DEV LBA COUNT SEED" : " DEV LBA COUNT");
    return false;
  }
  const ns = namespaceByName(wordPtr(1), wordLen(1));
  if (ns == null) { errorBegin(cmd); put(": unknown device"); errorWord(1); newline(); return false; }
  const lba = number(2);
  if (!numberOk) { errorBegin(cmd); put(": LBA is not a number:"); errorWord(2); newline(); return false; }
  const count = number(3);
  if (!numberOk) { errorBegin(cmd); put(": COUNT is not a number:"); errorWord(3); newline(); return false; }
  if (withSeed) {
    argSeed = number(4);
    if (!numberOk) { errorBegin(cmd); put(": SEED is not a number:"); errorWord(4); newline(); return false; }
  }
  if (ns.refused != 0) {
    errorBegin(cmd); put(" dev="); putNsName(ns.ctrl, ns.nsid); put(": namespace not usable: "); putLine(reasonText(ns.refused));
    return false;
  }
  if (count == 0) { errorBegin(cmd); putDevRange(ns, lba, count); putLine(": COUNT must be at least 1"); return false; }
  if (lba >= ns.blocks || count > ns.blocks - lba) {
    errorBegin(cmd); putDevRange(ns, lba, count);
    put(": range past the end of the namespace (blocks="); putDec(ns.blocks); putLine(")");
    return false;
  }
  if (maxBytes != 0 && count > (maxBytes >> ns.lbaShift)) {
    errorBegin(cmd); putDevRange(ns, lba, count);
    put(": COUNT too large (at most "); putDec(maxBytes >> ns.lbaShift); putLine(" blocks)");
    return false;
  }
  const c = controllerAt(ns.ctrl);
  if (c.state != STATE_READY) {
    errorBegin(cmd); putDevRange(ns, lba, count); put(": "); putCtrlName(c.index); put(" is not ready: ");
    if (c.state == STATE_FAILED) putFailure(c);
    else if (c.state == STATE_STOPPED) put("bring-up stopped at an earlier stage");
    else put("shut down");
    newline();
    return false;
  }
  argNs = ns;
  argLba = lba;
  argCount = count;
  return true;
}

function ioFailed(cmd: string, ns: Namespace, lba: u64, count: u64, status: u32): void {
  errorBegin(cmd); putDevRange(ns, lba, count);
  put(": at lba="); putDec(failedLba); put(": "); putStatus(status); newline();
}

// Blocks per chunk of the IO buffer.
function chunkBlocks(ns: Namespace): u64 {
  return <u64>(IO_BUFFER_BYTES >> ns.lbaShift);
}

// ---- commands ----

function cmdHelp(): void {
  putLine("commands:");
  putLine("  help                          this list");
  putLine("  info                          controllers and namespaces");
  putLine("  read DEV LBA COUNT            hex dump of COUNT blocks (at most 1 MiB)");
  putLine("  crc DEV LBA COUNT             CRC-32 (zlib) of COUNT blocks");
  putLine("  fill DEV LBA COUNT SEED       write the seeded pattern");
  putLine("  verify DEV LBA COUNT SEED     check the seeded pattern");
  putLine("  flush DEV                     flush the volatile write cache");
  putLine("  bench DEV [read|write] [BLOCKS] [QD] [IOS]   random IO, IOPS and MiB/s");
  putLine("  stats                         counters per controller");
  putLine("  poweroff                      orderly shutdown, then exit");
  putLine("DEV is a namespace such as nvme0n1; numbers are decimal or 0x-hex.");
}

function infoController(c: Controller): void {
  put("ctrl name="); putCtrlName(c.index);
  put(" pci="); putBdf(c.bdf);
  put(" vid="); putHex(<u64>vendorId(c.bdf), 4);
  put(" did="); putHex(<u64>deviceId(c.bdf), 4);
  if (c.state == STATE_FAILED && c.mqes == 0) {
    put(" state=failed reason=\""); putFailure(c); put("\""); newline();
    return;
  }
  put(" version="); printVersion(c);
  put(" mqes="); putDec(<u64>(c.mqes - 1));
  put(" dstrd="); putDec(<u64>(ctz(c.strideBytes) - 2));
  put(" timeout_ms="); putDec(<u64>c.timeoutMs);
  const identified = c.maxCommandBytes != 0;
  if (identified) {
    put(" mdts_bytes="); putDec(c.mdtsBytes);
    put(" sgl="); put(c.sgl != 0 ? "yes" : "no");
    put(" vwc="); put(c.vwc != 0 ? "yes" : "no");
    put(" queues="); putDec(<u64>c.queuesGranted);
    put(" model=\""); putDeviceString(c.idctrl + <usize>IDC_MN, 40);
    put("\" serial=\""); putDeviceString(c.idctrl + <usize>IDC_SN, 20);
    put("\" firmware=\""); putDeviceString(c.idctrl + <usize>IDC_FR, 8);
    put("\"");
  }
  put(" irq="); put(irqModeName(c.irqMode));
  put(" state=");
  if (c.state == STATE_READY) put("ready");
  else if (c.state == STATE_STOPPED) put("stopped");
  else if (c.state == STATE_FAILED) { put("failed reason=\""); putFailure(c); put("\""); }
  else put("shut-down");
  newline();
}

function infoNamespace(ns: Namespace): void {
  put("ns name="); putNsName(ns.ctrl, ns.nsid);
  put(" nsid="); putDec(<u64>ns.nsid);
  if (ns.refused == 0 || ns.lbaShift <= 16) {
    put(" lba_bytes="); putDec(<u64>1 << ns.lbaShift);
  }
  put(" blocks="); putDec(ns.blocks);
  if (ns.refused == 0) { put(" bytes="); putDec(ns.blocks << ns.lbaShift); }
  put(" readonly="); put(ns.readonly != 0 ? "yes" : "no");
  if (ns.metadataBytes != 0) { put(" metadata_bytes="); putDec(<u64>ns.metadataBytes); }
  if (ns.refused != 0) { put(" usable=no reason=\""); put(reasonText(ns.refused)); put("\""); }
  newline();
}

function cmdInfo(): void {
  if (controllerCount() == 0) putLine("info: no NVMe controller");
  for (let i: u32 = 0; i < controllerCount(); i++) {
    infoController(controllerAt(i));
    for (let k: u32 = 0; k < namespaceCount(); k++) {
      const ns = namespaceAt(k);
      if (ns.ctrl == i) infoNamespace(ns);
    }
  }
}

function cmdRead(): void {
  if (!ioArguments("read", false, READ_MAX_BYTES)) return;
  const ns = argNs!;
  const c = controllerAt(ns.ctrl);
  const status = transfer(c, ns, OP_READ, argLba, argCount, ioBuffer);
  if (status != 0) { ioFailed("read", ns, argLba, argCount, status); return; }
  hexdump(ioBuffer, <u32>(argCount << ns.lbaShift), argLba << ns.lbaShift);
}

// crc, fill and verify stream the range through the IO buffer a chunk at a time.
const STREAM_CRC: u32 = 0;
const STREAM_FILL: u32 = 1;
const STREAM_VERIFY: u32 = 2;

function streamName(kind: u32): string {
  return kind == STREAM_CRC ? "crc" : kind == STREAM_FILL ? "fill" : "verify";
}

function cmdStream(kind: u32): void {
  const cmd = streamName(kind);
  if (!ioArguments(cmd, kind != STREAM_CRC, 0)) return;
  const ns = argNs!;
  const c = controllerAt(ns.ctrl);
  if (kind == STREAM_FILL && ns.readonly != 0) {
    errorBegin(cmd); putDevRange(ns, argLba, argCount); putLine(": namespace is write protected (NSATTR)");
    return;
  }
  let crc: u32 = 0;
  let lba = argLba;
  let left = argCount;
  const chunk = chunkBlocks(ns);
  while (left > 0) {
    const n = left < chunk ? left : chunk;
    const bytes = <u32>(n << ns.lbaShift);
    const start = lba << ns.lbaShift;
    if (kind == STREAM_FILL) fillPattern(ioBuffer, bytes, argSeed, start);
    const status = transfer(c, ns, kind == STREAM_FILL ? OP_WRITE : OP_READ, lba, n, ioBuffer);
    if (status != 0) { ioFailed(cmd, ns, argLba, argCount, status); return; }
    if (kind == STREAM_CRC) crc = crc32Update(crc, ioBuffer, bytes);
    if (kind == STREAM_VERIFY) {
      const bad = checkPattern(ioBuffer, bytes, argSeed, start);
      if (bad >= 0) {
        const at = start + <u64>bad;
        countFailure();
        put(cmd); putDevRange(ns, argLba, argCount); put(" seed="); putDec(argSeed);
        put(" mismatch lba="); putDec(at >> ns.lbaShift); put(" offset="); putDec(at & <u64>(blockBytes(ns) - 1));
        newline();
        return;
      }
    }
    lba += n;
    left -= n;
  }
  put(cmd); putDevRange(ns, argLba, argCount);
  if (kind == STREAM_CRC) { put(" crc32="); putHex(<u64>crc, 8); }
  else { put(" seed="); putDec(argSeed); put(" ok"); }
  newline();
}

function cmdFlush(): void {
  if (wordCount != 2) { errorBegin("flush"); putLine(": usage: flush DEV"); return; }
  const ns = namespaceByName(wordPtr(1), wordLen(1));
  if (ns == null) { errorBegin("flush"); put(": unknown device"); errorWord(1); newline(); return; }
  const c = controllerAt(ns.ctrl);
  const status = c.state == STATE_READY ? flushNamespace(c, ns) : ERR_NOT_READY;
  if (status != 0) {
    errorBegin("flush"); put(" dev="); putNsName(ns.ctrl, ns.nsid); put(": "); putStatus(status); newline();
    return;
  }
  put("flush dev="); putNsName(ns.ctrl, ns.nsid); put(" ok"); newline();
}

function cmdStats(): void {
  if (controllerCount() == 0) putLine("stats: no NVMe controller");
  for (let i: u32 = 0; i < controllerCount(); i++) {
    const c = controllerAt(i);
    put("stats ctrl="); putCtrlName(i);
    put(" commands="); putDec(c.commands);
    put(" completions="); putDec(c.completions);
    put(" errors="); putDec(c.errors);
    put(" retries="); putDec(c.retries);
    put(" bytes="); putDec(c.bytesRead + c.bytesWritten);
    put(" read_bytes="); putDec(c.bytesRead);
    put(" write_bytes="); putDec(c.bytesWritten);
    put(" interrupts="); putDec(c.interrupts);
    put(" polls="); putDec(c.polls);
    put(" timeouts="); putDec(c.timeouts);
    put(" resets="); putDec(c.resets);
    newline();
  }
}

// ---- bench: random IO of BLOCKS blocks at queue depth QD, IOS commands ----

function cmdBench(): void {
  if (wordCount < 2 || wordCount > 6) { errorBegin("bench"); putLine(": usage: bench DEV [read|write] [BLOCKS] [QD] [IOS]"); return; }
  const ns = namespaceByName(wordPtr(1), wordLen(1));
  if (ns == null) { errorBegin("bench"); put(": unknown device"); errorWord(1); newline(); return; }
  let write = false;
  if (wordCount > 2) {
    if (wordIs(2, "write")) write = true;
    else if (!wordIs(2, "read")) { errorBegin("bench"); put(": expected read or write:"); errorWord(2); newline(); return; }
  }
  let blocks: u64 = 4096 >> ns.lbaShift;
  if (blocks == 0) blocks = 1;
  let qd: u64 = 1;
  let ios: u64 = 2000;
  if (wordCount > 3) { blocks = number(3); if (!numberOk || blocks == 0) { errorBegin("bench"); put(": BLOCKS must be a number > 0:"); errorWord(3); newline(); return; } }
  if (wordCount > 4) { qd = number(4); if (!numberOk || qd == 0 || qd > 1024) { errorBegin("bench"); put(": QD must be 1..1024:"); errorWord(4); newline(); return; } }
  if (wordCount > 5) { ios = number(5); if (!numberOk || ios == 0 || ios > 100000000) { errorBegin("bench"); put(": IOS must be 1..100000000:"); errorWord(5); newline(); return; } }
  if (ns.refused != 0 || blocks > ns.blocks || (blocks << ns.lbaShift) * qd > <u64>IO_BUFFER_BYTES || (blocks << ns.lbaShift) > <u64>MAX_COMMAND_BYTES) {
    errorBegin("bench"); put(" dev="); putNsName(ns.ctrl, ns.nsid); putLine(": BLOCKS x QD does not fit the namespace or the 8 MiB buffer");
    return;
  }
  if (write && ns.readonly != 0) { errorBegin("bench"); put(" dev="); putNsName(ns.ctrl, ns.nsid); putLine(": namespace is write protected (NSATTR)"); return; }
  const c = controllerAt(ns.ctrl);
  if (c.state != STATE_READY) { errorBegin("bench"); put(" dev="); putNsName(ns.ctrl, ns.nsid); putLine(": controller not ready"); return; }
  const start = now_ns();
  const status = randomIo(c, ns, write ? OP_WRITE : OP_READ, blocks, ios, <u32>qd, ioBuffer);
  if (status != 0) { ioFailed("bench", ns, failedLba, blocks, status); return; }
  const done = ios;
  const ns_ = now_ns() - start;
  const bytes = done * (blocks << ns.lbaShift);
  put("bench dev="); putNsName(ns.ctrl, ns.nsid);
  put(write ? " op=write" : " op=read");
  put(" block_bytes="); putDec(blocks << ns.lbaShift);
  put(" qd="); putDec(qd);
  put(" ios="); putDec(done);
  put(" us="); putDec(ns_ / 1000);
  put(" iops="); putDec(ns_ == 0 ? 0 : done * 1_000_000_000 / ns_);
  put(" mib_s="); putDec(ns_ == 0 ? 0 : bytes * 1_000_000_000 / ns_ / (1 << 20));
  newline();
}

// ---- one command, a line, the prompt ----

function runCommand(ptr: usize, len: i32): void {
  if (!split(ptr, len)) { errorBegin("shell"); putLine(": too many words"); return; }
  if (wordCount == 0) return;
  if (wordIs(0, "help")) { if (wordCount == 1) cmdHelp(); else { errorBegin("help"); putLine(": takes no arguments"); } }
  else if (wordIs(0, "info")) { if (wordCount == 1) cmdInfo(); else { errorBegin("info"); putLine(": takes no arguments"); } }
  else if (wordIs(0, "read")) cmdRead();
  else if (wordIs(0, "crc")) cmdStream(STREAM_CRC);
  else if (wordIs(0, "fill")) cmdStream(STREAM_FILL);
  else if (wordIs(0, "verify")) cmdStream(STREAM_VERIFY);
  else if (wordIs(0, "flush")) cmdFlush();
  else if (wordIs(0, "stats")) { if (wordCount == 1) cmdStats(); else { errorBegin("stats"); putLine(": takes no arguments"); } }
  else if (wordIs(0, "bench")) cmdBench();
  else if (wordIs(0, "poweroff")) { if (wordCount == 1) poweroffRequested = true; else { errorBegin("poweroff"); putLine(": takes no arguments"); } }
  else if (isOption(0)) { /* boot options were applied before bring-up */ }
  else { errorBegin("shell"); put(": unknown command"); errorWord(0); putLine(" (try help)"); }
}

// Boot options look like key=value (stage=N, irq=...); main.ts applies them.
function isOption(i: i32): bool {
  const p = wordPtr(i);
  const n = wordLen(i);
  for (let k = 1; k < n; k++) if (load<u8>(p + <usize>k) == 61) return wordCount == 1;
  return false;
}

// Runs every ';'-separated command of the text, in order, until one is poweroff.
export function runCommands(ptr: usize, len: i32): void {
  let start = 0;
  for (let i = 0; i <= len && !poweroffRequested; i++) {
    if (i == len || load<u8>(ptr + <usize>i) == 59) {
      runCommand(ptr + <usize>start, i - start);
      start = i + 1;
    }
  }
}

const LINE_CAP: i32 = 512;
const line: usize = memory.data(LINE_CAP);
const inByte: usize = memory.data(16);
const INPUT_POLL_NS: u64 = 100_000_000;

// The interactive prompt: a raw console, so the guest echoes and edits.
// Returns at end of input (the Node host's stdin closing) or at poweroff.
export function interactive(): void {
  let len = 0;
  put("nvme> "); flush();
  while (!poweroffRequested) {
    const n = console_read(inByte, 1, INPUT_POLL_NS);
    if (n < 0) { newline(); return; }
    if (n == 0) continue;
    const b = <u32>load<u8>(inByte);
    if (b == 13 || b == 10) {
      newline();
      runCommands(line, len);
      len = 0;
      if (!poweroffRequested) { put("nvme> "); flush(); }
    } else if (b == 8 || b == 127) {
      if (len > 0) { len--; put("\x08 \x08"); flush(); }
    } else if (b == 3) {
      put("^C"); newline(); len = 0; put("nvme> "); flush();
    } else if (b == 4) {
      if (len == 0) { putLine("poweroff"); poweroffRequested = true; }
    } else if (b >= 32 && b < 127) {
      if (len < LINE_CAP) { store<u8>(line + <usize>len, <u8>b); len++; putByte(b); flush(); }
    }
  }
}

// Orderly end: flush namespaces with a volatile write cache, then shut each controller down.
export function shutdownAll(): void {
  for (let i: u32 = 0; i < controllerCount(); i++) {
    const c = controllerAt(i);
    if (c.state == STATE_READY && c.vwc != 0) {
      for (let k: u32 = 0; k < namespaceCount(); k++) {
        const ns = namespaceAt(k);
        if (ns.ctrl != i || ns.refused != 0) continue;
        const status = flushNamespace(c, ns);
        if (status != 0) { errorBegin("poweroff"); put(" flush dev="); putNsName(ns.ctrl, ns.nsid); put(": "); putStatus(status); newline(); }
      }
    }
    shutdown(c); // a failure is reported, and counted, as an error line
  }
}
