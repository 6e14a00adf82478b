// shell.wasm: the command language of docs/shell.md, as a client of the NVMe driver. It has its own
// memory and imports only the block interface the host provides (client.ts), the console, time, the
// command line and poweroff: no register, no DMA address, no interrupt.
//
// main(): the host has started the driver (its bring-up lines are out); the shell shows what a
// stopped bring-up saw, runs the boot command line (';'-separated), then the `nvme> ` prompt unless
// a command was poweroff; then the driver's orderly shutdown, and poweroff with code 0 only when no
// error line was printed (by the shell or the driver).
import { cmdline, poweroff, console_read, driver_errors, shutdown } from "./client";
import { put, putLine, putByte, putDec, newline, flush, putError, errorLines } from "../common/console";
import { split, wordCount, wordPtr, wordLen, wordIs } from "./words";
import { cmdHelp, cmdInfo, cmdStats, showStoppedControllers } from "./commands";
import { cmdRead, cmdStream, cmdFlush, cmdBench, errorBegin, errorWord } from "./io-commands";

const CMDLINE_CAP: i32 = 4096;
const commandLine: usize = memory.data(CMDLINE_CAP);
let poweroffRequested = false;

function noArguments(cmd: string): bool {
  if (wordCount == 1) return true;
  errorBegin(cmd); putLine(": takes no arguments");
  return false;
}

function runCommand(ptr: usize, len: i32): void {
  if (!split(ptr, len)) { errorBegin("shell"); putLine(": too many words"); return; }
  if (wordCount == 0) return;
  if (wordIs(0, "help")) { if (noArguments("help")) cmdHelp(); }
  else if (wordIs(0, "info")) { if (noArguments("info")) cmdInfo(); }
  else if (wordIs(0, "read")) cmdRead();
  else if (wordIs(0, "crc")) cmdStream(0);
  else if (wordIs(0, "fill")) cmdStream(1);
  else if (wordIs(0, "verify")) cmdStream(2);
  else if (wordIs(0, "flush")) cmdFlush();
  else if (wordIs(0, "stats")) { if (noArguments("stats")) cmdStats(); }
  else if (wordIs(0, "bench")) cmdBench();
  else if (wordIs(0, "poweroff")) { if (noArguments("poweroff")) poweroffRequested = true; }
  else if (isOption(0)) { /* a boot option: the driver read it from the same line */ }
  else { errorBegin("shell"); put(": unknown command"); errorWord(0); putLine(" (try help)"); }
}

// Boot options look like key=value (stage=N, irq=…, log=…); the driver applies them.
function isOption(i: i32): bool {
  const p = wordPtr(i);
  const n = wordLen(i);
  for (let k = 1; k < n; k++) if (load<u8>(p + <usize>k) == 61) return wordCount == 1;
  return false;
}

// Runs every ';'-separated command of the text, in order, until one is poweroff.
function runCommands(ptr: usize, len: i32): void {
  let start = 0;
  for (let i = 0; i <= len && !poweroffRequested; i++) {
    if (i == len || load<u8>(ptr + <usize>i) == 59) {
      runCommand(ptr + <usize>start, i - start);
      start = i + 1;
    }
  }
}

const LINE_CAP: i32 = 512;
const line: usize = memory.data(LINE_CAP);
const inByte: usize = memory.data(16);
const INPUT_POLL_NS: u64 = 100_000_000;

// The interactive prompt: a raw console, so the shell echoes and edits.
// Returns at end of input (the Node host's stdin closing) or at poweroff.
function interactive(): void {
  let len = 0;
  put("nvme> "); flush();
  while (!poweroffRequested) {
    const n = console_read(inByte, 1, INPUT_POLL_NS);
    if (n < 0) { newline(); return; }
    if (n == 0) continue;
    const b = <u32>load<u8>(inByte);
    if (b == 13 || b == 10) {
      newline();
      runCommands(line, len);
      len = 0;
      if (!poweroffRequested) { put("nvme> "); flush(); }
    } else if (b == 8 || b == 127) {
      if (len > 0) { len--; put("\x08 \x08"); flush(); }
    } else if (b == 3) {
      put("^C"); newline(); len = 0; put("nvme> "); flush();
    } else if (b == 4) {
      if (len == 0) { putLine("poweroff"); poweroffRequested = true; }
    } else if (b >= 32 && b < 127) {
      if (len < LINE_CAP) { store<u8>(line + <usize>len, <u8>b); len++; putByte(b); flush(); }
    }
  }
}

export function main(): i32 {
  let len = cmdline(commandLine, CMDLINE_CAP);
  if (len > CMDLINE_CAP) {
    putError();
    putLine("boot command line longer than 4096 bytes, ignored");
    len = 0;
  }
  if (len < 0) len = 0;
  showStoppedControllers();
  runCommands(commandLine, len);
  if (!poweroffRequested) interactive();
  shutdown(); // flush, delete queues, CC.SHN: its error lines count in driver_errors()
  const code = errorLines + driver_errors() == 0 ? 0 : 1;
  put("poweroff code="); putDec(<u64>code); newline();
  poweroff(code);
  return code;
}
