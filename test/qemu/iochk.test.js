// iochk on bare metal: the kernel (build/kernel.elf) in QEMU runs random reads and writes against
// QEMU's NVMe device; the summary line must be the one test/lib/iochk.js replays from the seed, and
// the image file afterwards must hold, in every block the run wrote, the data of that block's last
// generation, and elsewhere what it held before. Computed here, never taken from the guest.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync } from "node:fs";
import { bootQemu, hasQemu, KERNEL } from "./helpers.js";
import { tempDir, writeImage, readImage, noiseBytes, linesOf, errorLines } from "../lib/disk-images.js";
import { iochkReplay, iochkLine, imageDiff } from "../lib/iochk.js";

const enabled = hasQemu() || !!process.env.CI;
const MiB = 1 << 20;

function explain(r, seed) {
  return `replay: iochk seed ${seed}\nQEMU exit ${r.code} after ${r.ms} ms\nargs: ${r.args.join(" ")}\n--- output ---\n${r.output}`;
}

describe.skipIf(!enabled)("iochk in QEMU", () => {
  let tmp;
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    tmp = tempDir("nvme-qemu-iochk-");
  });
  afterAll(() => tmp?.remove());

  for (const { name, lbaBytes, machine, iommu, seed, ios, qd } of [
    { name: "pc, 512-byte blocks", lbaBytes: 512, machine: "pc", iommu: false, seed: 31, ios: 1500, qd: 8 },
    {
      name: "q35 with an IOMMU, 4096-byte blocks",
      lbaBytes: 4096,
      machine: "q35",
      iommu: true,
      seed: 32,
      ios: 800,
      qd: 32,
    },
  ]) {
    it(`${name}: ok, the line replays from the seed, the image holds every block's last generation`, async () => {
      const before = noiseBytes(16 * MiB, seed);
      const path = writeImage(tmp.path(`iochk-${seed}.img`), before);
      const r = await bootQemu({
        machine,
        iommu,
        disks: [{ path, lbaBytes }],
        cmd: `iochk nvme0n1 ${ios} ${seed} ${qd}; poweroff`,
      });
      expect(r.code, explain(r, seed)).toBe(0);
      expect(errorLines(r.output), explain(r, seed)).toEqual([]);
      const replay = iochkReplay({ seed, ios, blocks: (16 * MiB) / lbaBytes, lbaBytes });
      expect(
        linesOf(r.output, "iochk").map((l) => l.text),
        explain(r, seed),
      ).toEqual([iochkLine({ ios, seed, qd, replay })]);
      expect(r.output.includes("\riochk"), explain(r, seed)).toBe(false); // no progress from the boot command line
      expect(imageDiff({ image: readImage(path), before, seed, replay, lbaBytes }), explain(r, seed)).toBe(null);
    });
  }

  it("typed at the prompt: a progress line rewritten with \\r, wiped before the same summary line", async () => {
    const seed = 33,
      ios = 6000;
    const before = noiseBytes(16 * MiB, seed);
    const path = writeImage(tmp.path("iochk-typed.img"), before);
    const r = await bootQemu({ disks: [{ path }], input: `iochk nvme0n1 ${ios} ${seed}\rpoweroff\r` });
    expect(r.code, explain(r, seed)).toBe(0);
    const replay = iochkReplay({ seed, ios, blocks: (16 * MiB) / 512 });
    // About 4 s under TCG, still more than a second under KVM: progress lines (every 250 ms).
    expect(r.output, explain(r, seed)).toMatch(new RegExp(`\\riochk \\d+/${ios} ios, \\d+ blocks verified`));
    expect(r.output, explain(r, seed)).toContain(`\r${" ".repeat(79)}\r${iochkLine({ ios, seed, replay })}\r\n`);
    expect(imageDiff({ image: readImage(path), before, seed, replay }), explain(r, seed)).toBe(null);
  });
});
