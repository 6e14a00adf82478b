// The driver's boot options, read from the boot command line by start_cmdline. An item of the
// ';'-separated line that is one word containing '=' (not first) is a boot option: the driver
// applies it, or says in an error line that it does not understand it (an unknown key, a value out
// of range). Every other item belongs to a client (the shell's commands), which skips options.
//   stage=N                    stop bring-up after stage N (1..4; 5..7 is everything)
//   irq=auto|poll|intx|msix|msi  how completions are noticed (auto: MSI-X, else MSI, else INTx, else polling)
//   log=errors|normal          how much the driver says (error lines only, or bring-up too)
//   trace=regs|cmds|irq|all    what to trace (docs/trace.md); several as regs,cmds
//   queues=N                   IO queue pairs to ask each controller for (1..8): the io_queues export
//   dbbuf=on|off               shadow doorbells (Doorbell Buffer Config) where offered (nvme/dbbuf.ts); off by default
//   sgl=on|off                 SGLs rather than PRPs for IO data where offered (nvme/sgl.ts); on by default
//   console=tty|script         the shell's: is a person typing at the console (docs/shell.md)
import { cmdline } from "./imports";
import { put, putBytes, newline, putError, Text, textLength } from "../common/console";
import {
  IRQ_AUTO, IRQ_POLL, IRQ_INTX, IRQ_MSIX, IRQ_MSI, LOG_ERRORS, LOG_NORMAL, STAGE_RESET, STAGE_ALL,
  TRACE_REGS, TRACE_CMDS, TRACE_IRQ, TRACE_ALL, IO_QUEUES_MAX,
} from "../common/abi";

const CMDLINE_CAP: i32 = 4096;
const line: usize = memory.data(CMDLINE_CAP);

export let optionIrq: u32 = IRQ_AUTO;
export let optionStage: u32 = STAGE_ALL;
export let optionLog: u32 = LOG_NORMAL;
export let optionTrace: u32 = 0;
export let optionQueues: u32 = 0;   // 0: as the host asked (io_queues)
// Defaults measured (README, "Shadow doorbells and SGLs"): SGLs are faster for large transfers and
// no slower for small ones; shadow doorbells saved no time on QEMU 7.2, where this driver already
// rings one doorbell per batch, and cost it two DMA accesses per command.
export let optionDbbuf: u32 = 0;
export let optionSgl: u32 = 1;

// on|off: 1 or 0; -1 for anything else.
function onOff(p: usize, n: i32): i32 {
  if (matches(p, n, "on")) return 1;
  if (matches(p, n, "off")) return 0;
  return -1;
}

// The `len` bytes at ptr are the word `w` (a literal: a Text, console.ts).
function matches(ptr: usize, len: i32, w: Text): bool {
  if (len != textLength(w)) return false;
  for (let i = 0; i < len; i++) if (load<u8>(ptr + <usize>i) != load<u8>(w + 1 + <usize>i)) return false;
  return true;
}

function isBlank(b: u32): bool { return b == 32 || b == 9 || b == 10 || b == 13; }

// One word, with '=' after its first byte: the shape of a boot option.
function isOption(p: usize, n: i32): bool {
  let equals = false;
  for (let i = 0; i < n; i++) {
    const b = <u32>load<u8>(p + <usize>i);
    if (isBlank(b)) return false;
    if (b == 61 && i > 0) equals = true;
  }
  return equals;
}

// trace=regs|cmds|irq|all, or several joined by ',': the TRACE_* mask, 0 if a word is unknown.
function traceMask(p: usize, n: i32): u32 {
  let mask: u32 = 0;
  let start = 0;
  for (let i = 0; i <= n; i++) {
    if (i < n && load<u8>(p + <usize>i) != 44) continue;
    const w = p + <usize>start;
    const k = i - start;
    if (matches(w, k, "regs")) mask |= TRACE_REGS;
    else if (matches(w, k, "cmds")) mask |= TRACE_CMDS;
    else if (matches(w, k, "irq")) mask |= TRACE_IRQ;
    else if (matches(w, k, "all")) mask |= TRACE_ALL;
    else return 0;
    start = i + 1;
  }
  return mask;
}

// Applies one item if it is a driver option; a malformed value is an error line.
function applyOption(ptr: usize, len: i32): void {
  let a = 0;
  let b = len;
  while (a < b && isBlank(load<u8>(ptr + <usize>a))) a++;
  while (b > a && isBlank(load<u8>(ptr + <usize>(b - 1)))) b--;
  const p = ptr + <usize>a;
  const n = b - a;
  if (!isOption(p, n)) return; // a client's command
  if (n == 7 && matches(p, 6, "stage=")) {
    const d = <u32>load<u8>(p + 6) - 48;
    if (d >= STAGE_RESET && d <= STAGE_ALL) { optionStage = d; return; }
  } else if (n > 4 && matches(p, 4, "irq=")) {
    const v = p + 4;
    const m = n - 4;
    if (matches(v, m, "auto")) { optionIrq = IRQ_AUTO; return; }
    if (matches(v, m, "poll")) { optionIrq = IRQ_POLL; return; }
    if (matches(v, m, "intx")) { optionIrq = IRQ_INTX; return; }
    if (matches(v, m, "msix")) { optionIrq = IRQ_MSIX; return; }
    if (matches(v, m, "msi")) { optionIrq = IRQ_MSI; return; }
  } else if (n > 4 && matches(p, 4, "log=")) {
    if (matches(p + 4, n - 4, "errors")) { optionLog = LOG_ERRORS; return; }
    if (matches(p + 4, n - 4, "normal")) { optionLog = LOG_NORMAL; return; }
  } else if (n > 6 && matches(p, 6, "dbbuf=")) {
    const v = onOff(p + 6, n - 6);
    if (v >= 0) { optionDbbuf = <u32>v; return; }
  } else if (n > 4 && matches(p, 4, "sgl=")) {
    const v = onOff(p + 4, n - 4);
    if (v >= 0) { optionSgl = <u32>v; return; }
  } else if (n > 8 && matches(p, 8, "console=")) {
    if (matches(p + 8, n - 8, "tty") || matches(p + 8, n - 8, "script")) return;
  } else if (n == 8 && matches(p, 7, "queues=")) {
    const d = <u32>load<u8>(p + 7) - 48;
    if (d >= 1 && d <= IO_QUEUES_MAX) { optionQueues = d; return; }
  } else if (n > 6 && matches(p, 6, "trace=")) {
    const mask = traceMask(p + 6, n - 6);
    if (mask != 0) { optionTrace = mask; return; }
  }
  putError();
  put("boot option not understood: ");
  putBytes(p, n);
  newline();
}

// Reads the command line and applies every driver option in it. A line longer than 4096 bytes is
// ignored whole (the shell, which reads the same line, says so).
export function readOptions(): void {
  let len = cmdline(line, CMDLINE_CAP);
  if (len > CMDLINE_CAP || len < 0) len = 0;
  let start = 0;
  for (let i = 0; i <= len; i++) {
    if (i == len || load<u8>(line + <usize>i) == 59) {
      applyOption(line + <usize>start, i - start);
      start = i + 1;
    }
  }
}
