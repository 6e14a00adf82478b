// Shadow doorbells (NVMe 1.3+ Doorbell Buffer Config, admin opcode 7Ch, 5.10; offered when Identify
// OACS bit 8 is set). The host gives the controller two memory pages: the shadow doorbell buffer,
// where it writes each IO queue's new SQ tail and CQ head, and the EventIdx buffer, where the
// controller writes how far it has read them. The doorbell registers are then written only when
// EventIdx asks for it (queue.ts ring), which spares an MMIO write, a VM exit under emulation,
// whenever the controller is still reading the queue. Entry y of a buffer sits where doorbell y sits
// in BAR0, less 1000h: SQ y tail at 2y * stride, CQ y head at (2y + 1) * stride bytes.
//
// Only the IO queues use it (the admin queue's doorbells stay registers), only when the boot option
// `dbbuf=on` allows it, and not with INTx: there the CQ head register write is what lowers the line.
// A controller reset forgets the buffers, so the command is sent again after every queue setup.
import { ADMIN_DOORBELL_BUFFER_CONFIG, IDC_OACS, OACS_DOORBELL_BUFFER_CONFIG } from "./registers";
import { Controller, fail } from "./controller";
import { adminCommand, submitAdmin } from "./admin";
import { allocPages, busAddress } from "../dma";
import { optionDbbuf } from "../options";
import { logging } from "../log";
import { put, putCtrlName, newline } from "../../common/console";
import { putStatusBrief as putStatus } from "../../common/status";
import { IRQ_MODE_INTX, ERR_TIMEOUT, ERR_CONTROLLER_FATAL, IO_QUEUES_MAX } from "../../common/abi";
import { FAIL_DOORBELL_BUFFER } from "../../common/words";

// After the IO queues exist: Doorbell Buffer Config where it is offered and allowed, one pair of
// shadow entries per IO queue pair (queue y: 2y and 2y + 1 strides into each page). A status from
// the controller leaves the registers in use (said in the log line); no answer at all fails the
// controller like any other bring-up command. Returns false only then.
export function setupDoorbellBuffer(c: Controller): bool {
  assert(c.ioQueues >= 1 && c.ioQueues <= IO_QUEUES_MAX, "dbbuf: IO queue count out of range");
  for (let i: u32 = 0; i < c.ioQueues; i++) {
    const io = c.ioQueue(i);
    assert(io.sqShadow == 0 && io.cqShadow == 0, "dbbuf: shadow doorbells before the queues were set up again");
  }
  const offered = (<u32>load<u16>(c.idctrl + <usize>IDC_OACS) & OACS_DOORBELL_BUFFER_CONFIG) != 0;
  const cqEntryLast: u32 = (2 * c.ioQueues + 1) * c.strideBytes;   // the farthest entry (last IO CQ's head)
  let status: u32 = 0;
  let on = false;
  if (optionDbbuf != 0 && offered && c.irqMode != IRQ_MODE_INTX && cqEntryLast + <u32>4 <= c.pageBytes) {
    if (c.dbbufPages == 0) c.dbbufPages = allocPages(2 * c.pageBytes, c.pageBytes);
    if (c.dbbufPages != 0) {
      // Zeroed each time: an EventIdx left from before a reset would keep the new doorbells silent.
      memory.fill(c.dbbufPages, 0, <usize>(2 * c.pageBytes));
      const sqe = adminCommand(ADMIN_DOORBELL_BUFFER_CONFIG, 0);
      sqe.prp1 = busAddress(c.dbbufPages, c.pageBytes);
      sqe.prp2 = busAddress(c.dbbufPages + <usize>c.pageBytes, c.pageBytes);
      status = submitAdmin(c);
      if (status == ERR_TIMEOUT || status == ERR_CONTROLLER_FATAL) return fail(c, FAIL_DOORBELL_BUFFER, status);
      on = status == 0;
      for (let i: u32 = 0; on && i < c.ioQueues; i++) {
        const io = c.ioQueue(i);
        io.eventIdxOffset = c.pageBytes;
        io.sqShadow = c.dbbufPages + <usize>(2 * io.qid * c.strideBytes);
        io.cqShadow = c.dbbufPages + <usize>((2 * io.qid + 1) * c.strideBytes);
      }
    }
  }
  if (logging()) {
    putCtrlName(c.index);
    put(" dbbuf="); put(on ? "on" : "off");
    if (status != 0) { put(" refused="); putStatus(status); }
    put(" sgl="); put(c.sglOn != 0 ? "on" : "off");
    newline();
  }
  return true;
}
