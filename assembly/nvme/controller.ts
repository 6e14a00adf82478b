// One NVMe controller: bring-up in the order of NVMe 1.4 section 7.6.1 (initialization), the admin
// queue, Identify, Set Features, IO queue creation, bounded waits, recovery, and shutdown (7.6.2).
import { mmio_map, mmio_size, mmio_read32, mmio_write32, now_ns, relax, irq_wait, irq_ack } from "../kernel";
import {
  REG_CAP, REG_VS, REG_CC, REG_CSTS, REG_AQA, REG_ASQ, REG_ACQ, REG_DOORBELL_BASE,
  CAP_MQES_MASK, CAP_TO_SHIFT, CAP_TO_MASK, CAP_DSTRD_SHIFT, CAP_DSTRD_MASK, CAP_CSS_SHIFT, CAP_CSS_NVM,
  CAP_MPSMIN_SHIFT, CAP_MPSMAX_SHIFT, CAP_MPS_MASK,
  CC_EN, CC_CSS_SHIFT, CC_CSS_NVM, CC_MPS_SHIFT, CC_SHN_NORMAL, CC_SHN_MASK, CC_IOSQES_SHIFT, CC_IOCQES_SHIFT,
  CSTS_RDY, CSTS_CFS, CSTS_SHST_MASK, CSTS_SHST_COMPLETE, AQA_ACQS_SHIFT,
  SQE_BYTES, CQE_BYTES, SQES_LOG2, CQES_LOG2, SQE_NSID, SQE_PRP1, SQE_CDW10, SQE_CDW11, CQE_DW0,
  ADMIN_IDENTIFY, ADMIN_SET_FEATURES, ADMIN_CREATE_IO_CQ, ADMIN_CREATE_IO_SQ, ADMIN_DELETE_IO_SQ, ADMIN_DELETE_IO_CQ,
  CNS_CONTROLLER, CNS_NAMESPACE, CNS_ACTIVE_NSID_LIST, FEATURE_NUMBER_OF_QUEUES,
  QUEUE_PHYS_CONTIG, CQ_IRQ_ENABLED, CQ_IV_SHIFT, SQ_CQID_SHIFT,
  IDC_MDTS, IDC_CNTRLTYPE, IDC_SQES, IDC_CQES, IDC_NN, IDC_ONCS, IDC_VWC, IDC_SGLS,
} from "./registers";
import { QueuePair, SLOT_BYTES, cqeCid, cqeStatus } from "./queue";
import { allocPages, busAddress, PAGE_BYTES } from "../dma";
import { put, putLine, putDec, putHex, putByte, putCtrlName, putNsName, newline, putError } from "../console";
import { PCI_CMD_MEMORY, PCI_CMD_BUS_MASTER, updateCommand, MAX_NVME } from "../pci";
import { isSuccess, isDriverError, putStatus, ERR_TIMEOUT, ERR_CONTROLLER_FATAL, ERR_NOT_READY, ERR_BAD_COMPLETION } from "./status";
import { addNamespace, dropNamespaces, reasonText, MAX_NAMESPACES } from "./namespace";
import { setupInterrupts, IRQ_NONE, irqModeName } from "./interrupts";
import { hexdump } from "../hexdump";

export const MAX_CONTROLLERS: u32 = MAX_NVME; // one per NVMe function enumeration keeps

// Controller states.
export const STATE_FAILED: u32 = 1;    // bring-up or recovery failed: failReason says why
export const STATE_STOPPED: u32 = 2;   // bring-up stopped at the requested stage
export const STATE_READY: u32 = 3;     // IO queues exist: reads and writes go
export const STATE_SHUT_DOWN: u32 = 4;

// Bring-up stages of the seed write-up; each can be the last one run (the `stage=N` boot option).
export const STAGE_RESET: u32 = 1;      // map BAR0, dump CAP/VS/CSTS, reset
export const STAGE_IDENTIFY: u32 = 2;   // admin queue, first command: Identify, hexdump of the reply
export const STAGE_NAMESPACES: u32 = 3; // decode Identify, find and identify namespaces, publish devices
export const STAGE_IO_QUEUES: u32 = 4;  // Number of Queues, IO CQ/SQ, interrupts
export const STAGE_ALL: u32 = 7;        // PRPs and splitting (5), exerciser (6), stat counters (7)

const ADMIN_ENTRIES_MAX: u32 = 32;
const IO_ENTRIES_MAX: u32 = 256;
// Our own cap on one command's transfer, on top of MDTS; larger than one PRP list page covers
// (511 data pages + a chain pointer at 4 KiB), so controllers without MDTS get chained lists.
export const MAX_COMMAND_BYTES: u32 = 4 << 20;
const PRP_POOL_PAGES: u32 = 16;
const IRQ_WAIT_SLICE_NS: u64 = 2_000_000;  // an interrupt that never comes costs at most this
const SHUTDOWN_MIN_MS: u32 = 5000;
const NS_PROBE_MAX: u32 = 1024;             // namespaces probed one by one on a 1.0 controller

@unmanaged
export class Controller {
  index: u32;
  bdf: u32;
  mmio: i32;
  state: u32;
  failReason: usize;     // a static string
  failStatus: u32;
  capLo: u32;
  capHi: u32;
  version: u32;
  strideBytes: u32;
  timeoutMs: u32;
  pageBytes: u32;
  mps: u32;
  mqes: u32;             // largest queue the controller accepts, in entries (MQES + 1)
  mdtsBytes: u64;        // 0: no limit
  maxCommandBytes: u32;
  nn: u32;
  oncs: u32;
  vwc: u32;
  sgl: u32;
  queuesGranted: u32;
  adminEntries: u32;
  ioEntries: u32;
  admin: usize;          // QueuePair
  io: usize;             // QueuePair
  idctrl: usize;         // Identify Controller page, kept for model/serial/firmware
  scratch: usize;        // page for Identify Namespace and the active namespace list
  prpStack: usize;       // free PRP list pages (u32 addresses)
  prpFree: u32;
  irqMode: u32;
  irqLine: i32;
  lastDw0: u32;
  namespaces: u32;
  // stat counters
  commands: u64;
  completions: u64;
  errors: u64;
  retries: u64;
  bytesRead: u64;
  bytesWritten: u64;
  interrupts: u64;
  polls: u64;
  timeouts: u64;
  resets: u64;

  adminQueue(): QueuePair { return changetype<QueuePair>(this.admin); }
  ioQueue(): QueuePair { return changetype<QueuePair>(this.io); }

  read64(off: u32): u64 {
    const lo = mmio_read32(this.mmio, off);
    const hi = mmio_read32(this.mmio, off + 4);
    return (<u64>hi << 32) | <u64>lo;
  }

  write64(off: u32, v: u64): void {
    mmio_write32(this.mmio, off, <u32>v);
    mmio_write32(this.mmio, off + 4, <u32>(v >> 32));
  }

  csts(): u32 { return mmio_read32(this.mmio, REG_CSTS); }
}

const controllers: usize = memory.data(<i32>(MAX_CONTROLLERS * 4));
let controllerCount: u32 = 0;
export let stopStage: u32 = STAGE_ALL;
export let irqPreference: u32 = 0; // see interrupts.ts IRQ_PREF_*

export function setStopStage(stage: u32): void { stopStage = stage; }
export function setIrqPreference(p: u32): void { irqPreference = p; }
export function count(): u32 { return controllerCount; }
export function at(i: u32): Controller { return changetype<Controller>(load<u32>(controllers + <usize>(i * 4))); }

function fail(c: Controller, why: string, status: u32 = 0): bool {
  c.state = STATE_FAILED;
  c.failReason = changetype<usize>(why);
  c.failStatus = status;
  putError();
  putCtrlName(c.index);
  put(": ");
  put(why);
  if (status != 0) { put(": "); putStatus(status); }
  newline();
  return false;
}

export function putFailure(c: Controller): void {
  put(changetype<string>(c.failReason));
  if (c.failStatus != 0) { put(": "); putStatus(c.failStatus); }
}

function elapsedUs(start: u64): u64 { return (now_ns() - start) / 1000; }

// Waits until (CSTS & mask) == want, bounded by CAP.TO; CFS ends the wait early.
function waitStatus(c: Controller, mask: u32, want: u32, start: u64): u32 {
  const deadline = start + <u64>c.timeoutMs * 1_000_000;
  while (true) {
    const csts = c.csts();
    if (csts == 0xffffffff) return ERR_NOT_READY;         // the device fell off the bus
    if ((csts & mask) == want) return 0;
    if ((csts & CSTS_CFS) != 0 && mask != CSTS_CFS) return ERR_CONTROLLER_FATAL;
    if (now_ns() >= deadline) return ERR_TIMEOUT;
    relax();
  }
}

// ---- Completions and waiting (shared by the admin and IO paths) ----

let irqToAck: u32 = 0;

// Waits for something to happen on this controller: an interrupt, or one poll step.
function idle(c: Controller, deadline: u64): void {
  if (irqToAck != 0) {
    // The CQ head doorbells are rung: let the level-triggered lines fire again.
    for (let line = 0; line < 32; line++) if ((irqToAck & (1 << line)) != 0) irq_ack(line);
    irqToAck = 0;
  }
  if (c.irqMode != IRQ_NONE) {
    const now = now_ns();
    let wait = deadline > now ? deadline - now : 0;
    if (wait > IRQ_WAIT_SLICE_NS) wait = IRQ_WAIT_SLICE_NS;
    const pending = irq_wait(wait);
    if (pending != 0) {
      irqToAck |= pending;
      if ((pending & (1 << c.irqLine)) != 0) c.interrupts++;
    }
  } else {
    relax();
  }
  c.polls++;
}

// The next completion on `qp`: its command id, with status and DW0 stored in the command's slot.
// Returns -1 when none arrived before the deadline (or CFS showed), having set `waitError`.
export let waitError: u32 = 0;
export function waitCompletion(c: Controller, qp: QueuePair, deadline: u64): i32 {
  let spins: u32 = 0;
  while (true) {
    const cqe = qp.peek();
    if (cqe != 0) {
      const cid = cqeCid(cqe);
      const status = cqeStatus(cqe);
      const dw0 = load<u32>(cqe + <usize>CQE_DW0);
      qp.pop(cqe);
      c.completions++;
      if (cid >= qp.entries || qp.slot(cid).busy != 1) {
        // Not ours: say so and keep going; the controller still advanced its head.
        c.errors++;
        putError(); putCtrlName(c.index); put(": "); putStatus(ERR_BAD_COMPLETION);
        put(" qid="); putDec(<u64>qp.qid); put(" cid="); putDec(<u64>cid); newline();
        qp.ringCompletion();
        continue;
      }
      const slot = qp.slot(cid);
      slot.status = status;
      slot.dw0 = dw0;
      slot.busy = 2;
      qp.outstanding--;
      // Ring the head doorbell when nothing more is waiting, or often enough that a long
      // run of completions never fills the CQ.
      if (qp.peek() == 0 || (qp.cqHead & 15) == 0) qp.ringCompletion();
      return <i32>cid;
    }
    if (now_ns() >= deadline) { waitError = ERR_TIMEOUT; return -1; }
    // Reading CSTS costs an MMIO access: look for a fatal controller every so often.
    if ((++spins & 255) == 0 && (c.csts() & CSTS_CFS) != 0) { waitError = ERR_CONTROLLER_FATAL; return -1; }
    idle(c, deadline);
  }
}

export function deadlineFromNow(c: Controller): u64 {
  return now_ns() + <u64>c.timeoutMs * 1_000_000;
}

// ---- Admin commands: one at a time, built in a 64-byte template ----

const cmd: usize = memory.data(64, 64);

export function cmdStart(opcode: u32, nsid: u32): void {
  memory.fill(cmd, 0, 64);
  store<u32>(cmd, opcode & 0xff);
  store<u32>(cmd + <usize>SQE_NSID, nsid);
}
export function cmdSet32(off: u32, v: u32): void { store<u32>(cmd + <usize>off, v); }
export function cmdSet64(off: u32, v: u64): void { store<u64>(cmd + <usize>off, v); }

// Submits the template on the admin queue and waits for its completion; returns the status
// (0 on success) and leaves DW0 in c.lastDw0.
export function submitAdmin(c: Controller): u32 {
  const qp = c.adminQueue();
  if (qp.sqFull()) return ERR_NOT_READY;
  const cid = qp.allocCid();
  if (cid < 0) return ERR_NOT_READY;
  const sqe = qp.nextEntry(load<u32>(cmd), <u32>cid);
  memory.copy(sqe + 4, cmd + 4, 60);
  qp.push();
  qp.ringSubmission();
  c.commands++;
  const deadline = deadlineFromNow(c);
  while (true) {
    const done = waitCompletion(c, qp, deadline);
    if (done < 0) {
      c.timeouts++;
      // The controller still owns this id: the caller must reset the controller.
      return waitError;
    }
    if (done == cid) break;
  }
  const slot = qp.slot(<u32>cid);
  const status = slot.status;
  c.lastDw0 = slot.dw0;
  qp.freeCid(<u32>cid);
  if (!isSuccess(status)) c.errors++;
  return status;
}

function identify(c: Controller, cns: u32, nsid: u32, page: usize): u32 {
  cmdStart(ADMIN_IDENTIFY, nsid);
  cmdSet64(SQE_PRP1, busAddress(page, PAGE_BYTES));
  cmdSet32(SQE_CDW10, cns);
  return submitAdmin(c);
}

// ---- PRP list pages (used by io.ts): a per-controller pool, page-sized and page-aligned ----

export function takePrpPage(c: Controller): usize {
  if (c.prpFree == 0) return 0;
  c.prpFree--;
  return <usize>load<u32>(c.prpStack + <usize>(c.prpFree * 4));
}

export function givePrpPage(c: Controller, page: usize): void {
  store<u32>(c.prpStack + <usize>(c.prpFree * 4), <u32>page);
  c.prpFree++;
}

// ---- Bring-up ----

// Allocates the controller's memory and maps its registers; returns null only if memory is exhausted.
export function attach(bdf: u32): Controller | null {
  if (controllerCount == MAX_CONTROLLERS) return null;
  const page = allocPages(PAGE_BYTES);
  const idctrl = allocPages(PAGE_BYTES);
  const scratch = allocPages(PAGE_BYTES);
  if (page == 0 || idctrl == 0 || scratch == 0) return null;
  const c = changetype<Controller>(page);
  c.index = controllerCount;
  c.bdf = bdf;
  c.idctrl = idctrl;
  c.scratch = scratch;
  c.admin = page + 1024;
  c.io = page + 2048;
  c.prpStack = page + 3072;
  c.irqLine = -1;
  store<u32>(controllers + <usize>(controllerCount * 4), <u32>page);
  controllerCount++;
  return c;
}

function putVersion(vs: u32): void {
  putDec(<u64>(vs >> 16)); putByte(46); putDec(<u64>((vs >> 8) & 0xff)); putByte(46); putDec(<u64>(vs & 0xff));
}
export function printVersion(c: Controller): void { putVersion(c.version); }

// Stage 1: map BAR0, read and check CAP and VS, reset.
function stageReset(c: Controller): bool {
  updateCommand(c.bdf, PCI_CMD_MEMORY, 0);
  const handle = mmio_map(c.bdf, 0);
  if (handle < 0) return fail(c, "BAR0 cannot be mapped (not a memory BAR, or unassigned)");
  c.mmio = handle;
  const barBytes = mmio_size(handle);
  // The registers up to ACQ and the admin doorbells (at the smallest stride) must be inside BAR0.
  if (barBytes < REG_DOORBELL_BASE + 8) return fail(c, "BAR0 is too small for the NVMe registers");
  const cap = c.read64(REG_CAP);
  c.capLo = <u32>cap;
  c.capHi = <u32>(cap >> 32);
  c.version = mmio_read32(c.mmio, REG_VS);
  if (c.version == 0) c.version = 0x00010000; // NVMe 1.0 controllers may leave VS at 0
  const csts = c.csts();
  c.mqes = <u32>(cap & CAP_MQES_MASK) + 1;
  c.strideBytes = 4 << <u32>((cap >> CAP_DSTRD_SHIFT) & CAP_DSTRD_MASK);
  const to = <u32>((cap >> CAP_TO_SHIFT) & CAP_TO_MASK);
  c.timeoutMs = (to == 0 ? 1 : to) * 500;  // CAP.TO may be 0 on some devices: wait at least 500 ms
  const mpsMin = <u32>((cap >> CAP_MPSMIN_SHIFT) & CAP_MPS_MASK);
  const mpsMax = <u32>((cap >> CAP_MPSMAX_SHIFT) & CAP_MPS_MASK);
  putCtrlName(c.index);
  put(" cap="); putHex(cap, 16);
  put(" version="); putVersion(c.version);
  put(" mqes="); putDec(<u64>(c.mqes - 1));
  put(" dstrd="); putDec((cap >> CAP_DSTRD_SHIFT) & CAP_DSTRD_MASK);
  put(" timeout_ms="); putDec(<u64>c.timeoutMs);
  put(" mps_min="); putDec(<u64>(4096 << mpsMin));
  put(" mps_max="); putDec(<u64>(4096 << mpsMax));
  put(" csts="); putHex(<u64>csts, 2);
  put(" bar0_bytes="); putDec(<u64>barBytes);
  newline();
  if (((cap >> CAP_CSS_SHIFT) & CAP_CSS_NVM) == 0) return fail(c, "CAP.CSS: the NVM command set is not supported");
  if (c.mqes < 2) return fail(c, "CAP.MQES is below 2 entries");
  // The doorbells of queues 0 and 1 (four of them, CAP.DSTRD apart) must lie inside BAR0.
  if (<u64>REG_DOORBELL_BASE + <u64>4 * <u64>c.strideBytes > <u64>barBytes) return fail(c, "CAP.DSTRD puts the doorbells outside BAR0");
  // Our pages are 4 KiB; a larger controller page works too as long as CAP allows it.
  c.mps = mpsMin;
  if (c.mps > mpsMax || c.mps > 4) return fail(c, "no usable memory page size in CAP.MPSMIN..MPSMAX");
  c.pageBytes = 4096 << c.mps;
  if (c.adminEntries == 0) {
    // First bring-up: the rings and bookkeeping, sized from MQES, allocated once.
    c.adminEntries = c.mqes < ADMIN_ENTRIES_MAX ? c.mqes : ADMIN_ENTRIES_MAX;
    c.ioEntries = c.mqes < IO_ENTRIES_MAX ? c.mqes : IO_ENTRIES_MAX;
    if (!allocQueue(c, c.adminQueue(), 0, c.adminEntries) || !allocQueue(c, c.ioQueue(), 1, c.ioEntries)) {
      return fail(c, "out of DMA memory for queues");
    }
    for (let i: u32 = 0; i < PRP_POOL_PAGES; i++) {
      const p = allocPages(c.pageBytes, c.pageBytes);
      if (p == 0) return fail(c, "out of DMA memory for PRP lists");
      givePrpPage(c, p);
    }
  }
  return disable(c);
}

function allocQueue(c: Controller, qp: QueuePair, qid: u32, entries: u32): bool {
  const sq = allocPages(entries * SQE_BYTES, c.pageBytes);
  const cq = allocPages(entries * CQE_BYTES, c.pageBytes);
  const slots = allocPages(entries * SLOT_BYTES);
  const cids = allocPages(entries * 2);
  if (sq == 0 || cq == 0 || slots == 0 || cids == 0) return false;
  qp.init(qid, entries, sq, cq, slots, cids, c.mmio, c.strideBytes);
  return true;
}

// CC.EN = 0 and wait for CSTS.RDY = 0 (7.6.1 step 1). A controller caught while becoming ready
// (EN = 1, RDY = 0) is first let finish, as the spec asks of a host.
function disable(c: Controller): bool {
  const start = now_ns();
  const cc = mmio_read32(c.mmio, REG_CC);
  if ((cc & CC_EN) != 0 && (c.csts() & CSTS_RDY) == 0) {
    waitStatus(c, CSTS_RDY, CSTS_RDY, start);
  }
  mmio_write32(c.mmio, REG_CC, 0);
  const status = waitStatus(c, CSTS_RDY, 0, now_ns());
  if (status == ERR_CONTROLLER_FATAL) {
    // CFS with EN = 0 and RDY = 0 is a reset still in progress on some devices: RDY is what counts.
    if ((c.csts() & CSTS_RDY) != 0) return fail(c, "reset: CSTS.RDY stays 1", status);
  } else if (status != 0) {
    return fail(c, "reset: CSTS.RDY did not clear", status);
  }
  putCtrlName(c.index); put(" reset ok us="); putDec(elapsedUs(start)); newline();
  return true;
}

// Admin queue registers and CC, written while disabled; then CC.EN = 1 and wait for RDY (7.6.1 steps 2-5).
function enable(c: Controller): bool {
  const start = now_ns();
  const aq = c.adminQueue();
  aq.reset();
  const entries = c.adminEntries;
  mmio_write32(c.mmio, REG_AQA, ((entries - 1) << AQA_ACQS_SHIFT) | (entries - 1));
  c.write64(REG_ASQ, busAddress(aq.sq, entries * SQE_BYTES));
  c.write64(REG_ACQ, busAddress(aq.cq, entries * CQE_BYTES));
  const cc = (CC_CSS_NVM << CC_CSS_SHIFT) | (c.mps << CC_MPS_SHIFT) | (SQES_LOG2 << CC_IOSQES_SHIFT) | (CQES_LOG2 << CC_IOCQES_SHIFT);
  mmio_write32(c.mmio, REG_CC, cc);
  mmio_write32(c.mmio, REG_CC, cc | CC_EN);
  const status = waitStatus(c, CSTS_RDY, CSTS_RDY, start);
  if (status != 0) return fail(c, "enable: CSTS.RDY did not become 1", status);
  putCtrlName(c.index); put(" enable ok admin_entries="); putDec(<u64>entries);
  put(" us="); putDec(elapsedUs(start)); newline();
  return true;
}

// Stage 2: the first command. Identify Controller (CNS 01h) into the kept page.
function stageIdentify(c: Controller): bool {
  const status = identify(c, CNS_CONTROLLER, 0, c.idctrl);
  if (status != 0) return fail(c, "Identify Controller failed", status);
  return true;
}

function decodeIdentify(c: Controller): bool {
  const id = c.idctrl;
  // 5.15.2.1: SQES/CQES give the required (3:0) and maximum (7:4) entry sizes; 0 on some 1.0 devices.
  const sqes = <u32>load<u8>(id + <usize>IDC_SQES);
  const cqes = <u32>load<u8>(id + <usize>IDC_CQES);
  if (sqes != 0 && ((sqes & 0xf) > SQES_LOG2 || (sqes >> 4) < SQES_LOG2)) return fail(c, "Identify: 64-byte SQ entries not supported");
  if (cqes != 0 && ((cqes & 0xf) > CQES_LOG2 || (cqes >> 4) < CQES_LOG2)) return fail(c, "Identify: 16-byte CQ entries not supported");
  const cntrltype = <u32>load<u8>(id + <usize>IDC_CNTRLTYPE);
  if (cntrltype > 1) return fail(c, "Identify: not an IO controller (CNTRLTYPE)");
  const mdts = <u32>load<u8>(id + <usize>IDC_MDTS);
  const mpsMin = <u32>(((<u64>c.capHi << 32) >> CAP_MPSMIN_SHIFT) & CAP_MPS_MASK);
  c.mdtsBytes = mdts == 0 ? 0 : (mdts >= 40 ? (<u64>1 << 52) : (<u64>(4096 << mpsMin) << mdts));
  let maxBytes: u64 = <u64>MAX_COMMAND_BYTES;
  if (c.mdtsBytes != 0 && c.mdtsBytes < maxBytes) maxBytes = c.mdtsBytes;
  c.maxCommandBytes = <u32>maxBytes;
  c.nn = load<u32>(id + <usize>IDC_NN);
  c.oncs = <u32>load<u16>(id + <usize>IDC_ONCS);
  c.vwc = <u32>load<u8>(id + <usize>IDC_VWC) & 1;
  c.sgl = (load<u32>(id + <usize>IDC_SGLS) & 3) != 0 ? 1 : 0;
  return true;
}

// Active namespace ids: CNS 02h on 1.1+, else (or if refused) every id from 1 to NN.
function stageNamespaces(c: Controller): bool {
  dropNamespaces(c.index);
  c.namespaces = 0;
  const list = c.scratch + 0; // Identify data is one page; the list is read, then the page reused
  let useList = c.version >= 0x00010100;
  if (useList) {
    const status = identify(c, CNS_ACTIVE_NSID_LIST, 0, list);
    if (status != 0) {
      if (isDriverError(status)) return fail(c, "Identify active namespace list failed", status);
      useList = false; // e.g. Invalid Field on a controller that does not know CNS 02h
    }
  }
  if (useList) {
    // Copy the ids out first: the scratch page is needed for each Identify Namespace.
    const ids = changetype<usize>(nsIds);
    let n: u32 = 0;
    for (let i: u32 = 0; i < 1024 && n < MAX_NAMESPACES; i++) {
      const nsid = load<u32>(list + <usize>(i * 4));
      if (nsid == 0) break;
      store<u32>(ids + <usize>(n * 4), nsid);
      n++;
    }
    for (let i: u32 = 0; i < n; i++) {
      if (!identifyNamespace(c, load<u32>(ids + <usize>(i * 4)), true)) return false;
    }
  } else {
    const last = c.nn < NS_PROBE_MAX ? c.nn : NS_PROBE_MAX;
    for (let nsid: u32 = 1; nsid <= last; nsid++) {
      if (!identifyNamespace(c, nsid, false)) return false;
    }
  }
  return true;
}
const nsIds = memory.data(<i32>(MAX_NAMESPACES * 4));

function identifyNamespace(c: Controller, nsid: u32, listed: bool): bool {
  const page = c.scratch;
  memory.fill(page, 0, PAGE_BYTES);
  const status = identify(c, CNS_NAMESPACE, nsid, page);
  if (isDriverError(status)) return fail(c, "Identify Namespace failed", status);
  if (status != 0) {
    // Probing 1..NN: an inactive id may be answered with Invalid Namespace; that is not an error.
    if (!listed) return true;
    putError(); putNsName(c.index, nsid); put(": Identify Namespace failed: "); putStatus(status); newline();
    return true;
  }
  // An inactive namespace reads as all zeroes (NSZE = 0) when probed.
  if (!listed && load<u64>(page) == 0) return true;
  const ns = addNamespace(c.index, nsid, page);
  if (ns == null) {
    putError(); putNsName(c.index, nsid); putLine(": too many namespaces, ignored");
    return true;
  }
  c.namespaces++;
  putNsName(c.index, nsid);
  put(" nsid="); putDec(<u64>nsid);
  put(" lba_bytes="); putDec(<u64>(ns.refused == 0 || ns.lbaShift < 32 ? (<u64>1 << ns.lbaShift) : 0));
  put(" blocks="); putDec(ns.blocks);
  if (ns.refused != 0) { put(" refused=\""); put(reasonText(ns.refused)); put("\""); }
  newline();
  return true;
}

// Stage 4: Number of Queues (5.21.1.7), interrupts, then the IO CQ and SQ (5.3, 5.4).
function stageIoQueues(c: Controller): bool {
  cmdStart(ADMIN_SET_FEATURES, 0);
  cmdSet32(SQE_CDW10, FEATURE_NUMBER_OF_QUEUES);
  cmdSet32(SQE_CDW11, 0); // NCQR = NSQR = 0: one pair (0-based) is all a single-threaded driver uses
  let status = submitAdmin(c);
  if (status != 0) return fail(c, "Set Features Number of Queues failed", status);
  const nsqa = (c.lastDw0 & 0xffff) + 1;
  const ncqa = (c.lastDw0 >> 16) + 1;
  c.queuesGranted = nsqa < ncqa ? nsqa : ncqa;
  const io = c.ioQueue();
  io.reset();
  const entries = io.entries;
  cmdStart(ADMIN_CREATE_IO_CQ, 0);
  cmdSet64(SQE_PRP1, busAddress(io.cq, entries * CQE_BYTES));
  cmdSet32(SQE_CDW10, ((entries - 1) << 16) | io.qid);
  cmdSet32(SQE_CDW11, QUEUE_PHYS_CONTIG | (c.irqMode != IRQ_NONE ? CQ_IRQ_ENABLED : 0) | (0 << CQ_IV_SHIFT));
  status = submitAdmin(c);
  if (status != 0) return fail(c, "Create IO Completion Queue failed", status);
  cmdStart(ADMIN_CREATE_IO_SQ, 0);
  cmdSet64(SQE_PRP1, busAddress(io.sq, entries * SQE_BYTES));
  cmdSet32(SQE_CDW10, ((entries - 1) << 16) | io.qid);
  cmdSet32(SQE_CDW11, QUEUE_PHYS_CONTIG | (io.qid << SQ_CQID_SHIFT));
  status = submitAdmin(c);
  if (status != 0) return fail(c, "Create IO Submission Queue failed", status);
  putCtrlName(c.index);
  put(" queues granted="); putDec(<u64>c.queuesGranted);
  put(" io_entries="); putDec(<u64>entries);
  put(" irq="); put(irqModeName(c.irqMode));
  newline();
  return true;
}

// Brings one controller up to the stop stage. On failure the controller is left disabled
// with bus mastering off, and the reason printed.
export function bringUp(c: Controller): bool {
  if (!stageReset(c)) return quiesce(c);
  if (stopStage == STAGE_RESET) return stopAt(c);
  updateCommand(c.bdf, PCI_CMD_BUS_MASTER, 0);
  // Interrupts are stage 4 of the write-up; when bring-up goes that far they are set up before
  // CC.EN, so that the admin CQ (always vector 0) interrupts too: QEMU only routes a vector once
  // a CQ using it is created, and the admin CQ is created by enabling the controller.
  if (stopStage >= STAGE_IO_QUEUES) setupInterrupts(c, irqPreference);
  if (!enable(c) || !stageIdentify(c)) return quiesce(c);
  if (stopStage == STAGE_IDENTIFY) {
    putCtrlName(c.index); putLine(" identify controller, first 256 bytes:");
    hexdump(c.idctrl, 256, 0);
    return stopAt(c);
  }
  if (!decodeIdentify(c)) return quiesce(c);
  putCtrlName(c.index);
  put(" identify nn="); putDec(<u64>c.nn);
  put(" mdts_bytes="); putDec(c.mdtsBytes);
  put(" vwc="); put(c.vwc != 0 ? "yes" : "no");
  put(" sgl="); put(c.sgl != 0 ? "yes" : "no");
  newline();
  if (!stageNamespaces(c)) return quiesce(c);
  if (stopStage == STAGE_NAMESPACES) return stopAt(c);
  if (!stageIoQueues(c)) return quiesce(c);
  if (stopStage == STAGE_IO_QUEUES) return stopAt(c);
  c.state = STATE_READY;
  putCtrlName(c.index); put(" ready namespaces="); putDec(<u64>c.namespaces); newline();
  return true;
}

function stopAt(c: Controller): bool {
  c.state = STATE_STOPPED;
  putCtrlName(c.index); put(" stopped at stage "); putDec(<u64>stopStage); newline();
  return true;
}

// A failed controller must not keep DMA going: disable it and turn bus mastering off.
function quiesce(c: Controller): bool {
  if (c.mmio > 0) mmio_write32(c.mmio, REG_CC, 0);
  updateCommand(c.bdf, 0, PCI_CMD_BUS_MASTER);
  return false;
}

// After a timeout or CFS: the controller still owns commands, so only a reset makes the
// memory they point at ours again (7.3.1). Queues and namespaces are set up again.
export function recover(c: Controller, why: u32): bool {
  c.resets++;
  putCtrlName(c.index); put(" resetting after: "); putStatus(why); newline();
  if (!disable(c)) return quiesce(c);
  if (!enable(c)) return quiesce(c);
  if (!stageIoQueues(c)) return quiesce(c);
  c.state = STATE_READY;
  putCtrlName(c.index); putLine(" recovered");
  return true;
}

// 7.6.2 Shutdown: flush the write cache, delete the IO queues, CC.SHN, wait for SHST complete.
export function shutdown(c: Controller): bool {
  if (c.state == STATE_READY) {
    // The caller has flushed every namespace with a volatile write cache (io.ts).
    cmdStart(ADMIN_DELETE_IO_SQ, 0);
    cmdSet32(SQE_CDW10, c.ioQueue().qid);
    let status = submitAdmin(c);
    if (status != 0) return fail(c, "Delete IO Submission Queue failed", status);
    cmdStart(ADMIN_DELETE_IO_CQ, 0);
    cmdSet32(SQE_CDW10, c.ioQueue().qid);
    status = submitAdmin(c);
    if (status != 0) return fail(c, "Delete IO Completion Queue failed", status);
  }
  if (c.state != STATE_READY && c.state != STATE_STOPPED) return true;
  const start = now_ns();
  const cc = mmio_read32(c.mmio, REG_CC);
  if ((cc & CC_EN) == 0) { c.state = STATE_SHUT_DOWN; return true; }
  mmio_write32(c.mmio, REG_CC, (cc & ~CC_SHN_MASK) | CC_SHN_NORMAL);
  const saved = c.timeoutMs;
  if (c.timeoutMs < SHUTDOWN_MIN_MS) c.timeoutMs = SHUTDOWN_MIN_MS;
  const status = waitStatus(c, CSTS_SHST_MASK, CSTS_SHST_COMPLETE, start);
  c.timeoutMs = saved;
  c.state = STATE_SHUT_DOWN;
  if (status != 0) return fail(c, "shutdown: CSTS.SHST did not report complete", status);
  put("shutdown ctrl="); putCtrlName(c.index); put(" ok us="); putDec(elapsedUs(start)); newline();
  return true;
}
