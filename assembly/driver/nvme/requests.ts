// Requests: the IO path of the block interface (NVMe 1.4 sections 6.8 Flush, 6.9 Read, 6.15 Write,
// 6.16 Write Zeroes, 6.7 Dataset Management).
//
// A request is what a client asked for: a tag, an operation, a namespace, a block range and a buffer.
// The driver splits it into commands of at most MDTS (and NLB's 16 bits), each described by PRPs
// (prp.ts), sends as many as the IO queue takes and the rest as completions free command ids. A
// zeroing request is split at NLB's 65,536 blocks (no data moves, so MDTS does not bound it), a
// deallocation into one-range Dataset Management commands below 2 GiB each, each range list in a
// page of the PRP list pool; both only where ONCS offers them (and no quirk forbids). Nothing
// here waits for the device: submit answers at once; completions are reaped by poll/interrupt
// (reap), lost commands found by tick (checkTimeouts), which resets the controller and sends what
// was in flight again. A request completes exactly once, through request_done, when every command
// of it has (or, after the first failure, when nothing of it is in flight any more).
//
// Where a request's blocks are at any moment: in flight (a busy command id), waiting to be sent
// again (the controller's pending ring: retries and what a reset took back), or not sent yet (the
// request is on the controller's backlog). `outstanding` counts the first two.
import { now_ns, request_done } from "../imports";
import {
  NVM_READ, NVM_WRITE, NVM_FLUSH, NVM_WRITE_ZEROES, NVM_DATASET_MANAGEMENT, NLB_MAX_BLOCKS, ONCS_WRITE_ZEROES,
  ONCS_DATASET_MANAGEMENT, CSTS_CFS, SubmissionEntry, ADMIN_ABORT, ABORT_CID_SHIFT, IDC_ACL,
} from "./registers";
import { CommandSlot, NO_REQUEST, cqeStatus } from "./queue";
import { Controller, at, count, reportBadCompletion } from "./controller";
import { Namespace, entry, namespaceCount } from "./namespace";
import { buildPrps, buildRangeList, releaseLists } from "./prp";
import { buildSgl } from "./sgl";
import { QUIRK_DISABLE_WRITE_ZEROES, QUIRK_BIT_DISABLE_WRITE_ZEROES, traceQuirk } from "./quirks";
import { resetController } from "./bringup";
import { reapAdmin, sendAdmin, armEvents } from "./admin-requests";
import { adminCommand, submitAdmin } from "./admin";
import { QueuePair, AER_COMMAND, isRequest } from "./queue";
import { allocPages } from "../dma";
import { traceCommand, traceCompletion, traceReap } from "../trace";
import { isSuccess, isRetryable } from "../../common/status";
import {
  OP_READ, OP_WRITE, OP_FLUSH, OP_WRITE_ZEROES, OP_DEALLOCATE, OP_MASK, OP_FLAG_MORE, STATE_READY, IRQ_MODE_POLL,
  IRQ_MODE_INTX, ERR_TIMEOUT, ERR_CONTROLLER_FATAL, ERR_NOT_READY, ERR_BUSY, ERR_NO_NAMESPACE, ERR_RANGE,
  ERR_READ_ONLY, ERR_BAD_BUFFER, ERR_BAD_OP, ERR_UNUSABLE, ERR_UNSUPPORTED, WAIT_NOTHING, WAIT_INTERRUPT, WAIT_POLL,
} from "../../common/abi";

const REQUESTS_MAX: u32 = 1024;    // requests in flight at once, all controllers together
export const MAX_RETRIES: u32 = 3;        // a piece is sent again at most this many times
const NONE: u32 = 0;               // end of the backlog list (links are index + 1)
// One deallocated range stays below 2 GiB: a DSM range's length is 32 bits (6.7), but NVMe 2.0's
// DMRSL (Identify Controller, NVM command set) may limit it and a 1.4 driver cannot ask; QEMU 7.2
// reports DMRSL = (2^31 - 512) / block size and skips a longer range without a word (success).
const DSM_RANGE_BYTES_LIMIT: u64 = <u64>1 << 31;

@unmanaged
class Request {
  tag: u64;          // the host's
  lba: u64;          // first block
  errorLba: u64;     // lowest block of a failed command (set with the first failure)
  blocks: u32;       // blocks in all (1 for a flush: one command, no data)
  issued: u32;       // blocks handed to commands so far
  buffer: u32;       // linear-memory address of the data (set for requests on the backlog; 0 without data)
  opcode: u32;       // NVM_READ, NVM_WRITE, NVM_FLUSH, NVM_WRITE_ZEROES or NVM_DATASET_MANAGEMENT
  nsid: u32;
  lbaShift: u32;
  outstanding: u32;  // commands in flight or waiting to be sent again
  status: u32;       // the first failure; 0 while everything went well
  active: u32;       // 1 from submit to request_done
  queued: u32;       // 1 while on the controller's backlog
  next: u32;         // backlog link: request index + 1, NONE at the end
  internal: u32;     // 1 for the driver's own requests (the flush before shutdown)
  ctrl: u32;         // controller index
  maxBlocks: u32;    // blocks one command may cover (set for requests on the backlog); for an
                     // admin request, the times it was sent again after a reset
  queue: u32;        // the IO queue pair it goes to (index; 0 for admin requests): its client's
}
// Request.opcode of an admin request (admin-requests.ts): this bit or-ed with the admin opcode, so
// that no IO opcode test can match it. Its blocks are bytes, its lba the client's (not a block).
export const ADMIN_REQUEST: u32 = 0x100;
const REQUEST_BYTES: u32 = 88;

// A piece of a request waiting to be sent again.
@unmanaged
class PendingPiece {
  request: u32;
  blocks: u32;
  lba: u64;
  buffer: u32;
  retries: u32;
}
export const PENDING_BYTES: u32 = 24;
// Layouts checked when compiling.
if (offsetof<Request>() > REQUEST_BYTES) ERROR("Request outgrew REQUEST_BYTES");
if (offsetof<PendingPiece>() > PENDING_BYTES) ERROR("PendingPiece outgrew PENDING_BYTES");

let pool: usize = 0;         // REQUESTS_MAX records
let freeStack: usize = 0;    // free record indices (u16)
let freeCount: u32 = 0;
let bufferStart: usize = 0;  // the memory handed out for data (buffer_base .. + buffer_bytes)
let bufferEnd: usize = 0;
export let internalStatus: u32 = 0; // the last internal request's status, when it has completed

// @ts-ignore: decorator
@inline function request(i: u32): Request {
  assert(i < REQUESTS_MAX, "request index out of range");
  return changetype<Request>(pool + <usize>(i * REQUEST_BYTES));
}

// The request records and the buffer memory, once at start; false when the window is too small.
export function initRequests(bufferBytes: u32): bool {
  pool = allocPages(REQUESTS_MAX * REQUEST_BYTES);
  freeStack = allocPages(REQUESTS_MAX * 2);
  bufferStart = bufferBytes == 0 ? 0 : allocPages(bufferBytes, 64 << 10);
  if (pool == 0 || freeStack == 0 || (bufferBytes != 0 && bufferStart == 0)) return false;
  bufferEnd = bufferStart + <usize>bufferBytes;
  for (let i = REQUESTS_MAX; i > 0; i--) {
    store<u16>(freeStack + <usize>(freeCount * 2), <u16>(i - 1));
    freeCount++;
  }
  return true;
}

export function bufferBase(): usize { return bufferStart; }
export function bufferBytes(): u32 { return <u32>(bufferEnd - bufferStart); }

// Each IO queue pair's ring of pieces to send again, once the controller is ready: one per command
// id is enough, since a piece waits there only after leaving the queue.
export function initPending(c: Controller): bool {
  for (let i: u32 = 0; i < c.ioQueues; i++) {
    const q = c.ioQueue(i);
    if (q.pending == 0) q.pending = allocPages(q.entries * PENDING_BYTES);
    if (q.pending == 0) return false;
  }
  return true;
}

// The IO queue pair of a request: its client's (the tag's bits 63:32), modulo the pairs in use, so
// that each client has a queue of its own while there are as many pairs as clients.
function queueIndexOf(c: Controller, tag: u64): u32 {
  assert(c.ioQueues > 0, "requests: a ready controller without IO queues");
  return <u32>((tag >> 32) % <u64>c.ioQueues);
}

// ---- submit ----

// Checks a request and queues it; never waits. Returns 0 (queued), ERR_BUSY, or an argument error
// with nothing sent. `op` is OP_* | OP_FLAG_MORE; `buffer` an address inside the handed-out memory.
export function submit(tag: u64, op: u32, nsIndex: u32, lba: u64, blocks: u32, buffer: u32, internal: bool): u32 {
  const kind = op & OP_MASK;
  if ((op & ~(OP_MASK | OP_FLAG_MORE)) != 0 || kind - OP_READ > OP_DEALLOCATE - OP_READ) return ERR_BAD_OP;
  if (nsIndex >= namespaceCount()) return ERR_NO_NAMESPACE;
  const ns = entry(nsIndex);
  if (ns.refused != 0) return ERR_UNUSABLE;
  const c = at(ns.ctrl);
  if (c.state != STATE_READY) return ERR_NOT_READY;
  const isFlush = kind == OP_FLUSH;
  const hasData = kind == OP_READ || kind == OP_WRITE;
  if (!isFlush) {
    const refusal = checkRequest(c, ns, kind, lba, blocks, buffer);
    if (refusal != 0) return refusal;
  }
  if (!hasData) buffer = 0;
  // Fair and bounded: while earlier requests of this queue (this client's) still wait for command
  // ids, new ones wait too; another client's backlog, on its own queue, does not hold this one up.
  const queue = queueIndexOf(c, tag);
  const q = c.ioQueue(queue);
  if (q.backlogHead != NONE || q.pendingCount != 0 || freeCount == 0 || !q.canQueue()) return ERR_BUSY;
  const index = allocRequest();
  const r = request(index);
  // What every request needs; errorLba is set by the first failure, next by appendBacklog.
  r.tag = tag;
  r.lba = isFlush ? 0 : lba;
  r.blocks = isFlush ? 1 : blocks;
  r.issued = 0;
  r.opcode = opcodeOf(kind);
  r.nsid = ns.nsid;
  r.lbaShift = ns.lbaShift;
  r.outstanding = 0;
  r.status = 0;
  r.queued = 0;
  r.internal = internal ? 1 : 0;
  r.ctrl = c.index;
  r.queue = queue;
  const most = commandBlocksMax(kind, ns);
  if (r.blocks <= most) {
    // One command carries it all: straight to the queue (the common case).
    if (!enqueue(c, q, index, r.lba, r.blocks, buffer, 0)) { freeRequest(index); return ERR_BUSY; }
    r.issued = r.blocks;
    r.outstanding = 1;
  } else {
    // Pieces go from the backlog as command ids free up (issue).
    r.buffer = buffer;
    r.maxBlocks = most;
    appendBacklog(q, index);
    issue(c, q);
    if (r.outstanding == 0) {
      // Not even the first command fitted (the PRP list pool is lent out): as if nothing happened.
      unlinkBacklog(q, index);
      freeRequest(index);
      return ERR_BUSY;
    }
  }
  c.requests++;
  if ((op & OP_FLAG_MORE) == 0) q.ringSubmissionAt(now_ns());
  return 0;
}

// Whether a request may go to this namespace's controller as asked (every operation but a flush):
// 0, or the refusal. A zeroing or deallocation the controller does not offer (ONCS, or a quirk that
// disables it) is ERR_UNSUPPORTED, asked for only once the request is otherwise valid.
function checkRequest(c: Controller, ns: Namespace, kind: u32, lba: u64, blocks: u32, buffer: u32): u32 {
  if (kind != OP_READ && ns.readonly != 0) return ERR_READ_ONLY;
  if (blocks == 0 || lba >= ns.blocks || <u64>blocks > ns.blocks - lba) return ERR_RANGE;
  if (kind == OP_READ || kind == OP_WRITE) {
    const end = <u64>buffer + (<u64>blocks << ns.lbaShift);
    if ((buffer & 3) != 0 || <usize>buffer < bufferStart || end > <u64>bufferEnd) return ERR_BAD_BUFFER;
    return 0;
  }
  if (kind == OP_DEALLOCATE) return (c.oncs & ONCS_DATASET_MANAGEMENT) != 0 ? 0 : ERR_UNSUPPORTED;
  if ((c.oncs & ONCS_WRITE_ZEROES) == 0) return ERR_UNSUPPORTED;
  if ((c.quirks & QUIRK_DISABLE_WRITE_ZEROES) != 0) {
    traceQuirk(c.index, QUIRK_BIT_DISABLE_WRITE_ZEROES);
    return ERR_UNSUPPORTED;
  }
  return 0;
}

function opcodeOf(kind: u32): u32 {
  if (kind == OP_READ) return NVM_READ;
  if (kind == OP_WRITE) return NVM_WRITE;
  if (kind == OP_WRITE_ZEROES) return NVM_WRITE_ZEROES;
  return kind == OP_DEALLOCATE ? NVM_DATASET_MANAGEMENT : NVM_FLUSH;
}

// The most blocks one command of this operation covers on the namespace: reads and writes as MDTS
// and NLB allow (the namespace's), Write Zeroes NLB's 65,536, a deallocated range under 2 GiB.
function commandBlocksMax(kind: u32, ns: Namespace): u32 {
  if (kind == OP_WRITE_ZEROES) return NLB_MAX_BLOCKS;
  if (kind == OP_DEALLOCATE) return <u32>(DSM_RANGE_BYTES_LIMIT >> ns.lbaShift) - 1;
  return ns.maxBlocks;
}

// A free request record, marked active; the caller sets every other field.
function allocRequest(): u32 {
  assert(freeCount > 0, "request pool empty");
  freeCount--;
  const index = <u32>load<u16>(freeStack + <usize>(freeCount * 2));
  const r = request(index);
  assert(r.active == 0, "a free request record was active");
  r.active = 1;
  return index;
}

function freeRequest(index: u32): void {
  const r = request(index);
  assert(r.active == 1 && r.queued == 0 && r.outstanding == 0, "freeing a request still in use");
  assert(freeCount < REQUESTS_MAX, "request pool overflow");
  r.active = 0;
  store<u16>(freeStack + <usize>(freeCount * 2), <u16>index);
  freeCount++;
}

// ---- the backlog: requests with blocks not yet sent, oldest first ----

function appendBacklog(q: QueuePair, index: u32): void {
  const r = request(index);
  assert(r.queued == 0, "request already on the backlog");
  r.queued = 1;
  r.next = NONE;
  if (q.backlogTail != NONE) request(q.backlogTail - 1).next = index + 1;
  else q.backlogHead = index + 1;
  q.backlogTail = index + 1;
}

// The oldest request has all its blocks sent: off the backlog.
function popBacklog(q: QueuePair): void {
  const r = request(q.backlogHead - 1);
  q.backlogHead = r.next;
  if (q.backlogHead == NONE) q.backlogTail = NONE;
  r.queued = 0;
  r.next = NONE;
}

function unlinkBacklog(q: QueuePair, index: u32): void {
  const r = request(index);
  if (r.queued == 0) return;
  let prev = NONE;
  let link = q.backlogHead;
  for (let steps: u32 = 0; link != NONE && steps < REQUESTS_MAX; steps++) {
    if (link - 1 == index) break;
    prev = link;
    link = request(link - 1).next;
  }
  assert(link - 1 == index, "request missing from the backlog");
  if (prev == NONE) q.backlogHead = r.next;
  else request(prev - 1).next = r.next;
  if (q.backlogTail == index + 1) q.backlogTail = prev;
  r.queued = 0;
  r.next = NONE;
}

// ---- pieces waiting to be sent again ----

function pendingAt(q: QueuePair, i: u32): PendingPiece {
  return changetype<PendingPiece>(q.pending + <usize>(((q.pendingHead + i) % q.entries) * PENDING_BYTES));
}

function pushPending(q: QueuePair, index: u32, slot: CommandSlot): void {
  assert(q.pendingCount < q.entries, "pending ring full");
  const p = pendingAt(q, q.pendingCount);
  p.request = index;
  p.lba = slot.lba;
  p.blocks = slot.blocks;
  p.buffer = slot.buffer;
  p.retries = slot.retries + 1;
  q.pendingCount++;
}

// Drops the waiting pieces of a request that has failed.
function dropPending(q: QueuePair, index: u32): void {
  let kept: u32 = 0;
  const n = q.pendingCount;
  for (let i: u32 = 0; i < n; i++) {
    const p = pendingAt(q, i);
    if (p.request == index) { request(index).outstanding--; continue; }
    if (kept != i) memory.copy(changetype<usize>(pendingAt(q, kept)), changetype<usize>(p), <usize>PENDING_BYTES);
    kept++;
  }
  q.pendingCount = kept;
}

// ---- sending commands ----

// Writes one command at the SQ tail (the doorbell, which stamps its time, is rung by the caller);
// false, with nothing changed, when no command id, SQ slot or PRP list page is free.
function enqueue(c: Controller, qp: QueuePair, index: u32, lba: u64, blocks: u32, buffer: u32, retries: u32): bool {
  if (!qp.canQueue()) return false;
  if (qp.cqDoorbellDue(1)) qp.ringCompletion(); // the controller needs room to post this one too
  const r = request(index);
  const cid = qp.claim(index, lba, blocks, buffer, retries);
  const slot = qp.slot(cid);
  const sqe = qp.nextEntry(r.opcode, cid);
  sqe.nsid = r.nsid;
  if (!fillCommand(c, slot, sqe, r.opcode, lba, blocks, buffer, r.lbaShift)) { qp.freeCid(cid); return false; }
  // Each pair holds at most its share of the controller's list pages, so one client's large
  // transfers cannot take them all from another's (a share covers one command's MAX_LIST_PAGES).
  if (slot.listCount != 0 && qp.listPages + slot.listCount > c.prpPages / c.ioQueues) {
    releaseLists(c, slot);
    qp.freeCid(cid);
    return false;
  }
  qp.listPages += slot.listCount;
  traceCommand(c.index, qp.qid, changetype<usize>(sqe));
  qp.push();
  c.commands++;
  return true;
}

// The list pages of a command of pair qp go back to the controller's pool.
function releaseQueueLists(c: Controller, qp: QueuePair, slot: CommandSlot): void {
  assert(qp.listPages >= slot.listCount, "requests: a pair gives back list pages it does not hold");
  qp.listPages -= slot.listCount;
  releaseLists(c, slot);
}

// The fields of a command beyond its opcode and namespace: the data pointer and block range of a
// read or write, the block range of a Write Zeroes (no data), the range list of a deallocation.
// False, holding no PRP page, when the pool cannot cover it.
function fillCommand(c: Controller, slot: CommandSlot, sqe: SubmissionEntry, opcode: u32, lba: u64, blocks: u32, buffer: u32, lbaShift: u32): bool {
  if (opcode == NVM_FLUSH) return true;
  if (opcode == NVM_DATASET_MANAGEMENT) {
    assert((<u64>blocks << lbaShift) < DSM_RANGE_BYTES_LIMIT, "deallocate: a range of 2 GiB or more");
    return buildRangeList(c, slot, sqe, lba, blocks);
  }
  if (opcode == NVM_WRITE_ZEROES) assert(blocks <= NLB_MAX_BLOCKS, "write zeroes: more blocks than NLB holds");
  else if (c.sglOn != 0) buildSgl(c, sqe, <usize>buffer, blocks << lbaShift);
  else if (!buildPrps(c, slot, sqe, <usize>buffer, blocks << lbaShift)) return false;
  sqe.cdw10 = <u32>lba;               // starting LBA, low and high halves
  sqe.cdw11 = <u32>(lba >> 32);
  sqe.cdw12 = blocks - 1;             // NLB, 0-based
  return true;
}

// Sends what waits, as far as command ids and PRP pages allow: pieces to send again first, then
// the backlog in order. Returns the number of commands written (the doorbell is the caller's).
function issue(c: Controller, qp: QueuePair): u32 {
  if (qp.pendingCount == 0 && qp.backlogHead == NONE) return 0;
  let sent: u32 = 0;
  while (sent < qp.entries) {
    if (qp.pendingCount > 0) {
      const p = pendingAt(qp, 0);
      if (!enqueue(c, qp, p.request, p.lba, p.blocks, p.buffer, p.retries)) break;
      qp.pendingHead = (qp.pendingHead + 1) % qp.entries;
      qp.pendingCount--;
    } else if (qp.backlogHead != NONE) {
      const index = qp.backlogHead - 1;
      const r = request(index);
      const left = r.blocks - r.issued;
      const n = left < r.maxBlocks ? left : r.maxBlocks;
      const lba = r.lba + <u64>r.issued;
      const hasData = r.opcode == NVM_READ || r.opcode == NVM_WRITE;
      const buffer = hasData ? r.buffer + (r.issued << r.lbaShift) : 0;
      if (!enqueue(c, qp, index, lba, n, buffer, 0)) break;
      r.issued += n;
      r.outstanding++;
      if (r.issued == r.blocks) popBacklog(qp);
    } else {
      break;
    }
    sent++;
  }
  // Nothing in flight and something waiting would wait forever: the PRP pool covers one command.
  assert(qp.inFlight() > 0 || (qp.pendingCount == 0 && qp.backlogHead == NONE), "requests stalled with nothing in flight");
  return sent;
}

// ---- completions ----

// Records a failure: the first status, the lowest failed block; nothing more of it is sent.
function failRequest(c: Controller, index: u32, status: u32, lba: u64): void {
  const r = request(index);
  if (r.status == 0 || lba < r.errorLba) {
    if (r.status == 0) r.status = status;
    r.errorLba = lba;
  }
  const q = c.ioQueue(r.queue);
  unlinkBacklog(q, index);
  r.issued = r.blocks;
  dropPending(q, index);
}

// Completes the request if nothing of it is left; returns 1 if it did.
function settle(c: Controller, index: u32): u32 {
  const r = request(index);
  if (r.outstanding != 0 || r.issued != r.blocks) return 0;
  assert(r.active == 1 && r.queued == 0, "request completed twice");
  c.requests--;
  const tag = r.tag;
  const status = r.status;
  const lba = status != 0 && r.opcode < ADMIN_REQUEST ? r.errorLba : 0;
  const internal = r.internal;
  freeRequest(index);
  if (internal != 0) internalStatus = status;
  else request_done(tag, status, lba);
  return 1;
}

// One IO completion, seen at seenNs: counted (the device's part too), retried when the device
// allows it, or settled.
function finishCommand(c: Controller, qp: QueuePair, cid: u32, status: u32, seenNs: u64): u32 {
  const slot = qp.slot(cid);
  const index = slot.request;
  const r = request(index);
  if (slot.submitNs != 0 && seenNs >= slot.submitNs) {  // else a device that answered before the doorbell
    c.deviceNs += seenNs - slot.submitNs;
    c.deviceCommands++;
  }
  releaseQueueLists(c, qp, slot);
  if (isSuccess(status)) {
    const bytes = <u64>slot.blocks << r.lbaShift;
    if (r.opcode == NVM_READ) c.bytesRead += bytes;
    else if (r.opcode == NVM_WRITE) c.bytesWritten += bytes;
  } else {
    c.errors++;
    if (isRetryable(status) && slot.retries < MAX_RETRIES && r.status == 0) {
      c.retries++;
      pushPending(qp, index, slot);
      qp.freeCid(cid);
      return 0;
    }
    failRequest(c, index, status, slot.lba);
  }
  qp.freeCid(cid);
  r.outstanding--;
  return settle(c, index);
}

// Consumes the admin CQ and every IO CQ, sending what waits. Returns the requests completed.
export function reap(c: Controller): u32 {
  let done: u32 = reapAdmin(c);
  for (let i: u32 = 0; i < c.ioQueues; i++) done += reapQueue(c, c.ioQueue(i));
  return done;
}

// Consumes one IO completion queue, then sends what waits for its SQ. Returns the requests completed.
export function reapQueue(c: Controller, qp: QueuePair): u32 {
  let done: u32 = 0;
  let seen: u32 = 0;
  let seenNs: u64 = 0;  // when this reap found its first completion: one clock read per reap
  while (seen < qp.entries) {  // a device cannot keep us here: at most one ring's worth per call
    const cqe = qp.peek();
    if (cqe == null) break;
    if (seen == 0) seenNs = now_ns();
    traceCompletion(c.index, qp.qid, changetype<usize>(cqe));
    const got = <u32>cqe.cid;
    const cid = got - qp.cidBase;       // the slot; an id below the base wraps past the ring
    const status = cqeStatus(cqe);
    qp.pop(cqe);
    seen++;
    c.completions++;
    if (cid >= qp.entries) { reportBadCompletion(c, qp.qid, got); continue; }
    const slot = qp.slot(cid);
    if (slot.busy != 1 || slot.request == NO_REQUEST) { reportBadCompletion(c, qp.qid, got); continue; }
    done += finishCommand(c, qp, cid, status, seenNs);
  }
  if (seen > 0) {
    traceReap(c.index, qp.qid, seen);
    // INTx stays asserted until the head catches up: ring at once there; else when due.
    if (c.irqMode == IRQ_MODE_INTX || qp.cqDoorbellDue(0)) qp.ringCompletion();
    if ((qp.pendingCount != 0 || qp.backlogHead != NONE) && issue(c, qp) > 0) qp.ringSubmissionAt(now_ns());
  }
  return done;
}

// ---- timeouts and recovery ----

// A command older than CAP.TO, or CSTS.CFS, on a controller with requests: reset it. The commands
// that overran fail with ERR_TIMEOUT; every other command in flight is sent again after the reset
// (each piece at most MAX_RETRIES times). Commands a batch left unrung are sent first, so every
// command in flight has its doorbell time. Returns the requests completed.
export function checkTimeouts(c: Controller, now: u64): u32 {
  if (c.state != STATE_READY) return 0;
  let inFlight = c.adminQueue().inFlight();
  for (let i: u32 = 0; i < c.ioQueues; i++) {
    c.ioQueue(i).ringSubmissionAt(now);
    inFlight += c.ioQueue(i).inFlight();
  }
  if (inFlight == 0) return 0;
  const limitNs = <u64>c.timeoutMs * 1_000_000;
  let why: u32 = anyOverran(c, now, limitNs) ? ERR_TIMEOUT : 0;
  if (why == 0 && (c.csts() & CSTS_CFS) != 0) why = ERR_CONTROLLER_FATAL;
  if (why == 0) return 0;
  c.timeouts++;
  c.errors++;
  // Commands overran: Abort them first (Linux does so for IO commands); a reset only when that does
  // not free them.
  if (why == ERR_TIMEOUT && abortOverran(c, now, limitNs)) {
    const done = reap(c);  // the aborted commands' completions; retries are sent with a new time
    const later = now_ns();  // after the retries' doorbells: `now` would make them look late
    if (!anyOverran(c, later, limitNs)) return done;
    return done + resetAndResend(c, why, later, limitNs);
  }
  return resetAndResend(c, why, now, limitNs);
}

// Sends Abort (5.1: CDW10 SQID 15:0, CID 31:16) for each command of a request older than limitNs,
// IO commands and admin requests' Get Log Page (SQID 0) alike, one at a time and waiting for each
// (tick may wait, CAP.TO at most), at most ACL + 1 (Identify byte 258) in one call (those past it
// are left to the reset that follows). The aborted command's own completion (Command Abort
// Requested, or whatever it finished with) is then reaped like any other, or handed over by the
// Abort's wait: sent again when its status allows, else its request fails. False when nothing was
// aborted, or an Abort itself did not complete (straight to the reset, which frees its id too).
function abortOverran(c: Controller, now: u64, limitNs: u64): bool {
  let budget = <u32>load<u8>(c.idctrl + <usize>IDC_ACL) + 1;
  const limit = budget;
  for (let i: u32 = 0; i <= c.ioQueues; i++) {  // the IO queues, then the admin queue
    const sent = abortQueue(c, i < c.ioQueues ? c.ioQueue(i) : c.adminQueue(), now, limitNs, budget);
    if (sent < 0) return false;
    budget -= <u32>sent;
  }
  return budget < limit;
}

// abortOverran on one queue, at most `budget` Aborts: how many were sent, or -1 when one failed.
function abortQueue(c: Controller, qp: QueuePair, now: u64, limitNs: u64, budget: u32): i32 {
  let sent: u32 = 0;
  for (let cid: u32 = 0; cid < qp.entries && sent < budget; cid++) {
    const slot = qp.slot(cid);
    if (slot.busy != 1 || !isRequest(slot.request) || now - slot.submitNs <= limitNs) continue;
    const sqe = adminCommand(ADMIN_ABORT, 0);
    sqe.cdw10 = qp.qid | ((cid + qp.cidBase) << ABORT_CID_SHIFT);
    const status = submitAdmin(c);
    sent++;
    if (status == ERR_TIMEOUT || status == ERR_CONTROLLER_FATAL || status == ERR_NOT_READY) return -1;
  }
  assert(sent <= budget, "abort: more than ACL + 1");
  return <i32>sent;
}

// The reset path of checkTimeouts: overran commands fail with `why`, the others are sent again.
function resetAndResend(c: Controller, why: u32, now: u64, limitNs: u64): u32 {
  takeBack(c, why, now, limitNs);
  // The reset re-creates the admin and IO queue pairs, which frees every command id.
  if (!resetController(c, why)) return abandonRequests(c);
  armEvents(c);  // first: its Set Features waits, while nothing else is in flight on the admin queue
  resendAdmin(c);
  for (let i: u32 = 0; i < c.ioQueues; i++) {
    issue(c, c.ioQueue(i));
    c.ioQueue(i).ringSubmissionAt(now_ns());
  }
  return settleAll(c);
}

// Whether a command of a request, on any of the controller's queues, is older than limitNs.
function anyOverran(c: Controller, now: u64, limitNs: u64): bool {
  for (let i: u32 = 0; i < c.ioQueues; i++) if (overran(c.ioQueue(i), now, limitNs)) return true;
  return overran(c.adminQueue(), now, limitNs);
}

// Whether a command of a request on this queue is older than limitNs (the synchronous admin
// commands of bring-up, recovery and shutdown have no request: they time out where they wait; the
// Asynchronous Event Request is outstanding until an event, and never late).
function overran(qp: QueuePair, now: u64, limitNs: u64): bool {
  for (let cid: u32 = 0; cid < qp.entries; cid++) {
    const slot = qp.slot(cid);
    if (slot.busy == 1 && isRequest(slot.request) && now - slot.submitNs > limitNs) return true;
  }
  return false;
}

// Takes back every command the controller owns, before a reset or after giving it up: a command
// that overran CAP.TO (when limitNs is not 0) or was sent too often fails its request with `why`;
// the others wait to be sent again (retries counted), or, when `why` is ERR_NOT_READY, fail too.
// Their command ids are the reset's to free (QueuePair.reset), so they are only marked idle here.
function takeBack(c: Controller, why: u32, now: u64, limitNs: u64): void {
  takeBackAdmin(c, why, now, limitNs);
  for (let i: u32 = 0; i < c.ioQueues; i++) takeBackQueue(c, c.ioQueue(i), why, now, limitNs);
}

function takeBackQueue(c: Controller, qp: QueuePair, why: u32, now: u64, limitNs: u64): void {
  for (let cid: u32 = 0; cid < qp.entries; cid++) {
    const slot = qp.slot(cid);
    if (slot.busy != 1 || slot.request == NO_REQUEST) continue;
    const index = slot.request;
    const r = request(index);
    releaseQueueLists(c, qp, slot);
    slot.busy = 0;
    const overran = limitNs != 0 && now - slot.submitNs > limitNs;
    if (r.status == 0 && why != ERR_NOT_READY && !overran && slot.retries < MAX_RETRIES) {
      c.retries++;
      pushPending(qp, index, slot);
    } else {
      if (r.status == 0) failRequest(c, index, why, slot.lba);
      r.outstanding--;
    }
  }
}

// takeBack for the admin requests in flight (admin-requests.ts): one that overran CAP.TO, was sent
// too often or meets a controller given up fails with `why`; the others are sent again after the
// reset (resendAdmin), marked by issued = 0.
function takeBackAdmin(c: Controller, why: u32, now: u64, limitNs: u64): void {
  const aq = c.adminQueue();
  for (let cid: u32 = 0; cid < aq.entries; cid++) {
    const slot = aq.slot(cid);
    if (slot.busy != 1 || slot.request == NO_REQUEST) continue;
    slot.busy = 0;
    if (slot.request == AER_COMMAND) c.aerArmed = 0;  // armed again after the reset
    if (!isRequest(slot.request)) continue;
    const r = request(slot.request);
    r.outstanding--;
    const overran = limitNs != 0 && now - slot.submitNs > limitNs;
    if (r.status == 0 && why != ERR_NOT_READY && !overran && r.maxBlocks < MAX_RETRIES) {
      c.retries++;
      r.maxBlocks++;
      r.issued = 0;
    } else if (r.status == 0) {
      r.status = why;
    }
  }
}

// After a reset: the admin requests takeBackAdmin kept are sent again.
function resendAdmin(c: Controller): void {
  for (let i: u32 = 0; i < REQUESTS_MAX; i++) {
    const r = request(i);
    if (r.active != 1 || r.ctrl != c.index || r.opcode < ADMIN_REQUEST || r.issued != 0) continue;
    r.issued = r.blocks;
    if (sendAdmin(c, i)) r.outstanding = 1;
    else r.status = ERR_NOT_READY;  // cannot happen on a fresh admin queue; settled, not lost
  }
}

// A request record for an admin request (admin-requests.ts), counted on its controller: one
// command, whose byte count is `bytes`; the caller sends it.
export function newAdminRequest(tag: u64, c: Controller, opcode: u32, lba: u64, bytes: u32, buffer: u32): u32 {
  const index = allocRequest();
  const r = request(index);
  r.tag = tag;
  r.lba = lba;
  r.errorLba = 0;
  r.blocks = bytes;
  r.issued = bytes;
  r.buffer = buffer;
  r.opcode = ADMIN_REQUEST | opcode;
  r.nsid = 0;
  r.lbaShift = 0;
  r.outstanding = 1;
  r.status = 0;
  r.queued = 0;
  r.next = NONE;
  r.internal = 0;
  r.ctrl = c.index;
  r.maxBlocks = 0;
  r.queue = 0;
  c.requests++;
  return index;
}

// What an admin request asked for, to send it (again).
export function requestLba(index: u32): u64 { return request(index).lba; }
export function requestBytes(index: u32): u32 { return request(index).blocks; }
export function requestBuffer(index: u32): u32 { return request(index).buffer; }
export function requestRecordFree(): bool { return freeCount > 0; }

// The admin request's command completed (reaped, or handed over by a synchronous wait): it
// settles, with the status when it failed. Returns 1 (it completed).
// A retryable status (an Abort after CAP.TO among them) sends it again, at most MAX_RETRIES times
// (maxBlocks counts them), as IO commands are; then it returns 0.
export function finishAdminRequest(c: Controller, index: u32, status: u32): u32 {
  const r = request(index);
  assert(r.active == 1 && r.opcode >= ADMIN_REQUEST && r.outstanding == 1, "admin request not in flight");
  if (!isSuccess(status)) {
    c.errors++;
    if (isRetryable(status) && r.status == 0 && r.maxBlocks < MAX_RETRIES && sendAdmin(c, index)) {
      c.retries++;
      r.maxBlocks++;
      return 0;
    }
    if (r.status == 0) r.status = status;
  }
  r.outstanding = 0;
  return settle(c, index);
}

// The controller is gone (its reset failed, or shutdown gave up on it; it is disabled): every
// request still on it completes, with ERR_NOT_READY unless it had already failed.
export function abandonRequests(c: Controller): u32 {
  takeBack(c, ERR_NOT_READY, 0, 0);
  for (let i: u32 = 0; i < REQUESTS_MAX; i++) {
    const r = request(i);
    if (r.active != 1 || r.ctrl != c.index) continue;
    if (r.status == 0) failRequest(c, i, ERR_NOT_READY, r.lba + <u64>r.issued);
    else { unlinkBacklog(c.ioQueue(r.queue), i); r.issued = r.blocks; dropPending(c.ioQueue(r.queue), i); }
  }
  for (let i: u32 = 0; i < c.ioQueues; i++) {
    assert(c.ioQueue(i).pendingCount == 0 && c.ioQueue(i).backlogHead == NONE, "abandoned requests still waiting");
  }
  return settleAll(c);
}

function settleAll(c: Controller): u32 {
  let done: u32 = 0;
  for (let i: u32 = 0; i < REQUESTS_MAX; i++) {
    const r = request(i);
    if (r.active == 1 && r.ctrl == c.index) done += settle(c, i);
  }
  return done;
}

// ---- what the host asks between requests ----

// Requests accepted and not completed, on every controller.
export function outstandingRequests(): u32 {
  return REQUESTS_MAX - freeCount;
}

// Whether the host may sleep until an interrupt (WAIT_INTERRUPT), must keep polling (WAIT_POLL),
// or has nothing to wait for (WAIT_NOTHING).
export function waitHint(): u32 {
  let hint = WAIT_NOTHING;
  for (let i: u32 = 0; i < count(); i++) {
    const c = at(i);
    if (c.requests == 0) continue;
    if (c.irqMode == IRQ_MODE_POLL) return WAIT_POLL;
    hint = WAIT_INTERRUPT;
  }
  return hint;
}
