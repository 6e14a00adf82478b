// Several IO queue pairs on QEMU 7.2's emulated NVMe controller (build/kernel.elf): QEMU grants 64
// pairs (max_ioqpairs) whatever is asked and has 65 MSI-X entries (msix_qsize), so `queues=N` gives
// N pairs, IO CQ k on MSI-X vector k, each vector a host line of its own. The trace shows the
// MSI-X table entries programmed, the Create I/O CQ commands with their vectors, the reaps; the image
// file, read after QEMU exits, shows the data. The bare-metal host links two clients, the shell
// (client 0: pair 1) and fs.wasm (client 1: pair 2), and asks for a pair each by default; with more
// pairs the others are created and armed (test/driver/queues.test.js drives more clients under
// Node, and checks there that each IO line fires: here, whether an interrupt or a client's first
// poll finds a completion is QEMU's timing, so no interrupt is asserted).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync } from "node:fs";
import { bootQemu, hasQemu, KERNEL } from "./helpers.js";
import { tempDir, writeImage, readImage, patternBytes, crcHex } from "../lib/disk-images.js";
import { hasTools, gptImage } from "../lib/fat-images.js";

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

  it("by default a pair per client module: fs.wasm's reads on SQ2, the shell's on SQ1, each CQ on its own MSI-X vector", async () => {
    if (!hasTools()) throw new Error("sgdisk, sfdisk, mkfs.fat and mtools are needed (scripts/deps.sh installs them)");
    const { img, parts } = gptImage(tmp.dir);
    const r = await bootQemu({
      disks: [{ path: img }],
      cmd: "trace=cmds; ls nvme0n1p1 /readme.txt; crc nvme0n1 0 8; poweroff",
    });
    expect(r.code, explain(r)).toBe(0);
    expect(r.lines, explain(r)).toContain("nvme0 queues granted=64 io_entries=256 irq=msix io_queues=2 vectors=3");
    const creates = r.lines
      .filter((l) => /^cmd nvme0 SQ0 .* Create I\/O Completion Queue qid=/.test(l))
      .map((l) =>
        l
          .match(/qid=(\d+) .* iv=(\d+) /)
          ?.slice(1)
          .map(Number),
      );
    expect(creates, explain(r)).toEqual([
      [1, 1],
      [2, 2],
    ]);
    const reads = r.lines.filter((l) => /^cmd nvme0 SQ[1-9] cid=\d+ Read /.test(l));
    const onSq = (q) => reads.filter((l) => l.startsWith(`cmd nvme0 SQ${q} `));
    // fs.wasm read the GPT (LBA 0 on) and the FAT volume of p1 (from its start); the shell, LBA 0..7
    expect(onSq(2).length, explain(r)).toBeGreaterThan(2);
    expect(
      onSq(2).some((l) => / slba=0 /.test(l)) && onSq(2).some((l) => new RegExp(` slba=${parts[0].start} `).test(l)),
      explain(r),
    ).toBe(true);
    expect(onSq(1), explain(r)).toHaveLength(1);
    expect(onSq(1)[0], explain(r)).toMatch(/ slba=0 nlb=8 /);
    expect(reads.length, explain(r)).toBe(onSq(1).length + onSq(2).length);
    expect(r.lines, explain(r)).toContain("file path=/readme.txt bytes=25");
    expect(r.lines, explain(r)).toContain(
      `crc dev=nvme0n1 lba=0 count=8 crc32=${crcHex(readImage(img).subarray(0, 8 * BLOCK))}`,
    );
  }, 180_000);
});
