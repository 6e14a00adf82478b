// The words of a command: split on blanks, compared with literals, read as numbers.

const MAX_WORDS: i32 = 8;
const words: usize = memory.data(MAX_WORDS * 8); // (ptr: u32, len: u32) pairs
export let wordCount: i32 = 0;

export function wordPtr(i: i32): usize { return <usize>load<u32>(words + <usize>(i * 8)); }
export function wordLen(i: i32): i32 { return <i32>load<u32>(words + <usize>(i * 8 + 4)); }

function isSpace(c: u32): bool { return c == 32 || c == 9 || c == 13 || c == 10; }

const CHAR_QUOTE: u32 = 34;
// Why split refused the line: an opening double quote without its closing one, or one closed
// with something other than a blank after it (else: too many words).
export let splitBadQuote = false;

// Splits [ptr, ptr+len) into words; false if there are more than MAX_WORDS or a quote is bad. A
// word in double quotes ("/My Files/a b.txt") is the text between them, blanks included (a path
// with spaces); it cannot hold a double quote itself.
export function split(ptr: usize, len: i32): bool {
  wordCount = 0;
  splitBadQuote = false;
  let i = 0;
  while (i < len) {
    while (i < len && isSpace(<u32>load<u8>(ptr + <usize>i))) i++;
    if (i == len) break;
    const quoted = <u32>load<u8>(ptr + <usize>i) == CHAR_QUOTE;
    if (quoted) i++;
    const start = i;
    if (quoted) while (i < len && <u32>load<u8>(ptr + <usize>i) != CHAR_QUOTE) i++;
    else while (i < len && !isSpace(<u32>load<u8>(ptr + <usize>i))) i++;
    const end = i;
    if (quoted) {
      if (i == len || (i + 1 < len && !isSpace(<u32>load<u8>(ptr + <usize>(i + 1))))) { splitBadQuote = true; return false; }
      i++;
    }
    if (wordCount == MAX_WORDS) return false;
    store<u32>(words + <usize>(wordCount * 8), <u32>(ptr + <usize>start));
    store<u32>(words + <usize>(wordCount * 8 + 4), <u32>(end - start));
    wordCount++;
  }
  return true;
}

export function wordIs(i: i32, s: string): bool {
  const n = wordLen(i);
  if (n != s.length) return false;
  const p = wordPtr(i);
  for (let k = 0; k < n; k++) if (<i32>load<u8>(p + <usize>k) != s.charCodeAt(k)) return false;
  return true;
}

// Decimal or 0x-hexadecimal, no sign, any number of leading zeros, at most 2^64 - 1: numberOk says
// whether the word was one.
export let numberOk = false;
export function number(i: i32): u64 {
  numberOk = false;
  const p = wordPtr(i);
  const n = wordLen(i);
  const hex = n > 2 && load<u8>(p) == 48 && (load<u8>(p + 1) | 0x20) == 120;
  const base: u64 = hex ? 16 : 10;
  let v: u64 = 0;
  if (n == 0) return 0;
  for (let k = hex ? 2 : 0; k < n; k++) {
    const c = <u32>load<u8>(p + <usize>k);
    let d: u32;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (hex && (c | 0x20) >= 97 && (c | 0x20) <= 102) d = (c | 0x20) - 87;
    else return 0;
    if (v > (0xffffffffffffffff - <u64>d) / base) return 0; // would pass 2^64 - 1
    v = v * base + <u64>d;
  }
  numberOk = true;
  return v;
}

