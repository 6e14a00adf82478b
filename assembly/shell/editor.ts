// The line editor of the `nvme> ` prompt on an interactive console (console=tty, session.ts): a
// cursor in the line, the keys of docs/shell.md ("Keys at the prompt"), a history (history.ts),
// Tab completion (complete.ts). The screen is redrawn with plain VT100 sequences only: CR, BS,
// ESC [ K (erase to the end of the line), ESC [ n C / ESC [ n D (cursor right/left), and for
// Ctrl-L ESC [ H ESC [ 2 J. The line holds printable ASCII only: any other byte, and any key or
// escape sequence the prompt does not have, rings the bell and changes nothing, so the line on
// the screen is exactly the line that runs. A line that grew past LINE_CAP bytes is refused whole
// when Enter comes, as with scripted input.
import { put, putByte, putDec, newline, flush } from "../common/console";
import { historyAdd, historyCount, historyPtr, historyLen } from "./history";
import { complete, matches, addition, additionLen, listCandidates } from "./complete";

export const LINE_CAP: u32 = 512;
const line: usize = memory.data(<i32>LINE_CAP);
const draft: usize = memory.data(<i32>LINE_CAP);   // the line being typed while history is shown
export let lineLen: u32 = 0;
export let overlong = false;
export function linePtr(): usize { return line; }
let cursor: u32 = 0;
let draftLen: u32 = 0;
let draftOverlong = false;
let historyAt: i32 = -1;                           // -1: the draft; k: history line k back

// Keys: control bytes (ASCII names, and the Ctrl key that types them) and the DEL key.
const KEY_CTRL_A: u32 = 0x01;   // SOH: start of line
const KEY_CTRL_B: u32 = 0x02;   // STX: cursor left
const KEY_CTRL_D: u32 = 0x04;   // EOT: poweroff on an empty line, else delete at the cursor
const KEY_CTRL_E: u32 = 0x05;   // ENQ: end of line
const KEY_CTRL_F: u32 = 0x06;   // ACK: cursor right
const KEY_BACKSPACE: u32 = 0x08; // BS
const KEY_TAB: u32 = 0x09;      // HT: complete
const KEY_CTRL_K: u32 = 0x0b;   // VT: kill to the end of the line
const KEY_CTRL_L: u32 = 0x0c;   // FF: clear the screen, redraw the line
const KEY_CTRL_N: u32 = 0x0e;   // SO: next history line
const KEY_CTRL_P: u32 = 0x10;   // DLE: previous history line
const KEY_CTRL_U: u32 = 0x15;   // NAK: kill to the start of the line
const KEY_CTRL_W: u32 = 0x17;   // ETB: kill the word before the cursor
const KEY_ESC: u32 = 0x1b;      // ESC: starts an escape sequence
const KEY_DEL: u32 = 0x7f;      // DEL: what most terminals send for Backspace
const BELL: u32 = 0x07;         // BEL
const CHAR_SPACE: u32 = 0x20;
const CHAR_TILDE: u32 = 0x7e;
const PROMPT_COLUMNS: u32 = 6;  // "nvme> "

// Escape sequences: CSI (ESC [ parameters final) and SS3 (ESC O final), as VT100/xterm send them.
const ESC_NONE: u32 = 0;
const ESC_START: u32 = 1;       // after ESC
const ESC_CSI: u32 = 2;         // after ESC [
const ESC_SS3: u32 = 3;         // after ESC O
const ESC_SKIP: u32 = 4;        // too long: eaten up to its final byte, then the bell
const ESCAPE_MAX: u32 = 16;     // parameter and intermediate bytes of one sequence, at most
const PARAM_MAX: u32 = 9999;
const CSI_INTRO: u32 = 0x5b;    // '['
const SS3_INTRO: u32 = 0x4f;    // 'O'
const FINAL_UP: u32 = 0x41;     // A
const FINAL_DOWN: u32 = 0x42;   // B
const FINAL_RIGHT: u32 = 0x43;  // C
const FINAL_LEFT: u32 = 0x44;   // D
const FINAL_END: u32 = 0x46;    // F
const FINAL_HOME: u32 = 0x48;   // H
const ERASE_LINE: u32 = 0x4b;   // K: ESC [ K erases to the end of the line
const ERASE_DISPLAY: u32 = 0x4a; // J: ESC [ 2 J erases the screen
const ERASE_ALL: u32 = 0x32;    // '2': ESC [ 2 J's parameter, the whole screen
const TILDE_HOME: u32 = 1;      // ESC [ 1 ~ (and 7 ~, rxvt)
const TILDE_DELETE: u32 = 3;    // ESC [ 3 ~
const TILDE_END: u32 = 4;       // ESC [ 4 ~ (and 8 ~, rxvt)
const TILDE_HOME_RXVT: u32 = 7;
const TILDE_END_RXVT: u32 = 8;
let escape: u32 = ESC_NONE;
let escapeBytes: u32 = 0;
let param: u32 = 0;
let paramDone = false;          // a ';' ended the first parameter: the rest are ignored

export function bell(): void { putByte(BELL); flush(); }

// CSI: ESC [ (written byte by byte: printed literals are printable ASCII, console.ts).
function putCsi(): void { putByte(KEY_ESC); putByte(CSI_INTRO); }
function eraseToEnd(): void { putCsi(); putByte(ERASE_LINE); }            // ESC [ K
function clearScreen(): void { putCsi(); putByte(FINAL_HOME); putCsi(); putByte(ERASE_ALL); putByte(ERASE_DISPLAY); } // ESC [ H ESC [ 2 J
function cursorLeft(n: u32): void { if (n > 0) { putCsi(); putDec(<u64>n); putByte(FINAL_LEFT); } }
function cursorRight(n: u32): void { if (n > 0) { putCsi(); putDec(<u64>n); putByte(FINAL_RIGHT); } }

function putRange(from: u32, to: u32): void {
  for (let i = from; i < to; i++) putByte(<u32>load<u8>(line + <usize>i));
}

// The terminal's cursor is at the column of line byte `from`: rewrite from there to the end,
// erase what was beyond, put the cursor back where `cursor` says.
function redrawFrom(from: u32): void {
  putRange(from, lineLen);
  eraseToEnd();
  cursorLeft(lineLen - cursor);
  flush();
}

export function redrawLine(): void {
  put("\rnvme> ");
  redrawFrom(0);
}

export function clearLine(): void {
  lineLen = 0; cursor = 0; overlong = false; historyAt = -1; escape = ESC_NONE;
}

function moveTo(to: u32): void {
  if (to < cursor) cursorLeft(cursor - to); else cursorRight(to - cursor);
  cursor = to;
  flush();
}

function insert(ptr: usize, n: u32): void {
  if (lineLen + n > LINE_CAP) { overlong = true; bell(); return; }
  memory.copy(line + <usize>(cursor + n), line + <usize>cursor, <usize>(lineLen - cursor));
  memory.copy(line + <usize>cursor, ptr, <usize>n);
  lineLen += n;
  const from = cursor;
  cursor += n;
  if (cursor == lineLen) { putRange(from, lineLen); flush(); } else redrawFrom(from);
}

// Removes [from, to) of the line; the cursor ends at `from`.
function remove(from: u32, to: u32): void {
  if (from >= to) { bell(); return; }
  cursorLeft(cursor - from);
  memory.copy(line + <usize>from, line + <usize>to, <usize>(lineLen - to));
  lineLen -= to - from;
  cursor = from;
  if (lineLen == 0) overlong = false;
  redrawFrom(from);
}

function wordStartBefore(at: u32): u32 {
  let i = at;
  while (i > 0 && load<u8>(line + <usize>(i - 1)) == <u8>CHAR_SPACE) i--;
  while (i > 0 && load<u8>(line + <usize>(i - 1)) != <u8>CHAR_SPACE) i--;
  return i;
}

// History line `back` (or the draft, -1) into the line, the cursor at its end.
function showHistory(back: i32): void {
  if (historyAt < 0) { memory.copy(draft, line, <usize>lineLen); draftLen = lineLen; draftOverlong = overlong; }
  historyAt = back;
  if (back < 0) { memory.copy(line, draft, <usize>draftLen); lineLen = draftLen; overlong = draftOverlong; }
  else { lineLen = historyLen(<u32>back); memory.copy(line, historyPtr(<u32>back), <usize>lineLen); overlong = false; }
  cursor = lineLen;
  redrawLine();
}

function historyUp(): void { if (historyAt + 1 < <i32>historyCount) showHistory(historyAt + 1); else bell(); }
function historyDown(): void { if (historyAt >= 0) showHistory(historyAt - 1); else bell(); }

function tab(): void {
  complete(line, lineLen, cursor);
  if (matches == 0) { bell(); return; }
  if (additionLen > 0) { insert(addition, additionLen); return; }
  newline();
  listCandidates();
  redrawLine();
}

// An editing key (not Enter, Ctrl-C or Ctrl-D); true when it was one.
function editKey(b: u32): bool {
  if (b == KEY_BACKSPACE || b == KEY_DEL) { if (cursor > 0) remove(cursor - 1, cursor); else bell(); }
  else if (b == KEY_CTRL_A) moveTo(0);
  else if (b == KEY_CTRL_E) moveTo(lineLen);
  else if (b == KEY_CTRL_B) { if (cursor > 0) moveTo(cursor - 1); else bell(); }
  else if (b == KEY_CTRL_F) { if (cursor < lineLen) moveTo(cursor + 1); else bell(); }
  else if (b == KEY_CTRL_K) { lineLen = cursor; if (lineLen == 0) overlong = false; eraseToEnd(); flush(); }
  else if (b == KEY_CTRL_U) remove(0, cursor);
  else if (b == KEY_CTRL_W) remove(wordStartBefore(cursor), cursor);
  else if (b == KEY_CTRL_L) { clearScreen(); redrawLine(); }
  else if (b == KEY_CTRL_P) historyUp();
  else if (b == KEY_CTRL_N) historyDown();
  else if (b == KEY_TAB) tab();
  else if (b == KEY_ESC) { escape = ESC_START; escapeBytes = 0; param = 0; paramDone = false; }
  else return false;
  return true;
}

export function deleteAtCursor(): void {
  if (cursor < lineLen) remove(cursor, cursor + 1); else bell();
}

const keyByte: usize = memory.data(4);

// A byte that is not Enter, Ctrl-C or Ctrl-D (prompt.ts handles those).
export function editByte(b: u32): void {
  if (escape != ESC_NONE && escapeByte(b)) return;
  if (editKey(b)) return;
  if (b < CHAR_SPACE || b >= KEY_DEL) { bell(); return; }
  store<u8>(keyByte, <u8>b);
  insert(keyByte, 1);
}

// The key an escape sequence's final byte (and first parameter) stands for.
function escapeKey(final: u32): void {
  escape = ESC_NONE;
  if (final == FINAL_LEFT) editKey(KEY_CTRL_B);
  else if (final == FINAL_RIGHT) editKey(KEY_CTRL_F);
  else if (final == FINAL_UP) historyUp();
  else if (final == FINAL_DOWN) historyDown();
  else if (final == FINAL_HOME) moveTo(0);
  else if (final == FINAL_END) moveTo(lineLen);
  else if (final == CHAR_TILDE && (param == TILDE_HOME || param == TILDE_HOME_RXVT)) moveTo(0);
  else if (final == CHAR_TILDE && (param == TILDE_END || param == TILDE_END_RXVT)) moveTo(lineLen);
  else if (final == CHAR_TILDE && param == TILDE_DELETE) deleteAtCursor();
  else bell();
}

// One byte inside an escape sequence. False when the sequence was cut short by a byte that cannot
// belong to it (a control byte, DEL, a non-ASCII byte, or after a lone ESC anything but [ or O):
// the sequence is dropped with the bell and the byte is then read as a key of its own.
function escapeByte(b: u32): bool {
  const inSequence = b >= CHAR_SPACE && b < KEY_DEL;
  if (!inSequence) { escape = ESC_NONE; bell(); return false; }
  if (escape == ESC_START) {
    if (b == CSI_INTRO) { escape = ESC_CSI; return true; }
    if (b == SS3_INTRO) { escape = ESC_SS3; return true; }
    escape = ESC_NONE; bell(); return false;
  }
  const isFinal = b >= 0x40 && b <= CHAR_TILDE;
  if (escape == ESC_SKIP) { if (isFinal) { escape = ESC_NONE; bell(); } return true; }
  if (isFinal) { escapeKey(b); return true; }
  if (escape == ESC_SS3) { escape = ESC_NONE; bell(); return false; }
  escapeBytes++;
  if (escapeBytes > ESCAPE_MAX) { escape = ESC_SKIP; return true; }
  if (b >= 0x30 && b <= 0x39 && !paramDone) { param = param * 10 + (b - 0x30); if (param > PARAM_MAX) param = PARAM_MAX; }
  else paramDone = true;
  return true;
}

// No byte came for a while: an escape sequence left unfinished (a lone Esc key) is dropped.
export function editTimeout(): void {
  if (escape != ESC_NONE) { escape = ESC_NONE; bell(); }
}

// Enter: the line is stored in the history (unless refused) and the draft forgotten.
export function enterLine(): void {
  if (!overlong) historyAdd(line, lineLen);
  historyAt = -1;
}
