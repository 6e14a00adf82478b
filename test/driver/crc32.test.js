// The shell's CRC-32 (assembly/shell/crc32.ts) against node:zlib's crc32, the definition `crc`
// promises (docs/shell.md): every length and alignment around its 16-byte steps, pieces fed back
// in any split, and the bytes that meet each of its 13 tables. The shell's `crc` lines are checked
// against zlib over whole images in shell.test.js and test/qemu/driver.test.js.
import { describe, it, expect, beforeAll } from "vitest";
import fc from "fast-check";
import { crc32 } from "node:zlib";
import { crc32Module } from "../lib/crc32-module.js";
import { noiseBytes } from "../lib/disk-images.js";

const zlib = (buf) => crc32(buf) >>> 0;

describe("crc32.ts", () => {
  let crc;
  beforeAll(async () => {
    crc = await crc32Module({ dataBytes: 1 << 20 });
    crc.data.set(noiseBytes(1 << 20, 77));
  });

  it("equals zlib at every length 0..80 and every alignment 0..15", () => {
    for (let off = 0; off < 16; off++) {
      for (let len = 0; len <= 80; len++) {
        expect(crc.update(0, off, len), `offset ${off} length ${len}`).toBe(zlib(crc.data.subarray(off, off + len)));
      }
    }
  });

  it("equals zlib over a whole MiB, and for the standard check value", () => {
    expect(crc.update(0, 0, 1 << 20)).toBe(zlib(crc.data));
    crc.data.set(Buffer.from("123456789"), 0);
    expect(crc.update(0, 0, 9)).toBe(0xcbf43926);
    crc.data.set(noiseBytes(16, 77), 0);
  });

  it("each table: one set byte at every position of a 16-byte step, every byte value", () => {
    const buf = Buffer.alloc(48);
    for (let pos = 0; pos < 48; pos++) {
      for (let v = 1; v < 256; v++) {
        buf.fill(0);
        buf[pos] = v;
        crc.data.set(buf, 0);
        expect(crc.update(0, 0, 48), `byte ${v} at ${pos}`).toBe(zlib(buf));
      }
    }
    crc.data.set(noiseBytes(48, 77), 0);
  });

  it("property: any buffer split into any pieces, each CRC fed back, equals zlib of the whole", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.array(fc.nat(3000), { maxLength: 6 }),
        fc.nat(0xffffffff),
        (bytes, cuts, start) => {
          crc.data.set(bytes, 0);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          let c = 0,
            at = 0;
          for (const p of [...points, bytes.length]) {
            c = crc.update(c, at, p - at);
            at = p;
          }
          expect(c).toBe(zlib(bytes));
          // and a CRC to continue from, as zlib's crc32(data, value) takes it
          const prefix = start >>> 0;
          expect(crc.update(prefix, 0, bytes.length)).toBe(crc32(bytes, prefix) >>> 0);
        },
      ),
      { numRuns: 300, seed: 4242 },
    );
  });
});
