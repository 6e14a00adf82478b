// The shell's block IO commands: read, crc, fill, verify, zero, trim, flush and bench. Each checks every word
// before any IO is issued, then moves data between this module's staging memory and its share of
// the driver's buffer memory (blk.buffer_read/write) and sends requests through the block interface.
import { buffer_bytes, buffer_write, buffer_read, controller_stats, now_ns } from "./client";
import { putByte, put, putLine, putDec, putHex, putCtrlName, putNsName, putDeviceString, newline, putError, countFailure } from "../common/console";
import { putStatus } from "../common/status-words";
import { refusedText } from "../common/words";
import {
  OP_READ, OP_WRITE, OP_FLUSH, OP_WRITE_ZEROES, OP_DEALLOCATE, OP_FLAG_MORE, ERR_BUSY, ERR_UNSUPPORTED, STATE_READY, CTRL_STATE,
  STAT_DEVICE_NS, STAT_DEVICE_COMMANDS, STATS_RECORD_BYTES,
} from "../common/abi";
import {
  loadController, ctrl32, nsCtrl, nsId, nsBlocks, nsShift, nsReadonly, nsRefused, namespaceByName, putNotReady,
  putDevName, devBlocks, partNumber, partStart, partFailed,
} from "./devices";
import { fsWhy } from "./fs-link";
import { wordCount, wordPtr, wordLen, wordIs, number, numberOk } from "./words";
import { run, send, collect, waitFor, takenLba, inFlight, resetUnkept, unkeptDone, unkeptStatus, unkeptLba } from "./requests";
import { crc32Update } from "./crc32";
import { fillPattern, checkPattern } from "./pattern";
import { hexdump } from "./hexdump";
import { pollStop } from "./session";
import { progressStart, progressShow, progressClear } from "./progress";

const READ_MAX_BYTES: u64 = 1 << 20;  // `read` prints a hex dump: keep it to 1 MiB
// The pattern shifts the seed left by 40 bits (pattern.ts): seeds that differ above bit 23 would
// write the same bytes, so they are refused rather than silently read as another.
const SEED_MAX: u64 = (1 << 24) - 1;
// Client-side staging: data goes between this module and the driver's buffer memory through here.
const STAGE_BYTES: u32 = 1 << 20;
export const stage: usize = memory.data(<i32>STAGE_BYTES, 16);

// ---- error lines ----

export function errorBegin(cmd: string): void {
  putError();
  put(cmd);
}

export function errorWord(i: i32): void {
  put(" \"");
  putDeviceString(wordPtr(i), wordLen(i));
  put("\"");
}

// Word 1 names no device; for a partition fs.wasm could not find, why.
export function unknownDevice(cmd: string): void {
  errorBegin(cmd); put(": unknown device"); errorWord(1);
  if (partFailed) { put(": "); fsWhy(); }
  newline();
}

// A block number the driver reported (absolute in the namespace) as one of the device's.
export function devLba(lba: u64): u64 { return lba >= partStart ? lba - partStart : lba; }

function putDevRange(lba: u64, count: u64): void {
  put(" dev="); putDevName();
  put(" lba="); putDec(lba);
  put(" count="); putDec(count);
}

function ioFailed(cmd: string, lba: u64, count: u64, status: u32, at: u64): void {
  progressClear();
  errorBegin(cmd); putDevRange(lba, count);
  put(": at lba="); putDec(at); put(": "); putStatus(status); newline();
}

// ---- argument checks shared by the IO commands ----

let argNs: u32 = 0;
let argLba: u64 = 0;
let argCount: u64 = 0;
let argSeed: u64 = 0;

// DEV LBA COUNT [SEED]: every word checked before any IO is issued. Leaves the namespace's record
// loaded (devices.ts).
function ioArguments(cmd: string, withSeed: bool, maxBytes: u64): bool {
  const want = withSeed ? 5 : 4;
  if (wordCount != want) {
    errorBegin(cmd);
    put(": usage: "); put(cmd); putLine(withSeed ? " DEV LBA COUNT SEED" : " DEV LBA COUNT");
    return false;
  }
  const ns = namespaceByName(wordPtr(1), wordLen(1));
  if (ns < 0) { unknownDevice(cmd); return false; }
  const lba = number(2);
  if (!numberOk) { errorBegin(cmd); put(": LBA is not a number:"); errorWord(2); newline(); return false; }
  const count = number(3);
  if (!numberOk) { errorBegin(cmd); put(": COUNT is not a number:"); errorWord(3); newline(); return false; }
  if (withSeed) {
    argSeed = number(4);
    if (!numberOk) { errorBegin(cmd); put(": SEED is not a number:"); errorWord(4); newline(); return false; }
    if (argSeed > SEED_MAX) { errorBegin(cmd); put(": SEED must be 0..16777215 (the pattern uses 24 bits of it):"); errorWord(4); newline(); return false; }
  }
  if (nsRefused() != 0) {
    errorBegin(cmd); put(" dev="); putDevName(); put(": namespace not usable: "); putLine(refusedText(nsRefused()));
    return false;
  }
  if (count == 0) { errorBegin(cmd); putDevRange(lba, count); putLine(": COUNT must be at least 1"); return false; }
  const blocks = devBlocks();
  if (lba >= blocks || count > blocks - lba) {
    errorBegin(cmd); putDevRange(lba, count);
    put(partNumber != 0 ? ": range past the end of the partition (blocks=" : ": range past the end of the namespace (blocks=");
    putDec(blocks); putLine(")");
    return false;
  }
  if (maxBytes != 0 && count > (maxBytes >> nsShift())) {
    errorBegin(cmd); putDevRange(lba, count);
    put(": COUNT too large (at most "); putDec(maxBytes >> nsShift()); putLine(" blocks)");
    return false;
  }
  if (!controllerReady()) {
    errorBegin(cmd); putDevRange(lba, count); put(": "); putCtrlName(nsCtrl()); put(" is not ready: ");
    putNotReady(); newline();
    return false;
  }
  argNs = <u32>ns;
  argLba = lba;
  argCount = count;
  return true;
}

function controllerReady(): bool {
  return loadController(nsCtrl()) && ctrl32(CTRL_STATE) == STATE_READY;
}


// ---- read ----

export function cmdRead(): void {
  if (!ioArguments("read", false, READ_MAX_BYTES)) return;
  const bytes = <u32>(argCount << nsShift());
  const status = run(OP_READ, argNs, partStart + argLba, <u32>argCount, 0);
  if (status != 0) { ioFailed("read", argLba, argCount, status, devLba(takenLba)); return; }
  buffer_read(0, stage, bytes);
  hexdump(stage, bytes, argLba << nsShift());
}

// ---- crc, fill, verify: the range streams through two halves of the share, two requests in
// flight, each half's data handled in STAGE_BYTES pieces ----

const STREAM_CRC: u32 = 0;
const STREAM_FILL: u32 = 1;
const STREAM_VERIFY: u32 = 2;
const STREAM_ZERO: u32 = 3;    // zero-filled buffers written: `zero` where Write Zeroes is not offered

function streamName(kind: u32): string {
  if (kind == STREAM_ZERO) return "zero";
  return kind == STREAM_CRC ? "crc" : kind == STREAM_FILL ? "fill" : "verify";
}

let crc: u32 = 0;
let mismatchAt: i64 = -1;   // device byte offset of the first difference, or -1

// Pattern bytes for device offsets [start, start + bytes) into the share at `offset`.
function writePattern(offset: u32, bytes: u32, start: u64): void {
  for (let done: u32 = 0; done < bytes; done += STAGE_BYTES) {
    const n = bytes - done < STAGE_BYTES ? bytes - done : STAGE_BYTES;
    fillPattern(stage, n, argSeed, start + <u64>done);
    buffer_write(offset + done, stage, n);
  }
}

// Takes in data read into the share at `offset`: CRC it, or check it against the pattern.
function absorb(kind: u32, offset: u32, bytes: u32, start: u64): void {
  for (let done: u32 = 0; done < bytes; done += STAGE_BYTES) {
    const n = bytes - done < STAGE_BYTES ? bytes - done : STAGE_BYTES;
    buffer_read(offset + done, stage, n);
    if (kind == STREAM_CRC) crc = crc32Update(crc, stage, n);
    else {
      const bad = checkPattern(stage, n, argSeed, start + <u64>done);
      if (bad >= 0) { mismatchAt = <i64>(start + <u64>done) + bad; return; }
    }
  }
}

// Slots of the stream: which tag and blocks each half of the share holds.
const slotTag = memory.data<u32>([0, 0]);
const slotLba = memory.data<u64>([0, 0]);
const slotBlocks = memory.data<u32>([0, 0]);

// Ctrl-C at an interactive prompt (session.ts): the line saying where a command stopped, after
// every request it had in flight completed. Not an error line and not a failure: the user asked.
function putStopped(cmd: string, withSeed: bool, at: u64): void {
  progressClear();
  put(cmd); putDevRange(argLba, argCount);
  if (withSeed) { put(" seed="); putDec(argSeed); }
  put(" stopped at lba="); putDec(at); putLine(" (Ctrl-C)");
}

export function cmdStream(kind: u32): void {
  const cmd = streamName(kind);
  if (!ioArguments(cmd, kind != STREAM_CRC, 0)) return;
  if (kind == STREAM_FILL && refuseReadonly(cmd)) return;
  if (!stream(kind)) return;
  if (streamStopped) { putStopped(cmd, kind != STREAM_CRC, streamStopLba); return; }
  progressClear();
  put(cmd); putDevRange(argLba, argCount);
  if (kind == STREAM_CRC) { put(" crc32="); putHex(<u64>crc, 8); }
  else { put(" seed="); putDec(argSeed); put(" ok"); }
  newline();
}

// A write to a write-protected namespace is refused before any IO, in words; true when it was.
function refuseReadonly(cmd: string): bool {
  if (!nsReadonly()) return false;
  errorBegin(cmd); putDevRange(argLba, argCount); putLine(": namespace is write protected (NSATTR)");
  return true;
}

// Zeroes `bytes` of the share from offset 0, STAGE_BYTES at a time.
function zeroShare(bytes: u32): void {
  memory.fill(stage, 0, <usize>STAGE_BYTES);
  for (let done: u32 = 0; done < bytes; done += STAGE_BYTES) {
    buffer_write(done, stage, bytes - done < STAGE_BYTES ? bytes - done : STAGE_BYTES);
  }
}

// Streams the checked range through the share; false once a failure or mismatch was printed.
// Ctrl-C (pollStop) ends it early with streamStopped set: nothing new is sent, what is in flight
// completes and is taken in, streamStopLba is the first block not done.
let streamStopped = false;
let streamStopLba: u64 = 0;
function stream(kind: u32): bool {
  const cmd = streamName(kind);
  const shift = nsShift();
  const half = (buffer_bytes() / 2) >> shift << shift;
  const chunk = <u64>(half >> shift);
  const op = kind == STREAM_FILL || kind == STREAM_ZERO ? OP_WRITE : OP_READ;
  if (kind == STREAM_ZERO) zeroShare(2 * half);  // writes leave the buffer as it was: zeroed once
  crc = 0;
  mismatchAt = -1;
  let nextLba = argLba;
  let left = argCount;
  let head: u32 = 0;     // the slot whose request was sent first
  let busy: u32 = 0;     // slots with a request in flight
  let failed = false;
  streamStopped = false;
  progressStart();
  for (let turns: u64 = 0; turns <= argCount + 2; turns++) {   // each turn completes one chunk
    if (!streamStopped && !failed && left > 0 && pollStop()) { streamStopped = true; streamStopLba = nextLba; }
    while (busy < 2 && left > 0 && !failed && !streamStopped) {
      const slot = (head + busy) & 1;
      const n = left < chunk ? left : chunk;
      const offset = slot * half;
      if (kind == STREAM_FILL) writePattern(offset, <u32>(n << shift), nextLba << shift);
      const status = sendChunk(op, nextLba, <u32>n, offset, slot);
      if (status != 0) { ioFailed(cmd, argLba, argCount, status, nextLba); failed = true; break; }
      nextLba += n;
      left -= n;
      busy++;
    }
    if (busy == 0) break;
    const status = waitFor(load<u32>(slotTag + <usize>(head * 4)));
    const lba = load<u64>(slotLba + <usize>(head * 8));
    const blocks = load<u32>(slotBlocks + <usize>(head * 4));
    busy--;
    const offset = head * half;
    head ^= 1;
    if (failed) continue;  // draining the other half after a failure
    if (status != 0) { ioFailed(cmd, argLba, argCount, status, devLba(takenLba)); failed = true; continue; }
    if (op == OP_READ) absorb(kind, offset, blocks << shift, lba << shift);
    progressShow(cmd, lba + <u64>blocks - argLba, argCount, "blocks");
    if (mismatchAt >= 0) {
      const at = <u64>mismatchAt;
      progressClear();
      countFailure();
      put(cmd); putDevRange(argLba, argCount); put(" seed="); putDec(argSeed);
      put(" mismatch lba="); putDec(at >> shift); put(" offset="); putDec(at & ((<u64>1 << shift) - 1));
      newline();
      failed = true;
    }
  }
  return !failed;
}

// Sends one chunk as a request, remembering it in `slot`; waits for room while the driver is busy.
function sendChunk(op: u32, lba: u64, blocks: u32, offset: u32, slot: u32): u32 {
  while (true) {
    const t = send(op, argNs, partStart + lba, blocks, offset);
    if (t >= 0) {
      store<u32>(slotTag + <usize>(slot * 4), <u32>t);
      store<u64>(slotLba + <usize>(slot * 8), lba);
      store<u32>(slotBlocks + <usize>(slot * 4), blocks);
      return 0;
    }
    if (t != -<i64>ERR_BUSY || inFlight == 0) return <u32>(-t);
    collect();
  }
}

// ---- zero, trim: a range of any length, no data; one request per REQUEST_BLOCKS_MAX blocks ----

const REQUEST_BLOCKS_MAX: u64 = 1 << 30;  // a request's count is 32 bits: longer ranges take several

// Sends the checked range as requests of `op`, one after another; 0, or the first failure
// (takenLba says where). Ctrl-C between two requests stops it: 0 with rangeStopped set, at
// streamStopLba.
let rangeStopped = false;
function runRange(op: u32): u32 {
  let lba = argLba;
  let left = argCount;
  rangeStopped = false;
  for (let turns: u64 = 0; left > 0 && turns <= argCount / REQUEST_BLOCKS_MAX; turns++) {
    if (turns > 0 && pollStop()) { rangeStopped = true; streamStopLba = lba; return 0; }
    const n = left < REQUEST_BLOCKS_MAX ? left : REQUEST_BLOCKS_MAX;
    const status = run(op, argNs, partStart + lba, <u32>n, 0);
    if (status != 0) return status;
    lba += n;
    left -= n;
  }
  return 0;
}

// zero DEV LBA COUNT: Write Zeroes; where the controller does not offer it (ONCS, or a quirk),
// zero-filled buffers written instead, and the line says so (method=write).
export function cmdZero(): void {
  if (!ioArguments("zero", false, 0) || refuseReadonly("zero")) return;
  const status = runRange(OP_WRITE_ZEROES);
  if (status == ERR_UNSUPPORTED) {
    if (!stream(STREAM_ZERO)) return;
    if (streamStopped) { putStopped("zero", false, streamStopLba); return; }
    progressClear();
    put("zero"); putDevRange(argLba, argCount); putLine(" ok method=write");
    return;
  }
  if (status != 0) { ioFailed("zero", argLba, argCount, status, devLba(takenLba)); return; }
  if (rangeStopped) { putStopped("zero", false, streamStopLba); return; }
  put("zero"); putDevRange(argLba, argCount); putLine(" ok");
}

// trim DEV LBA COUNT: Dataset Management, deallocate. What the blocks read afterwards is the
// controller's (DLFEAT); a controller without it is an error line.
export function cmdTrim(): void {
  if (!ioArguments("trim", false, 0) || refuseReadonly("trim")) return;
  const status = runRange(OP_DEALLOCATE);
  if (status == ERR_UNSUPPORTED) {
    errorBegin("trim"); putDevRange(argLba, argCount); put(": "); putStatus(status); newline();
    return;
  }
  if (status != 0) { ioFailed("trim", argLba, argCount, status, devLba(takenLba)); return; }
  if (rangeStopped) { putStopped("trim", false, streamStopLba); return; }
  put("trim"); putDevRange(argLba, argCount); putLine(" ok");
}

// ---- flush ----

export function cmdFlush(): void {
  if (wordCount != 2) { errorBegin("flush"); putLine(": usage: flush DEV"); return; }
  const ns = namespaceByName(wordPtr(1), wordLen(1));
  if (ns < 0) { unknownDevice("flush"); return; }
  const status = run(OP_FLUSH, <u32>ns, 0, 0, 0);
  if (status != 0) {
    errorBegin("flush"); put(" dev="); putDevName(); put(": "); putStatus(status); newline();
    return;
  }
  put("flush dev="); putDevName(); put(" ok"); newline();
}

// ---- bench: random IO of BLOCKS blocks at queue depth QD, IOS requests ----

let randomState: u64 = 1;
function nextRandom(): u64 {
  let x = randomState; // xorshift64: a fixed sequence, so runs compare
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  randomState = x;
  return x;
}

function benchArguments(): bool {
  if (wordCount < 2 || wordCount > 6) { errorBegin("bench"); putLine(": usage: bench DEV [read|write] [BLOCKS] [QD] [IOS]"); return false; }
  const ns = namespaceByName(wordPtr(1), wordLen(1));
  if (ns < 0) { unknownDevice("bench"); return false; }
  argNs = <u32>ns;
  benchWrite = false;
  if (wordCount > 2) {
    if (wordIs(2, "write")) benchWrite = true;
    else if (!wordIs(2, "read")) { errorBegin("bench"); put(": expected read or write:"); errorWord(2); newline(); return false; }
  }
  benchBlocks = 4096 >> nsShift();
  if (benchBlocks == 0) benchBlocks = 1;
  benchQd = 1;
  benchIos = 2000;
  if (wordCount > 3) { benchBlocks = number(3); if (!numberOk || benchBlocks == 0) { errorBegin("bench"); put(": BLOCKS must be a number > 0:"); errorWord(3); newline(); return false; } }
  if (wordCount > 4) { benchQd = number(4); if (!numberOk || benchQd == 0 || benchQd > 1024) { errorBegin("bench"); put(": QD must be 1..1024:"); errorWord(4); newline(); return false; } }
  if (wordCount > 5) { benchIos = number(5); if (!numberOk || benchIos == 0 || benchIos > 100000000) { errorBegin("bench"); put(": IOS must be 1..100000000:"); errorWord(5); newline(); return false; } }
  const share = <u64>buffer_bytes();
  if (nsRefused() != 0 || benchBlocks > devBlocks() || (benchBlocks << nsShift()) * benchQd > share) {
    errorBegin("bench"); put(" dev="); putDevName();
    put(": BLOCKS x QD does not fit the namespace or the "); putDec(share >> 20); putLine(" MiB buffer");
    return false;
  }
  if (benchWrite && nsReadonly()) { errorBegin("bench"); put(" dev="); putDevName(); putLine(": namespace is write protected (NSATTR)"); return false; }
  if (!controllerReady()) { errorBegin("bench"); put(" dev="); putDevName(); putLine(": controller not ready"); return false; }
  return true;
}
let benchWrite = false;
let benchBlocks: u64 = 0;
let benchQd: u64 = 0;
let benchIos: u64 = 0;

// Keeps QD requests in flight at random block-aligned LBAs (the same sequence every run), request
// k using slice k mod QD of the share; doorbells batched (OP_FLAG_MORE) and rung by the next wait.
// Returns 0, or the first failure (failedAt says where).
let failedAt: u64 = 0;
let benchStopped = false;   // Ctrl-C: nothing new sent, what is in flight completes
let benchIssued: u64 = 0;
function benchRun(): u32 {
  const op = (benchWrite ? OP_WRITE : OP_READ) | OP_FLAG_MORE;
  const bytes = <u32>(benchBlocks << nsShift());
  const slots = devBlocks() / benchBlocks;
  randomState = 0x2545f4914f6cdd1d;
  resetUnkept();
  let issued: u64 = 0;
  let slice: u32 = 0;  // issued mod QD: the buffer slice of the next request
  let lba = (nextRandom() % slots) * benchBlocks;
  let status: u32 = 0;
  benchStopped = false;
  progressStart();
  while (unkeptDone < issued || (issued < benchIos && status == 0 && !benchStopped)) {
    if (!benchStopped && pollStop()) benchStopped = true;
    while (issued < benchIos && <u64>inFlight < benchQd && status == 0 && unkeptStatus == 0 && !benchStopped) {
      const t = send(op, argNs, partStart + lba, <u32>benchBlocks, slice * bytes, false);
      if (t == -<i64>ERR_BUSY && inFlight > 0) break;  // room comes with the next completion
      if (t < 0) { status = <u32>(-t); failedAt = lba; break; }
      issued++;
      slice = <u64>(slice + 1) == benchQd ? 0 : slice + 1;
      lba = (nextRandom() % slots) * benchBlocks;
    }
    if (unkeptStatus != 0 && status == 0) { status = unkeptStatus; failedAt = devLba(unkeptLba); }
    if (inFlight == 0) { if (status != 0 || issued == benchIos || benchStopped) break; }
    collect();
    progressShow("bench", unkeptDone, benchIos, "ios");
  }
  benchIssued = issued;
  if (unkeptStatus != 0 && status == 0) { status = unkeptStatus; failedAt = devLba(unkeptLba); }
  return status;
}

// Where the time goes: the driver's device counters (stats record) around the run.
const benchStats: usize = memory.data(<i32>STATS_RECORD_BYTES, 8);
let deviceNsBefore: u64 = 0;
let deviceCommandsBefore: u64 = 0;

// The namespace's controller's stats record into benchStats; false when it did not come.
function loadStats(): bool {
  return controller_stats(nsCtrl(), benchStats) == <i32>STATS_RECORD_BYTES;
}

const CHAR_DOT: u32 = 0x2e;
const CHAR_ZERO: u32 = 0x30;

// Nanoseconds as microseconds with two decimals: 12345 -> 12.34.
function putMicros(ns: u64): void {
  putDec(ns / 1000);
  const hundredths = ns % 1000 / 10;
  putByte(CHAR_DOT);
  if (hundredths < 10) putByte(CHAR_ZERO);
  putDec(hundredths);
}

// device_us_avg: the mean time an IO command of the run spent between its doorbell and the poll that
// saw its completion (the device's or the emulator's work, and the interrupt). host_us_avg: the rest
// of a request's life, the driver's, the host link's and this client's part: QD x the wall time per
// request (Little's law; at QD1 the wall time per IO itself) minus the device's part. Both per
// command as long as a request is one command (BLOCKS within MDTS).
function putDeviceSplit(elapsedNs: u64): void {
  const commands = load<u64>(benchStats + <usize>STAT_DEVICE_COMMANDS) - deviceCommandsBefore;
  if (commands == 0) return;
  const deviceNs = (load<u64>(benchStats + <usize>STAT_DEVICE_NS) - deviceNsBefore) / commands;
  const lifeNs = benchQd * elapsedNs / benchIos;
  put(" device_us_avg="); putMicros(deviceNs);
  put(" host_us_avg="); putMicros(lifeNs > deviceNs ? lifeNs - deviceNs : 0);
}

export function cmdBench(): void {
  if (!benchArguments()) return;
  const counted = loadStats();
  deviceNsBefore = load<u64>(benchStats + <usize>STAT_DEVICE_NS);
  deviceCommandsBefore = load<u64>(benchStats + <usize>STAT_DEVICE_COMMANDS);
  const start = now_ns();
  const status = benchRun();
  if (status != 0) { ioFailed("bench", failedAt, benchBlocks, status, failedAt); return; }
  const elapsed = now_ns() - start;
  progressClear();
  const bytes = benchIos * (benchBlocks << nsShift());
  put("bench dev="); putDevName();
  put(benchWrite ? " op=write" : " op=read");
  put(" block_bytes="); putDec(benchBlocks << nsShift());
  put(" qd="); putDec(benchQd);
  put(" ios="); putDec(benchIos);
  if (benchStopped) { put(" stopped at ios="); putDec(benchIssued); putLine(" (Ctrl-C)"); return; }
  put(" us="); putDec(elapsed / 1000);
  put(" iops="); putDec(elapsed == 0 ? 0 : benchIos * 1_000_000_000 / elapsed);
  put(" mib_s="); putDec(elapsed == 0 ? 0 : bytes * 1_000_000_000 / elapsed / (1 << 20));
  if (counted && elapsed != 0 && loadStats()) putDeviceSplit(elapsed);
  newline();
}
