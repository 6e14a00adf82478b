// CRC-32 as zlib's crc32(): reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF.
// Table-driven, eight bytes per step ("slicing by 8"), the table built once into static memory.
const POLY: u32 = 0xedb88320;
const table: usize = memory.data(8 * 256 * 4, 64);
let ready = false;

function init(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c & 1) != 0 ? POLY ^ (c >> 1) : c >> 1;
    store<u32>(table + <usize>(i * 4), c);
  }
  for (let i: u32 = 0; i < 256; i++) {
    let c = load<u32>(table + <usize>(i * 4));
    for (let t: u32 = 1; t < 8; t++) {
      c = load<u32>(table + <usize>((c & 0xff) * 4)) ^ (c >> 8);
      store<u32>(table + <usize>((t * 256 + i) * 4), c);
    }
  }
  ready = true;
}

@inline function t(n: u32, i: u32): u32 {
  return load<u32>(table + <usize>((n * 256 + i) * 4));
}

// Continues a CRC: start with crc32Update(0, ...) and feed the result back for the next piece.
export function crc32Update(crc: u32, ptr: usize, len: u32): u32 {
  if (!ready) init();
  let c = ~crc;
  let p = ptr;
  let n = len;
  while (n >= 8) {
    const lo = load<u32>(p) ^ c;
    const hi = load<u32>(p + 4);
    c = t(7, lo & 0xff) ^ t(6, (lo >> 8) & 0xff) ^ t(5, (lo >> 16) & 0xff) ^ t(4, lo >> 24) ^
        t(3, hi & 0xff) ^ t(2, (hi >> 8) & 0xff) ^ t(1, (hi >> 16) & 0xff) ^ t(0, hi >> 24);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = t(0, (c ^ <u32>load<u8>(p)) & 0xff) ^ (c >> 8);
    p++;
    n--;
  }
  return ~c;
}
