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
  CNS_CONTROLLER, FEATURE_NUMBER_OF_QUEUES, NOQ_NCQR_SHIFT, NOQ_COUNT_MASK, QUEUE_PHYS_CONTIG, CQ_IRQ_ENABLED, CQ_IV_SHIFT, SQ_CQID_SHIFT,
} from "./registers";
import { QueuePair, SLOT_BYTES, MAX_LIST_PAGES } from "./queue";
import { Controller, addController, setState, fail, MAX_CONTROLLERS, count, CONTROLLER_PAGE_PART } from "./controller";
import { adminCommand, submitAdmin, identify } from "./admin";
import { setupInterrupts, attachQueueVectors, irqWord } from "./interrupts";
import { setupDoorbellBuffer } from "./dbbuf";
import { decodeIdentify, stageNamespaces } from "./identify";
import {
  quirksOf, traceQuirk, QUIRK_DELAY_BEFORE_CHK_RDY, QUIRK_128_BYTES_SQES, QUIRK_SHARED_TAGS, QUIRK_DMA_ADDRESS_BITS_48,
  QUIRK_BIT_DELAY_BEFORE_CHK_RDY, QUIRK_BIT_128_BYTES_SQES, QUIRK_BIT_SHARED_TAGS, QUIRK_BIT_DMA_ADDRESS_BITS_48,
  QUIRK_RDY_DELAY_MS, QUIRK_IO_CID_BASE, QUIRK_SHARED_CID_LIMIT, QUIRK_SQE_BYTES, DMA_48_BIT_LIMIT,
} from "./quirks";
import { allocPages, busAddress, windowLastBusAddress, PAGE_BYTES } from "../dma";
import { PCI_CMD_MEMORY, PCI_CMD_BUS_MASTER, updateCommand, vendorId, deviceId } from "../pci";
import { logging } from "../log";
import { traceStage } from "../trace";
import { put, putLine, putDec, putHex, putByte, putCtrlName, newline } from "../../common/console";
import { putStatusBrief as putStatus } from "../../common/status";
import {
  STATE_READY, STATE_STOPPED, STATE_SHUT_DOWN, STATE_FAILED, IRQ_MODE_POLL, IRQ_MODE_MSIX, IRQ_MODE_INTX, IO_QUEUES_MAX,
  STAGE_RESET, STAGE_IDENTIFY, STAGE_NAMESPACES, STAGE_IO_QUEUES, STAGE_ALL, ERR_TIMEOUT, ERR_CONTROLLER_FATAL, ERR_NOT_READY,
} from "../../common/abi";
import {
  FAIL_BAR0_MAP, FAIL_BAR0_SMALL, FAIL_CSS, FAIL_MQES, FAIL_DSTRD, FAIL_MPS, FAIL_QUEUE_MEMORY, FAIL_PRP_MEMORY,
  FAIL_RESET_RDY_STAYS, FAIL_RESET_RDY, FAIL_ENABLE_RDY, FAIL_IDENTIFY, FAIL_NUMBER_OF_QUEUES, FAIL_CREATE_CQ,
  FAIL_CREATE_SQ, FAIL_DELETE_SQ, FAIL_DELETE_CQ, FAIL_SHUTDOWN, FAIL_DMA_48_BIT,
} from "../../common/words";

const ADMIN_ENTRIES_MAX: u32 = 32;
const IO_ENTRIES_MAX: u32 = 256;
const PRP_POOL_PAGES: u32 = 64;   // list pages per controller: one each for 64 large commands in flight
if (PRP_POOL_PAGES < MAX_LIST_PAGES * IO_QUEUES_MAX || PRP_POOL_PAGES * 4 > CONTROLLER_PAGE_PART) ERROR("PRP_POOL_PAGES: one command's lists for each IO queue pair, and a stack that fits its part of the page");
const SHUTDOWN_MIN_MS: u32 = 5000;

function elapsedUs(start: u64): u64 { return (now_ns() - start) / 1000; }

// Waits until (CSTS & mask) == want, bounded by CAP.TO; CFS ends the wait early unless `cfsEnds`
// is false (a reset: CFS is often why it happens, and stays set until the reset is done).
function waitStatus(c: Controller, mask: u32, want: u32, start: u64, timeoutMs: u32, cfsEnds: bool = true): u32 {
  const deadline = start + <u64>timeoutMs * 1_000_000;
  while (true) {
    const csts = c.csts();
    if (csts == 0xffffffff) return ERR_NOT_READY;         // the device fell off the bus
    if ((csts & mask) == want) return 0;
    if (cfsEnds && (csts & CSTS_CFS) != 0) return ERR_CONTROLLER_FATAL;
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
  c.quirks = quirksOf(vendorId(c.bdf), deviceId(c.bdf));
  // A controller that cannot reach the window is refused before it is touched: nothing could work.
  if ((c.quirks & QUIRK_DMA_ADDRESS_BITS_48) != 0 && windowLastBusAddress() >= DMA_48_BIT_LIMIT) {
    traceQuirk(c.index, QUIRK_BIT_DMA_ADDRESS_BITS_48);
    return fail(c, FAIL_DMA_48_BIT);
  }
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

// First bring-up: the rings and bookkeeping, sized from MQES, allocated once. With shared tags the
// IO ids start above the admin ones and stay below QUIRK_SHARED_CID_LIMIT, which bounds the ring.
// The first IO queue pair is allocated here, the others once Number of Queues has answered.
function allocateRings(c: Controller): bool {
  c.adminEntries = c.mqes < ADMIN_ENTRIES_MAX ? c.mqes : ADMIN_ENTRIES_MAX;
  let ioMax = IO_ENTRIES_MAX;
  const shared = (c.quirks & QUIRK_SHARED_TAGS) != 0;
  if (shared) ioMax = QUIRK_SHARED_CID_LIMIT - QUIRK_IO_CID_BASE + 1; // ids base .. base + entries - 2
  c.ioEntries = c.mqes < ioMax ? c.mqes : ioMax;
  if (!allocQueue(c, c.adminQueue(), 0, c.adminEntries, SQE_BYTES, 0) || !allocIoQueue(c, 0)) {
    return fail(c, FAIL_QUEUE_MEMORY);
  }
  assert(c.adminEntries <= QUIRK_IO_CID_BASE, "admin ids would meet shared-tag IO ids");
  for (let i: u32 = 0; i < PRP_POOL_PAGES; i++) {
    const p = allocPages(c.pageBytes, c.pageBytes);
    if (p == 0) return fail(c, FAIL_PRP_MEMORY);
    c.prpPages++;
    store<u32>(c.prpStack + <usize>(c.prpFree * 4), <u32>p);
    c.prpFree++;
  }
  return true;
}

// IO queue pair i (qid i + 1), sized from MQES (c.ioEntries); with shared tags its ids start above
// the admin ones.
function allocIoQueue(c: Controller, i: u32): bool {
  const sqeBytes = (c.quirks & QUIRK_128_BYTES_SQES) != 0 ? QUIRK_SQE_BYTES : SQE_BYTES;
  const cidBase = (c.quirks & QUIRK_SHARED_TAGS) != 0 ? QUIRK_IO_CID_BASE : 0;
  return allocQueue(c, c.ioQueue(i), i + 1, c.ioEntries, sqeBytes, cidBase);
}

function allocQueue(c: Controller, qp: QueuePair, qid: u32, entries: u32, sqeBytes: u32, cidBase: u32): bool {
  const sq = allocPages(entries * sqeBytes, c.pageBytes);
  const cq = allocPages(entries * CQE_BYTES, c.pageBytes);
  const slots = allocPages(entries * SLOT_BYTES);
  const cids = allocPages(entries * 2);
  if (sq == 0 || cq == 0 || slots == 0 || cids == 0) return false;
  qp.init(qid, entries, sq, cq, slots, cids, c.mmio, c.strideBytes, sqeBytes, cidBase);
  return true;
}

// CC.EN = 0 and wait for CSTS.RDY = 0 (7.6.1 step 1), bounded by CAP.TO whatever CSTS.CFS says
// (after a fatal status the reset is the cure, and CFS stays set until it is done). A controller
// caught while becoming ready (EN = 1, RDY = 0) is first let finish, as the spec asks of a host.
function disable(c: Controller): bool {
  const start = now_ns();
  const cc = mmio_read32(c.mmio, REG_CC);
  if ((cc & CC_EN) != 0 && (c.csts() & CSTS_RDY) == 0) {
    waitStatus(c, CSTS_RDY, CSTS_RDY, start, c.timeoutMs);
  }
  mmio_write32(c.mmio, REG_CC, 0);
  if ((cc & CC_EN) != 0 && (c.quirks & QUIRK_DELAY_BEFORE_CHK_RDY) != 0) handsOff(c);
  const status = waitStatus(c, CSTS_RDY, 0, now_ns(), c.timeoutMs, false);
  if (status != 0) {
    const cfs = status == ERR_TIMEOUT && (c.csts() & CSTS_CFS) != 0;
    return fail(c, cfs ? FAIL_RESET_RDY_STAYS : FAIL_RESET_RDY, cfs ? ERR_CONTROLLER_FATAL : status);
  }
  if (logging()) { putCtrlName(c.index); put(" reset ok us="); putDec(elapsedUs(start)); newline(); }
  return true;
}

// QUIRK_DELAY_BEFORE_CHK_RDY: CSTS is not read for QUIRK_RDY_DELAY_MS after CC.EN went 1 -> 0.
function handsOff(c: Controller): void {
  traceQuirk(c.index, QUIRK_BIT_DELAY_BEFORE_CHK_RDY);
  const until = now_ns() + <u64>QUIRK_RDY_DELAY_MS * 1_000_000;
  while (now_ns() < until) relax();   // bounded: the clock moves on
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

// IO queue pairs asked of each controller (the io_queues export, the queues= boot option).
let queuesWanted: u32 = 1;
export function setQueuesWanted(n: u32): void {
  assert(n >= 1 && n <= IO_QUEUES_MAX, "io queues: a wish out of range");
  queuesWanted = n;
}

// Stage 4: Number of Queues (5.21.1.7) asks for the wish, then min(wish, granted) IO queue pairs
// (5.3, 5.4). One pair where IO command ids are shared with the admin ones (QUIRK_SHARED_TAGS: few).
// The count is decided once; after a reset the controller must grant as many again (5.21.1.7: the
// value does not change between resets), else it is given up.
function stageIoQueues(c: Controller): bool {
  const want: u32 = (c.quirks & QUIRK_SHARED_TAGS) != 0 ? 1 : queuesWanted;
  const sqe = adminCommand(ADMIN_SET_FEATURES, 0);
  sqe.cdw10 = FEATURE_NUMBER_OF_QUEUES;
  sqe.cdw11 = ((want - 1) << NOQ_NCQR_SHIFT) | (want - 1);
  const status = submitAdmin(c);
  if (status != 0) return fail(c, FAIL_NUMBER_OF_QUEUES, status);
  const nsqa = (c.lastDw0 & NOQ_COUNT_MASK) + 1;
  const ncqa = (c.lastDw0 >> NOQ_NCQR_SHIFT) + 1;
  c.queuesGranted = nsqa < ncqa ? nsqa : ncqa;
  const n = want < c.queuesGranted ? want : c.queuesGranted;
  if (c.ioQueues == 0) {
    let made: u32 = 1;                       // pair 0 since stage 1
    while (made < n && allocIoQueue(c, made)) made++;  // as many as the window holds
    c.ioQueues = made;
    attachQueueVectors(c);
  } else if (n < c.ioQueues) {
    return fail(c, FAIL_NUMBER_OF_QUEUES);
  }
  for (let i: u32 = 0; i < c.ioQueues; i++) {
    if (!createQueuePair(c, c.ioQueue(i))) return false;
  }
  if (logging()) {
    putCtrlName(c.index);
    put(" queues granted="); putDec(<u64>c.queuesGranted);
    put(" io_entries="); putDec(<u64>c.ioEntries);
    put(" irq="); put(irqWord(c.irqMode));
    put(" io_queues="); putDec(<u64>c.ioQueues);
    put(" vectors="); putDec(<u64>c.vectors);
    newline();
  }
  return true;
}

// Create I/O CQ on the queue's vector, then its SQ.
function createQueuePair(c: Controller, io: QueuePair): bool {
  io.reset();
  const entries = io.entries;
  let sqe = adminCommand(ADMIN_CREATE_IO_CQ, 0);
  sqe.prp1 = busAddress(io.cq, entries * CQE_BYTES);
  sqe.cdw10 = ((entries - 1) << 16) | io.qid;
  sqe.cdw11 = QUEUE_PHYS_CONTIG | (c.irqMode != IRQ_MODE_POLL ? CQ_IRQ_ENABLED : 0) | (io.vector << CQ_IV_SHIFT);
  let status = submitAdmin(c);
  if (status != 0) return fail(c, FAIL_CREATE_CQ, status);
  sqe = adminCommand(ADMIN_CREATE_IO_SQ, 0);
  if (io.sqeBytes != SQE_BYTES) traceQuirk(c.index, QUIRK_BIT_128_BYTES_SQES);
  if (io.cidBase != 0) traceQuirk(c.index, QUIRK_BIT_SHARED_TAGS);
  sqe.prp1 = busAddress(io.sq, entries * io.sqeBytes);
  sqe.cdw10 = ((entries - 1) << 16) | io.qid;
  sqe.cdw11 = QUEUE_PHYS_CONTIG | (io.qid << SQ_CQID_SHIFT);
  status = submitAdmin(c);
  if (status != 0) return fail(c, FAIL_CREATE_SQ, status);
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
  if (!stageIoQueues(c) || !setupDoorbellBuffer(c)) return quiesce(c);
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
  if (!disable(c) || !enable(c) || !stageIoQueues(c) || !setupDoorbellBuffer(c)) return quiesce(c);
  if (logging()) { putCtrlName(c.index); putLine(" recovered"); }
  return true;
}

// 7.6.2 Shutdown, once no request is outstanding and the write cache is flushed (shutdown.ts):
// delete the IO queues, CC.SHN = normal, wait for CSTS.SHST = complete.
export function shutdownController(c: Controller): bool {
  for (let i: u32 = 0; i < c.ioQueues && c.state == STATE_READY; i++) {
    const io = c.ioQueue(i);
    if (io.cqUnrung != 0) io.ringCompletion(); // give back what was consumed before deleting
    let sqe = adminCommand(ADMIN_DELETE_IO_SQ, 0);
    sqe.cdw10 = io.qid;
    let status = submitAdmin(c);
    if (status != 0) return fail(c, FAIL_DELETE_SQ, status);
    sqe = adminCommand(ADMIN_DELETE_IO_CQ, 0);
    sqe.cdw10 = io.qid;
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
