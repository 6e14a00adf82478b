// One command of the language (docs/shell.md), and a line of them separated by ';': the words
// checked, the command found, run. Shared by the boot command line (main.ts) and the prompt.
import { put, putLine, putHex } from "../common/console";
import { split, splitBadQuote, wordCount, wordPtr, wordLen, wordIs } from "./words";
import { cmdParts, cmdLs, cmdCat, cmdSum } from "./fs-commands";
import { cmdIochk } from "./iochk";
import { cmdSmart, cmdErrors } from "./log-pages";
import { cmdHelp, cmdInfo, cmdStats } from "./commands";
import { cmdRead, cmdStream, cmdZero, cmdTrim, cmdFlush, cmdBench, errorBegin, errorWord } from "./io-commands";
import { stopRequested } from "./session";
export let poweroffRequested = false;
export function requestPoweroff(): void { poweroffRequested = true; }

function noArguments(cmd: string): bool {
  if (wordCount == 1) return true;
  errorBegin(cmd); putLine(": takes no arguments");
  return false;
}

// A byte that has no place in a command: a control byte other than the blanks (tab, CR, LF), or a
// byte outside ASCII. Commands with one are refused, never read with the byte dropped.
export function isRefusedByte(b: u32): bool {
  return (b < 32 && b != 9 && b != 10 && b != 13) || b >= 127;
}

function runCommand(ptr: usize, len: i32): void {
  for (let i = 0; i < len; i++) {
    const b = <u32>load<u8>(ptr + <usize>i);
    if (isRefusedByte(b)) { errorBegin("shell"); put(": control byte "); putHex(<u64>b, 2); putLine(" in the command, not run"); return; }
  }
  if (!split(ptr, len)) { errorBegin("shell"); putLine(splitBadQuote ? ": a double quote is not closed (or not followed by a blank)" : ": too many words"); return; }
  if (wordCount == 0) return;
  if (wordIs(0, "help")) { if (noArguments("help")) cmdHelp(); }
  else if (wordIs(0, "info")) { if (noArguments("info")) cmdInfo(); }
  else if (wordIs(0, "read")) cmdRead();
  else if (wordIs(0, "crc")) cmdStream(0);
  else if (wordIs(0, "fill")) cmdStream(1);
  else if (wordIs(0, "verify")) cmdStream(2);
  else if (wordIs(0, "zero")) cmdZero();
  else if (wordIs(0, "trim")) cmdTrim();
  else if (wordIs(0, "flush")) cmdFlush();
  else if (wordIs(0, "smart")) cmdSmart();
  else if (wordIs(0, "errors")) cmdErrors();
  else if (wordIs(0, "stats")) { if (noArguments("stats")) cmdStats(); }
  else if (wordIs(0, "bench")) cmdBench();
  else if (wordIs(0, "iochk")) cmdIochk();
  else if (wordIs(0, "parts")) cmdParts();
  else if (wordIs(0, "ls")) cmdLs();
  else if (wordIs(0, "cat")) cmdCat();
  else if (wordIs(0, "sum")) cmdSum();
  else if (wordIs(0, "poweroff")) { if (noArguments("poweroff")) requestPoweroff(); }
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

// Runs every ';'-separated command of the text, in order, until one is poweroff (or Ctrl-C
// stopped one: session.ts).
export function runCommands(ptr: usize, len: i32): void {
  let start = 0;
  for (let i = 0; i <= len && !poweroffRequested && !stopRequested; i++) {
    if (i == len || load<u8>(ptr + <usize>i) == 59) {
      runCommand(ptr + <usize>start, i - start);
      start = i + 1;
    }
  }
}
