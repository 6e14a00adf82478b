// The driver as a component: nvme.wasm alone, driven through its exports (start, submit, poll,
// interrupt, tick, describe, stats, shutdown) against the controller model, as a kernel would host it.
// Every failure message carries the seed (`replay:`), and every run must leave the model without a
// host violation or a DMA fault.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { driverAlone, OP_READ, OP_WRITE, OP_FLUSH, OP_FLAG_MORE, ERR, MiB } from "./component.js";
import { expectClean } from "./helpers.js";
import { NvmeController } from "../../host/nvme/controller.js";

const noise = (bytes, seed) => {
  const out = Buffer.alloc(bytes);
  let x = BigInt(seed) | 1n;
  for (let i = 0; i < bytes; i += 8) {
    x ^= x << 13n;
    x &= (1n << 64n) - 1n;
    x ^= x >> 7n;
    x ^= x << 17n;
    x &= (1n << 64n) - 1n;
    out.writeBigUInt64LE(x, i);
  }
  return out;
};

// A machine with one memory disk filled with noise (or `disks` as given); the driver started.
async function started(opts = {}, startOpts = {}) {
  const h = await driverAlone({ disks: ["mem:4M"], ...opts });
  const found = h.start(startOpts);
  h.why = `replay: ${JSON.stringify({ ...opts, start: startOpts })}\n--- output ---\n${h.output()}`;
  if (found > 0 && !opts.keepDisk) h.disk().write(0n, noise(Number(h.disk().size), opts.seed ?? 1));
  return h;
}

function clean(h) {
  const violations = h.m.controllers.flatMap((c) => c.violations ?? []);
  expectClean({ violations, dmaFaults: h.m.dmaFaults, fatal: [], why: h.why + h.output() });
}

describe("the driver alone, through its exports", () => {
  it("start describes what it found: controllers, namespaces, limits, Identify data", async () => {
    const h = await started({ profile: "strict", disks: ["mem:2M", "mem:1M,lba=4096"] });
    expect(h.d.controller_count()).toBe(1);
    expect(h.d.namespace_count()).toBe(2);
    const c = h.controller(0);
    expect(c).toMatchObject({
      index: 0,
      bdf: 4 << 3,
      state: 3,
      stage: 7,
      dstrd: 2,
      mqes: 31,
      mdtsBytes: 131072n,
      maxTransfer: 131072,
      namespaces: 2,
    });
    expect(c.vid).toBe(h.model().profile?.vid ?? c.vid);
    expect(c.flags & 1).toBe(1);
    expect(c.model.length).toBeGreaterThan(0);
    expect(h.namespace(0)).toMatchObject({ ctrl: 0, nsid: 1, blocks: 4096n, lbaShift: 9, refused: 0, readonly: 0 });
    expect(h.namespace(1)).toMatchObject({ ctrl: 0, nsid: 2, blocks: 256n, lbaShift: 12, refused: 0 });
    expect(h.namespace(2)).toBe(null);
    expect(h.controller(1)).toBe(null);
    const id = h.d.identify_data(0) >>> 0;
    expect(Buffer.from(h.m.memory.buffer, id, 2).readUInt16LE(0)).toBe(c.vid); // Identify Controller VID
    expect(h.d.start(0, 7, 1, MiB)).toBe(-1); // once only
    clean(h);
  });

  it("log=0 (LOG_ERRORS): the driver prints only error lines; start refuses options out of range", async () => {
    const quiet = await started({}, { log: 0 });
    expect(quiet.output()).toBe("");
    expect(quiet.controller(0).state).toBe(3);
    class HugeStride extends NvmeController {
      mmioRead32(bar, off) {
        const v = super.mmioRead32(bar, off);
        return bar === 0 && off === 4 ? ((v & ~0xf) | 0xf) >>> 0 : v; // CAP.DSTRD = 15
      }
    }
    const failing = await started({ model: HugeStride }, { log: 0 });
    expect(failing.output().trim().split("\n")).toEqual(["error: nvme0: CAP.DSTRD puts the doorbells outside BAR0"]);
    const h = await driverAlone({ disks: ["mem:1M"] });
    expect(h.d.start(5, 7, 1, MiB)).toBe(-2); // irq (4 is MSI)
    expect(h.d.start(0, 0, 1, MiB)).toBe(-2); // stage
    expect(h.d.start(0, 8, 1, MiB)).toBe(-2);
    expect(h.d.start(0, 7, 2, MiB)).toBe(-2); // log
    expect(h.d.start(0, 7, 1, 64 * MiB)).toBe(-3); // more buffer than the window has
    expect(h.output()).toMatch(/error: not enough DMA memory for the IO buffer/);
  });

  it("submit never waits: no relax or irq_wait inside it, even with the queue full", async () => {
    const h = await started({ profile: "tiny" });
    let accepted = 0;
    for (let tag = 0; tag < 10; tag++) {
      const waits = h.waitsDuring(() => {
        if (h.submit(tag, OP_READ, 0, tag * 16, 16, tag * 8192) === 0) accepted++;
      });
      expect(waits, h.why).toBe(0);
    }
    expect(accepted).toBe(3); // a 4-entry queue holds 3 commands
    h.pump();
    expect(h.completions().size).toBe(3);
    clean(h);
  });

  it("busy when full, accepted again after completions; every tag completes exactly once", async () => {
    const h = await started({ profile: "tiny", seed: 3 });
    const image = Buffer.from(h.disk().read(0n, Number(h.disk().size)));
    let tag = 0;
    const want = new Map();
    for (let round = 0; round < 40; round++) {
      // fill the queue: the next submit must be busy
      for (;;) {
        const lba = (tag * 37) % 8000;
        const status = h.submit(tag, OP_READ, 0, lba, 8, (tag % 16) * 4096);
        if (status === ERR.BUSY) break;
        expect(status, h.why).toBe(0);
        want.set(BigInt(tag), { lba, off: (tag % 16) * 4096 });
        tag++;
      }
      const before = h.done.length;
      h.pump(() => h.done.length > before);
      // the data of each finished read is in its buffer slice
      for (const c of h.done.slice(before)) {
        const w = want.get(c.tag);
        expect(c.status, h.why).toBe(0);
        const got = Buffer.from(h.mem().subarray(h.base + w.off, h.base + w.off + 4096));
        expect(got.equals(image.subarray(w.lba * 512, w.lba * 512 + 4096)), `${h.why} tag ${c.tag}`).toBe(true);
      }
    }
    h.pump();
    const byTag = h.completions();
    expect(byTag.size).toBe(tag);
    for (let t = 0; t < tag; t++) expect(byTag.has(BigInt(t))).toBe(true);
    clean(h);
  });

  it("a transfer larger than MDTS is split inside the driver and completes as one request", async () => {
    const h = await started({ profile: "strict", disks: ["mem:8M"] });
    const before = h.model().stats.io.read ?? 0;
    expect(h.submit(7, OP_READ, 0, 100, 2048, 0)).toBe(0); // 1 MiB, MDTS 128 KiB
    h.pump();
    expect(h.done).toEqual([{ tag: 7n, status: 0, lba: 0n }]);
    expect((h.model().stats.io.read ?? 0) - before).toBe(8);
    const image = Buffer.from(h.disk().read(100n * 512n, MiB));
    expect(Buffer.from(h.mem().subarray(h.base, h.base + MiB)).equals(image)).toBe(true);
    // more blocks than the whole queue can hold at once: the rest goes as completions free ids
    const t = await started({ profile: "tiny", disks: ["mem:4M"] });
    expect(t.submit(1, OP_READ, 0, 0, 4096, 0)).toBe(0); // 2 MiB through 8 KiB commands, 3 at a time
    expect(t.submit(2, OP_READ, 0, 0, 1, 0)).toBe(ERR.BUSY); // the backlog goes first
    t.pump();
    expect(t.done.map((d) => [d.tag, d.status])).toEqual([[1n, 0]]);
    expect(t.model().stats.io.read).toBe(256);
    clean(h);
    clean(t);
  });

  it("argument errors are answered at once, with no command sent and nothing completed", async () => {
    const h = await started({ disks: ["mem:1M", "mem:1M,ro"] });
    const commands = () => h.model().stats.commands;
    const n = commands();
    const cases = [
      [[1, OP_READ, 9, 0, 1, 0], ERR.NO_NAMESPACE],
      [[1, OP_READ, 0, 2048, 1, 0], ERR.RANGE],
      [[1, OP_READ, 0, 2047, 2, 0], ERR.RANGE],
      [[1, OP_READ, 0, 0, 0, 0], ERR.RANGE],
      [[1, OP_READ, 0, 0xffff_ffff_ffffn, 1, 0], ERR.RANGE],
      [[1, OP_WRITE, 1, 0, 1, 0], ERR.READ_ONLY],
      [[1, OP_READ, 0, 0, 1, 8 * MiB - 256], ERR.BAD_BUFFER],
      [[1, OP_READ, 0, 0, 1, 2], ERR.BAD_BUFFER],
      [[1, OP_READ, 0, 0, 1, -h.base - 4096], ERR.BAD_BUFFER],
      [[1, 0, 0, 0, 1, 0], ERR.BAD_OP],
      [[1, 6, 0, 0, 1, 0], ERR.RANGE], // OP_LOG_PAGE of 1 byte: not whole dwords (log-pages.test.js)
      [[1, 7, 0, 0, 1, 0], ERR.BAD_OP], // the first op past OP_LOG_PAGE
      [[1, OP_READ | 0x200, 0, 0, 1, 0], ERR.BAD_OP],
    ];
    for (const [args, code] of cases)
      expect(h.submit(...args), `${JSON.stringify(args, (k, v) => (typeof v === "bigint" ? String(v) : v))}`).toBe(
        code,
      );
    h.pump(() => true);
    h.d.poll();
    expect(commands()).toBe(n);
    expect(h.done).toEqual([]);
    // a controller whose bring-up stopped early takes no request
    const s = await started({ disks: ["mem:1M"] }, { stage: 3 });
    expect(s.controller(0).state).toBe(2);
    expect(s.submit(1, OP_READ, 0, 0, 1, 0)).toBe(ERR.NOT_READY);
    clean(h);
  });

  it("OP_FLAG_MORE leaves the doorbell to the last submit or the next poll: one MMIO write for a batch", async () => {
    const h = await started({});
    const doorbells = () => h.model().stats.doorbells;
    const d0 = doorbells();
    for (let t = 0; t < 8; t++) expect(h.submit(t, OP_READ | OP_FLAG_MORE, 0, t * 8, 8, t * 4096)).toBe(0);
    expect(doorbells()).toBe(d0);
    h.d.poll();
    expect(doorbells()).toBe(d0 + 1);
    h.pump();
    expect(h.completions().size).toBe(8);
    clean(h);
  });

  it("a reset with requests outstanding: dropped commands time out, every other request completes with its data", async () => {
    for (const seed of [1, 2, 3]) {
      const h = await started({ profile: "qemu", seed, faults: { dropRate: 0.05, abortIgnored: 1 } }, { irq: 3 });
      const image = Buffer.from(h.disk().read(0n, 4 * MiB));
      for (let t = 0; t < 64; t++) expect(h.submit(t, OP_READ, 0, t * 64, 64, t * 32768), h.why).toBe(0);
      h.pump();
      const byTag = h.completions();
      expect(byTag.size, h.why).toBe(64);
      const failed = [...byTag.values()].filter((c) => c.status !== 0);
      expect(failed.length, h.why).toBe(h.model().stats.injected.drop);
      for (const c of failed) expect(c.status, h.why).toBe(ERR.TIMEOUT);
      for (const c of byTag.values()) {
        if (c.status !== 0) continue;
        const t = Number(c.tag);
        const got = Buffer.from(h.mem().subarray(h.base + t * 32768, h.base + (t + 1) * 32768));
        expect(got.equals(image.subarray(t * 32768, (t + 1) * 32768)), `${h.why} tag ${t}`).toBe(true);
      }
      const s = h.stats(0);
      expect(s.resets, h.why).toBeGreaterThan(0n);
      expect(h.output()).toMatch(/nvme0 recovered/);
      // and the controller works afterwards
      expect(h.submit(100, OP_READ, 0, 0, 8, 0)).toBe(0);
      h.pump();
      clean(h);
    }
  });

  it("calling the driver from inside request_done is refused with a clear trap", async () => {
    const h = await started({});
    h.onDone = () => {
      h.d.submit(9n, OP_READ, 0, 0n, 1, h.base);
    };
    expect(h.submit(1, OP_READ, 0, 0, 1, 0)).toBe(0);
    expect(() => h.pump()).toThrow(/the driver was called again from inside request_done/);
  });

  it("shutdown lets outstanding requests finish, flushes the write cache, and delivers every completion", async () => {
    const h = await started({});
    h.mem().fill(0xab, h.base, h.base + MiB);
    for (let t = 0; t < 16; t++) expect(h.submit(t, OP_WRITE, 0, t * 128, 128, t * 65536)).toBe(0);
    const flushes = h.model().stats.io.flush ?? 0;
    expect(h.d.shutdown()).toBe(0);
    expect(h.completions().size).toBe(16);
    expect((h.model().stats.io.flush ?? 0) - flushes).toBe(1);
    expect(Buffer.from(h.disk().read(0n, MiB)).every((b) => b === 0xab)).toBe(true);
    expect(h.controller(0).state).toBe(4);
    expect(h.submit(99, OP_READ, 0, 0, 1, 0)).toBe(ERR.NOT_READY);
    expect(h.output()).toMatch(/^shutdown ctrl=nvme0 ok/m);
    clean(h);
  });

  it("a controller that never completes: shutdown times every request out, each completes once", async () => {
    const h = await started({ faults: { dropRate: 1, abortIgnored: 1 } });
    for (let t = 0; t < 4; t++) expect(h.submit(t, OP_READ, 0, t * 8, 8, t * 4096)).toBe(0);
    h.d.shutdown();
    const byTag = h.completions();
    expect([...byTag.values()].map((c) => c.status)).toEqual([ERR.TIMEOUT, ERR.TIMEOUT, ERR.TIMEOUT, ERR.TIMEOUT]);
    expect(h.d.outstanding()).toBe(0);
  });

  it("a controller too slow to drain before shutdown's bound is given up: failed, quiet, every request completed once", async () => {
    // tiny: 8 KiB commands, 3 at a time, each taking 7 s (just under CAP.TO): 240 KiB need 70 s.
    const h = await started({ profile: "tiny", faults: { slowRate: 1, slowNs: 7_000_000_000 } });
    expect(h.submit(1, OP_READ, 0, 0, 480, 0)).toBe(0);
    h.d.shutdown();
    expect(h.done).toEqual([{ tag: 1n, status: ERR.NOT_READY, lba: expect.any(BigInt) }]);
    expect(h.controller(0)).toMatchObject({ state: 1, failReason: 25 });
    expect(h.output()).toMatch(/error: nvme0: shutdown: requests did not complete/);
    expect(h.m.controllers[0].configRead32(4) & 4).toBe(0); // bus mastering off
    expect(h.d.outstanding()).toBe(0);
  });

  it("flush goes to the controller as one command and completes once", async () => {
    const h = await started({});
    expect(h.submit(5, OP_FLUSH, 0, 0, 0, 0)).toBe(0);
    h.pump();
    expect(h.done).toEqual([{ tag: 5n, status: 0, lba: 0n }]);
    expect(h.model().stats.io.flush).toBe(1);
  });
});

// Random requests, random interleaving of submits, polls and time, seeded reordering, delays and
// faults; then every tag completed exactly once, every read saw what the medium held, and the medium
// holds exactly what the successful writes put there (blocks of failed writes are left unknown).
describe("property: a random mix of requests through the exports", () => {
  const BLOCKS = 4096; // 2 MiB of 512-byte blocks
  const SLICE = 64 * 1024;

  async function scenario(seed, profile, faults, steps) {
    const h = await started({ profile, seed, disks: ["mem:2M"], faults });
    const expected = Buffer.from(h.disk().read(0n, BLOCKS * 512));
    const unknown = new Uint8Array(BLOCKS);
    const inFlight = new Map(); // tag -> { op, lba, blocks, off, data }
    const overlaps = (a, n, b, m) => a < b + m && b < a + n;
    let tag = 0;
    const settle = () => {
      for (const c of h.done.splice(0)) {
        const r = inFlight.get(c.tag);
        if (!r) throw new Error(`${h.why}: completion for unknown tag ${c.tag}`);
        inFlight.delete(c.tag);
        if (r.op === OP_WRITE) {
          if (c.status === 0) {
            r.data.copy(expected, r.lba * 512);
            unknown.fill(0, r.lba, r.lba + r.blocks);
          } else unknown.fill(1, r.lba, r.lba + r.blocks);
        } else if (r.op === OP_READ && c.status === 0) {
          const got = Buffer.from(h.mem().subarray(h.base + r.off, h.base + r.off + r.blocks * 512));
          for (let b = 0; b < r.blocks; b++) {
            if (unknown[r.lba + b]) continue;
            const want = expected.subarray((r.lba + b) * 512, (r.lba + b + 1) * 512);
            if (!got.subarray(b * 512, (b + 1) * 512).equals(want))
              throw new Error(`${h.why}: tag ${c.tag} read block ${r.lba + b} wrong`);
          }
        }
        completed.add(c.tag);
      }
    };
    const completed = new Set();
    for (const s of steps) {
      if (s.kind === "poll") {
        h.d.poll();
        settle();
        continue;
      }
      if (s.kind === "time") {
        h.pump(() => true);
        h.m.advanceTo(h.m.now + BigInt(s.ns), false);
        h.d.tick();
        h.d.poll();
        settle();
        continue;
      }
      const slot = tag % 64; // 64 slices of 64 KiB: 4 MiB of the buffer
      const off = slot * SLICE;
      if ([...inFlight.values()].some((r) => r.off === off)) continue;
      const blocks = Math.min(s.blocks, SLICE / 512, BLOCKS - s.lba);
      const clash = [...inFlight.values()].some(
        (r) =>
          (r.op === OP_WRITE || s.op === OP_WRITE) && r.op !== OP_FLUSH && overlaps(r.lba, r.blocks, s.lba, blocks),
      );
      if (s.op !== OP_FLUSH && clash) continue;
      let data = null;
      if (s.op === OP_WRITE) {
        data = noise(blocks * 512, seed * 1000 + tag);
        h.mem().set(data, h.base + off);
      }
      const status = h.submit(tag, s.op, 0, s.lba, blocks, off);
      if (status === ERR.BUSY) continue;
      if (status !== 0) throw new Error(`${h.why}: submit answered ${status.toString(16)}`);
      inFlight.set(BigInt(tag), { op: s.op, lba: s.lba, blocks, off, data });
      tag++;
    }
    h.pump();
    settle();
    if (inFlight.size) throw new Error(`${h.why}: ${inFlight.size} requests never completed`);
    if (completed.size !== tag) throw new Error(`${h.why}: ${completed.size} completions for ${tag} requests`);
    const medium = Buffer.from(h.disk().read(0n, BLOCKS * 512));
    for (let b = 0; b < BLOCKS; b++) {
      if (unknown[b]) continue;
      if (!medium.subarray(b * 512, (b + 1) * 512).equals(expected.subarray(b * 512, (b + 1) * 512)))
        throw new Error(`${h.why}: block ${b} on the medium is not what was written`);
    }
    clean(h);
  }

  const step = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant("io"),
        op: fc.constantFrom(OP_READ, OP_READ, OP_WRITE, OP_FLUSH),
        lba: fc.nat(BLOCKS - 1),
        blocks: fc.integer({ min: 1, max: 128 }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("poll") }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("time"), ns: fc.integer({ min: 1000, max: 3_000_000 }) }) },
  );

  it("every tag once, reads right, the medium holds what the writes wrote", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(100000),
        fc.constantFrom("qemu", "strict", "legacy", "tiny"),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        fc.double({ min: 0, max: 0.02, noNaN: true }),
        fc.array(step, { minLength: 20, maxLength: 120 }),
        fc.constantFrom(0, 1),
        // abortIgnored 0: a dropped command is freed by the driver's Abort and retried; 1: by a reset
        async (seed, profile, errorRate, dropRate, steps, abortIgnored) => {
          await scenario(seed, profile, { errorRate, dropRate, abortIgnored }, steps);
        },
      ),
      { numRuns: 40, seed: 20261129 },
    );
  }, 300_000);
});
