// Zeroing and deallocation (OP_WRITE_ZEROES, OP_DEALLOCATE; NVMe 1.4 sections 6.16 and 6.7) against
// the controller model, through the shell and through the driver's exports: the medium afterwards
// holds zeroes exactly in the range and everything else as it was; a range of any length is split
// within the controller's limits (Write Zeroes' 16-bit NLB, a DSM range below 2 GiB), never at MDTS;
// a controller without the ONCS bit, or with a quirk that disables it, is answered ERR_UNSUPPORTED
// with nothing sent; a media error or a reset in the middle completes the request exactly once.
import { describe, it, expect, afterAll } from "vitest";
import { drive, expectClean } from "./helpers.js";
import { driverAlone, OP_READ, OP_WRITE, OP_WRITE_ZEROES, OP_DEALLOCATE, ERR, MiB } from "./component.js";
import { tempDir, writeImage, readImage, noiseBytes, errorLines } from "../lib/disk-images.js";
import { NvmeController } from "../../host/nvme/controller.js";
import { U64 } from "../../host/nvme/common.js";

const tmp = tempDir("nvme-zeroes-");
afterAll(() => tmp.remove());
let n = 0;
const image = (bytes) => writeImage(tmp.path(`img${n++}.raw`), bytes);
const WRITE_ZEROES = 0x08,
  DSM = 0x09;
const BLOCK = 512;
const DSM_RANGE_BLOCKS_MAX = 2 ** 31 / BLOCK - 1; // below 2 GiB: QEMU 7.2's DMRSL for 512-byte blocks

// The model, recording every IO command it executes (retries and resends too), with a DSM
// command's range list as it read it from host memory.
class Recording extends NvmeController {
  _io(rec) {
    const c = rec.cmd;
    const e = { opcode: c.opcode, slba: U64(c.cdw10, c.cdw11), nlb: (c.cdw12 & 0xffff) + 1 };
    if (c.opcode === DSM) {
      const nr = (c.cdw10 & 0xff) + 1;
      const list = Buffer.from(this._dmaRead(c.prp1, nr * 16));
      e.ad = (c.cdw11 >>> 2) & 1;
      e.ranges = Array.from({ length: nr }, (_, i) => [
        list.readBigUInt64LE(i * 16 + 8),
        list.readUInt32LE(i * 16 + 4),
      ]);
    }
    (this.ioLog ??= []).push(e);
    return super._io(rec);
  }
}

// `want` with zeroes over [lba, lba + blocks)
function zeroed(want, lba, blocks) {
  want.fill(0, lba * BLOCK, (lba + blocks) * BLOCK);
  return want;
}

function clean(h) {
  const violations = h.m.controllers.flatMap((c) => c.violations ?? []);
  expectClean({ violations, dmaFaults: h.m.dmaFaults, fatal: [], why: h.why + h.output() });
}

async function started(opts = {}, startOpts = {}) {
  const h = await driverAlone({ model: Recording, ...opts });
  h.start(startOpts);
  h.why = `replay: ${JSON.stringify(opts, (k, v) => (typeof v === "bigint" ? String(v) : k === "disk" ? "(object)" : v))}\n--- output ---\n`;
  return h;
}

const ioOf = (ctrl, opcode) => (ctrl.ioLog ?? []).filter((e) => e.opcode === opcode);

describe("zero and trim through the shell", () => {
  it("zeroes exactly in the ranges, every other byte as it was; one Write Zeroes, one deallocate on the wire", async () => {
    const noise = noiseBytes(4 * MiB, 41);
    const path = image(noise);
    const r = await drive({
      model: Recording,
      disks: [path],
      cmd: "zero nvme0n1 5 3000; trim nvme0n1 4000 77; zero nvme0n1 8191 1; stats; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expect(errorLines(r.output), r.why).toEqual([]);
    expect(r.output).toMatch(/^zero dev=nvme0n1 lba=5 count=3000 ok$/m);
    expect(r.output).toMatch(/^trim dev=nvme0n1 lba=4000 count=77 ok$/m);
    expect(r.output).toMatch(/^zero dev=nvme0n1 lba=8191 count=1 ok$/m);
    const want = zeroed(zeroed(zeroed(Buffer.from(noise), 5, 3000), 4000, 77), 8191, 1);
    expect(readImage(path).equals(want), r.why).toBe(true);
    const ctrl = r.machine.controllers[0];
    expect(ioOf(ctrl, WRITE_ZEROES).map((e) => [e.slba, e.nlb])).toEqual([
      [5n, 3000],
      [8191n, 1],
    ]);
    expect(ioOf(ctrl, DSM).map((e) => [e.ad, e.ranges])).toEqual([[1, [[4000n, 77]]]]);
    expect(ctrl.stats.bytesWritten, "no data moved").toBe(0);
    expectClean(r);
  });

  it("a write-protected namespace: both refused before any IO, in words", async () => {
    const r = await drive({
      disks: ["mem:1M", "mem:1M,ro"],
      cmd: "zero nvme0n2 0 8; trim nvme0n2 0 8; zero nvme0n1 0 1; poweroff",
    });
    expect(errorLines(r.output), r.why).toEqual([
      "error: zero dev=nvme0n2 lba=0 count=8: namespace is write protected (NSATTR)",
      "error: trim dev=nvme0n2 lba=0 count=8: namespace is write protected (NSATTR)",
    ]);
    expect(r.output).toMatch(/^zero dev=nvme0n1 lba=0 count=1 ok$/m);
    expect(r.machine.controllers[0].stats.io["write-zeroes"]).toBe(1);
    expectClean(r);
  });

  it("hostile arguments are refused before any IO, like fill's", async () => {
    const cmds = [
      "zero",
      "zero nvme0n1",
      "zero nvme0n1 0",
      "zero nvme0n1 0 1 2",
      "zero nvme9n1 0 1",
      "zero nvme00n1 0 1",
      "zero nvme0n1 -1 1",
      "zero nvme0n1 0 0",
      "zero nvme0n1 2048 1",
      "zero nvme0n1 2047 2",
      "zero nvme0n1 0x 1",
      "zero nvme0n1 18446744073709551615 18446744073709551615",
      "zero nvme0n1 1 18446744073709551616",
      "trim nvme0n1 0 0",
      "trim nvme0n1 0 4294967297",
      "trim nvme0n1 abc 1",
      "trim nvme0n1 0 1 x",
    ];
    const r = await drive({ model: Recording, disks: ["mem:1M"], cmd: `${cmds.join("; ")}; poweroff` });
    expect(errorLines(r.output).length, r.why).toBe(cmds.length);
    expect(errorLines(r.output).slice(0, 3), r.why).toEqual(Array(3).fill("error: zero: usage: zero DEV LBA COUNT"));
    expect(r.output).toMatch(
      /^error: zero dev=nvme0n1 lba=2047 count=2: range past the end of the namespace \(blocks=2048\)$/m,
    );
    expect(r.output).toMatch(/^error: trim dev=nvme0n1 lba=0 count=0: COUNT must be at least 1$/m);
    expect(
      (r.machine.controllers[0].ioLog ?? []).filter((e) => e.opcode !== 0),
      "only poweroff's flush",
    ).toEqual([]);
    expect(r.code).toBe(1);
    expectClean(r);
  });

  it("no Write Zeroes or DSM in ONCS: zero writes zero-filled buffers (method=write), trim is an error line", async () => {
    const noise = noiseBytes(4 * MiB, 42);
    const path = image(noise);
    const r = await drive({
      model: Recording,
      overrides: { writeZeroes: false, dsm: false },
      disks: [path],
      cmd: "zero nvme0n1 3 5000; trim nvme0n1 6000 10; poweroff",
    });
    expect(r.output, r.why).toMatch(/^zero dev=nvme0n1 lba=3 count=5000 ok method=write$/m);
    expect(errorLines(r.output), r.why).toEqual([
      "error: trim dev=nvme0n1 lba=6000 count=10: the controller does not offer this operation (ONCS, or disabled by a quirk)",
    ]);
    expect(r.code).toBe(1);
    expect(readImage(path).equals(zeroed(Buffer.from(noise), 3, 5000)), r.why).toBe(true);
    const ctrl = r.machine.controllers[0];
    expect(ioOf(ctrl, WRITE_ZEROES)).toEqual([]);
    expect(ioOf(ctrl, DSM)).toEqual([]);
    expect(ctrl.stats.bytesWritten).toBe(5000 * BLOCK);
    expectClean(r);
  });
});

describe("splitting a range within the controller's limits", () => {
  it("Write Zeroes: 65,536 blocks a command (NLB is 16 bits), not MDTS (no data moves); the medium zeroed exactly", async () => {
    const noise = noiseBytes(80 * MiB, 43); // 163,840 blocks
    const path = image(noise);
    const r = await drive({ model: Recording, disks: [path], cmd: "zero nvme0n1 7 150000; poweroff" });
    expect(r.output, r.why).toMatch(/^zero dev=nvme0n1 lba=7 count=150000 ok$/m);
    expect(r.code, r.why).toBe(0);
    const ctrl = r.machine.controllers[0];
    expect(ctrl.p.mdts, "MDTS 512 KiB: 1,024 blocks").toBe(7);
    expect(ioOf(ctrl, WRITE_ZEROES).map((e) => [e.slba, e.nlb])).toEqual([
      [7n, 65536],
      [65543n, 65536],
      [131079n, 18928],
    ]);
    expect(readImage(path).equals(zeroed(Buffer.from(noise), 7, 150000)), r.why).toBe(true);
    expectClean(r);
  });

  it("deallocate: one range per command, each below 2 GiB (QEMU's DMRSL); 32-bit lengths in the range list", async () => {
    // 3 GiB that stores nothing: the model only checks ranges (deallocate=ignore leaves the medium)
    const sparse = {
      name: "sparse",
      size: 3n << 30n,
      read: (o, len) => new Uint8Array(len),
      write() {},
      flush() {},
      close() {},
    };
    const h = await started({ disks: [{ disk: sparse, lbaBytes: BLOCK }], overrides: { deallocate: "ignore" } });
    expect(h.submit(1, OP_DEALLOCATE, 0, 3, 5_000_000, 0)).toBe(0);
    h.pump();
    expect(h.done.map((d) => [d.tag, d.status])).toEqual([[1n, 0]]);
    const dsm = ioOf(h.model(), DSM);
    expect(dsm.map((e) => [e.ad, e.ranges])).toEqual([
      [1, [[3n, DSM_RANGE_BLOCKS_MAX]]],
      [1, [[3n + BigInt(DSM_RANGE_BLOCKS_MAX), 5_000_000 - DSM_RANGE_BLOCKS_MAX]]],
    ]);
    expect(h.model().stats.blocksDeallocated).toBe(5_000_000);
    clean(h);
  });

  it("every deallocation's range list holds a PRP list pool page until it completes: 64 at once, none kept", async () => {
    // Without SGLs (which need no list page) a large read takes a PRP list page from the same pool.
    const h = await started({
      disks: ["mem:1M"],
      overrides: { sgl: false },
      faults: { slowRate: 1, slowNs: 1_000_000 },
    });
    const burst = (base) => {
      let accepted = 0;
      for (let t = 0; t < 100; t++) {
        const s = h.submit(base + t, OP_DEALLOCATE, 0, t, 1, 0);
        if (s === ERR.BUSY) break;
        expect(s).toBe(0);
        accepted++;
      }
      return accepted;
    };
    expect(burst(0), "the pool's 64 pages").toBe(64);
    expect(h.submit(500, OP_READ, 0, 0, 1000, 0), "a read that needs a PRP list waits too").toBe(ERR.BUSY);
    h.pump();
    expect(burst(1000), "all given back").toBe(64);
    h.pump();
    expect(h.done.length).toBe(128);
    expect(h.done.every((d) => d.status === 0)).toBe(true);
    clean(h);
  });
});

describe("what the controller does not offer: ERR_UNSUPPORTED, nothing sent", () => {
  it("ONCS without bit 3 or bit 2 (and argument errors come first; the buffer is ignored)", async () => {
    const h = await started({ disks: ["mem:1M"], overrides: { writeZeroes: false, dsm: false } });
    expect(h.controller(0).oncs & 0b1100).toBe(0);
    const before = h.model().stats.commands;
    expect(h.submit(1, OP_WRITE_ZEROES, 0, 0, 8, 0)).toBe(ERR.UNSUPPORTED);
    expect(h.submit(2, OP_DEALLOCATE, 0, 0, 8, 0)).toBe(ERR.UNSUPPORTED);
    expect(h.submit(3, OP_WRITE_ZEROES, 0, 2048, 1, 0)).toBe(ERR.RANGE);
    expect(h.submit(4, OP_DEALLOCATE, 0, 0, 0, 0)).toBe(ERR.RANGE);
    expect(h.submit(5, OP_WRITE_ZEROES, 7, 0, 1, 0)).toBe(ERR.NO_NAMESPACE);
    h.pump(() => true);
    h.d.poll();
    expect(h.model().stats.commands).toBe(before);
    expect(h.done).toEqual([]);
    const w = await started({ disks: ["mem:1M"] });
    expect(w.submit(1, OP_WRITE_ZEROES, 0, 0, 8, 3), "a misaligned buffer is not looked at").toBe(0);
    expect(w.submit(2, OP_DEALLOCATE, 0, 8, 8, -w.base - 4096), "nor one outside the buffer memory").toBe(0);
    w.pump();
    expect(w.done.map((d) => d.status)).toEqual([0, 0]);
    clean(h);
    clean(w);
  });

  // Linux's nvme_id_table: every id it marks NVME_QUIRK_DISABLE_WRITE_ZEROES (drivers/nvme/host/pci.c)
  const LINUX_DISABLE_WRITE_ZEROES = [
    [0x8086, 0xf1a5],
    [0x8086, 0x5845],
    [0x144d, 0xa822],
    [0x1987, 0x5019],
    [0x1987, 0x5021],
    [0x1c5c, 0x1504],
    [0x1c5c, 0x1d59],
    [0x15b7, 0x2001],
    [0x1d97, 0x2263],
    [0x144d, 0xa80b],
    [0x144d, 0xa809],
    [0x1cc4, 0x6303],
    [0x1cc4, 0x6302],
    [0x2646, 0x5018],
    [0x2646, 0x5016],
    [0x2646, 0x501a],
    [0x2646, 0x501b],
    [0x2646, 0x501e],
  ];
  it("Linux's DISABLE_WRITE_ZEROES ids: Write Zeroes refused though ONCS offers it, deallocation still goes; other ids zero", async () => {
    for (const [vid, did] of [...LINUX_DISABLE_WRITE_ZEROES, [0x1c5c, 0x174a], [0x144d, 0xa821]]) {
      const h = await started({ disks: ["mem:1M"], overrides: { vid, did } });
      const id = `${vid.toString(16)}:${did.toString(16)}`;
      expect(h.controller(0).oncs & 0b1100, id).toBe(0b1100);
      const listed = LINUX_DISABLE_WRITE_ZEROES.some(([v, d]) => v === vid && d === did);
      expect(h.submit(1, OP_WRITE_ZEROES, 0, 0, 8, 0), id).toBe(listed ? ERR.UNSUPPORTED : 0);
      expect(h.submit(2, OP_DEALLOCATE, 0, 8, 8, 0), id).toBe(0);
      h.pump();
      expect(ioOf(h.model(), WRITE_ZEROES).length, id).toBe(listed ? 0 : 1);
      clean(h);
    }
  });

  it("a read-only namespace: ERR_READ_ONLY for both", async () => {
    const h = await started({ disks: ["mem:1M", "mem:1M,ro"] });
    expect(h.submit(1, OP_WRITE_ZEROES, 1, 0, 1, 0)).toBe(ERR.READ_ONLY);
    expect(h.submit(2, OP_DEALLOCATE, 1, 0, 1, 0)).toBe(ERR.READ_ONLY);
    expect(ioOf(h.model(), WRITE_ZEROES).length + ioOf(h.model(), DSM).length).toBe(0);
    clean(h);
  });
});

describe("failures in the middle complete the request exactly once", () => {
  const MEDIUM = 160_000; // blocks: 3 Write Zeroes of a 140,000-block request

  it("media errors: retried (DNR clear); past the retries the request fails once, at the failed piece", async () => {
    // every command fails: each of the 3 pieces is sent 4 times... until the first failure stops the rest
    const h = await started({ disks: [`mem:${MEDIUM * BLOCK}`], faults: { errorRate: 1 } });
    expect(h.submit(1, OP_WRITE_ZEROES, 0, 1000, 140_000, 0)).toBe(0);
    expect(h.submit(2, OP_DEALLOCATE, 0, 150_000, 10, 0)).toBe(0);
    h.pump();
    const done = h.completions();
    expect(done.size).toBe(2);
    expect(done.get(1n)).toMatchObject({ status: 0x280, lba: 1000n }); // Write Fault (media sct=2 sc=0x80)
    expect(done.get(2n)).toMatchObject({ status: 0x280, lba: 150_000n });
    expect(h.stats(0).retries).toBeGreaterThanOrEqual(3n);
    clean(h);
  });

  it("some media errors: the retries succeed, the range reads as zeroes", async () => {
    const h = await started({ disks: [`mem:${MEDIUM * BLOCK}`], faults: { errorRate: 0.3 }, seed: 5 });
    h.disk().write(0n, noiseBytes(MEDIUM * BLOCK, 44));
    const want = zeroed(Buffer.from(h.disk().read(0n, MEDIUM * BLOCK)), 1000, 140_000);
    for (let tag = 0; tag < 4; tag++) {
      expect(h.submit(tag, OP_WRITE_ZEROES, 0, 1000, 140_000, 0)).toBe(0);
      h.pump();
    }
    const done = h.completions();
    expect(done.size).toBe(4);
    expect(h.model().stats.injected.error, "errors were injected").toBeGreaterThan(0);
    const ok = [...done.values()].filter((d) => d.status === 0);
    expect(ok.length, "at least one request got through its retries").toBeGreaterThan(0);
    expect(Buffer.from(h.disk().read(0n, MEDIUM * BLOCK)).equals(want)).toBe(true);
    clean(h);
  });

  it("a dropped command: timeout, reset; the request with it fails once (ERR_TIMEOUT at its piece), the others resent", async () => {
    const h = await started({ disks: [`mem:${MEDIUM * BLOCK}`], faults: { dropAfter: 1, abortIgnored: 1 } });
    h.disk().write(0n, noiseBytes(MEDIUM * BLOCK, 45));
    const before = Buffer.from(h.disk().read(0n, MEDIUM * BLOCK));
    expect(h.submit(1, OP_WRITE_ZEROES, 0, 1000, 140_000, 0)).toBe(0); // pieces at 1000, 66536 (dropped), 132072
    expect(h.submit(2, OP_DEALLOCATE, 0, 150_000, 100, 0)).toBe(0);
    expect(h.submit(3, OP_WRITE_ZEROES, 0, 155_000, 16, 0)).toBe(0);
    h.pump();
    const done = h.completions();
    expect(done.size).toBe(3);
    expect(done.get(1n)).toMatchObject({ status: ERR.TIMEOUT, lba: 66_536n });
    expect(done.get(2n).status).toBe(0);
    expect(done.get(3n).status).toBe(0);
    expect(h.stats(0).resets).toBe(1n);
    // the other requests and the failed one's other pieces hold zeroes; the dropped piece never ran
    const want = zeroed(zeroed(Buffer.from(before), 150_000, 100), 155_000, 16);
    zeroed(want, 1000, 65_536);
    zeroed(want, 132_072, 140_000 - 2 * 65_536);
    expect(Buffer.from(h.disk().read(0n, MEDIUM * BLOCK)).equals(want)).toBe(true);
    // after the reset the pool is whole again: 64 deallocations at once
    let accepted = 0;
    for (let t = 0; t < 64; t++) if (h.submit(100 + t, OP_DEALLOCATE, 0, t, 1, 0) === 0) accepted++;
    expect(accepted).toBe(64);
    h.pump();
    expect(h.completions().size).toBe(67);
    clean(h);
  });

  it("writes, zeroes and deallocations interleaved with faults: every tag once, the medium as the successes left it", async () => {
    const BLOCKS = 4096;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const h = await started({ disks: ["mem:2M"], seed, faults: { errorRate: 0.05, dropRate: 0.01 } });
      h.disk().write(0n, noiseBytes(BLOCKS * BLOCK, seed));
      const expected = Buffer.from(h.disk().read(0n, BLOCKS * BLOCK));
      const unknown = new Uint8Array(BLOCKS);
      const reqs = new Map();
      let x = seed * 7919;
      const rnd = (m) => {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        return x % m;
      };
      for (let t = 0; t < 48; t++) {
        const op = [OP_WRITE, OP_WRITE_ZEROES, OP_DEALLOCATE][rnd(3)];
        const blocks = 1 + rnd(256);
        const lba = 256 * (t % 16) + rnd(256 - blocks + 1); // a round of 16 never overlaps itself
        const off = (t % 16) * 128 * 1024;
        const data = op === OP_WRITE ? noiseBytes(blocks * BLOCK, seed * 100 + t) : null;
        if (data) h.mem().set(data, h.base + off);
        let s = h.submit(t, op, 0, lba, blocks, off);
        for (let spins = 0; s === ERR.BUSY && spins < 1_000_000; spins++) {
          h.pump(() => true);
          h.d.poll();
          h.m.relaxStepAdvance();
          h.d.tick();
          s = h.submit(t, op, 0, lba, blocks, off);
        }
        expect(s, h.why).toBe(0);
        reqs.set(BigInt(t), { op, lba, blocks, data });
        if (t % 16 === 15) h.pump(); // rounds in order; the buffer slices are reused
      }
      h.pump();
      const done = h.completions();
      expect(done.size, `seed ${seed}`).toBe(48);
      for (const [tag, r] of reqs) {
        if (done.get(tag).status !== 0) {
          unknown.fill(1, r.lba, r.lba + r.blocks);
          continue;
        }
        unknown.fill(0, r.lba, r.lba + r.blocks);
        if (r.data) r.data.copy(expected, r.lba * BLOCK);
        else zeroed(expected, r.lba, r.blocks);
      }
      const medium = Buffer.from(h.disk().read(0n, BLOCKS * BLOCK));
      for (let b = 0; b < BLOCKS; b++) {
        if (unknown[b]) continue;
        expect(
          medium.subarray(b * BLOCK, (b + 1) * BLOCK).equals(expected.subarray(b * BLOCK, (b + 1) * BLOCK)),
          `seed ${seed} block ${b}`,
        ).toBe(true);
      }
      clean(h);
    }
  }, 120_000);
});
