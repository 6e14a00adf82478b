// Progress of a long command, shown in place on an interactive console only (console=tty and a
// line typed at the prompt, session.ts): one line rewritten with CR at most every PROGRESS_NS,
// `crc 8192/131072 blocks`, erased (CR, ESC [ K) before the command's result line. Never in
// scripted runs, whose output programs read. (iochk has its own, shown at any prompt: iochk.ts.)
import { put, putByte, putDec, flush } from "../common/console";
import { now_ns } from "./client";
import { atPrompt, consoleTty } from "./session";

const PROGRESS_NS: u64 = 250_000_000;
const CHAR_CR: u32 = 0x0d;
const CHAR_ESC: u32 = 0x1b;
const CSI_INTRO: u32 = 0x5b;   // '['
const ERASE_LINE: u32 = 0x4b;  // 'K': ESC [ K erases to the end of the line
let lastNs: u64 = 0;
let shown = false;

export function progressStart(): void {
  lastNs = now_ns();
  shown = false;
}

// `cmd done/total unit`, when it is time to show it.
export function progressShow(cmd: string, done: u64, total: u64, unit: string): void {
  if (!atPrompt || !consoleTty) return;
  const now = now_ns();
  if (now - lastNs < PROGRESS_NS) return;
  lastNs = now;
  shown = true;
  putByte(CHAR_CR); put(cmd); put(" "); putDec(done); put("/"); putDec(total); put(" "); put(unit);
  flush();
}

// Erases the progress line, if one is shown: call before the command prints its result.
export function progressClear(): void {
  if (!shown) return;
  shown = false;
  putByte(CHAR_CR); putByte(CHAR_ESC); putByte(CSI_INTRO); putByte(ERASE_LINE);
  flush();
}
