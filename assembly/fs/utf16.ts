// UTF-16LE names (GPT partition names, FAT long names) as UTF-8. A lone surrogate becomes U+FFFD,
// so whatever a disk holds, what comes out is valid UTF-8.
const REPLACEMENT: u32 = 0xfffd;

// Writes the UTF-8 of code point `c` at `dst` (room for 4 bytes needed); returns the bytes written.
function putUtf8(dst: usize, c: u32): u32 {
  if (c < 0x80) { store<u8>(dst, <u8>c); return 1; }
  if (c < 0x800) { store<u8>(dst, <u8>(0xc0 | (c >> 6))); store<u8>(dst + 1, <u8>(0x80 | (c & 0x3f))); return 2; }
  if (c < 0x10000) {
    store<u8>(dst, <u8>(0xe0 | (c >> 12))); store<u8>(dst + 1, <u8>(0x80 | ((c >> 6) & 0x3f)));
    store<u8>(dst + 2, <u8>(0x80 | (c & 0x3f))); return 3;
  }
  store<u8>(dst, <u8>(0xf0 | (c >> 18))); store<u8>(dst + 1, <u8>(0x80 | ((c >> 12) & 0x3f)));
  store<u8>(dst + 2, <u8>(0x80 | ((c >> 6) & 0x3f))); store<u8>(dst + 3, <u8>(0x80 | (c & 0x3f)));
  return 4;
}

// Converts `units` UTF-16LE units at `src` (stopping at a 0 unit) into at most `cap` bytes at
// `dst`; returns the bytes written (a character that does not fit ends the name).
export function utf16ToUtf8(src: usize, units: u32, dst: usize, cap: u32): u32 {
  let out: u32 = 0;
  for (let i: u32 = 0; i < units; i++) {
    let c = <u32>load<u16>(src + <usize>(i * 2));
    if (c == 0) break;
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < units) {
      const low = <u32>load<u16>(src + <usize>((i + 1) * 2));
      if (low >= 0xdc00 && low < 0xe000) { c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00); i++; }
      else c = REPLACEMENT;
    } else if (c >= 0xd800 && c < 0xe000) c = REPLACEMENT;
    if (out + 4 > cap) break;
    out += putUtf8(dst + <usize>out, c);
  }
  return out;
}
