// The model's shadow doorbells (host/nvme/dbbuf.js): Doorbell Buffer Config accepted and refused,
// shadow tails and heads read, EventIdx written, register writes checked, admin queue untouched,
// forgotten by a controller reset.
import { describe, it, expect } from "vitest";
import { TestDriver, MemDisk, addrOf, BAR0, pattern } from "./harness.js";
import { statusName } from "../../host/nvme/constants.js";

const st = (e) => (e.ok ? "ok" : statusName(e.sct, e.sc));
const DBBUF = 0x7c;

// A qemu-profile controller with IO queue pair 1 (16 entries) and two zeroed buffer pages.
function setup(opts = {}) {
  const d = new TestDriver({ disks: [new MemDisk(1 << 20, (b) => b.set(pattern(b.length, 3)))], ...opts });
  const q = d.bringUp();
  const shadow = d.alloc(4096, 4096);
  const eventIdx = d.alloc(4096, 4096);
  return { d, q, shadow, eventIdx };
}
function config(d, shadow, eventIdx) {
  return d.admin({ opcode: DBBUF, prp1: addrOf(shadow), prp2: addrOf(eventIdx) });
}
// Writes a Flush at the SQ tail and moves the tail in the shadow entry only.
function submitShadow(d, q, shadow) {
  const cid = d.submit(q, { opcode: 0x00, nsid: 1 }, { ring: false });
  new DataView(d.host.mem.buffer).setUint32(shadow + 8, q.sqTail, true); // SQ1 tail: 2 * 1 * 4 bytes in
  return cid;
}

describe("Doorbell Buffer Config (qemu profile)", () => {
  it("is offered by OACS bit 8 on the qemu profile, not on strict, where the opcode is refused", () => {
    const { d } = setup();
    expect(new DataView(d.identify(1).data.buffer).getUint16(256, true) & 0x100).toBe(0x100);
    const s = new TestDriver({ profile: "strict" });
    s.bringUp();
    expect(new DataView(s.identify(1).data.buffer).getUint16(256, true) & 0x100).toBe(0);
    expect(st(config(s, s.alloc(4096), s.alloc(4096)))).toBe("Invalid Command Opcode");
  });

  it("refuses buffers that are not page-aligned, zero, the same page, or inside BAR0: Invalid Field", () => {
    const { d, shadow, eventIdx } = setup();
    expect(st(d.admin({ opcode: DBBUF, prp1: addrOf(shadow + 8), prp2: addrOf(eventIdx) }))).toBe(
      "Invalid Field in Command",
    );
    expect(st(d.admin({ opcode: DBBUF, prp1: addrOf(shadow), prp2: addrOf(eventIdx + 0x800) }))).toBe(
      "Invalid Field in Command",
    );
    expect(st(d.admin({ opcode: DBBUF, prp1: 0n, prp2: addrOf(eventIdx) }))).toBe("Invalid Field in Command");
    expect(st(d.admin({ opcode: DBBUF, prp1: addrOf(shadow), prp2: addrOf(shadow) }))).toBe("Invalid Field in Command");
    expect(st(d.admin({ opcode: DBBUF, prp1: BAR0, prp2: addrOf(eventIdx) }))).toBe("Invalid Field in Command");
    expect(d.ctrl.stats.dbbufConfigs).toBe(0);
    expect(d.ctrl.dbbuf).toBe(null);
    expect(st(config(d, shadow, eventIdx))).toBe("ok");
    expect(d.ctrl.stats.dbbufConfigs).toBe(1);
  });

  it("writes the existing IO queues' tail and head into the shadow buffer, and leaves the admin queue alone", () => {
    const { d, q, shadow, eventIdx } = setup();
    for (let i = 0; i < 3; i++) expect(st(d.cmd(q, { opcode: 0x00, nsid: 1 }))).toBe("ok");
    d.host.mem.fill(0xee, shadow, shadow + 4096);
    expect(st(config(d, shadow, eventIdx))).toBe("ok");
    expect(d.u32(shadow + 8)).toBe(3); // SQ1 tail
    expect(d.u32(shadow + 12)).toBe(3); // CQ1 head
    expect(d.u32(shadow + 0)).toBe(0xeeeeeeee); // SQ0: not the controller's to touch
    expect(d.u32(shadow + 4)).toBe(0xeeeeeeee);
    expect(st(d.identify(1).e)).toBe("ok"); // admin doorbells stay registers
    expect(d.ctrl.violations).toEqual([]);
  });

  it("fetches up to the shadow tail when the register is rung, then writes EventIdx; the CQ head comes from the shadow", () => {
    const { d, q, shadow, eventIdx } = setup();
    expect(st(config(d, shadow, eventIdx))).toBe("ok");
    const a = submitShadow(d, q, shadow);
    d.settle();
    expect(d.reap(q)).toHaveLength(0); // a shadow write alone wakes nobody
    const b = submitShadow(d, q, shadow);
    d.ringSq(q); // register = shadow = 2
    d.settle();
    expect(
      d
        .reap(q)
        .map((e) => e.cid)
        .sort(),
    ).toEqual([a, b].sort());
    expect(d.u32(eventIdx + 8)).toBe(2); // SQ1 EventIdx: the tail it reached
    // The head goes to the shadow entry only; the next post reads it and writes it to CQ1's EventIdx.
    new DataView(d.host.mem.buffer).setUint32(shadow + 12, q.cqHead, true);
    submitShadow(d, q, shadow);
    d.ringSq(q);
    d.settle();
    expect(d.reap(q)).toHaveLength(1);
    expect(d.u32(eventIdx + 12)).toBe(2);
    expect(d.ctrl.violations).toEqual([]);
  });

  it("a tail written to the shadow while a fetch is pending is fetched without another register write", () => {
    const { d, q, shadow, eventIdx } = setup();
    expect(st(config(d, shadow, eventIdx))).toBe("ok");
    submitShadow(d, q, shadow);
    d.ringSq(q);
    const doorbells = d.ctrl.stats.doorbells;
    // EventIdx (0) is behind the old tail (1): the need-event rule says no register write for 1 -> 3.
    submitShadow(d, q, shadow);
    submitShadow(d, q, shadow);
    const ei = d.u32(eventIdx + 8),
      old = 1,
      now = 3;
    expect(((now - ei - 1) & 0xffff) < ((now - old) & 0xffff)).toBe(false);
    d.settle();
    expect(d.reap(q)).toHaveLength(3);
    expect(d.ctrl.stats.doorbells).toBe(doorbells);
    expect(d.u32(eventIdx + 8)).toBe(3);
  });

  it("a register write that differs from the shadow entry, and a shadow tail past the ring, are violations", () => {
    const { d, q, shadow, eventIdx } = setup();
    expect(st(config(d, shadow, eventIdx))).toBe("ok");
    d.submit(q, { opcode: 0x00, nsid: 1 }, { ring: false });
    d.ringSq(q); // register 1, shadow still 0
    expect(d.ctrl.violations).toEqual([
      "SQ1 tail doorbell = 1 while its shadow entry holds 0: the register must be written with the shadow value",
    ]);
    new DataView(d.host.mem.buffer).setUint32(shadow + 8, 16, true);
    d.settle();
    expect(d.ctrl.violations[1]).toBe("SQ1 shadow tail = 16: not below the queue size 16: ignored");
  });

  it("a controller reset forgets the buffers: new queues use their registers only", () => {
    const { d, shadow, eventIdx } = setup();
    expect(st(config(d, shadow, eventIdx))).toBe("ok");
    d.disable();
    expect(d.ctrl.dbbuf).toBe(null);
    d.queues.clear();
    const q = d.bringUp();
    d.host.mem.fill(0, shadow, shadow + 4096);
    for (let i = 0; i < 3; i++) expect(st(d.cmd(q, { opcode: 0x00, nsid: 1 }))).toBe("ok");
    expect(d.u32(eventIdx + 8)).toBe(0);
    expect(d.ctrl.violations).toEqual([]);
  });
});
