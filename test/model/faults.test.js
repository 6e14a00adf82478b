// Seeded faults, delays and reordering: a run is a pure function of the seed.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { TestDriver } from "./harness.js";
import { statusName } from "../../host/nvme/constants.js";
import { normalizeFaults } from "../../host/nvme/controller.js";

const st = (e) => (e.ok ? "ok" : statusName(e.sct, e.sc));

// submit n flushes with one doorbell write, then collect every completion (ringing the CQ head)
function burst(d, q, n, f = { opcode: 0x00, nsid: 1 }) {
  const cids = [];
  for (let i = 0; i < n; i++) cids.push(d.submit(q, f, { ring: false }));
  d.ringSq(q);
  const got = [];
  d.waitFor(() => {
    const es = d.reap(q);
    if (es.length) d.ringCq(q);
    got.push(...es);
    return got.length >= n;
  }, 50_000_000);
  return { cids, got };
}

describe("fault options", () => {
  it("accepts the CLI short names and refuses unknown ones", () => {
    expect(
      normalizeFaults({ error: 0.1, drop: 0.01, cfs: 5, cfs_repeat: 1, slow: 0.2, slow_ns: 1000, abort_ignored: 1 }),
    ).toEqual({
      errorRate: 0.1,
      dropRate: 0.01,
      cfsAfter: 5,
      cfsRepeat: 1,
      slowRate: 0.2,
      slowNs: 1000,
      abortIgnored: 1,
    });
    expect(() => normalizeFaults({ boom: 1 })).toThrow(/unknown fault option/);
    expect(() => normalizeFaults({ errorRate: 2 })).toThrow(/probability/);
  });
});

describe("injected faults", () => {
  it("errorRate=1: reads end with Unrecovered Read Error, writes with Write Fault (SCT 2, DNR=0)", () => {
    const d = new TestDriver({ faults: { errorRate: 1 } });
    const q = d.bringUp();
    const r = d.read(q, {}).e;
    expect([r.sct, r.sc, r.dnr]).toEqual([2, 0x81, false]);
    expect(st(r)).toBe("Unrecovered Read Error");
    const w = d.write(q, { data: new Uint8Array(512) });
    expect(st(w)).toBe("Write Fault");
    expect(w.dnr).toBe(false);
    expect(d.ctrl.stats.injected.error).toBe(2);
    expect(st(d.cmd(q, { opcode: 0x00, nsid: 1 }))).toBe("ok"); // flush is not a media access
  });

  it.each([1, 2, 3])(
    "errorRate=0.3 (seed %i): a retry of the failed command eventually succeeds; count matches stats",
    (seed) => {
      const d = new TestDriver({ seed, faults: { errorRate: 0.3 } });
      const q = d.bringUp();
      let failures = 0;
      for (let i = 0; i < 30; i++) {
        let e;
        for (let t = 0; t < 20; t++) {
          e = d.read(q, { slba: i }).e;
          if (e.ok) break;
          expect(e.dnr, `seed ${seed}`).toBe(false);
          failures++;
        }
        expect(e.ok, `seed ${seed}`).toBe(true);
      }
      expect(failures, `seed ${seed}`).toBe(d.ctrl.stats.injected.error);
      expect(failures, `seed ${seed}`).toBeGreaterThan(0);
    },
  );

  it("dropRate (seed 4): dropped commands never complete; the others do", () => {
    const d = new TestDriver({ seed: 4, faults: { dropRate: 0.25 } });
    const q = d.bringUp({ entries: 64 });
    const cids = [];
    for (let i = 0; i < 40; i++) cids.push(d.submit(q, { opcode: 0x00, nsid: 1 }, { ring: false }));
    d.ringSq(q);
    d.settle();
    const got = d.reap(q);
    const dropped = d.ctrl.stats.injected.drop;
    expect(dropped, "seed 4").toBeGreaterThan(0);
    expect(got.length, "seed 4").toBe(40 - dropped);
    expect(new Set(got.map((e) => e.cid)).size).toBe(got.length);
  });

  it("cfsAfter=3: the 4th IO command sets CSTS.CFS and nothing more completes; a reset recovers", () => {
    const d = new TestDriver({ faults: { cfsAfter: 3 } });
    const q = d.bringUp();
    for (let i = 0; i < 3; i++) expect(st(d.cmd(q, { opcode: 0x00, nsid: 1 }))).toBe("ok");
    expect(d.cmd(q, { opcode: 0x00, nsid: 1 }, { maxNs: 10_000_000 })).toBe(null);
    expect(d.csts & 2).toBe(2);
    expect(d.ctrl.fatalReason).toMatch(/injected fault/);
    expect(d.ctrl.stats.injected.cfs).toBe(1);
    d.disable();
    expect(d.csts).toBe(0);
    const q2 = d.bringUp();
    for (let i = 0; i < 5; i++) expect(st(d.cmd(q2, { opcode: 0x00, nsid: 1 }))).toBe("ok");
  });

  it("slowRate=1, slowNs=5 ms: every IO completion takes at least 5 ms longer", () => {
    const d = new TestDriver({ faults: { slowRate: 1, slowNs: 5_000_000 } });
    const q = d.bringUp();
    const t0 = d.host.clock;
    d.cmd(q, { opcode: 0x00, nsid: 1 });
    expect(Number(d.host.clock - t0)).toBeGreaterThanOrEqual(5_000_000);
    expect(d.ctrl.stats.injected.slow).toBe(1);
  });
});

describe("timing and order", () => {
  it("qemu: commands of one doorbell write complete in submission order", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 30 }), (seed, n) => {
        const d = new TestDriver({ seed });
        const q = d.bringUp({ entries: 32 });
        const { cids, got } = burst(d, q, n);
        return JSON.stringify(got.map((e) => e.cid)) === JSON.stringify(cids);
      }),
      { numRuns: 25 },
    );
  });

  it("strict: reorder keeps the set of completions (each command exactly once, status ok)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 31 }), (seed, n) => {
        const d = new TestDriver({ profile: "strict", seed });
        const q = d.bringUp({ entries: 32 });
        const { cids, got } = burst(d, q, n);
        const a = got.map((e) => e.cid).sort((x, y) => x - y);
        const b = [...cids].sort((x, y) => x - y);
        return JSON.stringify(a) === JSON.stringify(b) && got.every((e) => e.ok) && d.ctrl.violations.length === 0;
      }),
      { numRuns: 25 },
    );
  });

  it("strict (seed 21): 16 commands of one doorbell write do complete out of order", () => {
    const d = new TestDriver({ profile: "strict", seed: 21 });
    const q = d.bringUp({ entries: 32 });
    const { cids, got } = burst(d, q, 16);
    expect(
      got.map((e) => e.cid),
      "seed 21",
    ).not.toEqual(cids);
  });

  it("strict: completion delays are tens of µs", () => {
    const d = new TestDriver({ profile: "strict", seed: 2 });
    const q = d.bringUp();
    const t0 = d.host.clock;
    d.cmd(q, { opcode: 0x00, nsid: 1 });
    const took = Number(d.host.clock - t0);
    expect(took).toBeGreaterThanOrEqual(10_000);
    expect(took).toBeLessThanOrEqual(90_000);
  });

  it("the same seed replays exactly: completion order, times and injected faults", () => {
    const trace = (seed) => {
      const d = new TestDriver({ profile: "strict", seed, faults: { errorRate: 0.2, slowRate: 0.1, slowNs: 100_000 } });
      const q = d.bringUp({ entries: 32 });
      const { got } = burst(d, q, 24, { opcode: 0x02, nsid: 1, cdw12: 0, prp1: 0x1_2345_6000n + 0x200000n });
      return JSON.stringify({
        order: got.map((e) => [e.cid, e.sc, e.sct]),
        t: String(d.host.clock),
        s: d.ctrl.stats.injected,
      });
    };
    expect(trace(77)).toBe(trace(77));
    expect(trace(77)).not.toBe(trace(78));
  });
});
