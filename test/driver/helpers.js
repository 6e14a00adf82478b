// Runs the real guest (build/nvme.wasm) against the controller model and checks that the run
// was clean from the device's side: no host-protocol violation recorded by any controller, no
// DMA outside the window. Every message carries the seed and options, so a failure replays with
// `npx nvme-wasm sim … --seed N`.
import { expect } from "vitest";
import { runSim } from "../../host/sim.js";

export function describeRun(opts) {
  const o = { ...opts };
  if (o.disks) o.disks = o.disks.map((d) => (typeof d === "string" ? d : (d.spec ?? "(disk object)")));
  return `replay: ${JSON.stringify(o)}`;
}

export async function drive(opts) {
  const r = await runSim({ seed: 1, ...opts });
  const violations = r.machine.controllers.flatMap((c, i) => (c.violations ?? []).map((v) => `nvme${i}: ${v}`));
  const fatal = r.machine.controllers.map((c) => c.fatalReason).filter(Boolean);
  const why = `${describeRun(opts)}\n--- output ---\n${r.output}`;
  return { ...r, violations, fatal, dmaFaults: r.machine.dmaFaults, why };
}

// A run the device has nothing to complain about.
export function expectClean(r) {
  expect(r.violations, r.why).toEqual([]);
  expect(r.dmaFaults, r.why).toEqual([]);
  expect(r.fatal, r.why).toEqual([]);
}

export function lines(output) {
  return output.split("\n");
}
