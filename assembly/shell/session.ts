// Where the commands being run came from, and who is at the console.
//
// atPrompt: the line being run was typed at the `nvme> ` prompt (not the boot command line); only
// the prompt sets it, for the time its line runs. iochk shows progress only then.
//
// consoleTty: the boot command line says `console=tty` (make run and `nvme-wasm sim` add it when
// their standard input is a terminal): a person types at the prompt. Then, and only then, the
// prompt edits lines (editor.ts), a long command typed at it checks the console between requests
// for Ctrl-C (pollStop) and keeps other bytes for the next line (type-ahead), crc/fill/verify/bench
// show progress in place, and error lines of typed commands do not make the exit code non-zero.
// Without it (the default, `console=script`) input is a script: read exactly as it always was.
import { console_read, now_ns } from "./client";

export let atPrompt = false;
export let consoleTty = false;
export function setConsoleTty(tty: bool): void { consoleTty = tty; }

const KEY_CTRL_C: u32 = 3;                 // ETX: interrupt
const STOP_POLL_NS: u64 = 10_000_000;      // the console is looked at this often during a command
const POLL_BYTES_MAX: u32 = 64;            // bytes taken from the console per look, at most
const TYPEAHEAD_CAP: u32 = 256;            // bytes typed during a command kept for the prompt
const typeahead: usize = memory.data(<i32>TYPEAHEAD_CAP);
const pollByte: usize = memory.data(8);
let typeaheadHead: u32 = 0;
let typeaheadLen: u32 = 0;
export let typeaheadDropped: u32 = 0;      // bytes beyond TYPEAHEAD_CAP, dropped (the prompt rings)
export function clearTypeaheadDropped(): void { typeaheadDropped = 0; }

// Ctrl-C was typed while the current prompt line ran: its command stops at the next request
// boundary, the rest of the line is not run.
export let stopRequested = false;
let lastPollNs: u64 = 0;

export function setAtPrompt(typed: bool): void {
  atPrompt = typed;
  stopRequested = false;
  lastPollNs = now_ns();
}

function keep(b: u32): void {
  if (typeaheadLen == TYPEAHEAD_CAP) { typeaheadDropped++; return; }
  store<u8>(typeahead + <usize>((typeaheadHead + typeaheadLen) % TYPEAHEAD_CAP), <u8>b);
  typeaheadLen++;
}

// The next type-ahead byte, or -1 when there is none.
export function takeTypeahead(): i32 {
  if (typeaheadLen == 0) return -1;
  const b = <i32>load<u8>(typeahead + <usize>typeaheadHead);
  typeaheadHead = (typeaheadHead + 1) % TYPEAHEAD_CAP;
  typeaheadLen--;
  return b;
}

// Called by long commands between requests: true once Ctrl-C has been typed at an interactive
// console while a prompt line runs (never from the boot command line or with scripted input). It
// never waits: console_read with timeout 0, at most every STOP_POLL_NS. Ctrl-C also discards the
// type-ahead before it; bytes after it stay unread for the prompt.
export function pollStop(): bool {
  if (stopRequested) return true;
  if (!atPrompt || !consoleTty) return false;
  const now = now_ns();
  if (now - lastPollNs < STOP_POLL_NS) return false;
  lastPollNs = now;
  for (let i: u32 = 0; i < POLL_BYTES_MAX; i++) {
    if (console_read(pollByte, 1, 0) != 1) break;
    const b = <u32>load<u8>(pollByte);
    if (b == KEY_CTRL_C) {
      typeaheadHead = 0; typeaheadLen = 0;
      stopRequested = true;
      return true;
    }
    keep(b);
  }
  return false;
}

// Error lines of commands typed at an interactive console: they do not count in the exit code
// (main.ts); the boot command line's, scripted input's and the driver's always do.
export let typedErrors: u32 = 0;
export function addTypedErrors(n: u32): void { typedErrors += n; }
