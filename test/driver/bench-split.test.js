// Where a bench's time goes, against the model, on its virtual clock: the device's part of each IO
// (the stats record's device counters: doorbell rung -> completion seen) and the rest (driver, host
// link, shell), printed at the end of the bench line after the fields every older reader parses.
import { describe, it, expect } from "vitest";
import { drive, expectClean } from "./helpers.js";
import { linesOf } from "../lib/disk-images.js";

// The bench line's fields, in order, before this change and after it.
const FIELDS_BEFORE = ["dev", "op", "block_bytes", "qd", "ios", "us", "iops", "mib_s"];
const FIELDS_ADDED = ["device_us_avg", "host_us_avg"];
const MICROS = /^\d+\.\d\d$/; // microseconds, two decimals
const ROUNDING_US = 0.02; // two printed values, each rounded down to 0.01 µs

function benchLines(output) {
  return linesOf(output, "bench").map((l) => ({ ...l, names: [...l.text.matchAll(/ (\w+)=/g)].map((m) => m[1]) }));
}

describe("bench: the device's part and the driver's", () => {
  for (const irq of ["poll", "msix", "intx"]) {
    it(`irq=${irq}, QD1: device part > 0 and within the wall time per IO; today's fields unchanged`, async () => {
      const r = await drive({
        disks: ["mem:16M"],
        cmd: `irq=${irq}; bench nvme0n1 read 8 1 400; bench nvme0n1 write 8 1 300; stats; poweroff`,
      });
      expect(r.code, r.why).toBe(0);
      expectClean(r);
      const benches = benchLines(r.output);
      expect(benches.length, r.why).toBe(2);
      for (const b of benches) {
        expect(b.names, r.why).toEqual([...FIELDS_BEFORE, ...FIELDS_ADDED]);
        const f = b.fields;
        expect([f.dev, f.block_bytes, f.qd], r.why).toEqual(["nvme0n1", "4096", "1"]);
        expect(f.device_us_avg, r.why).toMatch(MICROS);
        expect(f.host_us_avg, r.why).toMatch(MICROS);
        const wallUs = Number(f.us) / Number(f.ios); // whole microseconds of the run, per IO
        const device = Number(f.device_us_avg),
          host = Number(f.host_us_avg);
        expect(device, r.why).toBeGreaterThan(0);
        expect(device, r.why).toBeLessThanOrEqual(wallUs + 1 / Number(f.ios));
        expect(host, r.why).toBeGreaterThan(0); // the driver and the shell take time too
        expect(Math.abs(device + host - wallUs), r.why).toBeLessThanOrEqual(ROUNDING_US + 1 / Number(f.ios));
      }
      const stats = linesOf(r.output, "stats")[0].fields;
      expect(Number(stats.device_commands), r.why).toBe(700); // every IO command of both runs, nothing else
      expect(Number(stats.device_ns), r.why).toBeGreaterThan(0);
    });
  }

  it("QD8: the device part is a latency, at most QD x the wall time per request; host part the rest", async () => {
    const r = await drive({ disks: ["mem:16M"], cmd: "bench nvme0n1 read 8 8 2000; stats; poweroff" });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    const [b] = benchLines(r.output);
    expect(b.names, r.why).toEqual([...FIELDS_BEFORE, ...FIELDS_ADDED]);
    const f = b.fields;
    const lifeUs = (8 * Number(f.us)) / Number(f.ios);
    expect(Number(f.device_us_avg), r.why).toBeGreaterThan(0);
    expect(Number(f.device_us_avg), r.why).toBeLessThanOrEqual(lifeUs + 8 / Number(f.ios));
    expect(Math.abs(Number(f.device_us_avg) + Number(f.host_us_avg) - lifeUs), r.why).toBeLessThanOrEqual(
      ROUNDING_US + 8 / Number(f.ios),
    );
  });
});
