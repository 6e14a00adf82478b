// What the driver reports for a trace (docs/trace.md): commands, completions, stages, and how many
// IO completion entries each reap consumed (after an interrupt, or a poll). Off, the cost
// on the IO path is one load and one branch per command.
import { trace_begin, trace_event } from "./imports";
import { TRACE_CMDS, TRACE_IRQ, EVENT_COMMAND, EVENT_COMPLETION, EVENT_STAGE, EVENT_REAP, REAP_QID_SHIFT, TRACE_ALL } from "../common/abi";
import { SQE_BYTES, CQE_BYTES } from "./nvme/registers";

let mask: u32 = 0;

// Sets what is traced (TRACE_* bits); the host is told, so it traces what it sees too.
export function setTrace(m: u32): void {
  mask = m & TRACE_ALL;
  trace_begin(mask);
}

export function traceMaskNow(): u32 { return mask; }

export function traceCommand(ctrl: u32, qid: u32, sqe: usize): void {
  if ((mask & TRACE_CMDS) != 0) trace_event(EVENT_COMMAND, (ctrl << 16) | qid, sqe, SQE_BYTES);
}

export function traceCompletion(ctrl: u32, qid: u32, cqe: usize): void {
  if ((mask & TRACE_CMDS) != 0) trace_event(EVENT_COMPLETION, (ctrl << 16) | qid, cqe, CQE_BYTES);
}

// `entries` > 0 IO CQ entries one reap consumed: with the interrupt line before them, what an
// interrupt (or a poll) brought.
export function traceReap(ctrl: u32, qid: u32, entries: u32): void {
  if ((mask & TRACE_IRQ) != 0) trace_event(EVENT_REAP, (ctrl << 16) | (qid << REAP_QID_SHIFT) | (entries & ((1 << REAP_QID_SHIFT) - 1)), 0, 0);
}

export function traceStage(ctrl: u32, stage: u32): void {
  if (mask != 0) trace_event(EVENT_STAGE, (ctrl << 16) | stage, 0, 0);
}
