// Bringing a controller up, in the order of NVMe 1.4 section 7.6.1 and the seed write-up's stages:
// 1 map BAR0, read CAP/VS/CSTS, reset; 2 admin queue and the first command, Identify; 3 decode it,
// find the namespaces; 4 Number of Queues, interrupts, the IO queue pair. Also the controller reset
// that recovery uses (7.3.1) and the orderly shutdown (7.6.2). Every wait is bounded by CAP.TO.
import { mmio_map, mmio_size, mmio_read32, mmio_write32, now_ns, relax } from "../imports";
import {
  REG_CAP, REG_VS, REG_CC, REG_AQA, REG_ASQ, REG_ACQ, REG_DOORBELL_BASE,
  CAP_MQES_MASK, CAP_TO_SHIFT, CAP_TO_MASK, CAP_DSTRD_SHIFT, CAP_DSTRD_MASK, CAP_CSS_SHIFT, CAP_CSS_NVM,
  CAP_MPSMIN_SHIFT, CAP_MPSMAX_SHIFT, CAP_MPS_MASK,
  CC_EN, CC_CSS_SHIFT, CC_CSS_NVM, CC_MPS_SHIFT, CC_SHN_NORMAL, CC_SHN_MASK, CC_IOSQES_SHIFT, CC_IOCQES_SHIFT,
  CSTS_RDY, CSTS_CFS, CSTS_SHST_MASK, CSTS_SHST_COMPLETE, AQA_ACQS_SHIFT,
  SQE_BYTES, CQE_BYTES, SQES_LOG2, CQES_LOG2,
  ADMIN_SET_FEATURES, ADMIN_CREATE_IO_CQ, ADMIN_CREATE_IO_SQ, ADMIN_DELETE_IO_SQ, ADMIN_DELETE_IO_CQ,
  CNS_CONTROLLER, CNS_NAMESPACE, CNS_ACTIVE_NSID_LIST, CNS_NS_DESCRIPTORS, NIDT_CSI, NID_HEADER_BYTES, FEATURE_NUMBER_OF_QUEUES,
  QUEUE_PHYS_CONTIG, CQ_IRQ_ENABLED, CQ_IV_SHIFT, SQ_CQID_SHIFT,
  IDC_MDTS, IDC_CNTRLTYPE, IDC_SQES, IDC_CQES, IDC_NN, IDC_ONCS, IDC_VWC, IDC_SGLS,
} from "./registers";
import { QueuePair, SLOT_BYTES, MAX_LIST_PAGES } from "./queue";
import { Controller, addController, setState, fail, MAX_CONTROLLERS, count, CONTROLLER_PAGE_PART } from "./controller";
import { adminCommand, submitAdmin, identify } from "./admin";
import { setupInterrupts } from "./interrupts";
import { addNamespace, MAX_NAMESPACES } from "./namespace";
import { allocPages, busAddress, PAGE_BYTES } from "../dma";
import { PCI_CMD_MEMORY, PCI_CMD_BUS_MASTER, updateCommand } from "../pci";
import { logging } from "../log";
import { traceStage } from "../trace";
import { put, putLine, putDec, putHex, putByte, putCtrlName, putNsName, newline, putError } from "../../common/console";
import { putStatusBrief as putStatus, isDriverError } from "../../common/status";
import {
  STATE_READY, STATE_STOPPED, STATE_SHUT_DOWN, STATE_FAILED, IRQ_MODE_POLL, IRQ_MODE_MSIX, IRQ_MODE_INTX,
  STAGE_RESET, STAGE_IDENTIFY, STAGE_NAMESPACES, STAGE_IO_QUEUES, STAGE_ALL, ERR_TIMEOUT, ERR_CONTROLLER_FATAL, ERR_NOT_READY,
} from "../../common/abi";
import {
  FAIL_BAR0_MAP, FAIL_BAR0_SMALL, FAIL_CSS, FAIL_MQES, FAIL_DSTRD, FAIL_MPS, FAIL_QUEUE_MEMORY, FAIL_PRP_MEMORY,
  FAIL_RESET_RDY_STAYS, FAIL_RESET_RDY, FAIL_ENABLE_RDY, FAIL_IDENTIFY, FAIL_SQES, FAIL_CQES, FAIL_CNTRLTYPE,
  FAIL_NS_LIST, FAIL_IDENTIFY_NS, FAIL_NUMBER_OF_QUEUES, FAIL_CREATE_CQ, FAIL_CREATE_SQ, FAIL_DELETE_SQ,
  FAIL_DELETE_CQ, FAIL_SHUTDOWN, refusedText, REFUSED_OVER_MDTS, REFUSED_COMMAND_SET,
} from "../../common/words";

const ADMIN_ENTRIES_MAX: u32 = 32;
const IO_ENTRIES_MAX: u32 = 256;
// Our own cap on one command's transfer, on top of MDTS; larger than one PRP list page covers
// (511 data pages + a chain pointer at 4 KiB), so controllers without MDTS get chained lists.
export const MAX_COMMAND_BYTES: u32 = 4 << 20;
const PRP_POOL_PAGES: u32 = 64;   // list pages per controller: one each for 64 large commands in flight
if (PRP_POOL_PAGES < MAX_LIST_PAGES || PRP_POOL_PAGES * 4 > CONTROLLER_PAGE_PART) ERROR("PRP_POOL_PAGES: one command's lists, and a stack that fits its part of the page");
const SHUTDOWN_MIN_MS: u32 = 5000;
const NS_PROBE_MAX: u32 = 1024;   // namespaces probed one by one on a 1.0 controller
const NLB_MAX_BLOCKS: u32 = 65536; // CDW12 NLB is 16 bits, 0-based: the most blocks of one command
const NS_LIST_ENTRIES: u32 = 1024; // ids in the active namespace list page (5.15.2.2, CNS 02h)
const nsIds = memory.data(<i32>(MAX_NAMESPACES * 4));

function elapsedUs(start: u64): u64 { return (now_ns() - start) / 1000; }

// Waits until (CSTS & mask) == want, bounded by CAP.TO; CFS ends the wait early.
function waitStatus(c: Controller, mask: u32, want: u32, start: u64, timeoutMs: u32): u32 {
  const deadline = start + <u64>timeoutMs * 1_000_000;
  while (true) {
    const csts = c.csts();
    if (csts == 0xffffffff) return ERR_NOT_READY;         // the device fell off the bus
    if ((csts & mask) == want) return 0;
    if ((csts & CSTS_CFS) != 0 && mask != CSTS_CFS) return ERR_CONTROLLER_FATAL;
    if (now_ns() >= deadline) return ERR_TIMEOUT;
    relax();
  }
}

// A controller's memory: its record with both queue pairs and the PRP page stack in one page, and
// its Identify pages. Returns null when the window is exhausted.
export function attach(bdf: u32): Controller | null {
  if (count() == MAX_CONTROLLERS) return null;
  const page = allocPages(PAGE_BYTES);
  const idctrl = allocPages(PAGE_BYTES);
  const scratch = allocPages(PAGE_BYTES);
  if (page == 0 || idctrl == 0 || scratch == 0) return null;
  const c = addController(page);
  c.bdf = bdf;
  c.idctrl = idctrl;
  c.scratch = scratch;
  c.admin = page + CONTROLLER_PAGE_PART;
  c.io = page + 2 * CONTROLLER_PAGE_PART;
  c.prpStack = page + 3 * CONTROLLER_PAGE_PART;  // PRP_POOL_PAGES u32 addresses
  c.irqLine = -1;
  return c;
}

function putVersion(vs: u32): void {
  putDec(<u64>(vs >> 16)); putByte(46); putDec(<u64>((vs >> 8) & 0xff)); putByte(46); putDec(<u64>(vs & 0xff));
}

function printCap(c: Controller, cap: u64, csts: u32, barBytes: u32): void {
  putCtrlName(c.index);
  put(" cap="); putHex(cap, 16);
  put(" version="); putVersion(c.version);
  put(" mqes="); putDec(<u64>(c.mqes - 1));
  put(" dstrd="); putDec((cap >> CAP_DSTRD_SHIFT) & CAP_DSTRD_MASK);
  put(" timeout_ms="); putDec(<u64>c.timeoutMs);
  put(" mps_min="); putDec(<u64>4096 << ((cap >> CAP_MPSMIN_SHIFT) & CAP_MPS_MASK));
  put(" mps_max="); putDec(<u64>4096 << ((cap >> CAP_MPSMAX_SHIFT) & CAP_MPS_MASK));
  put(" csts="); putHex(<u64>csts, 2);
  put(" bar0_bytes="); putDec(<u64>barBytes);
  newline();
}

// Stage 1: map BAR0, read and check CAP and VS, reset.
function stageReset(c: Controller): bool {
  updateCommand(c.bdf, PCI_CMD_MEMORY, 0);
  const handle = mmio_map(c.bdf, 0);
  if (handle < 0) return fail(c, FAIL_BAR0_MAP);
  c.mmio = handle;
  const barBytes = mmio_size(handle);
  // The registers up to ACQ and the admin doorbells (at the smallest stride) must be inside BAR0.
  if (barBytes < REG_DOORBELL_BASE + 8) return fail(c, FAIL_BAR0_SMALL);
  const cap = c.read64(REG_CAP);
  c.capLo = <u32>cap;
  c.capHi = <u32>(cap >> 32);
  c.version = mmio_read32(c.mmio, REG_VS);
  if (c.version == 0) c.version = 0x00010000; // NVMe 1.0 controllers may leave VS at 0
  c.mqes = <u32>(cap & CAP_MQES_MASK) + 1;
  c.strideBytes = 4 << <u32>((cap >> CAP_DSTRD_SHIFT) & CAP_DSTRD_MASK);
  const to = <u32>((cap >> CAP_TO_SHIFT) & CAP_TO_MASK);
  c.timeoutMs = (to == 0 ? 1 : to) * 500;  // CAP.TO may be 0 on some devices: wait at least 500 ms
  if (logging()) printCap(c, cap, c.csts(), barBytes);
  if (((cap >> CAP_CSS_SHIFT) & CAP_CSS_NVM) == 0) return fail(c, FAIL_CSS);
  if (c.mqes < 2) return fail(c, FAIL_MQES);
  // The doorbells of queues 0 and 1 (four of them, CAP.DSTRD apart) must lie inside BAR0.
  if (<u64>REG_DOORBELL_BASE + <u64>4 * <u64>c.strideBytes > <u64>barBytes) return fail(c, FAIL_DSTRD);
  // Our pages are 4 KiB; a larger controller page works too as long as CAP allows it.
  c.mps = <u32>((cap >> CAP_MPSMIN_SHIFT) & CAP_MPS_MASK);
  if (c.mps > <u32>((cap >> CAP_MPSMAX_SHIFT) & CAP_MPS_MASK) || c.mps > 4) return fail(c, FAIL_MPS);
  c.pageBytes = 4096 << c.mps;
  if (c.adminEntries == 0 && !allocateRings(c)) return false;
  return disable(c);
}

// First bring-up: the rings and bookkeeping, sized from MQES, allocated once.
function allocateRings(c: Controller): bool {
  c.adminEntries = c.mqes < ADMIN_ENTRIES_MAX ? c.mqes : ADMIN_ENTRIES_MAX;
  c.ioEntries = c.mqes < IO_ENTRIES_MAX ? c.mqes : IO_ENTRIES_MAX;
  if (!allocQueue(c, c.adminQueue(), 0, c.adminEntries) || !allocQueue(c, c.ioQueue(), 1, c.ioEntries)) {
    return fail(c, FAIL_QUEUE_MEMORY);
  }
  for (let i: u32 = 0; i < PRP_POOL_PAGES; i++) {
    const p = allocPages(c.pageBytes, c.pageBytes);
    if (p == 0) return fail(c, FAIL_PRP_MEMORY);
    c.prpPages++;
    store<u32>(c.prpStack + <usize>(c.prpFree * 4), <u32>p);
    c.prpFree++;
  }
  return true;
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
    waitStatus(c, CSTS_RDY, CSTS_RDY, start, c.timeoutMs);
  }
  mmio_write32(c.mmio, REG_CC, 0);
  const status = waitStatus(c, CSTS_RDY, 0, now_ns(), c.timeoutMs);
  if (status == ERR_CONTROLLER_FATAL) {
    // CFS with EN = 0 and RDY = 0 is a reset still in progress on some devices: RDY is what counts.
    if ((c.csts() & CSTS_RDY) != 0) return fail(c, FAIL_RESET_RDY_STAYS, status);
  } else if (status != 0) {
    return fail(c, FAIL_RESET_RDY, status);
  }
  if (logging()) { putCtrlName(c.index); put(" reset ok us="); putDec(elapsedUs(start)); newline(); }
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
  const status = waitStatus(c, CSTS_RDY, CSTS_RDY, start, c.timeoutMs);
  if (status != 0) return fail(c, FAIL_ENABLE_RDY, status);
  if (logging()) {
    putCtrlName(c.index); put(" enable ok admin_entries="); putDec(<u64>entries);
    put(" us="); putDec(elapsedUs(start)); newline();
  }
  return true;
}

// Stage 3a: what Identify Controller (5.15.2.1) says the driver must respect.
function decodeIdentify(c: Controller): bool {
  const id = c.idctrl;
  // SQES/CQES give the required (3:0) and maximum (7:4) entry sizes; 0 on some 1.0 devices.
  const sqes = <u32>load<u8>(id + <usize>IDC_SQES);
  const cqes = <u32>load<u8>(id + <usize>IDC_CQES);
  if (sqes != 0 && ((sqes & 0xf) > SQES_LOG2 || (sqes >> 4) < SQES_LOG2)) return fail(c, FAIL_SQES);
  if (cqes != 0 && ((cqes & 0xf) > CQES_LOG2 || (cqes >> 4) < CQES_LOG2)) return fail(c, FAIL_CQES);
  if (<u32>load<u8>(id + <usize>IDC_CNTRLTYPE) > 1) return fail(c, FAIL_CNTRLTYPE);
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
  if (logging()) {
    putCtrlName(c.index);
    put(" identify nn="); putDec(<u64>c.nn);
    put(" mdts_bytes="); putDec(c.mdtsBytes);
    put(" vwc="); put(c.vwc != 0 ? "yes" : "no");
    put(" sgl="); put(c.sgl != 0 ? "yes" : "no");
    newline();
  }
  return true;
}

// Stage 3b: active namespace ids from CNS 02h on 1.1+, else (or if refused) every id from 1 to NN.
function stageNamespaces(c: Controller): bool {
  assert(c.namespaces == 0, "namespaces identified twice");
  const list = c.scratch; // Identify data is one page; the list is read, then the page reused
  let useList = c.version >= 0x00010100;
  if (useList) {
    const status = identify(c, CNS_ACTIVE_NSID_LIST, 0, list);
    if (status != 0) {
      if (isDriverError(status)) return fail(c, FAIL_NS_LIST, status);
      useList = false; // e.g. Invalid Field on a controller that does not know CNS 02h
    }
  }
  if (!useList) {
    const last = c.nn < NS_PROBE_MAX ? c.nn : NS_PROBE_MAX;
    if (c.nn > NS_PROBE_MAX) tooMany(c, c.nn - NS_PROBE_MAX, "not probed: the driver probes ids 1 to 1024");
    for (let nsid: u32 = 1; nsid <= last; nsid++) {
      if (!identifyNamespace(c, nsid, false)) return false;
    }
    return true;
  }
  // Copy the ids out first: the scratch page is needed for each Identify Namespace.
  let n: u32 = 0;
  let beyond: u32 = 0;
  for (let i: u32 = 0; i < NS_LIST_ENTRIES; i++) {
    const nsid = load<u32>(list + <usize>(i * 4));
    if (nsid == 0) break;
    if (n == MAX_NAMESPACES) { beyond++; continue; }
    store<u32>(nsIds + <usize>(n * 4), nsid);
    n++;
  }
  if (beyond > 0) tooMany(c, beyond, "ignored: more than the driver's 64");
  for (let i: u32 = 0; i < n; i++) {
    if (!identifyNamespace(c, load<u32>(nsIds + <usize>(i * 4)), true)) return false;
  }
  return true;
}

// Namespaces the driver leaves out, said in one error line.
function tooMany(c: Controller, count: u32, why: string): void {
  putError(); putCtrlName(c.index); put(": "); putDec(<u64>count); put(" namespaces "); putLine(why);
}

// The namespace's command set from its identification descriptors (CNS 03h, NVMe 1.3+): 0 (NVM)
// when the list has no CSI descriptor, or the controller does not answer CNS 03h.
function commandSet(c: Controller, nsid: u32): u32 {
  if (c.version < 0x00010300) return 0;
  const page = c.scratch;
  memory.fill(page, 0, PAGE_BYTES);
  if (identify(c, CNS_NS_DESCRIPTORS, nsid, page) != 0) return 0;
  let off: u32 = 0;
  for (let steps: u32 = 0; steps < PAGE_BYTES / NID_HEADER_BYTES && off + NID_HEADER_BYTES < PAGE_BYTES; steps++) {
    const type = <u32>load<u8>(page + <usize>off);
    const length = <u32>load<u8>(page + <usize>off + 1);
    if (type == 0) break;
    if (type == NIDT_CSI && length >= 1 && off + NID_HEADER_BYTES < PAGE_BYTES) return <u32>load<u8>(page + <usize>(off + NID_HEADER_BYTES));
    off += NID_HEADER_BYTES + length;
  }
  return 0;
}

function identifyNamespace(c: Controller, nsid: u32, listed: bool): bool {
  const page = c.scratch;
  memory.fill(page, 0, PAGE_BYTES);
  const status = identify(c, CNS_NAMESPACE, nsid, page);
  if (isDriverError(status)) return fail(c, FAIL_IDENTIFY_NS, status);
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
  // A block the controller cannot move in one command could never be read or written; a
  // namespace of another command set (zoned: writes only at a zone's write pointer) has rules the
  // driver does not keep.
  if (ns.refused == 0 && (<u64>1 << ns.lbaShift) > <u64>c.maxCommandBytes) ns.refused = REFUSED_OVER_MDTS;
  if (ns.refused == 0 && commandSet(c, nsid) != 0) ns.refused = REFUSED_COMMAND_SET;
  const blocks = c.maxCommandBytes >> ns.lbaShift;
  ns.maxBlocks = blocks > NLB_MAX_BLOCKS ? NLB_MAX_BLOCKS : blocks;
  c.namespaces++;
  if (logging()) {
    putNsName(c.index, nsid);
    put(" nsid="); putDec(<u64>nsid);
    put(" lba_bytes="); putDec(<u64>(ns.refused == 0 || ns.lbaShift < 32 ? (<u64>1 << ns.lbaShift) : 0));
    put(" blocks="); putDec(ns.blocks);
    if (ns.refused != 0) { put(" refused=\""); put(refusedText(ns.refused)); put("\""); }
    newline();
  }
  return true;
}

// Stage 4: Number of Queues (5.21.1.7), then the IO CQ and SQ (5.3, 5.4).
function stageIoQueues(c: Controller): bool {
  let sqe = adminCommand(ADMIN_SET_FEATURES, 0);
  sqe.cdw10 = FEATURE_NUMBER_OF_QUEUES;
  sqe.cdw11 = 0; // NCQR = NSQR = 0: one pair (0-based) is all a single-threaded driver uses
  let status = submitAdmin(c);
  if (status != 0) return fail(c, FAIL_NUMBER_OF_QUEUES, status);
  const nsqa = (c.lastDw0 & 0xffff) + 1;
  const ncqa = (c.lastDw0 >> 16) + 1;
  c.queuesGranted = nsqa < ncqa ? nsqa : ncqa;
  const io = c.ioQueue();
  io.reset();
  const entries = io.entries;
  sqe = adminCommand(ADMIN_CREATE_IO_CQ, 0);
  sqe.prp1 = busAddress(io.cq, entries * CQE_BYTES);
  sqe.cdw10 = ((entries - 1) << 16) | io.qid;
  sqe.cdw11 = QUEUE_PHYS_CONTIG | (c.irqMode != IRQ_MODE_POLL ? CQ_IRQ_ENABLED : 0) | (0 << CQ_IV_SHIFT);
  status = submitAdmin(c);
  if (status != 0) return fail(c, FAIL_CREATE_CQ, status);
  sqe = adminCommand(ADMIN_CREATE_IO_SQ, 0);
  sqe.prp1 = busAddress(io.sq, entries * SQE_BYTES);
  sqe.cdw10 = ((entries - 1) << 16) | io.qid;
  sqe.cdw11 = QUEUE_PHYS_CONTIG | (io.qid << SQ_CQID_SHIFT);
  status = submitAdmin(c);
  if (status != 0) return fail(c, FAIL_CREATE_SQ, status);
  if (logging()) {
    putCtrlName(c.index);
    put(" queues granted="); putDec(<u64>c.queuesGranted);
    put(" io_entries="); putDec(<u64>entries);
    put(" irq="); put(c.irqMode == IRQ_MODE_MSIX ? "msix" : c.irqMode == IRQ_MODE_INTX ? "intx" : "poll");
    newline();
  }
  return true;
}

// Brings one controller up to `stopStage`, with interrupts as `irqPreference` asks (IRQ_* of
// common/abi.ts). On failure the controller is left disabled with bus mastering off, and the reason
// printed as an error line.
export function bringUp(c: Controller, stopStage: u32, irqPreference: u32): bool {
  traceStage(c.index, STAGE_RESET);
  if (!stageReset(c)) return quiesce(c);
  c.stage = STAGE_RESET;
  if (stopStage == STAGE_RESET) return stopAt(c);
  traceStage(c.index, STAGE_IDENTIFY);
  updateCommand(c.bdf, PCI_CMD_BUS_MASTER, 0);
  // Interrupts are stage 4 of the write-up; when bring-up goes that far they are set up before
  // CC.EN, so that the admin CQ (always vector 0) interrupts too: QEMU only routes a vector once
  // a CQ using it is created, and the admin CQ is created by enabling the controller.
  if (stopStage >= STAGE_IO_QUEUES) setupInterrupts(c, irqPreference);
  if (!enable(c)) return quiesce(c);
  const status = identify(c, CNS_CONTROLLER, 0, c.idctrl);
  if (status != 0) { fail(c, FAIL_IDENTIFY, status); return quiesce(c); }
  c.stage = STAGE_IDENTIFY;
  if (stopStage == STAGE_IDENTIFY) return stopAt(c);
  traceStage(c.index, STAGE_NAMESPACES);
  if (!decodeIdentify(c) || !stageNamespaces(c)) return quiesce(c);
  c.stage = STAGE_NAMESPACES;
  if (stopStage == STAGE_NAMESPACES) return stopAt(c);
  traceStage(c.index, STAGE_IO_QUEUES);
  if (!stageIoQueues(c)) return quiesce(c);
  c.stage = STAGE_IO_QUEUES;
  if (stopStage == STAGE_IO_QUEUES) return stopAt(c);
  c.stage = STAGE_ALL;
  traceStage(c.index, STAGE_ALL);
  setState(c, STATE_READY);
  if (logging()) { putCtrlName(c.index); put(" ready namespaces="); putDec(<u64>c.namespaces); newline(); }
  return true;
}

// The client shows what a stopped bring-up saw (the describe records, Identify data).
function stopAt(c: Controller): bool {
  setState(c, STATE_STOPPED);
  return true;
}

// A failed controller must not keep DMA going: disable it and turn bus mastering off.
export function quiesce(c: Controller): bool {
  assert(c.state == STATE_FAILED, "quiesce: the controller has not failed");
  if (c.mmio > 0) mmio_write32(c.mmio, REG_CC, 0);
  updateCommand(c.bdf, 0, PCI_CMD_BUS_MASTER);
  return false;
}

// After a timeout or CFS: the controller still owns commands, so only a reset makes the memory
// they point at ours again (7.3.1). The admin and IO queues are set up again; the caller has taken
// back every command (requests.ts). Returns false, the controller failed and quiet, if it did not work.
export function resetController(c: Controller, why: u32): bool {
  c.resets++;
  if (logging()) { putCtrlName(c.index); put(" resetting after: "); putStatus(why); newline(); }
  if (!disable(c) || !enable(c) || !stageIoQueues(c)) return quiesce(c);
  if (logging()) { putCtrlName(c.index); putLine(" recovered"); }
  return true;
}

// 7.6.2 Shutdown, once no request is outstanding and the write cache is flushed (shutdown.ts):
// delete the IO queues, CC.SHN = normal, wait for CSTS.SHST = complete.
export function shutdownController(c: Controller): bool {
  if (c.state == STATE_READY) {
    const io = c.ioQueue();
    if (io.cqUnrung != 0) io.ringCompletion(); // give back what was consumed before deleting
    let sqe = adminCommand(ADMIN_DELETE_IO_SQ, 0);
    sqe.cdw10 = c.ioQueue().qid;
    let status = submitAdmin(c);
    if (status != 0) return fail(c, FAIL_DELETE_SQ, status);
    sqe = adminCommand(ADMIN_DELETE_IO_CQ, 0);
    sqe.cdw10 = c.ioQueue().qid;
    status = submitAdmin(c);
    if (status != 0) return fail(c, FAIL_DELETE_CQ, status);
  }
  if (c.state != STATE_READY && c.state != STATE_STOPPED) return true;
  const start = now_ns();
  const cc = mmio_read32(c.mmio, REG_CC);
  setState(c, STATE_SHUT_DOWN);
  if ((cc & CC_EN) == 0) return true;
  mmio_write32(c.mmio, REG_CC, (cc & ~CC_SHN_MASK) | CC_SHN_NORMAL);
  const timeoutMs = c.timeoutMs < SHUTDOWN_MIN_MS ? SHUTDOWN_MIN_MS : c.timeoutMs;
  const status = waitStatus(c, CSTS_SHST_MASK, CSTS_SHST_COMPLETE, start, timeoutMs);
  if (status != 0) return fail(c, FAIL_SHUTDOWN, status);
  if (logging()) { put("shutdown ctrl="); putCtrlName(c.index); put(" ok us="); putDec(elapsedUs(start)); newline(); }
  return true;
}
