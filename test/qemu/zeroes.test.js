// zero and trim on QEMU 7.2's emulated NVMe controller (build/kernel.elf): the image file is read
// after QEMU exits and compared with what the host computes from the pattern alone.
//
// What QEMU 7.2 does, as these tests find it: Write Zeroes (ONCS bit 3) zeroes exactly the range
// (blk_aio_pwrite_zeroes). Dataset Management deallocate (ONCS bit 2) goes to blk_aio_pdiscard: with
// the -drive default discard=ignore the block layer drops the discard and the old data stays, even
// though Identify Namespace says DLFEAT = 1 (deallocated blocks read as zeroes); with discard=unmap
// a raw file gets a hole punched (fallocate) and the range reads as zeroes, to the byte. A
// readonly=on drive is not write protected in NSATTR (QEMU 7.2 leaves the bit clear): Write Zeroes
// fails there with a Write Fault (after the driver's retries), a deallocate succeeds and changes
// nothing.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync } from "node:fs";
import { bootQemu, hasQemu, KERNEL } from "./helpers.js";
import { tempDir, writeImage, readImage, patternBytes, crcHex, linesOf, errorLines } from "../lib/disk-images.js";

const enabled = hasQemu() || !!process.env.CI;
const MiB = 1 << 20;
const BLOCK = 512;
const SEED = 9;

function explain(r) {
  return `QEMU exit ${r.code} after ${r.ms} ms\nargs: ${r.args.join(" ")}\n--- output ---\n${r.output}`;
}

const zeroed = (want, lba, blocks) => want.fill(0, lba * BLOCK, (lba + blocks) * BLOCK);

describe.skipIf(!enabled)("zero and trim in QEMU", () => {
  let tmp;
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    tmp = tempDir("nvme-qemu-zeroes-");
  });
  afterAll(() => tmp?.remove());

  // An image full of the fill pattern; the zero and trim commands run on it.
  const ZERO = [
    [100, 3000],
    [20_000, 70_000],
    [98_303, 1],
  ]; // 70,000 blocks: two Write Zeroes commands
  const TRIM = [
    [5000, 777],
    [3501, 7],
    [95_000, 8],
  ]; // apart from the zero ranges; one not 4 KiB aligned
  const commands = () =>
    [
      ...ZERO.map(([l, c]) => `zero nvme0n1 ${l} ${c}`),
      ...TRIM.map(([l, c]) => `trim nvme0n1 ${l} ${c}`),
      ...TRIM.map(([l, c]) => `crc nvme0n1 ${l} ${c}`),
      "zero nvme1n1 0 8",
      "trim nvme1n1 0 8",
    ].join("; ");

  async function run(discard) {
    const before = patternBytes(SEED, 0, 48 * MiB); // 98,304 blocks
    const path = writeImage(tmp.path(`pattern-${discard ?? "default"}.img`), before);
    const ro = writeImage(tmp.path(`ro-${discard ?? "default"}.img`), patternBytes(SEED, 0, MiB));
    const r = await bootQemu({
      disks: [
        { path, discard },
        { path: ro, readonly: true },
      ],
      cmd: `${commands()}; poweroff`,
    });
    return { r, before, after: readImage(path), roAfter: readImage(ro) };
  }

  function expectZeroAndRefusals({ r, before, roAfter }) {
    for (const [l, c] of ZERO) expect(r.lines, explain(r)).toContain(`zero dev=nvme0n1 lba=${l} count=${c} ok`);
    for (const [l, c] of TRIM) expect(r.lines, explain(r)).toContain(`trim dev=nvme0n1 lba=${l} count=${c} ok`);
    // the readonly=on drive: no NSATTR write protection, so both go to QEMU, which fails the Write
    // Zeroes (media error, retried, then reported) and lets the deallocate pass; the file untouched
    expect(errorLines(r.output), explain(r)).toEqual([
      "error: zero dev=nvme1n1 lba=0 count=8: at lba=0: Write Fault (media error sct=2 sc=0x80)",
    ]);
    expect(r.lines, explain(r)).toContain("trim dev=nvme1n1 lba=0 count=8 ok");
    expect(roAfter.equals(patternBytes(SEED, 0, MiB))).toBe(true);
    expect(r.code, explain(r)).toBe(1); // the error line
    expect(before.length).toBe(48 * MiB);
  }

  it("default drive (discard=ignore): zero leaves zeroes exactly in its ranges; trim succeeds and QEMU keeps the old data", async () => {
    const run1 = await run(undefined);
    expectZeroAndRefusals(run1);
    const { r, before, after } = run1;
    const want = Buffer.from(before);
    for (const [l, c] of ZERO) zeroed(want, l, c);
    expect(after.equals(want), "zeroes in the zero ranges, the pattern everywhere else, the trimmed ranges too").toBe(
      true,
    );
    const crcs = linesOf(r.output, "crc").map((x) => x.fields.crc32);
    expect(crcs, "the guest reads the old data back after trim").toEqual(
      TRIM.map(([l, c]) => crcHex(before.subarray(l * BLOCK, (l + c) * BLOCK))),
    );
  }, 180_000);

  it("discard=unmap: trim punches holes, the trimmed ranges read as zeroes to the byte, nothing else changed", async () => {
    const run2 = await run("unmap");
    expectZeroAndRefusals(run2);
    const { r, before, after } = run2;
    const want = Buffer.from(before);
    for (const [l, c] of [...ZERO, ...TRIM]) zeroed(want, l, c);
    expect(after.equals(want), "zeroes exactly in the zero and trim ranges").toBe(true);
    const crcs = linesOf(r.output, "crc").map((x) => x.fields.crc32);
    expect(crcs, "the guest reads zeroes after trim").toEqual(TRIM.map(([, c]) => crcHex(Buffer.alloc(c * BLOCK))));
  }, 180_000);
});
