// Several IO queue pairs on QEMU 7.2's emulated NVMe controller (build/kernel.elf): QEMU grants 64
// pairs (max_ioqpairs) whatever is asked and has 65 MSI-X entries (msix_qsize), so `queues=N` gives
// N pairs, IO CQ k on MSI-X vector k, each vector a host line of its own. The trace shows the
// MSI-X table entries programmed, the Create I/O CQ commands with their vectors, the reaps; the image
// file, read after QEMU exits, shows the data. The bare-metal host links one client (the shell),
// whose requests all go to pair 1: the other pairs are created and armed, and used by a second
// client once a host links one (test/driver/queues.test.js drives several clients under Node, and
// checks there that each IO line fires: here, whether an interrupt or the shell's first poll finds
// a completion is QEMU's timing, so no interrupt is asserted).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync } from "node:fs";
import { bootQemu, hasQemu, KERNEL } from "./helpers.js";
import { tempDir, writeImage, readImage, patternBytes } from "../lib/disk-images.js";

const enabled = hasQemu() || !!process.env.CI;
const MiB = 1 << 20;
const BLOCK = 512;

function explain(r) {
  return `QEMU exit ${r.code} after ${r.ms} ms\nargs: ${r.args.join(" ")}\n--- output ---\n${r.output}`;
}

describe.skipIf(!enabled)("several IO queue pairs in QEMU", () => {
  let tmp;
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    tmp = tempDir("nvme-qemu-queues-");
  });
  afterAll(() => tmp?.remove());

  for (const queues of [4, 8]) {
    it(`queues=${queues}: ${queues} pairs, CQ k on MSI-X vector k (entry k programmed with line k's message), the data right`, async () => {
      const path = writeImage(tmp.path(`q${queues}.img`), Buffer.alloc(16 * MiB));
      const r = await bootQemu({
        disks: [{ path }],
        cmd: `queues=${queues}; trace=regs,cmds,irq; fill nvme0n1 64 2048 3; verify nvme0n1 64 2048 3; poweroff`,
      });
      expect(r.code, explain(r)).toBe(0);
      expect(r.lines, explain(r)).toContain(
        `nvme0 queues granted=64 io_entries=256 irq=msix io_queues=${queues} vectors=${queues + 1}`,
      );
      const creates = r.lines.filter((l) => / Create I\/O Completion Queue qid=/.test(l) && l.startsWith("cmd "));
      expect(
        creates.map((l) =>
          l
            .match(/qid=(\d+) .* iv=(\d+) ien=1/)
            ?.slice(1)
            .map(Number),
        ),
        explain(r),
      ).toEqual(Array.from({ length: queues }, (_, k) => [k + 1, k + 1]));
      expect(
        r.lines.filter((l) => / Create I\/O Completion Queue: Successful Completion/.test(l)).length,
        explain(r),
      ).toBe(queues);
      // MSI-X entry k programmed with the host's message for its own line (data 0x40 + line) and
      // unmasked: entry 0 for the admin CQ, 1..N for the IO CQs
      for (let k = 0; k <= queues; k++) {
        const data = `0x000000${(0x40 + k).toString(16)}`;
        expect(r.lines, `${explain(r)}\nentry ${k}`).toContain(`mmio 00:03.0 write MSI-X entry ${k} data = ${data}`);
        expect(r.lines, `${explain(r)}\nentry ${k}`).toContain(
          `mmio 00:03.0 write MSI-X entry ${k} vector control = 0x00000000 (unmasked)`,
        );
      }
      expect(
        r.lines.some((l) => l.includes(`MSI-X entry ${queues + 1} `)),
        explain(r),
      ).toBe(false);
      expect(
        r.lines.filter((l) => /^reap nvme0 CQ(\d+)/.test(l)).every((l) => l.startsWith("reap nvme0 CQ1 ")),
        explain(r),
      ).toBe(true);
      expect(r.lines, explain(r)).toContain("verify dev=nvme0n1 lba=64 count=2048 seed=3 ok");
      const image = readImage(path);
      expect(
        image.subarray(64 * BLOCK, (64 + 2048) * BLOCK).equals(patternBytes(3, 64 * BLOCK, 2048 * BLOCK)),
        explain(r),
      ).toBe(true);
      // shutdown deletes every pair: SQ then CQ, qid 1..N
      const deletes = r.lines
        .filter((l) => /^cmd nvme0 SQ0 .* Delete I\/O (Submission|Completion) Queue/.test(l))
        .map((l) =>
          l
            .match(/Delete I\/O (\w+) Queue qid=(\d+)/)
            ?.slice(1)
            .join(" "),
        );
      expect(deletes, explain(r)).toEqual(
        Array.from({ length: queues }, (_, k) => [`Submission ${k + 1}`, `Completion ${k + 1}`]).flat(),
      );
    }, 180_000);
  }
});
