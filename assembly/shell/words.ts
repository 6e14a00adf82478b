// The words of a command: split on blanks, compared with literals, read as numbers.

const MAX_WORDS: i32 = 8;
const words: usize = memory.data(MAX_WORDS * 8); // (ptr: u32, len: u32) pairs
export let wordCount: i32 = 0;

export function wordPtr(i: i32): usize { return <usize>load<u32>(words + <usize>(i * 8)); }
export function wordLen(i: i32): i32 { return <i32>load<u32>(words + <usize>(i * 8 + 4)); }

function isSpace(c: u32): bool { return c == 32 || c == 9 || c == 13 || c == 10; }

// Splits [ptr, ptr+len) into words; false if there are more than MAX_WORDS.
export function split(ptr: usize, len: i32): bool {
  wordCount = 0;
  let i = 0;
  while (i < len) {
    while (i < len && isSpace(<u32>load<u8>(ptr + <usize>i))) i++;
    if (i == len) break;
    const start = i;
    while (i < len && !isSpace(<u32>load<u8>(ptr + <usize>i))) i++;
    if (wordCount == MAX_WORDS) return false;
    store<u32>(words + <usize>(wordCount * 8), <u32>(ptr + <usize>start));
    store<u32>(words + <usize>(wordCount * 8 + 4), <u32>(i - start));
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

// Decimal or 0x-hexadecimal, no sign, no overflow past 64 bits.
export let numberOk = false;
export function number(i: i32): u64 {
  numberOk = false;
  const p = wordPtr(i);
  const n = wordLen(i);
  let v: u64 = 0;
  if (n > 2 && load<u8>(p) == 48 && (load<u8>(p + 1) | 0x20) == 120) {
    if (n - 2 > 16) return 0;
    for (let k = 2; k < n; k++) {
      const c = <u32>load<u8>(p + <usize>k) | 0x20;
      let d: u32;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else return 0;
      v = (v << 4) | <u64>d;
    }
    numberOk = true;
    return v;
  }
  if (n == 0 || n > 20) return 0;
  for (let k = 0; k < n; k++) {
    const c = <u32>load<u8>(p + <usize>k);
    if (c < 48 || c > 57) return 0;
    const d = <u64>(c - 48);
    if (v > (0xffffffffffffffff - d) / 10) return 0;
    v = v * 10 + d;
  }
  numberOk = true;
  return v;
}

