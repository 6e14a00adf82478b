// Asynchronous Event Requests (NVMe 1.4 section 5.2) against the controller model: one kept
// outstanding per ready controller, an event reported as one driver line with its numbers, its log
// page read with RAE = 0 (which clears it), the request armed again; never a timeout, no obstacle to
// shutdown, armed again after a reset. Every failure message carries its `replay:` line.
import { describe, it, expect } from "vitest";
import { driverAlone, OP_READ } from "./component.js";
import { expectClean } from "./helpers.js";

async function started(opts = {}, startOpts = {}) {
  const h = await driverAlone({ disks: ["mem:4M"], ...opts });
  h.start(startOpts);
  h.why = `replay: ${JSON.stringify({ ...opts, ...startOpts })}`;
  return h;
}

// With nothing in flight, every command but the outstanding event request has its completion.
function expectBalanced(h) {
  const s = h.stats(0);
  expect(
    s.completions + s.eventsArmed,
    `${h.why}\n${JSON.stringify(s, (k, v) => (typeof v === "bigint" ? String(v) : v))}`,
  ).toBe(s.commands);
}

// Lets the model fetch and the driver poll, `steps` times.
function settle(h, steps = 50) {
  for (let i = 0; i < steps; i++) {
    h.m.relaxStepAdvance();
    h.d.poll();
  }
}

function clean(h) {
  const violations = h.m.controllers.flatMap((c) => c.violations ?? []);
  expectClean({ violations, dmaFaults: h.m.dmaFaults, fatal: [], why: `${h.why}\n--- output ---\n${h.output()}` });
}

const events = (h) =>
  h
    .output()
    .split("\n")
    .filter((l) => / event /.test(l));

describe("asynchronous events", () => {
  for (const seed of [1, 2]) {
    it(`a SMART critical warning is one line, its log read (event cleared), the request armed again (seed ${seed})`, async () => {
      const h = await started({ profile: "strict", seed });
      settle(h);
      const m = h.model();
      expect(m.aers.length, h.why).toBe(1); // one outstanding
      expect(m.features.get(0x0b), h.why).toBe(0xff); // SMART critical warning events asked for
      m.raiseCriticalWarning(0x01);
      settle(h);
      expect(events(h), h.why).toEqual(["nvme0 event type=1 info=2 lid=0x02"]);
      expect(m.aerMasked.size, h.why).toBe(0); // the SMART log was read with RAE = 0
      expect(m.aers.length, h.why).toBe(1); // and the request armed again
      m.raiseCriticalWarning(0x02);
      settle(h);
      expect(events(h), h.why).toEqual(["nvme0 event type=1 info=2 lid=0x02", "nvme0 event type=1 info=1 lid=0x02"]);
      expect(h.stats(0).errors, h.why).toBe(0n);
      expect(h.stats(0).eventsArmed, h.why).toBe(1n);
      expectBalanced(h);
      expect(h.d.log_errors(), h.why).toBe(0);
      expect(h.d.shutdown(), h.why).toBe(0); // abandoned with the controller, no error
      expect(h.output(), h.why).toMatch(/^shutdown ctrl=nvme0 ok/m);
      clean(h);
    });
  }

  it("an event request outstanding for minutes is no timeout; IO goes on around it", async () => {
    const h = await started({ profile: "qemu" });
    const start = h.m.now;
    expect(h.submit(1, OP_READ, 0, 0, 8, 0), h.why).toBe(0);
    h.pump(() => h.m.now - start > 60_000_000_000n && h.d.outstanding() === 0);
    for (let i = 0; i < 100; i++) h.d.tick();
    expect(h.stats(0).timeouts, h.why).toBe(0n);
    expect(h.stats(0).resets, h.why).toBe(0n);
    expect(h.d.wait_hint(), h.why).toBe(0); // nothing for the host to wait for
    expect(h.completions().get(1n).status, h.why).toBe(0);
    expectBalanced(h);
    expect(h.d.shutdown(), h.why).toBe(0);
    clean(h);
  });

  it("after a reset (a dropped command) the request is armed again, and events still come", async () => {
    const h = await started({ profile: "strict", faults: { drop_after: 0, abort_ignored: 1 } });
    expect(h.submit(1, OP_READ, 0, 0, 8, 0), h.why).toBe(0);
    h.pump();
    expect(h.completions().get(1n).status, h.why).toBe(0x10000);
    settle(h);
    const m = h.model();
    expect(m.aers.length, h.why).toBe(1);
    expect(h.stats(0).eventsArmed, h.why).toBe(1n);
    expect(m.features.get(0x0b), h.why).toBe(0xff); // asked for again after the reset
    m.raiseCriticalWarning(0x04);
    settle(h);
    expect(events(h), h.why).toEqual(["nvme0 event type=1 info=0 lid=0x02"]);
    expect(h.d.shutdown(), h.why).toBe(0);
    clean(h);
  });

  it("a controller without event requests (Invalid Opcode) is not asked again, and that is no error", async () => {
    const h = await started({ profile: "strict", overrides: { aer: false } });
    settle(h);
    expect(h.model().stats.admin["async-event-request"], h.why).toBe(1); // sent once
    settle(h, 200);
    expect(h.d.log_errors(), h.why).toBe(0);
    expect(h.output(), h.why).not.toMatch(/error:/);
    expect(h.stats(0).eventsArmed, h.why).toBe(0n);
    expectBalanced(h);
    expect(h.d.shutdown(), h.why).toBe(0);
    clean(h);
  });

  for (const stage of [2, 4]) {
    it(`a stage=${stage} run (stopped before ready) sends no event request and no Asynchronous Event Configuration`, async () => {
      const h = await started({ profile: "strict" }, { stage });
      settle(h);
      const m = h.model();
      expect(m.stats.admin["async-event-request"] ?? 0, h.why).toBe(0);
      expect(m.features.get(0x0b) ?? 0, h.why).toBe(0); // the reset default: no SMART events asked for
      expect(h.stats(0).eventsArmed, h.why).toBe(0n);
      expectBalanced(h);
      clean(h);
    });
  }

  it("eight log pages in flight with the event request outstanding: the limit counts requests only", async () => {
    const h = await started({ profile: "qemu" });
    settle(h);
    expect(h.model().aers.length, h.why).toBe(1);
    for (let tag = 0; tag < 8; tag++) expect(h.submit(tag, 6 /* OP_LOG_PAGE */, 0, 2n, 512, tag * 4096), h.why).toBe(0);
    h.pump();
    expect(h.completions().size, h.why).toBe(8);
    expectBalanced(h);
    expect(h.d.shutdown(), h.why).toBe(0);
    clean(h);
  });
});
