// CRC-32 as zlib's crc32(): reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF.
//
// Table-driven, sixteen bytes per step. The CRC is linear: the register after a step is the XOR,
// over slices of the step's 128 bits, of a table entry per slice (the register that slice alone
// would leave). The running CRC enters only the step's first 32 bits, so those are sliced into four
// bytes (four 1 KiB tables: the loop's dependency chain stays in the L1 cache); the other 96 bits do
// not depend on the CRC and are sliced into nine pieces of 10 or 11 bits (nine 8 KiB tables), looked
// up while the previous step is still in flight. 13 table loads and two data loads per 16 bytes,
// against 16 and 4 for slicing by 16: under QEMU's TCG each wasm load is a guest load through
// QEMU's software TLB, so fewer of them is what counts there. 76 KiB of static memory, built when
// the module starts.
// bench/crc32.js times it against node:zlib; docs/shell.md has the figures.
const POLY: u32 = 0xedb88320;
const STEP_BYTES: u32 = 16;
const STEP_BITS: u32 = STEP_BYTES * 8;
const ENTRY_BYTES: u32 = 4;
const BYTE_TABLES: u32 = 4;                    // bits 0..31: the ones the running CRC enters
const BYTE_TABLE_BYTES: u32 = 256 * ENTRY_BYTES;
const WIDE_TABLES: u32 = 9;                    // bits 32..127, 10 or 11 at a time
const WIDE_TABLE_BYTES: u32 = 2048 * ENTRY_BYTES;
const TABLES: u32 = BYTE_TABLES + WIDE_TABLES;
// An index of 8, 10 or 11 bits, times ENTRY_BYTES: the byte offset of its entry.
const INDEX8: u32 = 0xff << 2;
const INDEX10: u32 = 0x3ff << 2;
const INDEX11: u32 = 0x7ff << 2;
const table: usize = memory.data(<i32>(BYTE_TABLES * BYTE_TABLE_BYTES + WIDE_TABLES * WIDE_TABLE_BYTES), 64);
const wide: usize = table + <usize>(BYTE_TABLES * BYTE_TABLE_BYTES);
// Table k covers bits [sliceBits[k], sliceBits[k + 1]) of a step (bit i of a step is bit i % 8 of
// its byte i / 8, as the reflected CRC takes them).
const sliceBits = memory.data<u32>([0, 8, 16, 24, 32, 43, 54, 64, 75, 86, 97, 108, 118, 128]);
// singleBit[i]: the register a step leaves when only its bit i is set (and the register was 0).
const singleBit: usize = memory.data(<i32>(STEP_BITS * ENTRY_BYTES), 8);

// One bit through the register: the reflected CRC's shift.
@inline function shiftBit(reg: u32): u32 {
  return (reg & 1) != 0 ? (reg >> 1) ^ POLY : reg >> 1;
}

function buildTables(): void {
  // Bit i set alone reaches the register's bit 0 after i shifts, then takes STEP_BITS - i more.
  let reg: u32 = 1;
  for (let i = STEP_BITS; i > 0; i--) {
    reg = shiftBit(reg);
    store<u32>(singleBit + <usize>((i - 1) * ENTRY_BYTES), reg);
  }
  let base = table;
  for (let k: u32 = 0; k < TABLES; k++) {
    const from = load<u32>(sliceBits + <usize>(k * 4));
    const to = load<u32>(sliceBits + <usize>(k * 4 + 4));
    assert(to > from && to - from <= 11, "CRC-32: slice width");
    const entries: u32 = k < BYTE_TABLES ? 256 : 2048;
    store<u32>(base, 0);
    for (let v: u32 = 1; v < entries; v++) {   // linear: v's entry is v-without-its-low-bit's ^ that bit's
      const bit = from + ctz(v);
      const single = bit < to ? load<u32>(singleBit + <usize>(bit * ENTRY_BYTES)) : 0;
      store<u32>(base + <usize>(v * ENTRY_BYTES), load<u32>(base + <usize>((v & (v - 1)) * ENTRY_BYTES)) ^ single);
    }
    base += <usize>(entries * ENTRY_BYTES);
  }
  assert(base == wide + <usize>(WIDE_TABLES * WIDE_TABLE_BYTES), "CRC-32: table layout");
}

// Sixteen bytes at p folded into c. Each table's address is its loads' immediate offset.
@inline function step(c: u32, p: usize): u32 {
  const x = load<u64>(p);
  const y = load<u64>(p, 8);
  const xh = <u32>(x >> 32);
  const rest = load<u32>(<usize>((xh << 2) & INDEX11), wide) ^
               load<u32>(<usize>((xh >> 9) & INDEX11), wide + WIDE_TABLE_BYTES) ^
               load<u32>(<usize>((xh >> 20) & INDEX10), wide + 2 * WIDE_TABLE_BYTES) ^
               load<u32>(<usize>((<u32>y << 2) & INDEX11), wide + 3 * WIDE_TABLE_BYTES) ^
               load<u32>(<usize>(<u32>(y >> 9) & INDEX11), wide + 4 * WIDE_TABLE_BYTES) ^
               load<u32>(<usize>(<u32>(y >> 20) & INDEX11), wide + 5 * WIDE_TABLE_BYTES) ^
               load<u32>(<usize>(<u32>(y >> 31) & INDEX11), wide + 6 * WIDE_TABLE_BYTES) ^
               load<u32>(<usize>(<u32>(y >> 42) & INDEX10), wide + 7 * WIDE_TABLE_BYTES) ^
               load<u32>(<usize>(<u32>(y >> 52) & INDEX10), wide + 8 * WIDE_TABLE_BYTES);
  const a = <u32>x ^ c;
  return rest ^
         load<u32>(<usize>((a << 2) & INDEX8), table) ^
         load<u32>(<usize>((a >> 6) & INDEX8), table + BYTE_TABLE_BYTES) ^
         load<u32>(<usize>((a >> 14) & INDEX8), table + 2 * BYTE_TABLE_BYTES) ^
         load<u32>(<usize>((a >> 22) & INDEX8), table + 3 * BYTE_TABLE_BYTES);
}

// The definition, a bit at a time: for the bytes after the last whole step, and the start-up check.
function crc32Bitwise(c: u32, ptr: usize, len: u32): u32 {
  let r = c;
  for (let i: u32 = 0; i < len; i++) {
    r ^= <u32>load<u8>(ptr + <usize>i);
    for (let k = 0; k < 8; k++) r = shiftBit(r);
  }
  return r;
}

// Continues a CRC: start with crc32Update(0, ...) and feed the result back for the next piece.
export function crc32Update(crc: u32, ptr: usize, len: u32): u32 {
  let c = ~crc;
  let p = ptr;
  const steps = len / STEP_BYTES;
  for (let s: u32 = 0; s < steps; s++) {
    c = step(c, p);
    p += <usize>STEP_BYTES;
  }
  return ~crc32Bitwise(c, p, len % STEP_BYTES);
}

// At start: the tables, then two steps checked against the definition and zlib's check value.
const CHECK_TEXT = memory.data<u8>([49, 50, 51, 52, 53, 54, 55, 56, 57]);  // "123456789"
const CHECK_CRC: u32 = 0xcbf43926;
const selfTest: usize = memory.data(<i32>(2 * STEP_BYTES), 8);
buildTables();
for (let i: u32 = 0; i < 2 * STEP_BYTES; i++) store<u8>(selfTest + <usize>i, <u8>(i * 37 + 11));
assert(crc32Update(0, selfTest, 2 * STEP_BYTES) == ~crc32Bitwise(~0, selfTest, 2 * STEP_BYTES), "CRC-32: tables disagree with the definition");
assert(crc32Update(0, CHECK_TEXT, 9) == CHECK_CRC, "CRC-32: check value");
