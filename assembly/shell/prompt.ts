// The interactive prompt `nvme> `: a raw console, so the shell echoes and edits the line itself.
// On an interactive console (console=tty, session.ts) the line editor of editor.ts reads the keys;
// otherwise (scripted input, the default) this file's plain reader, as follows.
// Enter runs the line (';'-separated commands); Backspace/DEL erase; Ctrl-C drops the line; Ctrl-D
// on an empty line is poweroff; Tab is a blank. Nothing typed is silently read as something else:
// a line longer than LINE_CAP bytes, or with a control byte or a non-ASCII byte in it, is refused
// whole when Enter comes. Escape sequences (the arrow and function keys) are keys this prompt does
// not have: they ring the bell and leave the line as it was. End of input runs a last line that has
// no newline, then ends the session.
import { console_read } from "./client";
import { put, putByte, putHex, putLine, newline, flush, errorLines } from "../common/console";
import { runCommands, poweroffRequested, requestPoweroff, isRefusedByte } from "./dispatch";
import { errorBegin } from "./io-commands";
import { setAtPrompt, consoleTty, takeTypeahead, typeaheadDropped, clearTypeaheadDropped, addTypedErrors } from "./session";
import { editByte, editTimeout, enterLine, clearLine, linePtr, lineLen, overlong as editOverlong, deleteAtCursor, bell } from "./editor";

const LINE_CAP: i32 = 512;
const line: usize = memory.data(LINE_CAP);
const inByte: usize = memory.data(16);
const INPUT_POLL_NS: u64 = 100_000_000;
const ESCAPE_MAX: u32 = 16;        // bytes of one escape sequence, at most

const KEY_BACKSPACE: u32 = 8;
const KEY_TAB: u32 = 9;
const KEY_LF: u32 = 10;
const KEY_CR: u32 = 13;
const KEY_CTRL_C: u32 = 3;
const KEY_CTRL_D: u32 = 4;
const KEY_ESC: u32 = 27;
const KEY_DEL: u32 = 127;
const BELL: u32 = 7;

let len = 0;
let overlong = false;
let refused: u32 = 0;   // the first refused byte + 1, or 0
let escape: u32 = 0;    // 0: none; 1: after ESC; 2 + n: inside a sequence, n bytes in

function prompt(): void { put("nvme> "); flush(); }

function clear(): void { len = 0; overlong = false; refused = 0; }

// Enter: the line runs, or is refused whole.
function enter(): void {
  newline();
  if (overlong) { errorBegin("shell"); putLine(": line longer than 512 bytes, ignored"); }
  else if (refused != 0) { errorBegin("shell"); put(": control byte "); putHex(<u64>(refused - 1), 2); putLine(" in the line, ignored"); }
  else { setAtPrompt(true); runCommands(line, len); setAtPrompt(false); }
  clear();
}

function refuse(b: u32): void {
  if (refused == 0) refused = b + 1;
}

// An escape sequence byte: ESC, then '[' or 'O', then parameters up to a final byte 0x40..0x7E.
// Returns false when `b` turned out not to belong to one (a lone ESC, refused): handle it normally.
function escapeByte(b: u32): bool {
  if (escape == 1) {
    if (b == 91 || b == 79) { escape = 2; return true; }
    escape = 0;
    refuse(KEY_ESC);
    return false;
  }
  if (b >= 0x40 && b <= 0x7e) { escape = 0; putByte(BELL); flush(); return true; }
  escape++;
  if (escape - 2 >= ESCAPE_MAX) { escape = 0; refuse(KEY_ESC); }
  return true;
}

function key(b: u32): void {
  if (escape != 0 && escapeByte(b)) return;
  if (b == KEY_CR || b == KEY_LF) { enter(); if (!poweroffRequested) prompt(); }
  else if (b == KEY_BACKSPACE || b == KEY_DEL) { if (len > 0 && !overlong) { len--; put("\x08 \x08"); flush(); } }
  else if (b == KEY_CTRL_C) { put("^C"); newline(); clear(); prompt(); }
  else if (b == KEY_CTRL_D) { if (len == 0 && refused == 0 && !overlong) { putLine("poweroff"); requestPoweroff(); } }
  else if (b == KEY_ESC) { escape = 1; }
  else if (b == KEY_TAB || !isRefusedByte(b)) {
    if (len == LINE_CAP) { overlong = true; return; }
    const c = b == KEY_TAB ? <u32>32 : b;
    store<u8>(line + <usize>len, <u8>c);
    len++;
    putByte(c);
    flush();
  } else {
    refuse(b);
  }
}

// ---- console=tty: the line editor ----

// Enter on an interactive console: the line runs (its error lines do not count in the exit code),
// or is refused whole when it grew past 512 bytes. Ctrl-C during it stopped the line's command.
function enterTty(): void {
  newline();
  enterLine();
  if (editOverlong) { errorBegin("shell"); putLine(": line longer than 512 bytes, ignored"); addTypedErrors(1); }
  else {
    const before = errorLines;
    setAtPrompt(true);
    runCommands(linePtr(), <i32>lineLen);
    setAtPrompt(false);
    addTypedErrors(errorLines - before);
  }
  clearLine();
  if (typeaheadDropped != 0) { clearTypeaheadDropped(); bell(); }
}

function keyTty(b: u32): void {
  if (b == KEY_CR || b == KEY_LF) { enterTty(); if (!poweroffRequested) prompt(); }
  else if (b == KEY_CTRL_C) { put("^C"); newline(); clearLine(); prompt(); }
  else if (b == KEY_CTRL_D) {
    if (lineLen == 0 && !editOverlong) { putLine("poweroff"); requestPoweroff(); }
    else deleteAtCursor();
  }
  else editByte(b);
}

// The next byte typed: the type-ahead a command left first. 1, 0 on timeout, -1 at end of input.
function readTty(): i32 {
  const b = takeTypeahead();
  if (b >= 0) { store<u8>(inByte, <u8>b); return 1; }
  return console_read(inByte, 1, INPUT_POLL_NS);
}

function interactiveTty(): void {
  clearLine();
  prompt();
  while (!poweroffRequested) {
    const n = readTty();
    if (n < 0) {
      editTimeout();
      if (lineLen > 0 || editOverlong) enterTty(); // the last line had no newline: it runs
      else newline();
      return;
    }
    if (n == 0) editTimeout();
    else keyTty(<u32>load<u8>(inByte));
  }
}

// Returns at end of input (the Node host's stdin closing) or at poweroff.
export function interactive(): void {
  if (consoleTty) { interactiveTty(); return; }
  clear();
  prompt();
  while (!poweroffRequested) {
    const n = console_read(inByte, 1, INPUT_POLL_NS);
    if (n < 0) {
      if (escape == 1) refuse(KEY_ESC);
      if (len > 0 || overlong || refused != 0) enter(); // the last line had no newline: it runs
      else newline();
      return;
    }
    if (n > 0) key(<u32>load<u8>(inByte));
  }
}
