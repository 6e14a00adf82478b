// Reads and writes against the model: data compared with what the host computes from the image
// bytes and the pattern definition alone.
import { describe, it, expect, afterAll } from "vitest";
import fc from "fast-check";
import { drive, expectClean } from "./helpers.js";
import {
  tempDir,
  writeImage,
  readImage,
  noiseBytes,
  patternBytes,
  crcHex,
  linesOf,
  errorLines,
} from "../lib/disk-images.js";

const MiB = 1 << 20;
const tmp = tempDir("nvme-io-");
afterAll(() => tmp.remove());
let n = 0;
function image(bytes) {
  return writeImage(tmp.path(`img${n++}.raw`), bytes);
}

describe("reads and writes against the controller model", () => {
  for (const profile of ["qemu", "strict", "legacy", "tiny"]) {
    it(`${profile}: crc of the whole namespace equals zlib's, fill leaves exactly the pattern on the file`, async () => {
      const before = noiseBytes(6 * MiB, 100 + n);
      const path = image(before);
      const blocks = before.length / 512;
      const r = await drive({
        profile,
        seed: 11,
        disks: [path],
        cmd: `crc nvme0n1 0 ${blocks}; fill nvme0n1 77 5000 123; verify nvme0n1 77 5000 123; poweroff`,
      });
      expect(r.code, r.why).toBe(0);
      expectClean(r);
      expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(before));
      const after = readImage(path);
      const a = 77 * 512,
        b = a + 5000 * 512;
      expect(after.subarray(a, b).equals(patternBytes(123, a, b - a))).toBe(true);
      expect(after.subarray(0, a).equals(before.subarray(0, a))).toBe(true);
      expect(after.subarray(b).equals(before.subarray(b))).toBe(true);
    });
  }

  it("every transfer size from 1 block to past MDTS: one PRP, two PRPs, a PRP list, split commands", async () => {
    // qemu profile: 4 KiB pages, MDTS 512 KiB = 1024 blocks of 512 B.
    const bytes = noiseBytes(4 * MiB, 7);
    const path = image(bytes);
    const counts = [];
    for (let c = 1; c <= 40; c++) counts.push(c); // inside one page, then two pages, then lists
    for (let c = 1016; c <= 1032; c++) counts.push(c); // around MDTS: one command, then a split
    counts.push(2047, 2048, 2049, 4097);
    const cmd = counts.map((c, i) => `crc nvme0n1 ${(i * 37) % 64} ${c}`).join("; ") + "; poweroff";
    const r = await drive({ profile: "qemu", disks: [path], cmd });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    const got = linesOf(r.output, "crc").map((l) => l.fields.crc32);
    const want = counts.map((c, i) => {
      const lba = (i * 37) % 64;
      return crcHex(bytes.subarray(lba * 512, (lba + c) * 512));
    });
    expect(got).toEqual(want);
  });

  it("no MDTS (legacy): 4 MiB commands whose PRP lists chain to a second list page", async () => {
    const bytes = noiseBytes(12 * MiB, 8);
    const path = image(bytes);
    const r = await drive({
      profile: "legacy",
      disks: [path],
      cmd: `crc nvme0n1 0 ${bytes.length / 512}; crc nvme0n1 1 16383; stats; poweroff`,
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(linesOf(r.output, "crc").map((l) => l.fields.crc32)).toEqual([
      crcHex(bytes),
      crcHex(bytes.subarray(512, 16384 * 512)),
    ]);
    const ctrl = r.machine.controllers[0];
    // 12 MiB in 4 MiB commands (1024 pages: a list page of 511 entries + chain, then a second page), then 4 MiB + the rest.
    expect(ctrl.stats.io.read, JSON.stringify(ctrl.stats)).toBe(3 + 2);
  });

  it("a PRP1 that starts inside a page: bench's sub-page buffer slices at queue depth 32", async () => {
    const path = image(noiseBytes(2 * MiB, 9));
    const r = await drive({
      profile: "strict",
      disks: [path],
      cmd: "bench nvme0n1 read 3 32 3000; bench nvme0n1 write 1 32 3000; stats; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    const benches = linesOf(r.output, "bench");
    expect(benches.map((b) => [b.fields.op, b.fields.block_bytes, b.fields.qd, b.fields.ios])).toEqual([
      ["read", "1536", "32", "3000"],
      ["write", "512", "32", "3000"],
    ]);
  });

  it("queue wrap-around: thousands of commands through 4-entry queues keep phase and heads right", async () => {
    const path = image(noiseBytes(8 * MiB, 10));
    const r = await drive({
      profile: "tiny",
      disks: [path],
      cmd: "fill nvme0n1 0 16384 5; verify nvme0n1 0 16384 5; bench nvme0n1 read 1 3 6000; stats; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    const stats = linesOf(r.output, "stats")[0].fields;
    // 8 MiB in 8 KiB commands, twice, plus the bench: far past many wraps of 4 entries.
    expect(Number(stats.completions)).toBeGreaterThan(2 * 1024 + 6000);
    expect(stats.errors).toBe("0");
    expect(readImage(path).equals(patternBytes(5, 0, 8 * MiB))).toBe(true);
  });

  it("reordered completions (strict) and many in flight still put every block in its place", async () => {
    const path = image(noiseBytes(8 * MiB, 11));
    for (const seed of [1, 2, 3]) {
      const r = await drive({
        profile: "strict",
        seed,
        overrides: { completionDelayNs: [1_000, 400_000] },
        disks: [path],
        cmd: `fill nvme0n1 0 16384 ${seed}; verify nvme0n1 0 16384 ${seed}; poweroff`,
      });
      expect(r.code, r.why).toBe(0);
      expectClean(r);
      expect(readImage(path).equals(patternBytes(seed, 0, 8 * MiB)), r.why).toBe(true);
    }
  });

  it("two controllers with two namespaces each (512 B and 4 KiB blocks): each image gets its own pattern", async () => {
    const imgs = [0, 1, 2, 3].map((i) => ({ bytes: noiseBytes(2 * MiB, 20 + i) }));
    const specs = imgs.map((img, i) => {
      img.path = image(img.bytes);
      img.lba = i % 2 ? 4096 : 512;
      return `${img.path},lba=${img.lba},ctrl=${i >> 1}`;
    });
    const names = ["nvme0n1", "nvme0n2", "nvme1n1", "nvme1n2"];
    const cmd =
      imgs.map((img, i) => `fill ${names[i]} 1 ${(1 * MiB) / img.lba} ${i + 1}`).join("; ") + "; info; poweroff";
    const r = await drive({ profile: "qemu", disks: specs, cmd });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(linesOf(r.output, "ns").map((l) => [l.fields.name, l.fields.lba_bytes])).toEqual(
      names.map((nm, i) => [nm, String(imgs[i].lba)]),
    );
    imgs.forEach((img, i) => {
      const after = readImage(img.path);
      const a = img.lba,
        b = a + 1 * MiB;
      expect(after.subarray(a, b).equals(patternBytes(i + 1, a, MiB)), names[i]).toBe(true);
      expect(after.subarray(0, a).equals(img.bytes.subarray(0, a)), names[i]).toBe(true);
      expect(after.subarray(b).equals(img.bytes.subarray(b)), names[i]).toBe(true);
    });
  });

  it("property: any range read through any profile has zlib's CRC-32 (fast-check, seed printed)", async () => {
    const bytes = noiseBytes(3 * MiB, 12);
    const path = image(bytes);
    const blocks = bytes.length / 512;
    const seed = 20261121;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("qemu", "strict", "legacy", "tiny"),
        fc.array(fc.tuple(fc.nat(blocks - 1), fc.integer({ min: 1, max: 3000 })), { minLength: 1, maxLength: 6 }),
        fc.nat(1000),
        async (profile, ranges, simSeed) => {
          const rs = ranges.map(([lba, c]) => [lba, Math.min(c, blocks - lba)]);
          const cmd = rs.map(([lba, c]) => `crc nvme0n1 ${lba} ${c}`).join("; ") + "; poweroff";
          const r = await drive({ profile, seed: simSeed, disks: [path], cmd });
          expectClean(r);
          expect(r.code, r.why).toBe(0);
          expect(
            linesOf(r.output, "crc").map((l) => l.fields.crc32),
            r.why,
          ).toEqual(rs.map(([lba, c]) => crcHex(bytes.subarray(lba * 512, (lba + c) * 512))));
        },
      ),
      { seed, numRuns: 25, verbose: true },
    );
  }, 120_000);

  it("flush is sent to the controller, and poweroff flushes when a write cache is present", async () => {
    const r = await drive({ profile: "qemu", disks: ["mem:1M"], cmd: "fill nvme0n1 0 8 1; flush nvme0n1; poweroff" });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.output).toMatch(/^flush dev=nvme0n1 ok$/m);
    const ctrl = r.machine.controllers[0];
    expect(ctrl.stats.io.flush, JSON.stringify(ctrl.stats)).toBe(2);
  });
});
