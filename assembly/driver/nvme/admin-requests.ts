// Admin requests: the block interface's asynchronous admin path (docs/block-interface.md, "Log
// pages"). A client's OP_LOG_PAGE becomes one Get Log Page (NVMe 1.4 section 5.14) on the admin
// queue, written and rung at once and never waited for. Its completion is reaped with the IO
// completions (poll, interrupt, shutdown's drain), or, when a synchronous admin command of recovery
// or shutdown (admin.ts) is waiting and finds it, handed over by that wait. tick times it out like
// an IO command (requests.ts checkTimeouts); a reset sends it again. It completes exactly once,
// through request_done, with the same status codes as IO.
//
// At most ADMIN_REQUESTS_MAX are in flight per controller, and one admin command id always stays
// free, so the synchronous commands always find one.
import { now_ns } from "../imports";
import {
  ADMIN_GET_LOG_PAGE, ADMIN_ASYNC_EVENT_REQUEST, GLP_RAE, GLP_NUMDL_SHIFT, NSID_ALL, IDC_LPA, LPA_EXTENDED,
  AER_TYPE_MASK, AER_INFO_SHIFT, AER_LID_SHIFT, SQE_BYTES, SubmissionEntry, ADMIN_SET_FEATURES,
  FEATURE_ASYNC_EVENT_CONFIG, AEC_SMART_CRITICAL_WARNINGS,
} from "./registers";
import { NO_REQUEST, AER_COMMAND, EVENT_LOG_COMMAND, cqeStatus, isRequest } from "./queue";
import { busAddress } from "../dma";
import { logging } from "../log";
import { isSuccess } from "../../common/status";
import { put, putDec, putHex, putCtrlName, newline } from "../../common/console";
import { Controller, at, count, reportBadCompletion } from "./controller";
import { buildPrps } from "./prp";
import {
  newAdminRequest, finishAdminRequest, requestLba, requestBytes, requestBuffer, requestRecordFree, bufferBase, bufferBytes,
} from "./requests";
import { traceCommand, traceCompletion } from "../trace";
import { adminCommand, submitAdmin } from "./admin";
import {
  STATE_READY, ERR_NOT_READY, ERR_BUSY, ERR_TIMEOUT, ERR_CONTROLLER_FATAL, ERR_NO_NAMESPACE, ERR_RANGE, ERR_BAD_BUFFER, ERR_UNSUPPORTED, LOG_PAGE_BYTES_MAX,
} from "../../common/abi";

export const ADMIN_REQUESTS_MAX: u32 = 8;  // per controller, in flight at once
const LID_MASK: u64 = 0xff;                // OP_LOG_PAGE's lba: LID bits 7:0, byte offset 63:32
const LOG_OFFSET_SHIFT: u64 = 32;
const DWORD_BYTES: u32 = 4;
if (LOG_PAGE_BYTES_MAX > 4096) ERROR("LOG_PAGE_BYTES_MAX: one 4 KiB page at most, so PRP1 and PRP2 cover it (no list)");

// Admin commands of requests in flight (the driver's own, the event request among them, not counted).
function requestsInFlight(c: Controller): u32 {
  const aq = c.adminQueue();
  let n: u32 = 0;
  for (let cid: u32 = 0; cid < aq.entries; cid++) {
    if (aq.slot(cid).busy == 1 && isRequest(aq.slot(cid).request)) n++;
  }
  return n;
}

// Checks an OP_LOG_PAGE request and sends it; never waits. `ctrlIndex` names the controller.
// Returns 0 (sent), ERR_BUSY, or an argument error with nothing sent.
export function submitLogPage(tag: u64, ctrlIndex: u32, lba: u64, bytes: u32, buffer: u32): u32 {
  if (ctrlIndex >= count()) return ERR_NO_NAMESPACE;
  const c = at(ctrlIndex);
  if (c.state != STATE_READY) return ERR_NOT_READY;
  const refusal = checkLogPage(c, lba, bytes, buffer);
  if (refusal != 0) return refusal;
  const aq = c.adminQueue();
  if (requestsInFlight(c) >= ADMIN_REQUESTS_MAX || aq.freeCount < 2 || aq.sqFull() || !requestRecordFree()) return ERR_BUSY;
  const index = newAdminRequest(tag, c, ADMIN_GET_LOG_PAGE, lba, bytes, buffer);
  const sent = sendAdmin(c, index);
  assert(sent, "log page: not sent");
  return 0;
}

// 0, or why the request cannot go: ERR_RANGE for a byte count or offset the command cannot
// express (or other bits set in lba), ERR_BAD_BUFFER, ERR_UNSUPPORTED for an offset on a
// controller without LPO (Identify LPA bit 2).
function checkLogPage(c: Controller, lba: u64, bytes: u32, buffer: u32): u32 {
  const offset = <u32>(lba >> LOG_OFFSET_SHIFT);
  const other = lba & ~(LID_MASK | (<u64>0xffffffff << LOG_OFFSET_SHIFT));
  if (other != 0 || bytes == 0 || bytes > LOG_PAGE_BYTES_MAX || bytes % DWORD_BYTES != 0 || offset % DWORD_BYTES != 0) return ERR_RANGE;
  const start = bufferBase();
  const end = <u64>start + <u64>bufferBytes();
  if (buffer % DWORD_BYTES != 0 || <usize>buffer < start || <u64>buffer + <u64>bytes > end) return ERR_BAD_BUFFER;
  if (offset != 0 && (<u32>load<u8>(c.idctrl + <usize>IDC_LPA) & LPA_EXTENDED) == 0) return ERR_UNSUPPORTED;
  return 0;
}

// Writes the request's Get Log Page at the admin SQ tail and rings it (RAE set: reading a log
// for a client never clears an asynchronous event). False, nothing written, without room.
export function sendAdmin(c: Controller, index: u32): bool {
  const aq = c.adminQueue();
  if (aq.freeCount < 2 || aq.sqFull()) return false;
  const lba = requestLba(index);
  const bytes = requestBytes(index);
  const buffer = requestBuffer(index);
  const cid = aq.claim(index, lba, bytes, buffer, 0);
  const slot = aq.slot(cid);
  const sqe = aq.nextEntry(ADMIN_GET_LOG_PAGE, cid);
  sqe.nsid = NSID_ALL;
  const fits = buildPrps(c, slot, sqe, <usize>buffer, bytes);
  assert(fits && slot.listCount == 0, "log page: a PRP list");
  sqe.cdw10 = <u32>(lba & LID_MASK) | GLP_RAE | ((bytes / DWORD_BYTES - 1) << GLP_NUMDL_SHIFT);
  sqe.cdw12 = <u32>(lba >> LOG_OFFSET_SHIFT);  // LPOL; NUMDU and LPOU stay 0
  traceCommand(c.index, aq.qid, changetype<usize>(sqe));
  aq.push();
  slot.submitNs = now_ns();
  aq.ringSubmission();
  c.commands++;
  return true;
}

// A completion on the admin queue outside a synchronous wait, or one a synchronous wait found for
// another command id: its request completes, or it is the Asynchronous Event Request's (or the log
// read that clears an event). Returns the requests completed (0 or 1).
export function handOver(c: Controller, cid: u32, status: u32, dw0: u32): u32 {
  const aq = c.adminQueue();
  if (cid >= aq.entries || aq.slot(cid).busy != 1 || aq.slot(cid).request == NO_REQUEST) {
    reportBadCompletion(c, aq.qid, cid);
    return 0;
  }
  const owner = aq.slot(cid).request;
  aq.freeCid(cid);
  if (owner == AER_COMMAND) { onEvent(c, status, dw0); return 0; }
  if (owner == EVENT_LOG_COMMAND) return 0;  // the event is cleared (or the log could not be read)
  return finishAdminRequest(c, owner, status);
}

// ---- asynchronous events (5.2) ----
// One Asynchronous Event Request is kept outstanding per controller (Identify AERL + 1 is at least
// one): armed when the controller is ready and after each reset, never timed out, not counted as a
// request. An event is one driver line with its numbers (type, info, log page); the named log page
// is then read with RAE = 0 into the controller's scratch page, which clears the event, and the
// request is armed again. Aborted by SQ deletion or an Abort, or forgotten at a reset or shutdown,
// it is no error; a controller that refuses it (Invalid Opcode, AER Limit Exceeded) is not asked again.

const EVENT_LOG_BYTES: u32 = 512;  // enough to clear any event's log (SMART is 512 bytes)
const SC_ABORT_REQUESTED: u32 = 0x07;         // 4.6.1.2.1, generic command status
const SC_ABORTED_SQ_DELETION: u32 = 0x08;

// A command id and SQ slot for one of the driver's own admin commands (one always stays free for
// the synchronous ones); -1 without room.
function ownCommand(c: Controller, opcode: u32, owner: u32): i32 {
  const aq = c.adminQueue();
  if (aq.freeCount < 2 || aq.sqFull()) return -1;
  const cid = aq.claim(owner, 0, 0, 0, 0);
  aq.nextEntry(opcode, cid);
  return <i32>cid;
}

// The entry ownCommand wrote, for its fields.
function tailEntry(c: Controller): SubmissionEntry {
  const aq = c.adminQueue();
  return changetype<SubmissionEntry>(aq.sq + <usize>(aq.sqTail * SQE_BYTES));
}

// Sends the entry ownCommand wrote.
function sendOwn(c: Controller): void {
  const aq = c.adminQueue();
  const last = aq.sqTail;
  traceCommand(c.index, aq.qid, aq.sq + <usize>(last * aq.sqeBytes));
  aq.push();
  aq.ringSubmission();
  c.commands++;
}

// Arms the event request; when the controller is new (ready, or just reset: its features are the
// defaults again) first asks for SMART / Health critical warning events with Set Features
// Asynchronous Event Configuration (5.21.1.11; error events need none), waiting for it (bring-up and
// recovery may wait): its status only decides nothing, the request is sent either way, unless the
// controller did not answer at all (then the reset to come frees its command id; no request again).
export function armEvents(c: Controller, configure: bool = true): void {
  if (c.aerArmed != 0 || c.aerStopped != 0 || c.state != STATE_READY) return;
  if (configure) {
    const sqe = adminCommand(ADMIN_SET_FEATURES, 0);
    sqe.cdw10 = FEATURE_ASYNC_EVENT_CONFIG;
    sqe.cdw11 = AEC_SMART_CRITICAL_WARNINGS;
    const status = submitAdmin(c);
    if (status == ERR_TIMEOUT || status == ERR_CONTROLLER_FATAL) { c.aerStopped = 1; return; }
  }
  if (ownCommand(c, ADMIN_ASYNC_EVENT_REQUEST, AER_COMMAND) < 0) return;
  sendOwn(c);
  c.aerArmed = 1;
  assert(c.adminQueue().inFlight() >= 1, "events: the request is not in flight");
}

function onEvent(c: Controller, status: u32, dw0: u32): void {
  c.aerArmed = 0;
  if (!isSuccess(status)) {
    const sc = status & 0xff;
    const aborted = (status >> 8 & 7) == 0 && (sc == SC_ABORT_REQUESTED || sc == SC_ABORTED_SQ_DELETION);
    if (!aborted) c.aerStopped = 1;
    return;
  }
  const lid = (dw0 >> AER_LID_SHIFT) & 0xff;
  if (logging()) {
    putCtrlName(c.index); put(" event type="); putDec(<u64>(dw0 & AER_TYPE_MASK));
    put(" info="); putDec(<u64>((dw0 >> AER_INFO_SHIFT) & 0xff)); put(" lid="); putHex(<u64>lid, 2); newline();
  }
  if (c.aerStopped != 0 || c.state != STATE_READY) return;
  const cid = ownCommand(c, ADMIN_GET_LOG_PAGE, EVENT_LOG_COMMAND);
  if (cid >= 0) {
    const sqe = tailEntry(c);
    sqe.nsid = NSID_ALL;
    sqe.prp1 = busAddress(c.scratch, EVENT_LOG_BYTES);
    sqe.cdw10 = lid | ((EVENT_LOG_BYTES / DWORD_BYTES - 1) << GLP_NUMDL_SHIFT);  // RAE = 0: clears the event
    sendOwn(c);
  }
  armEvents(c, false);
}

// Consumes the admin completion queue (poll, interrupt, drain): at most one ring's worth, the CQ
// head doorbell rung at once. Returns the requests completed.
export function reapAdmin(c: Controller): u32 {
  const aq = c.adminQueue();
  let done: u32 = 0;
  let seen: u32 = 0;
  while (seen < aq.entries) {
    const cqe = aq.peek();
    if (cqe == null) break;
    traceCompletion(c.index, aq.qid, changetype<usize>(cqe));
    const cid = <u32>cqe.cid;
    const status = cqeStatus(cqe);
    const dw0 = cqe.dw0;
    aq.pop(cqe);
    seen++;
    c.completions++;
    done += handOver(c, cid, status, dw0);
  }
  if (seen > 0) aq.ringCompletion();
  return done;
}
