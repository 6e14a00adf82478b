// The shell fuzz in QEMU, a short sample with every `make test` (`make soak` runs more): fuzzed
// commands through -append and typed on the serial console, checked as under the simulated machine.
import { describe, it, expect } from "vitest";
import { qemuSample } from "./qemu-sample.js";
import { hasQemu } from "../qemu/helpers.js";

describe.skipIf(!hasQemu())("fuzz in QEMU, briefly", () => {
  it("2 boots of 100 fuzzed inputs each (command line, then serial console): no trap, no hang, no byte lost", async () => {
    const q = await qemuSample(2, 20261129);
    expect(q.failures, JSON.stringify(q.failures, null, 1)).toEqual([]);
    expect(q.runs).toBe(2);
    expect(q.inputs).toBeGreaterThan(100);
  }, 300_000);
});
