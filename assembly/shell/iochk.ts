// iochk DEV IOS SEED [QD]: a random read/write exerciser after Fuchsia's iochk (docs/shell.md).
// IOS operations, each a read or a write of 1 .. REQUEST_BYTES_MAX worth of blocks at a random
// block-aligned position in the tracked range (the first TRACK_BLOCKS_MAX blocks of the namespace at
// most), QD of them in flight, every choice drawn from splitmix64 seeded with SEED: a run replays
// exactly. Every block keeps a generation byte (0: not written in this run, then 1..255, 1 again);
// a write of block b at generation g writes the words genWord(g, offset), so every read checks each
// written block it covers against its last generation, and at the end every written block is read
// back and checked. Two requests in flight never touch the same block: an operation that would
// waits until the one it overlaps has completed, so "written last" is well defined and the issue
// order alone decides every generation. Operations are issued strictly in the order drawn.
import { buffer_bytes, buffer_write, buffer_read, now_ns } from "./client";
import { put, putLine, putDec, putCtrlName, putNsName, newline, flush, countFailure } from "../common/console";
import { putStatus } from "../common/status-words";
import { refusedText } from "../common/words";
import { OP_READ, OP_WRITE, OP_FLAG_MORE, ERR_BUSY, STATE_READY, CTRL_STATE } from "../common/abi";
import {
  loadController, ctrl32, nsCtrl, nsId, nsShift, nsReadonly, nsRefused, namespaceByName, putNotReady,
  putDevName, devBlocks, partStart,
} from "./devices";
import { wordCount, wordPtr, wordLen, number, numberOk } from "./words";
import { send, collect, finished, take, takenLba, inFlight } from "./requests";
import { mix } from "./pattern";
import { stage, errorBegin, errorWord, unknownDevice, devLba } from "./io-commands";
import { atPrompt, pollStop } from "./session";

const REQUEST_BYTES_MAX: u32 = 256 << 10;  // the largest operation: 256 KiB
const TRACK_BLOCKS_MAX: u32 = 512 << 10;   // generation bytes: 512 KiB of the shell's 2 MiB
const QD_DEFAULT: u64 = 8;
const QD_MAX: u32 = 32;                    // 32 slots of 256 KiB: the shell's 8 MiB buffer share
const IOS_MAX: u64 = 100_000_000;
const SEED_MAX: u64 = (1 << 24) - 1;       // 24 bits, as the fill pattern takes
const SEED_SHIFT: u64 = 40;
const GEN_SHIFT: u64 = 32;
const GEN_MAX: u32 = 255;                  // generations 1..255, then 1 again; 0 = not written
const WORD_BYTES: u32 = 8;
const GAMMA: u64 = 0x9e3779b97f4a7c15;     // splitmix64's increment
const PROGRESS_NS: u64 = 250_000_000;      // the progress line at the prompt, at most this often
const PROGRESS_CLEAR: i32 = 79;            // blanks that wipe a progress line

const FAIL_NONE: u32 = 0;
const FAIL_STATUS: u32 = 1;    // a request failed (device status, or submit refused it)
const FAIL_MISMATCH: u32 = 2;  // a read found other data than the block's last generation

const gens: usize = memory.data(<i32>TRACK_BLOCKS_MAX, 8);

// A request in flight: slot i owns bytes [i * slotBytes, (i + 1) * slotBytes) of the share.
@unmanaged
class Slot {
  busy: u32;
  write: u32;
  tag: u32;
  blocks: u32;
  lba: u64;
}
const SLOT_BYTES: u32 = 24;
const slots: usize = memory.data(<i32>(QD_MAX * SLOT_BYTES), 8);

function slotAt(i: u32): Slot {
  assert(i < QD_MAX, "iochk: slot out of range");
  return changetype<Slot>(slots + <usize>(i * SLOT_BYTES));
}

// ---- the arguments and the geometry they lead to ----
let ioNs: u32 = 0;
let ioCtrl: u32 = 0;
let ioNsid: u32 = 0;
let ios: u64 = 0;
let seed: u64 = 0;
let qd: u32 = 0;
let shift: u32 = 0;
let trackedBlocks: u32 = 0;  // blocks in play: [0, trackedBlocks)
let maxBlocks: u32 = 0;      // the largest operation
let slotBytes: u32 = 0;

function refuse(what: string, i: i32): bool {
  errorBegin("iochk"); put(what); errorWord(i); newline();
  return false;
}

function refuseDevice(what: string): bool {
  errorBegin("iochk"); put(" dev="); putDevName(); put(": "); put(what);
  return false;
}

// Every word checked before any IO. Leaves the geometry set.
function iochkArguments(): bool {
  if (wordCount != 4 && wordCount != 5) { errorBegin("iochk"); putLine(": usage: iochk DEV IOS SEED [QD]"); return false; }
  const ns = namespaceByName(wordPtr(1), wordLen(1));
  if (ns < 0) { unknownDevice("iochk"); return false; }
  ios = number(2);
  if (!numberOk || ios == 0 || ios > IOS_MAX) return refuse(": IOS must be 1..100000000:", 2);
  seed = number(3);
  if (!numberOk || seed > SEED_MAX) return refuse(": SEED must be 0..16777215 (the pattern uses 24 bits of it):", 3);
  let depth = QD_DEFAULT;
  if (wordCount == 5) {
    depth = number(4);
    if (!numberOk || depth == 0 || depth > <u64>QD_MAX) return refuse(": QD must be 1..32:", 4);
  }
  if (nsRefused() != 0) { refuseDevice("namespace not usable: "); putLine(refusedText(nsRefused())); return false; }
  if (nsReadonly()) { refuseDevice("namespace is write protected (NSATTR)"); newline(); return false; }
  if (!loadController(nsCtrl()) || ctrl32(CTRL_STATE) != STATE_READY) {
    refuseDevice(""); putCtrlName(nsCtrl()); put(" is not ready: "); putNotReady(); newline();
    return false;
  }
  shift = nsShift();
  trackedBlocks = devBlocks() < <u64>TRACK_BLOCKS_MAX ? <u32>devBlocks() : TRACK_BLOCKS_MAX;
  maxBlocks = REQUEST_BYTES_MAX >> shift;
  if (maxBlocks > trackedBlocks) maxBlocks = trackedBlocks;
  slotBytes = maxBlocks << shift;
  assert(trackedBlocks > 0 && maxBlocks > 0 && slotBytes <= REQUEST_BYTES_MAX, "iochk: geometry");
  if (<u64>slotBytes * depth > <u64>buffer_bytes()) {
    refuseDevice("QD x "); putDec(<u64>slotBytes); put(" bytes does not fit the ");
    putDec(<u64>buffer_bytes() >> 20); putLine(" MiB buffer share");
    return false;
  }
  ioNs = <u32>ns;
  ioCtrl = nsCtrl();
  ioNsid = nsId();
  qd = <u32>depth;
  return true;
}

// ---- what is written: the generations and the data they stand for ----

@inline function genAt(lba: u64): u32 {
  assert(lba < <u64>trackedBlocks, "iochk: block outside the trackedBlocks range");
  return <u32>load<u8>(gens + <usize>lba);
}

// The word at device byte offset `offset` of a block written at generation `gen`: the fill pattern
// of the same seed with the generation in bits 32..39 (word indexes stay below 2^32: at most
// TRACK_BLOCKS_MAX blocks of 64 KiB).
@inline function genWord(gen: u32, offset: u64): u64 {
  return mix((seed << SEED_SHIFT) ^ (<u64>gen << GEN_SHIFT) ^ (offset >> 3));
}

function fillBlock(ptr: usize, lba: u64, gen: u32): void {
  const base = lba << shift;
  const bytes: u32 = <u32>1 << shift;
  for (let o: u32 = 0; o < bytes; o += WORD_BYTES) store<u64>(ptr + <usize>o, genWord(gen, base + <u64>o));
}

// The first byte of the block at ptr that is not generation `gen`'s, or -1.
function checkBlock(ptr: usize, lba: u64, gen: u32): i64 {
  const base = lba << shift;
  const bytes: u32 = <u32>1 << shift;
  for (let o: u32 = 0; o < bytes; o += WORD_BYTES) {
    const diff = load<u64>(ptr + <usize>o) ^ genWord(gen, base + <u64>o);
    if (diff != 0) return <i64>o + <i64>(ctz(diff) >> 3);
  }
  return -1;
}

// Which generation wrote `word` at device byte offset `offset` (a multiple of 8): 1..255, or 0.
function generationOf(word: u64, offset: u64): u32 {
  for (let g: u32 = 1; g <= GEN_MAX; g++) if (genWord(g, offset) == word) return g;
  return 0;
}

// ---- the run's state ----
let rng: u64 = 0;
let drawn: u64 = 0;        // random operations drawn
let reads: u64 = 0;        // random reads issued
let writes: u64 = 0;       // random writes issued
let verifiedBlocks: u64 = 0;  // blocks a read compared with their generation
let busyCount: u32 = 0;
let finalLba: u32 = 0;     // the final pass: where its next chunk starts
let finalChunks: u64 = 0;
// The next operation, drawn and not issued yet.
let pendValid = false;
let pendWrite = false;
let pendFinal = false;     // of the final pass (not counted in reads)
let pendPrepared = false;  // a write's generations taken and its data in the share of pendSlot
let pendSlot: u32 = 0;
let pendLba: u64 = 0;
let pendBlocks: u32 = 0;
// The first failure: everything after it only drains what is in flight.
let failKind: u32 = FAIL_NONE;
let failStatus: u32 = 0;
let failWrite = false;
let failLba: u64 = 0;
let failBlocks: u32 = 0;
let failAtLba: u64 = 0;
let failOffsetBytes: u64 = 0;
let failExpected: u32 = 0;
let failFound: u32 = 0;
let progressAt: u64 = 0;
let progressShown = false;
let stopped = false;       // Ctrl-C at an interactive prompt: nothing new is issued

function resetRun(): void {
  const words = (trackedBlocks + WORD_BYTES - 1) / WORD_BYTES;   // a generation byte per block
  for (let i: u32 = 0; i < words; i++) store<u64>(gens + <usize>(i * WORD_BYTES), 0);
  for (let i: u32 = 0; i < QD_MAX; i++) slotAt(i).busy = 0;
  rng = seed;
  drawn = 0; reads = 0; writes = 0; verifiedBlocks = 0;
  busyCount = 0;
  finalLba = 0;
  finalChunks = (<u64>trackedBlocks + <u64>maxBlocks - 1) / <u64>maxBlocks;
  pendValid = false;
  pendPrepared = false;
  failKind = FAIL_NONE;
  progressAt = now_ns();
  progressShown = false;
  stopped = false;
}

// splitmix64: value k of seed s is mix(s + k * GAMMA) (mix adds GAMMA once more).
function nextRandom(): u64 {
  const r = mix(rng);
  rng += GAMMA;
  return r;
}

// ---- which operation comes next: IOS random ones, then the final pass ----

function drawRandom(): void {
  pendBlocks = <u32>(1 + nextRandom() % <u64>maxBlocks);
  pendLba = nextRandom() % <u64>(trackedBlocks - pendBlocks + 1);
  pendWrite = (nextRandom() & 1) != 0;
  drawn++;
}

// The final pass reads, chunk by chunk of maxBlocks, the span of each chunk's written blocks.
function drawFinal(): bool {
  for (let chunk: u64 = 0; chunk < finalChunks && finalLba < trackedBlocks; chunk++) {
    const start = finalLba;
    const end = trackedBlocks - start < maxBlocks ? trackedBlocks : start + maxBlocks;
    finalLba = end;
    let first: i64 = -1;
    let last: u32 = 0;
    for (let b = start; b < end; b++) {
      if (genAt(<u64>b) == 0) continue;
      if (first < 0) first = <i64>b;
      last = b;
    }
    if (first < 0) continue;
    pendLba = <u64>first;
    pendBlocks = last - <u32>first + 1;
    pendWrite = false;
    return true;
  }
  return false;
}

function overlapsInFlight(lba: u64, blocks: u32): bool {
  for (let i: u32 = 0; i < qd; i++) {
    const s = slotAt(i);
    if (s.busy != 0 && lba < s.lba + <u64>s.blocks && s.lba < lba + <u64>blocks) return true;
  }
  return false;
}

function freeSlot(): u32 {
  for (let i: u32 = 0; i < qd; i++) if (slotAt(i).busy == 0) return i;
  assert(false, "iochk: no free slot");
  return 0;
}

// A write takes the next generation of each of its blocks and puts their data into its slot.
function prepareWrite(slot: u32): void {
  for (let i: u32 = 0; i < pendBlocks; i++) {
    const lba = pendLba + <u64>i;
    const old = genAt(lba);
    const gen = old == GEN_MAX ? 1 : old + 1;
    store<u8>(gens + <usize>lba, <u8>gen);
    fillBlock(stage + <usize>(i << shift), lba, gen);
  }
  buffer_write(slot * slotBytes, stage, pendBlocks << shift);
}

function fail(status: u32, write: bool, lba: u64, blocks: u32, at: u64): void {
  if (failKind != FAIL_NONE) return;
  failKind = FAIL_STATUS;
  failStatus = status;
  failWrite = write;
  failLba = lba;
  failBlocks = blocks;
  failAtLba = at;
}

// Issues what fits: until QD are in flight, the next operation overlaps one in flight, the driver
// is busy, or nothing is left. Doorbells wait for the collect that always follows (OP_FLAG_MORE).
function issueWhatFits(): void {
  for (let k: u32 = 0; k < qd && busyCount < qd && failKind == FAIL_NONE && !stopped; k++) {
    if (!pendValid) {
      pendFinal = drawn == ios;
      if (!pendFinal) drawRandom();
      else if (!drawFinal()) return;
      pendValid = true;
      pendPrepared = false;
    }
    if (overlapsInFlight(pendLba, pendBlocks)) return;
    if (!pendPrepared) {
      pendSlot = freeSlot();
      if (pendWrite) prepareWrite(pendSlot);
      pendPrepared = true;
    }
    const op = (pendWrite ? OP_WRITE : OP_READ) | OP_FLAG_MORE;
    const t = send(op, ioNs, partStart + pendLba, pendBlocks, pendSlot * slotBytes);
    if (t == -<i64>ERR_BUSY && inFlight > 0) return;  // room comes with a completion
    if (t < 0) { fail(<u32>(-t), pendWrite, pendLba, pendBlocks, pendLba); return; }
    const s = slotAt(pendSlot);
    assert(s.busy == 0, "iochk: slot already in flight");
    s.busy = 1; s.write = pendWrite ? 1 : 0; s.tag = <u32>t; s.lba = pendLba; s.blocks = pendBlocks;
    busyCount++;
    if (!pendFinal) { if (pendWrite) writes++; else reads++; }
    pendValid = false;
  }
}

// A read's data, block by block: every written block equal to its last generation.
function checkRead(slot: u32, s: Slot): void {
  buffer_read(slot * slotBytes, stage, s.blocks << shift);
  for (let i: u32 = 0; i < s.blocks; i++) {
    const lba = s.lba + <u64>i;
    const gen = genAt(lba);
    if (gen == 0) continue;
    verifiedBlocks++;
    const ptr = stage + <usize>(i << shift);
    const bad = checkBlock(ptr, lba, gen);
    if (bad < 0) continue;
    const wordAt = <u32>bad & ~(WORD_BYTES - 1);
    failKind = FAIL_MISMATCH;
    failAtLba = lba;
    failOffsetBytes = <u64>bad;
    failExpected = gen;
    failFound = generationOf(load<u64>(ptr + <usize>wordAt), (lba << shift) + <u64>wordAt);
    return;
  }
}

function reapFinished(): void {
  for (let i: u32 = 0; i < qd; i++) {
    const s = slotAt(i);
    if (s.busy == 0 || !finished(s.tag)) continue;
    const status = take(s.tag);
    s.busy = 0;
    busyCount--;
    if (failKind != FAIL_NONE) continue;       // draining after a failure
    if (status != 0) fail(status, s.write != 0, s.lba, s.blocks, devLba(takenLba));
    else if (s.write == 0) checkRead(i, s);
  }
}

// ---- output ----

function putRun(): void {
  put("iochk dev="); putDevName();
  put(" ios="); putDec(ios);
  put(" seed="); putDec(seed);
  put(" qd="); putDec(<u64>qd);
}

// At the prompt only: one line, rewritten in place.
function progress(): void {
  if (!atPrompt) return;
  const now = now_ns();
  if (now - progressAt < PROGRESS_NS) return;
  progressAt = now;
  progressShown = true;
  if (drawn < ios) { put("\riochk "); putDec(drawn); put("/"); putDec(ios); put(" ios, "); }
  else { put("\riochk final pass at lba "); putDec(<u64>finalLba); put("/"); putDec(<u64>trackedBlocks); put(", "); }
  putDec(verifiedBlocks); put(" blocks verified");
  flush();
}

function clearProgress(): void {
  if (!progressShown) return;
  put("\r");
  for (let i: i32 = 0; i < PROGRESS_CLEAR; i++) put(" ");
  put("\r");
  progressShown = false;
}

function writtenBlocks(): u64 {
  let n: u64 = 0;
  for (let b: u32 = 0; b < trackedBlocks; b++) if (genAt(<u64>b) != 0) n++;
  return n;
}

function report(): void {
  if (failKind == FAIL_STATUS) {
    errorBegin("iochk"); put(" dev="); putDevName();
    put(" ios="); putDec(ios); put(" seed="); putDec(seed); put(" qd="); putDec(<u64>qd);
    put(failWrite ? ": write lba=" : ": read lba="); putDec(failLba);
    put(" count="); putDec(<u64>failBlocks);
    put(": at lba="); putDec(failAtLba); put(": "); putStatus(failStatus); newline();
    return;
  }
  if (failKind == FAIL_MISMATCH) {
    countFailure();
    putRun();
    put(" mismatch lba="); putDec(failAtLba); put(" offset="); putDec(failOffsetBytes);
    put(" expected_gen="); putDec(<u64>failExpected);
    put(" found_gen="); if (failFound == 0) put("none"); else putDec(<u64>failFound);
    newline();
    return;
  }
  if (stopped) {   // not an error line, not a failure: the user asked (docs/shell.md)
    putRun();
    if (drawn < ios || pendValid && !pendFinal) { put(" stopped at ios="); putDec(reads + writes); }
    else { put(" stopped in the final pass at lba="); putDec(<u64>finalLba); }
    putLine(" (Ctrl-C)");
    return;
  }
  putRun();
  put(" tracked_blocks="); putDec(<u64>trackedBlocks);
  put(" max_blocks="); putDec(<u64>maxBlocks);
  put(" reads="); putDec(reads);
  put(" writes="); putDec(writes);
  put(" blocks_written="); putDec(writtenBlocks());
  put(" verified_blocks="); putDec(verifiedBlocks);
  put(" ok");
  newline();
}

export function cmdIochk(): void {
  if (!iochkArguments()) return;
  resetRun();
  // Each turn takes at least one completion (collect waits for one), and every operation
  // completes once: IOS random ones, at most finalChunks in the final pass.
  const turnsMax = ios + finalChunks + 2;
  for (let turn: u64 = 0; turn < turnsMax; turn++) {
    if (!stopped && failKind == FAIL_NONE && pollStop()) stopped = true;
    issueWhatFits();
    if (busyCount == 0) break;
    collect();
    reapFinished();
    progress();
  }
  assert(busyCount == 0 && (failKind != FAIL_NONE || stopped || (drawn == ios && !pendValid)), "iochk: the run did not finish");
  clearProgress();
  report();
}
