// The seeded PRNG: the only randomness in the Node host.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Rng } from "../../host/rng.js";

describe("Rng", () => {
  it("the same seed gives the same stream; different seeds differ", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(xs);
    expect(new Rng("42").nextU32()).toBe(new Rng(42).nextU32());
    expect(new Rng(42n).nextU32()).toBe(new Rng(42).nextU32());
  });

  it("int(lo, hi) stays inside both inclusive ends; float() in [0, 1)", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: -1e6, max: 1e6 }),
        fc.integer({ min: 0, max: 1e9 }),
        (seed, lo, span) => {
          const r = new Rng(seed);
          for (let i = 0; i < 20; i++) {
            const v = r.int(lo, lo + span);
            if (!(Number.isInteger(v) && v >= lo && v <= lo + span)) return false;
            const f = r.float();
            if (!(f >= 0 && f < 1)) return false;
          }
          return true;
        },
      ),
    );
  });

  it("forks are independent of each other and do not consume the parent", () => {
    const p = new Rng(7);
    const f1 = p.fork("nvme0");
    const f2 = p.fork("nvme1");
    expect(f1.nextU32()).not.toBe(f2.nextU32());
    expect(p.nextU32()).toBe(new Rng(7).nextU32());
    expect(new Rng(7).fork("nvme0").nextU32()).toBe(new Rng(7).fork("nvme0").nextU32());
  });

  it("is roughly uniform (seed 1: 10 buckets of 10000 draws within 10%)", () => {
    const r = new Rng(1);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 100000; i++) buckets[r.int(0, 9)]++;
    for (const b of buckets) expect(Math.abs(b - 10000)).toBeLessThan(1000);
  });

  it("shuffle is a permutation", () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.integer(), { maxLength: 50 }), (seed, xs) => {
        const s = new Rng(seed).shuffle([...xs]);
        return JSON.stringify([...s].sort()) === JSON.stringify([...xs].sort());
      }),
    );
  });
});
