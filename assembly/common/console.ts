// Console output without allocation, for every module (driver and clients alike): text is built
// in a line buffer and written through the host's console_write. What is printed is mostly string
// literals, which the build stores as ASCII Texts (below).

// Bytes to the console (COM1 on bare metal, stdout under Node); ptr is in the calling module's memory.
@external("env", "console_write")
export declare function console_write(ptr: usize, len: i32): void;

const OUT_CAP: i32 = 512;
const out: usize = memory.data(OUT_CAP);
let outLen: i32 = 0;

export function flush(): void {
  if (outLen > 0) console_write(out, outLen);
  outLen = 0;
}

export function putByte(b: u32): void {
  if (outLen == OUT_CAP) flush();
  store<u8>(out + <usize>outLen, <u8>b);
  outLen++;
}

// A Text: ASCII bytes in the data segment, the byte before them their count. A string literal
// given to put or putLine, to ascii(), or to a parameter of type Text becomes one when compiling
// (host/ascii-strings.js, a transform asconfig.json names): one byte a character, where a string
// costs two and a 20-byte header, and the driver must fit in 32 KiB.
export type Text = usize;

// A string literal as a Text, for a table of words: `return ascii("namespace size is 0");`.
// Only the transform can make one (it knows the literal's bytes when compiling).
export function ascii(s: string): Text {
  ERROR("ascii() takes a string literal, made a Text by host/ascii-strings.js when compiling");
  return 0;
}

export function textLength(t: Text): i32 {
  return <i32>load<u8>(t);
}

// (Its own loop, not a call of putBytes: a function with a loop is never inlined, and a call of
// putText at each put is the smallest code.)
export function putText(t: Text): void {
  const n = textLength(t);
  for (let i = 1; i <= n; i++) putByte(<u32>load<u8>(t + <usize>i));
}

// A Text, or ASCII text from a string (a literal, `put("...")`, is made a Text: above).
export function put<T>(s: T): void {
  if (isString<T>()) {
    const n = s.length;
    for (let i = 0; i < n; i++) putByte(<u32>s.charCodeAt(i) & 0x7f);
  } else if (isInteger<T>() && !isSigned<T>() && sizeof<T>() == sizeof<usize>()) {
    putText(<usize>s);
  } else {
    ERROR("put takes a string or a Text");
  }
}

// Every failure is one line starting "error: "; how many were printed decides the exit code.
export let errorLines: u32 = 0;
export function putError(): void {
  errorLines++;
  put("error: ");
}

// Failures that are not an error line of their own (a verify mismatch).
export function countFailure(): void {
  errorLines++;
}

export function putLine<T>(s: T): void {
  put<T>(s);
  newline();
}

export function newline(): void {
  putByte(10);
  flush();
}

// Bytes already in memory (command words, device strings).
export function putBytes(ptr: usize, len: i32): void {
  for (let i = 0; i < len; i++) putByte(<u32>load<u8>(ptr + <usize>i));
}

export function putDec(v: u64): void {
  if (v == 0) { putByte(48); return; }
  const digits: usize = memory.data(24);
  let n = 0;
  while (v != 0) {
    store<u8>(digits + <usize>n, <u8>(48 + <u32>(v % 10)));
    v /= 10;
    n++;
  }
  while (n > 0) { n--; putByte(<u32>load<u8>(digits + <usize>n)); }
}

export function putHexDigits(v: u64, digits: i32): void {
  for (let i = digits - 1; i >= 0; i--) {
    const d = <u32>((v >> (<u64>i * 4)) & 0xf);
    putByte(d < 10 ? 48 + d : 87 + d);
  }
}

// 0x-prefixed, at least `minDigits` digits.
export function putHex(v: u64, minDigits: i32 = 1): void {
  let digits = 1;
  while (digits < 16 && (v >> (<u64>digits * 4)) != 0) digits++;
  if (digits < minDigits) digits = minDigits;
  put("0x");
  putHexDigits(v, digits);
}

// PCI address as bus:dev.fn in hex, as lspci prints it.
export function putBdf(bdf: u32): void {
  putHexDigits(<u64>(bdf >> 8), 2);
  putByte(58);
  putHexDigits(<u64>((bdf >> 3) & 31), 2);
  putByte(46);
  putHexDigits(<u64>(bdf & 7), 1);
}

// A device-provided ASCII field (Identify strings): trailing spaces and NULs dropped,
// anything unprintable or a quote shown as '?', so a bad device cannot break the line format.
export function putDeviceString(ptr: usize, len: i32): void {
  let end = len;
  while (end > 0) {
    const c = load<u8>(ptr + <usize>(end - 1));
    if (c != 32 && c != 0) break;
    end--;
  }
  for (let i = 0; i < end; i++) {
    const c = <u32>load<u8>(ptr + <usize>i);
    putByte(c < 32 || c > 126 || c == 34 ? 63 : c);
  }
}

// Controller and namespace names as Linux gives them: nvme0, nvme0n1.
export function putCtrlName(index: u32): void {
  put("nvme");
  putDec(<u64>index);
}

export function putNsName(ctrlIndex: u32, nsid: u32): void {
  putCtrlName(ctrlIndex);
  putByte(110);
  putDec(<u64>nsid);
}
