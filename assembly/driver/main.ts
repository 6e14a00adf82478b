// nvme.wasm: an NVMe driver as a component. Its exports are the asynchronous block interface of
// docs/block-interface.md; its imports the hardware ABI of docs/abi.md. It has no command language,
// no prompt and no `main`: a host (boot/host.c, host/machine.js, or your kernel) calls it.
//
//   start(irq, stage, log, bufferBytes)    once: enumerate PCI, bring every NVMe controller up
//   start_cmdline(bufferBytes)             the same, with options from the boot command line
//   controller_count(), describe_controller(i), namespace_count(), describe_namespace(i),
//   identify_data(i), controller_stats(i)  what was found, as records in this module's memory
//   buffer_base(), buffer_bytes()          the memory requests move data through
//   submit(tag, op, ns, lba, blocks, buf)  queue a request; never waits
//   poll(), interrupt(lines), tick()       completions, each delivered once through request_done
//   wait_hint(), outstanding(), log_errors(), shutdown()
//
// Single-threaded: one call at a time, and none from inside request_done (asserted).
import { now_ns, relax, irq_ack } from "./imports";
import { enumerate, nvmeFunction, nvmeSkipped, printFunction, MAX_NVME } from "./pci";
import { Controller, count, at, fail } from "./nvme/controller";
import { attach, bringUp, shutdownController, quiesce, setQueuesWanted } from "./nvme/bringup";
import { takeLinesSeen } from "./nvme/admin";
import { submitLogPage, armEvents, reapAdmin } from "./nvme/admin-requests";
import { namespaceCount, namespaceAt } from "./nvme/namespace";
import {
  initRequests, initPending, submit as submitRequest, reap, reapQueue, checkTimeouts, abandonRequests, waitHint,
  outstandingRequests, bufferBase, bufferBytes, internalStatus, MAX_RETRIES,
} from "./nvme/requests";
import { optionIrq, optionStage, optionLog, optionTrace, optionQueues, readOptions } from "./options";
import { setTrace, traceMaskNow } from "./trace";
import { setLogLevel, logging } from "./log";
import { fillController, fillNamespace, fillStats } from "./describe";
import { put, putLine, putDec, putCtrlName, putNsName, newline, putError, errorLines } from "../common/console";
import { putStatusBrief as putStatus } from "../common/status";
import {
  IRQ_MSI, LOG_NORMAL, STAGE_RESET, STAGE_ALL, STATE_READY, IRQ_MODE_INTX, OP_FLUSH, OP_LOG_PAGE, OP_MASK, OP_FLAG_MORE,
  START_AGAIN, START_BAD_OPTION, START_NO_MEMORY, ERR_NOT_READY, IO_QUEUES_MAX,
} from "../common/abi";
import { FAIL_DRAIN, FAIL_QUEUE_MEMORY } from "../common/words";

const DRAIN_CHECK_NS: u64 = 1_000_000;
let started = false;
let inside = false;  // a call is in progress: request_done must not call back in

function enter(): void {
  assert(!inside, "the driver was called again from inside request_done");
  inside = true;
}
function leave(): void { inside = false; }

// Enumerates and brings up every controller; returns how many were found, or START_* (< 0).
export function start(irq: u32, stage: u32, log: u32, bufferBytes: u32): i32 {
  if (started) return START_AGAIN;
  if (irq > IRQ_MSI || stage < STAGE_RESET || stage > STAGE_ALL || log > LOG_NORMAL) return START_BAD_OPTION;
  enter();
  started = true;
  setLogLevel(log);
  if (logging()) putLine("nvme-wasm: NVMe driver (AssemblyScript guest) starting");
  if (!initRequests(bufferBytes)) {
    putError(); putLine("not enough DMA memory for the IO buffer");
    leave();
    return START_NO_MEMORY;
  }
  const found = enumerate();
  if (found == 0) { putError(); putLine("no NVMe controller (PCI class 01/08/02) found"); }
  if (nvmeSkipped() > 0) {
    put("pci: "); putDec(<u64>nvmeSkipped()); put(" more NVMe functions ignored (at most "); putDec(<u64>MAX_NVME); putLine(")");
  }
  if (logging()) {
    for (let i: u32 = 0; i < found; i++) { printFunction(nvmeFunction(i)); put(" -> "); putCtrlName(i); newline(); }
  }
  for (let i: u32 = 0; i < found; i++) {
    const c = attach(nvmeFunction(i));
    if (c == null) { putError(); putCtrlName(i); put(": "); putLine("out of DMA memory for a controller"); break; }
    // A failure is reported, and counted, as an error line; the other controllers go on.
    if (bringUp(c, stage, irq) && c.state == STATE_READY && !initPending(c)) { fail(c, FAIL_QUEUE_MEMORY); quiesce(c); }
    armEvents(c);  // when ready: an Asynchronous Event Request kept outstanding
  }
  leave();
  return <i32>found;
}

// Before start: how many IO queue pairs to ask each controller for (1..IO_QUEUES_MAX; 1 if never
// called), e.g. the number of client modules the host links, so that each has a pair of its own.
// 0, or START_AGAIN (already started), START_BAD_OPTION (out of range).
export function io_queues(n: u32): i32 {
  if (started) return START_AGAIN;
  if (n < 1 || n > IO_QUEUES_MAX) return START_BAD_OPTION;
  setQueuesWanted(n);
  return 0;
}

// start, with irq=, stage=, log=, trace= and queues= taken from the boot command line
// (driver/options.ts); queues= overrides what io_queues asked.
export function start_cmdline(bufferBytes: u32): i32 {
  if (started) return START_AGAIN;
  readOptions();
  if (optionTrace != 0) setTrace(optionTrace);
  if (optionQueues != 0) setQueuesWanted(optionQueues);
  return start(optionIrq, optionStage, optionLog, bufferBytes);
}

// What to trace from now on (TRACE_* bits of common/abi.ts; 0 stops it); the previous mask.
export function trace(mask: u32): u32 {
  enter();
  const before = traceMaskNow();
  setTrace(mask);
  leave();
  return before;
}

// ---- what was found ----

export function controller_count(): u32 { return count(); }
export function namespace_count(): u32 { return namespaceCount(); }

// Each returns the address of a record in this module's memory (layouts in common/abi.ts), valid
// until the next call; 0 when there is no such controller or namespace.
export function describe_controller(i: u32): usize { return i < count() ? fillController(at(i)) : 0; }
export function describe_namespace(i: u32): usize { return i < namespaceCount() ? fillNamespace(namespaceAt(i)) : 0; }
export function controller_stats(i: u32): usize { return i < count() ? fillStats(at(i)) : 0; }

// The Identify Controller data (4096 bytes) as the controller returned it; 0 before stage 2.
export function identify_data(i: u32): usize {
  if (i >= count()) return 0;
  const c = at(i);
  return c.stage >= 2 ? c.idctrl : 0;
}

export function buffer_base(): usize { return bufferBase(); }
export function buffer_bytes(): u32 { return bufferBytes(); }

// ---- requests ----

// Queues a request (an IO request, or an admin one: OP_LOG_PAGE); 0, ERR_BUSY, or an argument
// error with nothing sent (docs/block-interface.md).
export function submit(tag: u64, op: u32, ns: u32, lba: u64, blocks: u32, buffer: u32): u32 {
  enter();
  let status = ERR_NOT_READY;
  if (started && (op & OP_MASK) == OP_LOG_PAGE && (op & ~(OP_MASK | OP_FLAG_MORE)) == 0) status = submitLogPage(tag, ns, lba, blocks, buffer);
  else if (started) status = submitRequest(tag, op, ns, lba, blocks, buffer, false);
  leave();
  return status;
}

// Reaps every ready controller's IO completions (and rings doorbells a batch left); returns the
// number of requests completed.
export function poll(): u32 {
  enter();
  const lines = takeLinesSeen();
  let done = lines != 0 ? finishLines(lines) : 0;
  for (let i: u32 = 0; i < count(); i++) {
    const c = at(i);
    if (c.state != STATE_READY) continue;
    for (let q: u32 = 0; q < c.ioQueues; q++) {
      const qp = c.ioQueue(q);
      if (qp.unrung != 0) qp.ringSubmissionAt(now_ns());  // a batch's doorbell: one clock read
    }
    if (c.requests > 0) c.polls++;
    done += reap(c);
  }
  leave();
  return done;
}

// The host's interrupt entry: `lines` is the mask irq_wait returned. Reaps the controllers on
// those lines and acknowledges INTx ones once their CQ head doorbells are rung.
export function interrupt(lines: u32): u32 {
  enter();
  const all = lines | takeLinesSeen();
  const done = all != 0 ? finishLines(all) : 0;
  leave();
  return done;
}

// Each controller with a line that fired: the CQs on those lines (vector 0's line: the admin CQ
// and the IO CQs that share it) are reaped.
function finishLines(lines: u32): u32 {
  let done: u32 = 0;
  for (let i: u32 = 0; i < count(); i++) {
    const c = at(i);
    if ((lines & c.irqMask) == 0) continue;
    c.interrupts++;
    if (c.state != STATE_READY) continue;
    if ((lines & (<u32>1 << c.irqLine)) != 0) done += reapAdmin(c);
    for (let q: u32 = 0; q < c.ioQueues; q++) {
      const qp = c.ioQueue(q);
      if ((lines & (<u32>1 << qp.irqLine)) != 0) done += reapQueue(c, qp);
    }
  }
  for (let i: u32 = 0; i < count(); i++) {
    const c = at(i);
    if (c.irqMode == IRQ_MODE_INTX && (lines & (<u32>1 << c.irqLine)) != 0) irq_ack(c.irqLine);
  }
  return done;
}

// Finds commands that overran CAP.TO (and controllers with CSTS.CFS) and recovers; call it every
// few milliseconds while requests are outstanding. May wait, bounded, while a controller resets.
export function tick(): u32 {
  enter();
  const now = now_ns();
  let done: u32 = 0;
  for (let i: u32 = 0; i < count(); i++) {
    done += checkTimeouts(at(i), now);  // rings what a batch left first
  }
  leave();
  return done;
}

export function wait_hint(): u32 { return waitHint(); }
export function outstanding(): u32 { return outstandingRequests(); }
export function log_errors(): u32 { return errorLines; }

// ---- the end ----

// Waits (polling, bounded) until the controller has no request left; past the bound it gives up
// on the controller: disabled, and every request on it completed with an error.
function drain(c: Controller): void {
  const deadline = now_ns() + <u64>(MAX_RETRIES + 2) * <u64>c.timeoutMs * 1_000_000;
  let checked: u64 = 0;
  while (c.requests > 0 && c.state == STATE_READY) {
    reap(c);
    const now = now_ns();
    // As tick would: every millisecond, not every turn (the CFS check is an MMIO read).
    if (now - checked >= DRAIN_CHECK_NS) { checkTimeouts(c, now); checked = now; }
    if (now >= deadline) {
      fail(c, FAIL_DRAIN);
      quiesce(c);
      abandonRequests(c);
      return;
    }
    relax();
  }
  if (c.requests > 0) abandonRequests(c);
}

// Flushes each usable namespace of a controller with a volatile write cache (6.8).
function flushCache(c: Controller): void {
  for (let k: u32 = 0; k < namespaceCount() && c.state == STATE_READY; k++) {
    const ns = namespaceAt(k);
    if (ns.ctrl != c.index || ns.refused != 0) continue;
    let status = submitRequest(0, OP_FLUSH, k, 0, 0, 0, true);
    if (status == 0) { c.ioQueue(0).ringSubmissionAt(now_ns()); drain(c); status = internalStatus; }
    if (status != 0) { putError(); put("poweroff flush dev="); putNsName(ns.ctrl, ns.nsid); put(": "); putStatus(status); newline(); }
  }
}

// Orderly shutdown of every controller (7.6.2): outstanding requests finish (completions are
// delivered), the write cache is flushed, the IO queues deleted, CC.SHN set and CSTS.SHST awaited.
// Returns the number of error lines it printed.
export function shutdown(): u32 {
  enter();
  const before = errorLines;
  for (let i: u32 = 0; i < count(); i++) {
    const c = at(i);
    c.aerStopped = 1;  // the outstanding event request is abandoned with the controller
    if (c.state == STATE_READY) {
      drain(c);
      if (c.vwc != 0) flushCache(c);
    }
    shutdownController(c); // a failure is reported, and counted, as an error line
  }
  leave();
  return errorLines - before;
}
