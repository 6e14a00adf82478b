// Injected faults: media errors, dropped commands, fatal controller status, slow completions.
// Every run carries its seed in the failure message (the "replay:" line), so it can be rerun with
// `npx nvme-wasm sim --seed N --fault …`. The driver must end each error in a clear line and a
// clean state: no trap, no hang, no silent data loss, and later commands still work.
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
const tmp = tempDir("nvme-faults-");
afterAll(() => tmp.remove());
let n = 0;
function image(bytes) {
  return writeImage(tmp.path(`img${n++}.raw`), bytes);
}

describe("faults injected by the controller model", () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`media errors now and then are retried: data intact, retries counted (seed ${seed})`, async () => {
      const path = image(noiseBytes(4 * MiB, seed));
      const r = await drive({
        profile: "strict",
        seed,
        faults: { errorRate: 0.1 },
        disks: [path],
        cmd: "fill nvme0n1 0 8192 5; verify nvme0n1 0 8192 5; stats; poweroff",
      });
      expect(r.code, r.why).toBe(0);
      expectClean(r);
      const stats = linesOf(r.output, "stats")[0].fields;
      const injected = r.machine.controllers[0].stats.injected.error;
      expect(injected, r.why).toBeGreaterThan(0);
      expect(Number(stats.retries), r.why).toBe(injected);
      expect(readImage(path).equals(patternBytes(5, 0, 4 * MiB)), r.why).toBe(true);
    });
  }

  it("a medium that always fails: retries give up, the error is in words, other devices still work", async () => {
    const good = noiseBytes(1 * MiB, 9);
    const goodPath = image(good);
    const r = await drive({
      profile: "qemu",
      seed: 6,
      faults: { errorRate: 1 },
      disks: ["mem:1M", `${goodPath},ctrl=1`],
      cmd: "crc nvme0n1 0 8; fill nvme0n1 0 8 1; stats; poweroff",
    });
    expect(r.code, r.why).not.toBe(0);
    expectClean(r);
    expect(errorLines(r.output)).toEqual([
      "error: crc dev=nvme0n1 lba=0 count=8: at lba=0: Unrecovered Read Error (media error sct=2 sc=0x81)",
      "error: fill dev=nvme0n1 lba=0 count=8: at lba=0: Write Fault (media error sct=2 sc=0x80)",
    ]);
    const stats = linesOf(r.output, "stats")[0].fields;
    expect(stats.retries).toBe("6"); // three retries per command, then the error is reported
    expect(r.output).toMatch(/^shutdown ctrl=nvme0 ok/m);
    expect(r.output).toMatch(/^shutdown ctrl=nvme1 ok/m);
  });

  for (const seed of [1, 5, 9]) {
    it(`a dropped command times out, the controller is reset, later commands work (seed ${seed})`, async () => {
      const path = image(noiseBytes(4 * MiB, seed));
      const r = await drive({
        profile: "strict",
        seed,
        faults: { dropRate: 0.05, abortIgnored: 1 },
        disks: [path],
        cmd: "fill nvme0n1 0 8192 3; fill nvme0n1 0 8192 3; fill nvme0n1 0 8192 3; stats; poweroff",
      });
      expectClean(r);
      const drops = r.machine.controllers[0].stats.injected.drop;
      expect(drops, r.why).toBeGreaterThan(0);
      const stats = linesOf(r.output, "stats")[0].fields;
      expect(Number(stats.timeouts), r.why).toBeGreaterThan(0);
      expect(stats.resets, r.why).toBe(stats.timeouts);
      expect(r.output).toMatch(/^nvme0 recovered$/m);
      const errors = errorLines(r.output);
      expect(errors.length, r.why).toBe(Number(stats.timeouts));
      for (const e of errors)
        expect(e, r.why).toMatch(/^error: fill dev=nvme0n1 lba=0 count=8192: at lba=\d+: command timed out$/);
      expect(r.code, r.why).not.toBe(0);
      expect(r.output).toMatch(/^shutdown ctrl=nvme0 ok/m);
    });
  }

  it("a fill that completed is on the medium even when a later command timed out", async () => {
    const path = image(noiseBytes(2 * MiB, 3));
    // Find a seed whose first fill succeeds and a later fill hits a dropped command.
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const r = await drive({
        profile: "strict",
        seed,
        faults: { dropRate: 0.03, abortIgnored: 1 },
        disks: [path],
        cmd: "fill nvme0n1 0 4096 11; fill nvme0n1 0 2048 12; fill nvme0n1 0 2048 12; poweroff",
      });
      expectClean(r);
      const oks = linesOf(r.output, "fill").map((l) => l.fields.seed);
      if (oks[0] !== "11" || errorLines(r.output).length === 0) continue;
      const img = readImage(path);
      const last12 = r.output.lastIndexOf("fill dev=nvme0n1 lba=0 count=2048 seed=12 ok");
      if (last12 > r.output.lastIndexOf("error:")) {
        expect(img.subarray(0, MiB).equals(patternBytes(12, 0, MiB)), r.why).toBe(true);
      }
      expect(img.subarray(MiB, 2 * MiB).equals(patternBytes(11, MiB, MiB)), r.why).toBe(true);
      return;
    }
    throw new Error("no seed in 1..8 produced a drop after a good fill: raise dropRate");
  });

  it("CSTS.CFS (controller fatal): the controller is reset, the commands in flight are sent again, no data is lost", async () => {
    const bytes = noiseBytes(2 * MiB, 4);
    const path = image(bytes);
    const r = await drive({
      profile: "qemu",
      seed: 2,
      faults: { cfsAfter: 8 },
      disks: [path],
      cmd: "crc nvme0n1 0 4096; crc nvme0n1 0 4096; crc nvme0n1 0 4096; crc nvme0n1 0 4096; stats; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expect(r.machine.dmaFaults).toEqual([]);
    expect(r.machine.controllers[0].stats.injected.cfs, r.why).toBe(1);
    expect(errorLines(r.output), r.why).toEqual([]);
    expect(r.output).toMatch(/^nvme0 resetting after: controller fatal status \(CSTS\.CFS\)$/m);
    expect(r.output).toMatch(/^nvme0 recovered$/m);
    expect(linesOf(r.output, "crc").map((l) => l.fields.crc32)).toEqual([
      crcHex(bytes),
      crcHex(bytes),
      crcHex(bytes),
      crcHex(bytes),
    ]);
    const stats = linesOf(r.output, "stats")[0].fields;
    expect(stats.resets).toBe("1");
    expect(Number(stats.retries), r.why).toBeGreaterThan(0);
    expect(r.output).toMatch(/^shutdown ctrl=nvme0 ok/m);
  });

  it("CSTS.CFS again and again: each piece is sent again at most 3 times, then fails in words", async () => {
    const path = image(noiseBytes(2 * MiB, 4));
    const r = await drive({
      profile: "qemu",
      seed: 2,
      faults: { cfsAfter: 0, cfsRepeat: 1 },
      disks: [path],
      cmd: "crc nvme0n1 0 64; stats; poweroff",
    });
    expect(r.code, r.why).not.toBe(0);
    expect(errorLines(r.output)[0], r.why).toMatch(
      /^error: crc dev=nvme0n1 lba=0 count=64: at lba=\d+: controller fatal status \(CSTS\.CFS\)$/,
    );
  });

  it("slow completions (milliseconds) are waited for, not timed out", async () => {
    const path = image(noiseBytes(2 * MiB, 5));
    const r = await drive({
      profile: "strict",
      seed: 3,
      faults: { slowRate: 0.2, slowNs: 50_000_000 },
      disks: [path],
      cmd: "fill nvme0n1 0 4096 2; verify nvme0n1 0 4096 2; stats; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.machine.controllers[0].stats.injected.slow).toBeGreaterThan(0);
    expect(linesOf(r.output, "stats")[0].fields.timeouts).toBe("0");
  });

  it("property: whatever mix of faults, every fill reported ok is on the medium, and the exit code tells", async () => {
    const seed = 424242;
    const path = image(Buffer.alloc(2 * MiB));
    await fc.assert(
      fc.asyncProperty(
        fc.nat(100000),
        fc.constantFrom("qemu", "strict", "legacy", "tiny"),
        fc.double({ min: 0, max: 0.2, noNaN: true }),
        fc.double({ min: 0, max: 0.02, noNaN: true }),
        async (simSeed, profile, errorRate, dropRate) => {
          writeImage(path, Buffer.alloc(2 * MiB));
          const cmds = [0, 1, 2, 3].map((i) => `fill nvme0n1 ${i * 1024} 1024 ${i + 1}`);
          const r = await drive({
            profile,
            seed: simSeed,
            faults: { errorRate, dropRate },
            disks: [path],
            cmd: cmds.join("; ") + "; poweroff",
          });
          expect(r.dmaFaults, r.why).toEqual([]);
          expect(r.violations, r.why).toEqual([]);
          expect(r.output, r.why).not.toMatch(/^trap:/m);
          const img = readImage(path);
          for (const l of linesOf(r.output, "fill")) {
            const i = Number(l.fields.seed) - 1;
            expect(
              img
                .subarray(i * 512 * 1024, (i + 1) * 512 * 1024)
                .equals(patternBytes(i + 1, i * 512 * 1024, 512 * 1024)),
              r.why,
            ).toBe(true);
          }
          expect(r.code === 0, r.why).toBe(errorLines(r.output).length === 0);
        },
      ),
      { seed, numRuns: 30, verbose: true },
    );
  }, 120_000);
});
