// Synchronous admin commands (NVMe 1.4 section 5), one at a time: built in a 64-byte template,
// submitted on the admin queue, waited for with a bound of CAP.TO. Only bring-up, recovery and
// shutdown use them, and those may wait; the IO path (requests.ts) and the clients' admin requests
// (admin-requests.ts, which may be in flight meanwhile) never do.
import { now_ns, relax, irq_wait, irq_ack } from "../imports";
import {
  SubmissionEntry, SQE_BYTES, CSTS_CFS, ADMIN_IDENTIFY,
} from "./registers";
import { cqeStatus, NO_REQUEST } from "./queue";
import { Controller } from "./controller";
import { handOver } from "./admin-requests";
import { PAGE_BYTES, busAddress } from "../dma";
import { IRQ_MODE_POLL, IRQ_MODE_INTX, ERR_TIMEOUT, ERR_CONTROLLER_FATAL, ERR_NOT_READY } from "../../common/abi";
import { isSuccess } from "../../common/status";
import { traceCommand, traceCompletion } from "../trace";

const IRQ_WAIT_SLICE_NS: u64 = 2_000_000;  // an interrupt that never comes costs at most this
const CFS_CHECK_SPINS: u32 = 256;           // read CSTS (an MMIO access) once per this many idle steps

// Interrupt lines that fired while the driver waited here; poll() and interrupt() finish them
// (reap those controllers' IO queues, acknowledge INTx), so no interrupt is lost to a wait.
let linesSeen: u32 = 0;

export function takeLinesSeen(): u32 {
  const lines = linesSeen;
  linesSeen = 0;
  return lines;
}

export function deadlineFromNow(c: Controller): u64 {
  return now_ns() + <u64>c.timeoutMs * 1_000_000;
}

// Waits for something to happen on this controller: an interrupt, or one poll step.
function idle(c: Controller, deadline: u64): void {
  if (c.irqMode != IRQ_MODE_POLL) {
    const now = now_ns();
    let wait = deadline > now ? deadline - now : 0;
    if (wait > IRQ_WAIT_SLICE_NS) wait = IRQ_WAIT_SLICE_NS;
    const lines = irq_wait(wait);
    if ((lines & (1 << c.irqLine)) != 0) c.interrupts++;
    linesSeen |= lines;
  } else {
    relax();
  }
  c.polls++;
}

// After this controller's admin CQ head doorbell: its INTx line may fire again.
function acknowledge(c: Controller): void {
  const bit: u32 = c.irqLine >= 0 ? <u32>1 << c.irqLine : 0;
  if ((linesSeen & bit) == 0) return;
  linesSeen &= ~bit;
  if (c.irqMode == IRQ_MODE_INTX) irq_ack(c.irqLine);
}

const template: usize = memory.data(<i32>SQE_BYTES, 64);

// The command template, zeroed, with opcode and namespace set; fill the rest, then submitAdmin().
export function adminCommand(opcode: u32, nsid: u32): SubmissionEntry {
  memory.fill(template, 0, <usize>SQE_BYTES);
  const sqe = changetype<SubmissionEntry>(template);
  sqe.cdw0 = opcode & 0xff;
  sqe.nsid = nsid;
  return sqe;
}

// Submits the template on the admin queue and waits for its completion; returns the status
// (0 on success) and leaves DW0 in c.lastDw0. On a timeout the controller still owns the command:
// the caller must reset it (or give it up).
export function submitAdmin(c: Controller): u32 {
  const qp = c.adminQueue();
  if (!qp.canQueue()) return ERR_NOT_READY;
  const cid = qp.claim(NO_REQUEST, 0, 0, 0, 0);
  const sqe = qp.nextEntry(load<u32>(template), cid);
  memory.copy(changetype<usize>(sqe) + 4, template + 4, <usize>SQE_BYTES - 4);
  traceCommand(c.index, 0, changetype<usize>(sqe));
  qp.push();
  qp.ringSubmission();
  c.commands++;
  const status = waitAdmin(c, cid, deadlineFromNow(c));
  if (status == ERR_TIMEOUT || status == ERR_CONTROLLER_FATAL) {
    c.timeouts++;
    return status; // the id stays the controller's until a reset
  }
  qp.freeCid(cid);
  if (!isSuccess(status)) c.errors++;
  return status;
}

// The completion of admin command `cid`, bounded by the deadline; a completion for any other id
// goes to the admin request that owns it (request_done), or is reported as bad, and the wait goes on.
function waitAdmin(c: Controller, cid: u32, deadline: u64): u32 {
  const qp = c.adminQueue();
  let spins: u32 = 0;
  while (true) {
    const cqe = qp.peek();
    if (cqe != null) {
      traceCompletion(c.index, 0, changetype<usize>(cqe));
      const got = <u32>cqe.cid;
      const status = cqeStatus(cqe);
      const dw0 = cqe.dw0;
      qp.pop(cqe);
      qp.ringCompletion();
      c.completions++;
      acknowledge(c);
      if (got == cid) {
        c.lastDw0 = dw0;
        return status;
      }
      handOver(c, got, status, dw0);  // an admin request's (admin-requests.ts), or reported as bad
    } else {
      if (++spins % CFS_CHECK_SPINS == 0 && (c.csts() & CSTS_CFS) != 0) return ERR_CONTROLLER_FATAL;
      idle(c, deadline);
    }
    // Checked on every turn, so a flood of stray completions cannot hold the wait open.
    if (now_ns() >= deadline) return ERR_TIMEOUT;
  }
}

// Identify (5.15) into a page of the window.
export function identify(c: Controller, cns: u32, nsid: u32, page: usize): u32 {
  const sqe = adminCommand(ADMIN_IDENTIFY, nsid);
  sqe.prp1 = busAddress(page, PAGE_BYTES);
  sqe.cdw10 = cns;
  return submitAdmin(c);
}
