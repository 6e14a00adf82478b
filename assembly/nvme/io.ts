// Reads, writes and flushes on a controller's IO queue (NVMe 1.4 sections 6.8, 6.9, 6.15):
// a transfer is split into commands of at most MDTS (and NLB's 16 bits), each described by PRPs
// (4.3), as many in flight as the queue and the command ids allow, completions matched by id.
import { SQE_NSID, SQE_PRP1, SQE_PRP2, SQE_CDW10, SQE_CDW12, NVM_READ, NVM_WRITE, NVM_FLUSH, PRP_ENTRY_BYTES } from "./registers";
import { QueuePair, CommandSlot, MAX_LIST_PAGES } from "./queue";
import {
  Controller, STATE_READY, waitCompletion, waitError, deadlineFromNow, takePrpPage, givePrpPage, recover,
} from "./controller";
import { Namespace } from "./namespace";
import { busAddress } from "../dma";
import { isSuccess, isRetryable, ERR_NOT_READY } from "./status";

export const OP_READ: u32 = NVM_READ;
export const OP_WRITE: u32 = NVM_WRITE;
const MAX_RETRIES: u32 = 3;
const NLB_MAX_BLOCKS: u64 = 65536; // CDW12 NLB is 16 bits, 0-based

// Where the last failed transfer failed: the first command that did not succeed.
export let failedLba: u64 = 0;

// Commands waiting to be submitted again after a retryable error (their ids stay allocated).
const retryStack: usize = memory.data(512 * 4);
let retryCount: u32 = 0;

function releaseLists(c: Controller, slot: CommandSlot): void {
  const n = slot.listCount;
  if (n > 0) givePrpPage(c, <usize>slot.list0);
  if (n > 1) givePrpPage(c, <usize>slot.list1);
  if (n > 2) givePrpPage(c, <usize>slot.list2);
  if (n > 3) givePrpPage(c, <usize>slot.list3);
  slot.listCount = 0;
}

function holdList(slot: CommandSlot, page: usize): void {
  const n = slot.listCount;
  if (n == 0) slot.list0 = <u32>page;
  else if (n == 1) slot.list1 = <u32>page;
  else if (n == 2) slot.list2 = <u32>page;
  else slot.list3 = <u32>page;
  slot.listCount = n + 1;
}

// Fills PRP1/PRP2 of `sqe` for [buffer, buffer + bytes) (4.3): PRP1 may start inside a page; two
// pages use PRP2 directly; more use a PRP list whose last entry chains to the next list page when
// the rest does not fit. Returns false when the list-page pool is empty (the caller waits).
function buildPrps(c: Controller, slot: CommandSlot, sqe: usize, buffer: usize, bytes: u32): bool {
  const page = <u64>c.pageBytes;
  const bus = busAddress(buffer, bytes);
  const first = page - (bus & (page - 1));
  store<u64>(sqe + <usize>SQE_PRP1, bus);
  if (<u64>bytes <= first) return true;
  const next = bus + first;           // page-aligned from here on
  const rest = <u64>bytes - first;
  if (rest <= page) {
    store<u64>(sqe + <usize>SQE_PRP2, next);
    return true;
  }
  const pages = <u32>((rest + page - 1) / page);
  const perList = c.pageBytes / PRP_ENTRY_BYTES;
  let list = takePrpPage(c);
  if (list == 0) return false;
  holdList(slot, list);
  store<u64>(sqe + <usize>SQE_PRP2, busAddress(list, c.pageBytes));
  let idx: u32 = 0;
  for (let i: u32 = 0; i < pages; i++) {
    if (idx == perList - 1 && i < pages - 1) {
      // The last slot of a full list page points at the next list page.
      if (slot.listCount == MAX_LIST_PAGES) { releaseLists(c, slot); return false; }
      const more = takePrpPage(c);
      if (more == 0) { releaseLists(c, slot); return false; }
      holdList(slot, more);
      store<u64>(list + <usize>(idx * PRP_ENTRY_BYTES), busAddress(more, c.pageBytes));
      list = more;
      idx = 0;
    }
    store<u64>(list + <usize>(idx * PRP_ENTRY_BYTES), next + <u64>i * page);
    idx++;
  }
  return true;
}

// Writes the slot's command into the SQ at the tail; false if PRP list pages ran out.
function enqueue(c: Controller, qp: QueuePair, cid: u32, lbaShift: u32): bool {
  const slot = qp.slot(cid);
  const sqe = qp.nextEntry(slot.opcode, cid);
  store<u32>(sqe + <usize>SQE_NSID, slot.nsid);
  if (slot.opcode != NVM_FLUSH) {
    const bytes = slot.blocks << lbaShift;
    if (!buildPrps(c, slot, sqe, <usize>slot.buffer, bytes)) return false;
    store<u64>(sqe + <usize>SQE_CDW10, slot.lba);           // CDW10-11: starting LBA
    store<u32>(sqe + <usize>SQE_CDW12, slot.blocks - 1);    // NLB, 0-based
  }
  qp.push();
  c.commands++;
  return true;
}

function finish(c: Controller, qp: QueuePair, cid: u32): void {
  releaseLists(c, qp.slot(cid));
  qp.freeCid(cid);
}

// Largest number of blocks one command may carry on this controller.
export function maxBlocksPerCommand(c: Controller, ns: Namespace): u64 {
  let n = <u64>(c.maxCommandBytes >> ns.lbaShift);
  if (n > NLB_MAX_BLOCKS) n = NLB_MAX_BLOCKS;
  return n;
}

// Runs `blocks` blocks from `lba` between the namespace and `buffer` (opcode read or write), or a
// flush when opcode is NVM_FLUSH. Returns 0 or the first failure's status (failedLba says where).
// Every command issued has completed, or been reclaimed by a controller reset, when this returns.
export function transfer(c: Controller, ns: Namespace, opcode: u32, lba: u64, blocks: u64, buffer: usize): u32 {
  const perCommand = opcode == NVM_FLUSH ? 1 : maxBlocksPerCommand(c, ns);
  return run(c, ns, opcode, lba, blocks, buffer, perCommand, 0xffffffff, 0);
}

// Random IO for the shell's bench: `ios` commands of `blocks` blocks each at random block-aligned
// LBAs, at most `depth` in flight, command k using buffer slice k mod depth. Same path as transfer.
export function randomIo(c: Controller, ns: Namespace, opcode: u32, blocks: u64, ios: u64, depth: u32, buffer: usize): u32 {
  randomState = 0x2545f4914f6cdd1d;
  return run(c, ns, opcode, 0, ios * blocks, buffer, blocks, depth, ns.blocks / blocks);
}

let randomState: u64 = 1;
function nextRandom(): u64 {
  let x = randomState; // xorshift64: a fixed sequence, so runs compare
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  randomState = x;
  return x;
}

function run(c: Controller, ns: Namespace, opcode: u32, lba: u64, blocks: u64, buffer: usize,
             perCommand: u64, depth: u32, randomSlots: u64): u32 {
  if (c.state != STATE_READY) return ERR_NOT_READY;
  const qp = c.ioQueue();
  if (perCommand == 0) return ERR_NOT_READY;
  let issued: u32 = 0;
  let nextLba = lba;
  let remaining = opcode == NVM_FLUSH ? 1 : blocks;
  let offset: usize = 0;
  let firstError: u32 = 0;
  retryCount = 0;
  let deadline = deadlineFromNow(c);
  while (true) {
    // Submit while the SQ has room and ids are free: retries first, then new pieces.
    while (!qp.sqFull() && (retryCount > 0 || (remaining > 0 && qp.freeCount > 0 && qp.outstanding < depth))) {
      if (retryCount > 0) {
        const cid = load<u32>(retryStack + <usize>((retryCount - 1) * 4));
        if (!enqueue(c, qp, cid, ns.lbaShift)) break;
        retryCount--;
        continue;
      }
      const n = remaining < perCommand ? remaining : perCommand;
      const cid = <u32>qp.allocCid();
      const slot = qp.slot(cid);
      slot.opcode = opcode;
      slot.nsid = ns.nsid;
      slot.blocks = <u32>n;
      if (randomSlots != 0) {
        slot.lba = (nextRandom() % randomSlots) * n;
        slot.buffer = <u32>(buffer + <usize>((issued % depth) * (<u32>n << ns.lbaShift)));
      } else {
        slot.lba = nextLba;
        slot.buffer = <u32>(buffer + offset);
      }
      issued++;
      slot.retries = 0;
      slot.listCount = 0;
      if (!enqueue(c, qp, cid, ns.lbaShift)) { qp.freeCid(cid); break; }
      nextLba += n;
      remaining -= n;
      offset += <usize>(n << ns.lbaShift);
    }
    qp.ringSubmission();
    if (qp.outstanding == 0) {
      if (remaining == 0 && retryCount == 0) break;
      // Nothing in flight and nothing could be queued: only an exhausted PRP pool does that,
      // and with nothing in flight no page will come back.
      if (firstError == 0) { firstError = ERR_NOT_READY; failedLba = nextLba; }
      break;
    }
    const cid = waitCompletion(c, qp, deadline);
    if (cid < 0) {
      // No completion within the timeout (or CFS): the controller still owns the memory of every
      // outstanding command; only a reset gives it back.
      const why = waitError;
      c.timeouts++;
      c.errors++;
      if (firstError == 0) { firstError = why; failedLba = oldestOutstanding(qp, nextLba); }
      reclaimAll(c, qp);
      recover(c, why);
      return firstError;
    }
    deadline = deadlineFromNow(c);
    const slot = qp.slot(<u32>cid);
    const status = slot.status;
    if (isSuccess(status)) {
      const bytes = <u64>slot.blocks << ns.lbaShift;
      if (opcode == NVM_READ) c.bytesRead += bytes;
      else if (opcode == NVM_WRITE) c.bytesWritten += bytes;
      finish(c, qp, <u32>cid);
      continue;
    }
    c.errors++;
    if (isRetryable(status) && slot.retries < MAX_RETRIES && firstError == 0) {
      slot.retries++;
      c.retries++;
      slot.busy = 1;
      releaseLists(c, slot);
      store<u32>(retryStack + <usize>(retryCount * 4), <u32>cid);
      retryCount++;
      continue;
    }
    if (firstError == 0 || slot.lba < failedLba) {
      if (firstError == 0) firstError = status;
      failedLba = slot.lba;
    }
    // Stop queueing new pieces; drain what is in flight.
    remaining = 0;
    finish(c, qp, <u32>cid);
  }
  return firstError;
}

// The lowest LBA among the commands the controller still owns (the one that did not complete).
function oldestOutstanding(qp: QueuePair, fallback: u64): u64 {
  let lba = fallback;
  for (let cid: u32 = 0; cid < qp.entries; cid++) {
    const slot = qp.slot(cid);
    if (slot.busy == 1 && slot.lba < lba) lba = slot.lba;
  }
  return lba;
}

// After a timeout: every id and PRP page goes back; the reset makes the controller forget them.
function reclaimAll(c: Controller, qp: QueuePair): void {
  for (let cid: u32 = 0; cid < qp.entries; cid++) {
    const slot = qp.slot(cid);
    if (slot.busy != 0) releaseLists(c, slot);
  }
  retryCount = 0;
  qp.reset();
}

export function flush(c: Controller, ns: Namespace): u32 {
  return transfer(c, ns, NVM_FLUSH, 0, 0, 0);
}
