// The shell's requests: submitted through the host's block interface (blk.submit), completions
// collected with blk.complete. A kept request gets a tag from a pool, and its completion (status
// and first failed block) waits under that tag until the caller takes it; an unkept one (bench)
// gets a counter tag with UNKEPT_TAG set, and its completion only counts, the first failure kept.
import { submit, complete, now_ns } from "./client";
import { DONE_TAG, DONE_STATUS, DONE_ERROR_LBA, DONE_RECORD_BYTES, ERR_BUSY, ERR_TIMEOUT } from "../common/abi";

export const TAGS_MAX: u32 = 1024;
// Tags of unkept requests: this bit and a counter, no state kept (bench sends many, reads none).
const UNKEPT_TAG: u32 = 0x8000_0000;
let unkeptNext: u32 = 0;
const DONE_CAP: u32 = 64;                          // completion records fetched per blk.complete
const WAIT_SLICE_NS: u64 = 10_000_000;             // one blk.complete waits at most this
// The driver completes every request within its retries and resets (each bounded by CAP.TO); a
// wait this long without any completion means the host or driver is broken, and is reported.
const NO_PROGRESS_LIMIT_NS: u64 = 1000_000_000_000;

@unmanaged
class TagState {
  busy: u32;      // submitted, completion not taken yet
  finished: u32;  // the completion arrived
  status: u32;
  abandoned: u32; // given up on: the tag stays the driver's
  errorLba: u64;
}
const TAG_BYTES: u32 = 24;
const states: usize = memory.data(<i32>(TAGS_MAX * TAG_BYTES), 8);
const freeTags: usize = memory.data(<i32>(TAGS_MAX * 2), 2);
let freeCount: u32 = 0;
let ready = false;
const records: usize = memory.data(<i32>(DONE_CAP * DONE_RECORD_BYTES), 8);

export let inFlight: u32 = 0;
// Unkept requests: how many completed, and the first failure among them.
export let unkeptDone: u64 = 0;
export let unkeptStatus: u32 = 0;
export let unkeptLba: u64 = 0;

export function resetUnkept(): void {
  unkeptDone = 0;
  unkeptStatus = 0;
  unkeptLba = 0;
}

function state(tag: u32): TagState {
  assert(tag < TAGS_MAX, "tag out of range");
  return changetype<TagState>(states + <usize>(tag * TAG_BYTES));
}

function init(): void {
  for (let t = TAGS_MAX; t > 0; t--) { store<u16>(freeTags + <usize>(freeCount * 2), <u16>(t - 1)); freeCount++; }
  ready = true;
}

// Submits a request; returns its tag (>= 0), or the status submit answered, negated, with nothing
// queued (-ERR_BUSY when the driver has no room now: collect() a completion and try again).
export function send(op: u32, ns: u32, lba: u64, blocks: u32, offset: u32, keep: bool = true): i64 {
  if (!ready) init();
  if (!keep) {
    const tag = UNKEPT_TAG | (unkeptNext & ~UNKEPT_TAG);
    const status = submit(tag, op, ns, lba, blocks, offset);
    if (status != 0) return -<i64>status;
    unkeptNext++;
    inFlight++;
    return <i64>tag;
  }
  if (freeCount == 0) return -<i64>ERR_BUSY;
  const tag = <u32>load<u16>(freeTags + <usize>((freeCount - 1) * 2));
  const status = submit(tag, op, ns, lba, blocks, offset);
  if (status != 0) return -<i64>status;
  freeCount--;
  const s = state(tag);
  s.busy = 1;
  s.finished = 0;
  inFlight++;
  return <i64>tag;
}

// Waits for completions and records them; returns how many arrived. With nothing in flight it
// returns 0 at once; after NO_PROGRESS_LIMIT_NS without any, every request in flight is marked
// finished with ERR_TIMEOUT (and stays the driver's: its tag is never reused).
export function collect(): u32 {
  if (inFlight == 0) return 0;
  const start = now_ns();
  while (true) {
    const n = complete(records, DONE_CAP, WAIT_SLICE_NS);
    if (n > 0) {
      for (let i = 0; i < n; i++) record(records + <usize>(i * <i32>DONE_RECORD_BYTES));
      return <u32>n;
    }
    if (now_ns() - start >= NO_PROGRESS_LIMIT_NS) { giveUp(); return 0; }
  }
}

function record(p: usize): void {
  finish(load<u32>(p + <usize>DONE_TAG), load<u32>(p + <usize>DONE_STATUS), load<u64>(p + <usize>DONE_ERROR_LBA));
}

function finish(tag: u32, status: u32, errorLba: u64): void {
  inFlight--;
  if ((tag & UNKEPT_TAG) != 0) {
    // Counted and forgotten.
    unkeptDone++;
    if (status != 0 && unkeptStatus == 0) { unkeptStatus = status; unkeptLba = errorLba; }
    return;
  }
  const s = state(tag);
  assert(s.busy == 1 && s.finished == 0, "a completion for a tag not in flight");
  s.finished = 1;
  s.status = status;
  s.errorLba = errorLba;
}

function freeTag(tag: u32): void {
  assert(freeCount < TAGS_MAX, "tag pool overflow");
  store<u16>(freeTags + <usize>(freeCount * 2), <u16>tag);
  freeCount++;
}

function giveUp(): void {
  for (let t: u32 = 0; t < TAGS_MAX; t++) {
    const s = state(t);
    if (s.busy == 1 && s.finished == 0) { s.abandoned = 1; finish(t, ERR_TIMEOUT, 0); }
  }
  // What is left in flight is unkept: counted as done, failed.
  while (inFlight > 0) finish(UNKEPT_TAG, ERR_TIMEOUT, 0);
}

export function finished(tag: u32): bool { return state(tag).finished == 1; }

// Takes a finished request's result (status; errorLba in takenLba) and frees its tag.
export let takenLba: u64 = 0;
export function take(tag: u32): u32 {
  const s = state(tag);
  assert(s.busy == 1 && s.finished == 1, "taking a request that has not finished");
  takenLba = s.errorLba;
  s.busy = 0;
  if (s.abandoned == 0) freeTag(tag);
  return s.status;
}

// Waits until the request has finished, then takes it.
export function waitFor(tag: u32): u32 {
  while (!finished(tag)) collect();
  return take(tag);
}

// One request, waited for: submitted as soon as the driver has room. Returns its status.
export function run(op: u32, ns: u32, lba: u64, blocks: u32, offset: u32): u32 {
  while (true) {
    const t = send(op, ns, lba, blocks, offset);
    if (t >= 0) return waitFor(<u32>t);
    if (t != -<i64>ERR_BUSY || inFlight == 0) { takenLba = lba; return <u32>(-t); }
    collect();
  }
}
