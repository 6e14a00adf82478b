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
  ADMIN_GET_LOG_PAGE, GLP_RAE, GLP_NUMDL_SHIFT, NSID_ALL, IDC_LPA, LPA_EXTENDED,
} from "./registers";
import { NO_REQUEST, cqeStatus } from "./queue";
import { Controller, at, count, reportBadCompletion } from "./controller";
import { buildPrps } from "./prp";
import {
  newAdminRequest, finishAdminRequest, requestLba, requestBytes, requestBuffer, requestRecordFree, bufferBase, bufferBytes,
} from "./requests";
import { traceCommand, traceCompletion } from "../trace";
import {
  STATE_READY, ERR_NOT_READY, ERR_BUSY, ERR_NO_NAMESPACE, ERR_RANGE, ERR_BAD_BUFFER, ERR_UNSUPPORTED, LOG_PAGE_BYTES_MAX,
} from "../../common/abi";

export const ADMIN_REQUESTS_MAX: u32 = 8;  // per controller, in flight at once
const LID_MASK: u64 = 0xff;                // OP_LOG_PAGE's lba: LID bits 7:0, byte offset 63:32
const LOG_OFFSET_SHIFT: u64 = 32;
const DWORD_BYTES: u32 = 4;
if (LOG_PAGE_BYTES_MAX > 4096) ERROR("LOG_PAGE_BYTES_MAX: one 4 KiB page at most, so PRP1 and PRP2 cover it (no list)");

// Checks an OP_LOG_PAGE request and sends it; never waits. `ctrlIndex` names the controller.
// Returns 0 (sent), ERR_BUSY, or an argument error with nothing sent.
export function submitLogPage(tag: u64, ctrlIndex: u32, lba: u64, bytes: u32, buffer: u32): u32 {
  if (ctrlIndex >= count()) return ERR_NO_NAMESPACE;
  const c = at(ctrlIndex);
  if (c.state != STATE_READY) return ERR_NOT_READY;
  const refusal = checkLogPage(c, lba, bytes, buffer);
  if (refusal != 0) return refusal;
  const aq = c.adminQueue();
  if (aq.inFlight() >= ADMIN_REQUESTS_MAX || aq.freeCount < 2 || aq.sqFull() || !requestRecordFree()) return ERR_BUSY;
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
  const cid = <u32>aq.allocCid();
  const slot = aq.slot(cid);
  slot.request = index;
  slot.lba = lba;
  slot.blocks = bytes;
  slot.buffer = buffer;
  slot.retries = 0;
  slot.listCount = 0;
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
// another command id: its request completes. Returns the requests completed (0 or 1).
export function handOver(c: Controller, cid: u32, status: u32): u32 {
  const aq = c.adminQueue();
  if (cid >= aq.entries || aq.slot(cid).busy != 1 || aq.slot(cid).request == NO_REQUEST) {
    reportBadCompletion(c, aq.qid, cid);
    return 0;
  }
  const index = aq.slot(cid).request;
  aq.freeCid(cid);
  return finishAdminRequest(c, index, status);
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
    aq.pop(cqe);
    seen++;
    c.completions++;
    done += handOver(c, cid, status);
  }
  if (seen > 0) aq.ringCompletion();
  return done;
}
