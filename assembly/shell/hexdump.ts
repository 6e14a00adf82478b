// Hex dump in the layout of `hexdump -C`: offset, 16 bytes, their ASCII; repeated lines as "*".
import { put, putByte, putHexDigits, newline } from "../common/console";

function sameAsPrevious(ptr: usize, off: u32): bool {
  if (off < 16) return false;
  for (let i: u32 = 0; i < 16; i++) {
    if (load<u8>(ptr + <usize>(off + i)) != load<u8>(ptr + <usize>(off - 16 + i))) return false;
  }
  return true;
}

// `base` is the offset printed for the first byte (the byte offset within the device).
export function hexdump(ptr: usize, len: u32, base: u64): void {
  let starred = false;
  for (let off: u32 = 0; off < len; off += 16) {
    const n = len - off < 16 ? len - off : 16;
    if (n == 16 && off + 16 < len && sameAsPrevious(ptr, off)) {
      if (!starred) { put("*"); newline(); starred = true; }
      continue;
    }
    starred = false;
    putHexDigits(base + <u64>off, 8);
    put(" ");
    for (let i: u32 = 0; i < 16; i++) {
      if (i == 8) putByte(32);
      if (i < n) { putByte(32); putHexDigits(<u64>load<u8>(ptr + <usize>(off + i)), 2); }
      else put("   ");
    }
    put("  |");
    for (let i: u32 = 0; i < n; i++) {
      const c = <u32>load<u8>(ptr + <usize>(off + i));
      putByte(c >= 32 && c < 127 ? c : 46);
    }
    put("|");
    newline();
  }
  putHexDigits(base + <u64>len, 8);
  newline();
}
