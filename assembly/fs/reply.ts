// The response being built (docs/fs-interface.md): fixed fields, then text. Text is written with
// bounds: past FS_TEXT_BYTES_MAX it is cut, never written beyond the outbox.
import { Text, textLength } from "../common/console";
import { FSR_STATUS, FSR_TEXT_BYTES, FSR_TEXT, FS_TEXT_BYTES_MAX, FS_RESPONSE_BYTES_MAX, FS_STATUS_ERROR, FS_STATUS_OK } from "../common/fs-abi";

export const outbox: usize = memory.data(<i32>FS_RESPONSE_BYTES_MAX, 8);
let textBytes: u32 = 0;
export let failed = false;
let muted = false;   // a second failure: its words are dropped, the first one is the cause

export function replyBegin(): void {
  memory.fill(outbox, 0, <usize>FSR_TEXT);
  textBytes = 0;
  failed = false;
  muted = false;
}

export function replyLength(): u32 {
  store<u32>(outbox + <usize>FSR_TEXT_BYTES, textBytes);
  store<u32>(outbox + <usize>FSR_STATUS, failed ? FS_STATUS_ERROR : load<u32>(outbox + <usize>FSR_STATUS));
  return FSR_TEXT + textBytes;
}

export function set32(field: u32, v: u32): void { store<u32>(outbox + <usize>field, v); }
export function set64(field: u32, v: u64): void { store<u64>(outbox + <usize>field, v); }

export function textAt(): usize { return outbox + <usize>FSR_TEXT + <usize>textBytes; }
export function textRoom(): u32 { return FS_TEXT_BYTES_MAX - textBytes; }
export function textAdvance(n: u32): void { assert(n <= textRoom(), "text past the outbox"); textBytes += n; }

export function sayByte(b: u32): void {
  if (muted || textBytes == FS_TEXT_BYTES_MAX) return;
  store<u8>(outbox + <usize>FSR_TEXT + <usize>textBytes, <u8>b);
  textBytes++;
}

export function say(t: Text): void {
  const n = textLength(t);
  for (let i = 1; i <= n; i++) sayByte(<u32>load<u8>(t + <usize>i));
}

export function sayBytes(ptr: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i++) sayByte(<u32>load<u8>(ptr + <usize>i));
}

export function textBytesSaid(): u32 { return textBytes; }

// 0x-prefixed lower-case hex, as the shell prints status codes.
export function sayHex(v: u32): void {
  sayByte(48); sayByte(120);
  let digits = 1;
  while (digits < 8 && (v >> (<u32>digits * 4)) != 0) digits++;
  for (let i = digits - 1; i >= 0; i--) {
    const d = (v >> (<u32>i * 4)) & 0xf;
    sayByte(d < 10 ? 48 + d : 87 + d);
  }
}

export function sayDec(v: u64): void {
  const digits: usize = memory.data(24);
  let n = 0;
  do { store<u8>(digits + <usize>n, <u8>(48 + <u32>(v % 10))); v /= 10; n++; } while (v != 0);
  while (n > 0) { n--; sayByte(<u32>load<u8>(digits + <usize>n)); }
}

// The first failure of a request: its text replaces anything said before, and numbers said right
// after it (sayDec) complete it. Later failures are dropped, words and numbers (the first is the
// cause). Returns false, so `return fail("…")` ends a check.
export function fail(t: Text): bool {
  if (failed) { muted = true; return false; }
  failed = true;
  textBytes = 0;
  say(t);
  return false;
}
