// A short fuzz and soak with every `make test` (the long ones are `make soak`): 3,000 shell inputs
// from the grammar and random bytes, through the command line and the prompt, and 30 seeded fault
// runs; no trap, no hang, no host violation, exit codes that match the error lines, and no byte on
// the image other than the fills wrote. A failure names the run's seed and options (`replay`).
import { describe, it, expect } from "vitest";
import { campaign } from "./fuzz.js";

describe("fuzz and soak, briefly", () => {
  it("3,000 fuzzed shell inputs and 30 seeded fault runs: 0 traps, 0 hangs, 0 bytes lost", async () => {
    const s = await campaign({ shellInputs: 3000, linesPerRun: 100, soakRuns: 30, seed: 20261129 });
    expect(s.failures, JSON.stringify(s.failures.slice(0, 3), null, 1)).toEqual([]);
    expect(s.inputs).toBeGreaterThanOrEqual(3000);
    expect(s.soakRuns).toBe(30);
    expect([s.traps, s.hangs, s.bytesLost]).toEqual([0, 0, 0]);
  }, 300_000);
});
