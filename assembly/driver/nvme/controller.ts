// One NVMe controller: what the driver knows of it (CAP, Identify, queues, interrupt line, counters),
// its registers, and the table of controllers. Bring-up is bringup.ts, commands admin.ts and
// requests.ts; this file only holds the state and the register accessors (NVMe 1.4 section 3.1).
import { mmio_read32, mmio_write32 } from "../imports";
import { REG_CSTS } from "./registers";
import { QueuePair, QUEUE_PAIR_BYTES } from "./queue";
import { MAX_NVME } from "../pci";
import { STATE_ABSENT, STATE_FAILED, STATE_STOPPED, STATE_READY, STATE_SHUT_DOWN, ERR_BAD_COMPLETION, IO_QUEUES_MAX } from "../../common/abi";
import { failText } from "../../common/words";
import { put, putDec, putCtrlName, newline, putError } from "../../common/console";
import { putStatusBrief as putStatus } from "../../common/status";

export const MAX_CONTROLLERS: u32 = MAX_NVME; // one per NVMe function enumeration keeps

@unmanaged
export class Controller {
  index: u32;            // n of nvmeN
  bdf: u32;
  quirks: u32;           // QUIRK_* of quirks.ts, from the vendor and device id
  mmio: i32;             // BAR0 handle
  state: u32;            // STATE_* of common/abi.ts
  stage: u32;            // the last bring-up stage completed
  failReason: u32;       // FAIL_* of common/words.ts
  failStatus: u32;
  capLo: u32;            // CAP (3.1.1) as read
  capHi: u32;
  version: u32;          // VS (3.1.2)
  strideBytes: u32;      // doorbell stride, 4 << CAP.DSTRD
  timeoutMs: u32;        // CAP.TO in ms, at least 500
  pageBytes: u32;        // the memory page size in CC.MPS
  mps: u32;
  mqes: u32;             // largest queue the controller accepts, in entries (MQES + 1)
  mdtsBytes: u64;        // 0: no limit
  maxCommandBytes: u32;  // what one command carries here: MDTS, capped by the driver; 0 until identified
  nn: u32;
  oncs: u32;
  vwc: u32;
  sgl: u32;              // SGLS offers SGLs (describe, `info`)
  sglAlignment: u32;     // SGLS bits 1:0 (sgl.ts)
  sglOn: u32;            // IO commands describe their data with SGLs (sgl.ts), not PRPs
  dbbufPages: usize;     // shadow doorbell page, then the EventIdx page (dbbuf.ts); 0 until first used
  queuesGranted: u32;
  adminEntries: u32;
  ioEntries: u32;
  admin: usize;          // QueuePair
  io: usize;             // IO_QUEUES_MAX QueuePairs, QUEUE_PAIR_BYTES apart: IO queue i + 1 at io + i * QUEUE_PAIR_BYTES
  ioQueues: u32;         // IO queue pairs created (0 before stage 4)
  idctrl: usize;         // Identify Controller page, kept for describe
  scratch: usize;        // page for Identify Namespace and the active namespace list
  prpStack: usize;       // free PRP list pages (u32 addresses)
  prpFree: u32;
  prpPages: u32;         // pages in the pool
  irqMode: u32;          // IRQ_MODE_* of common/abi.ts
  irqLine: i32;          // host line of vector 0 (the admin CQ's), -1 without interrupts
  irqMask: u32;          // every host line of this controller (1 << line each)
  vectors: u32;          // interrupt vectors in use: 1, or 1 + IO queues with MSI-X vectors of their own
  msixHandle: i32;       // the MSI-X table's BAR handle and offset, and its entries (interrupts.ts)
  msixTable: u32;
  msixEntries: u32;
  lastDw0: u32;          // DW0 of the last admin completion
  namespaces: u32;
  requests: u32;         // requests accepted and not yet completed
  aerArmed: u32;         // 1 while our Asynchronous Event Request is outstanding (admin-requests.ts)
  aerStopped: u32;       // 1: none is sent again (the controller has none, or shutdown has begun)
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
  deviceNs: u64;         // IO commands: doorbell rung -> completion seen, summed (requests.ts reap)
  deviceCommands: u64;   // the IO commands in deviceNs

  adminQueue(): QueuePair { return changetype<QueuePair>(this.admin); }
  // IO queue pair i (qid i + 1), i < ioQueues.
  ioQueue(i: u32): QueuePair {
    assert(i < IO_QUEUES_MAX, "controller: IO queue index out of range");
    return changetype<QueuePair>(this.io + <usize>(i * QUEUE_PAIR_BYTES));
  }

  // 64-bit registers are two 32-bit accesses, low half first (3.1).
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

// A controller's page (bringup.ts attach): the record, then the admin queue pair, the IO queue
// pairs and the PRP page stack, 1024 bytes apart (checked when compiling).
export const CONTROLLER_PAGE_PART: u32 = 1024;
if (offsetof<Controller>() > CONTROLLER_PAGE_PART || IO_QUEUES_MAX * QUEUE_PAIR_BYTES > CONTROLLER_PAGE_PART) ERROR("Controller or its IO QueuePairs outgrew their part of the page");

const controllers: usize = memory.data(<i32>(MAX_CONTROLLERS * 4));
let controllerCount: u32 = 0;

export function count(): u32 { return controllerCount; }

// @ts-ignore: decorator
@inline export function at(i: u32): Controller {
  assert(i < controllerCount, "controller index out of range");
  return changetype<Controller>(load<u32>(controllers + <usize>(i * 4)));
}

export function addController(page: usize): Controller {
  assert(controllerCount < MAX_CONTROLLERS, "controller table full");
  const c = changetype<Controller>(page);
  c.index = controllerCount;
  store<u32>(controllers + <usize>(controllerCount * 4), <u32>page);
  controllerCount++;
  return c;
}

// State changes, checked: READY and STOPPED are reached from bring-up only, SHUT_DOWN from
// READY or STOPPED, FAILED from anywhere.
export function setState(c: Controller, to: u32): void {
  const from = c.state;
  if (to == STATE_READY) assert(from == STATE_ABSENT || from == STATE_READY, "controller: READY from a bad state");
  else if (to == STATE_STOPPED) assert(from == STATE_ABSENT, "controller: STOPPED from a bad state");
  else if (to == STATE_SHUT_DOWN) assert(from == STATE_READY || from == STATE_STOPPED, "controller: SHUT_DOWN from a bad state");
  else assert(to == STATE_FAILED, "controller: unknown state");
  c.state = to;
}

// Marks the controller failed and says why, as one error line; returns false for the caller to return.
export function fail(c: Controller, reason: u32, status: u32 = 0): bool {
  setState(c, STATE_FAILED);
  c.failReason = reason;
  c.failStatus = status;
  putError();
  putCtrlName(c.index);
  put(": ");
  put(failText(reason));
  if (status != 0) { put(": "); putStatus(status); }
  newline();
  return false;
}

// A completion whose command id the driver did not issue: said, counted, and otherwise ignored (the
// controller has still advanced its head, so the entry is consumed).
export function reportBadCompletion(c: Controller, qid: u32, cid: u32): void {
  c.errors++;
  putError(); putCtrlName(c.index); put(": "); putStatus(ERR_BAD_COMPLETION);
  put(" qid="); putDec(<u64>qid); put(" cid="); putDec(<u64>cid); newline();
}
