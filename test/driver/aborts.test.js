// Timeouts escalate as Linux's do: an IO command older than CAP.TO is first aborted (Abort, NVMe 1.4
// 5.1) from tick, which waits for the Abort; the aborted command's completion (Command Abort
// Requested, DNR clear) sends it again within the retry budget, so the request completes ok with its
// data and the controller is not reset. Only when the Abort does not free it (the model's
// abortIgnored fault: Abort answers "not aborted") is the controller reset as before: ERR_TIMEOUT.
// Every failure message starts with its `replay:` line.
import { describe, it, expect } from "vitest";
import { driverAlone, OP_READ, OP_WRITE, ERR, MiB } from "./component.js";
import { expectClean } from "./helpers.js";
import { NvmeController } from "../../host/nvme/controller.js";

async function started(opts = {}) {
  const h = await driverAlone({ disks: ["mem:4M"], ...opts });
  h.start();
  h.why = `replay: ${JSON.stringify(opts)}`;
  return h;
}

function clean(h) {
  const violations = h.m.controllers.flatMap((c) => c.violations ?? []);
  expectClean({ violations, dmaFaults: h.m.dmaFaults, fatal: [], why: `${h.why}\n--- output ---\n${h.output()}` });
}

const noise = (n, seed) => {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
};

describe("an IO command that overran CAP.TO", () => {
  for (const seed of [1, 2, 3]) {
    it(`is aborted, sent again, and its request completes ok with its data; no reset (seed ${seed})`, async () => {
      const h = await started({ profile: "strict", seed, faults: { drop_after: 2 } });
      const image = noise(64 * 512, seed);
      h.disk().write(0n, image);
      const why = () => `${h.why}\n--- output ---\n${h.output()}`;
      for (let t = 0; t < 4; t++) expect(h.submit(t, OP_READ, 0, t * 16, 16, t * 8192), why()).toBe(0);
      h.pump();
      const done = h.completions();
      expect(done.size, why()).toBe(4);
      for (const [t, c] of done) {
        expect(c.status, why()).toBe(0);
        const got = Buffer.from(h.mem().subarray(h.base + Number(t) * 8192, h.base + (Number(t) + 1) * 8192));
        expect(got.equals(image.subarray(Number(t) * 8192, (Number(t) + 1) * 8192)), `${why()}\ntag ${t}`).toBe(true);
      }
      const m = h.model();
      expect(m.stats.injected.drop, why()).toBe(1);
      expect(m.stats.admin.abort, why()).toBe(1);
      const s = h.stats(0);
      expect([s.timeouts, s.resets, s.retries], why()).toEqual([1n, 0n, 1n]);
      expect(h.output(), why()).not.toMatch(/resetting|recovered/);
      expect(h.d.shutdown(), why()).toBe(0);
      clean(h);
    });
  }

  it("a write freed by Abort is on the medium after its retry", async () => {
    const h = await started({ profile: "qemu", faults: { drop_after: 0 } });
    const data = noise(MiB / 4, 7);
    h.mem().set(data, h.base);
    expect(h.submit(1, OP_WRITE, 0, 100, data.length / 512, 0), h.why).toBe(0);
    h.pump();
    expect(h.completions().get(1n).status, h.why).toBe(0);
    expect(Buffer.from(h.disk().read(100n * 512n, data.length)).equals(data), h.why).toBe(true);
    expect(h.stats(0).resets, h.why).toBe(0n);
    clean(h);
  });

  it("when Abort does not help (abortIgnored), the controller is reset as before: ERR_TIMEOUT once, the others resent", async () => {
    const h = await started({ profile: "strict", faults: { drop_after: 2, abort_ignored: 1 } });
    for (let t = 0; t < 4; t++) expect(h.submit(t, OP_READ, 0, t * 16, 16, t * 8192), h.why).toBe(0);
    h.pump();
    const done = h.completions();
    expect(done.size, h.why).toBe(4);
    expect([...done.values()].filter((c) => c.status === ERR.TIMEOUT).length, h.why).toBe(1);
    expect([...done.values()].filter((c) => c.status === 0).length, h.why).toBe(3);
    expect(h.model().stats.admin.abort, h.why).toBe(1);
    const s = h.stats(0);
    expect([s.timeouts, s.resets], h.why).toEqual([1n, 1n]);
    expect(h.output(), h.why).toMatch(/^nvme0 recovered$/m);
    expect(h.submit(9, OP_READ, 0, 0, 8, 0), h.why).toBe(0); // and the controller works afterwards
    h.pump();
    expect(h.completions().get(9n).status, h.why).toBe(0);
    clean(h);
  });

  it("every command dropped: Abort frees each, at most ACL + 1 per tick, each request completes exactly once", async () => {
    const h = await started({ profile: "qemu", seed: 4, faults: { drop: 0.5 } });
    for (let t = 0; t < 16; t++) expect(h.submit(t, OP_READ, 0, t * 8, 8, t * 4096), h.why).toBe(0);
    h.pump();
    const done = h.completions(); // throws if a tag completes twice
    expect(done.size, h.why).toBe(16);
    expect(h.d.outstanding(), h.why).toBe(0);
    expect(h.model().stats.admin.abort ?? 0, h.why).toBeGreaterThan(0);
    clean(h);
  });
});

// A model whose next `hold` Get Log Page commands are lost but still abortable ('dropped', as an
// IO command the dropAfter fault loses): only an Abort or a reset frees them.
class DropsLogPages extends NvmeController {
  _admin(rec) {
    if (rec.cmd.opcode === 0x02 && this.hold > 0) {
      this.hold--;
      rec.state = "dropped";
      return null;
    }
    return super._admin(rec);
  }
}

describe("an admin request (Get Log Page) that overran CAP.TO", () => {
  const OP_LOG_PAGE = 6,
    LID_SMART = 2n;
  async function lost(faults = {}) {
    const h = await driverAlone({ disks: ["mem:4M"], profile: "strict", model: DropsLogPages, faults });
    h.start();
    h.why = `replay: ${JSON.stringify({ profile: "strict", model: "DropsLogPages", faults })}`;
    h.model().hold = 1;
    expect(h.submit(1, OP_LOG_PAGE, 0, LID_SMART, 512, 0), h.why).toBe(0);
    expect(h.submit(2, OP_READ, 0, 0, 8, 8192), h.why).toBe(0);
    h.pump();
    return h;
  }

  it("is aborted on the admin queue (SQID 0), sent again, and completes ok with the SMART log; no reset", async () => {
    const h = await lost();
    const done = h.completions();
    expect(done.get(1n), h.why + h.output()).toEqual({ tag: 1n, status: 0, lba: 0n });
    expect(done.get(2n).status, h.why).toBe(0);
    const m = h.model();
    expect(m.stats.admin.abort, h.why).toBe(1);
    expect(m.hold, h.why).toBe(0);
    // the SMART log's temperature (bytes 1-2, Kelvin), as the model keeps it: the retry really read it
    expect(new DataView(h.m.memory.buffer).getUint16(h.base + 1, true), h.why).toBe(321);
    const s = h.stats(0);
    expect([s.timeouts, s.resets, s.retries], h.why).toEqual([1n, 0n, 1n]);
    expect(h.output(), h.why).not.toMatch(/resetting|recovered/);
    expect(h.d.shutdown(), h.why).toBe(0);
    clean(h);
  });

  it("when the Abort does not free it (abort_ignored), the controller is reset: ERR_TIMEOUT once, the read unharmed", async () => {
    const h = await lost({ abort_ignored: 1 });
    const done = h.completions();
    expect(done.size, h.why).toBe(2);
    expect(done.get(1n), h.why).toEqual({ tag: 1n, status: ERR.TIMEOUT, lba: 0n });
    expect(done.get(2n).status, h.why).toBe(0);
    expect(h.model().stats.admin.abort, h.why).toBe(1);
    const s = h.stats(0);
    expect([s.timeouts, s.resets], h.why).toEqual([1n, 1n]);
    expect(h.output(), h.why).toMatch(/^nvme0 recovered$/m);
    expect(h.submit(3, OP_LOG_PAGE, 0, LID_SMART, 512, 0), h.why).toBe(0); // and log pages work afterwards
    h.pump();
    expect(h.completions().get(3n).status, h.why).toBe(0);
    clean(h);
  });
});
