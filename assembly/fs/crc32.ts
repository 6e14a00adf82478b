// CRC-32 as GPT uses it (UEFI 2.10 section 5.3.2: the same as zlib's crc32(): reflected polynomial
// 0xEDB88320, initial and final XOR 0xFFFFFFFF). A byte at a time: the tables are small and read
// once per scan; the shell has the fast one for bulk data.
const POLY: u32 = 0xedb88320;
const table: usize = memory.data(256 * 4, 4);
let built = false;

function build(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ POLY : c >> 1;
    store<u32>(table + <usize>(n * 4), c);
  }
  built = true;
}

// Continues a CRC: crc32Update(0, …) starts one, as zlib's crc32(0, …) does.
export function crc32Update(crc: u32, ptr: usize, len: u32): u32 {
  if (!built) build();
  let c = ~crc;
  for (let i: u32 = 0; i < len; i++) {
    c = load<u32>(table + <usize>(((c ^ <u32>load<u8>(ptr + <usize>i)) & 0xff) * 4)) ^ (c >> 8);
  }
  return ~c;
}
