// Finer points where the model is at least as strict as QEMU's hw/nvme, or stricter.
import { describe, it, expect } from "vitest";
import { TestDriver, addrOf, BAR0 } from "./harness.js";
import { REG, statusName } from "../../host/nvme/constants.js";

const st = (e) => (e.ok ? "ok" : statusName(e.sct, e.sc));

describe("asynchronous events", () => {
  it("an Error event masks further Error events until the Error Information log is read (RAE=0)", () => {
    const d = new TestDriver();
    d.enable();
    d.submit(d.aq, { opcode: 0x0c });
    d.submit(d.aq, { opcode: 0x0c });
    d.run(100_000);
    d.w32(0x1000 + 8 * 200, 1); // beyond the last queue's doorbell: Write to Invalid Doorbell Register
    d.run(100_000);
    const first = d.reap(d.aq);
    d.ringCq(d.aq);
    expect(first).toHaveLength(1);
    expect((first[0].dw0 >> 8) & 0xff).toBe(0x00); // Write to Invalid Doorbell Register
    d.w32(d.cqDoorbell(0), 12); // beyond the posted entries: Invalid Doorbell Write Value
    d.run(100_000);
    expect(d.reap(d.aq)).toHaveLength(0); // masked
    const buf = d.alloc(4096);
    const log = d.admin({ opcode: 0x02, prp1: addrOf(buf), cdw10: 0x01 | (15 << 16) });
    expect(st(log)).toBe("ok");
    d.run(100_000);
    d.reap(d.aq);
    const second = [...d.aq.done.values()].find((e) => e.dw0 !== 0 && e.cid !== log.cid && e.cid !== first[0].cid);
    expect(second).toBeDefined();
    expect((second.dw0 >> 8) & 0xff).toBe(0x01);
  });

  it("an AER can be aborted", () => {
    const d = new TestDriver();
    d.enable();
    const cid = d.submit(d.aq, { opcode: 0x0c });
    d.run(100_000);
    const a = d.admin({ opcode: 0x08, cdw10: (cid << 16) | 0 });
    expect(a.dw0 & 1).toBe(0);
    const aer = d.aq.done.get(cid);
    expect(st(aer)).toBe("Command Abort Requested");
  });
});

describe("more host errors the model reports", () => {
  it("CC with reserved bits set is recorded", () => {
    const d = new TestDriver();
    d.enable({ cc: (4 << 20) | (6 << 16) | (1 << 30) | 1 });
    expect(d.ctrl.violations[0]).toMatch(/reserved bits 0x40000000/);
  });

  it("a doorbell after the shutdown notification is recorded", () => {
    const d = new TestDriver();
    d.enable();
    d.w32(REG.CC, d.r32(REG.CC) | (1 << 14));
    d.admin({ opcode: 0x0a, cdw10: 0x07 });
    expect(d.ctrl.violations.join("\n")).toMatch(/after a shutdown notification/);
  });

  it("a PRP list pointer into the controller BAR -> Data Transfer Error", () => {
    const d = new TestDriver({ profile: "legacy" });
    const q = d.bringUp();
    const buf = d.alloc(16384);
    const e = d.cmd(q, { opcode: 0x02, nsid: 1, prp1: addrOf(buf), prp2: BAR0 + 0x2000n, cdw12: 23 });
    expect(st(e)).toBe("Data Transfer Error");
  });

  it("a CQ placed inside the controller BAR -> PRP Offset Invalid", () => {
    const d = new TestDriver();
    d.enable();
    const e = d.admin({ opcode: 0x05, prp1: BAR0 + 0x1000n, cdw10: (15 << 16) | 1, cdw11: 1 });
    expect(st(e)).toBe("PRP Offset Invalid");
  });

  it("MMIO offsets not dword-aligned are recorded", () => {
    const d = new TestDriver();
    d.w32(REG.CC + 2, 1);
    expect(d.ctrl.violations[0]).toMatch(/not dword-aligned/);
    expect(d.r32(REG.CC)).toBe(0);
  });

  it("the admin SQ wraps: 40 commands through a 4-entry admin queue", () => {
    const d = new TestDriver({ profile: "tiny" });
    d.enable({ asqEntries: 4, acqEntries: 4 });
    for (let i = 0; i < 40; i++) expect(st(d.admin({ opcode: 0x0a, cdw10: 0x07 }))).toBe("ok");
    expect(d.ctrl.violations).toHaveLength(0);
  });

  it("Get Features SEL=3 reports capabilities: changeable, not saveable", () => {
    const d = new TestDriver();
    d.enable();
    expect(d.admin({ opcode: 0x0a, cdw10: 0x01 | (3 << 8) }).dw0).toBe(0b100);
  });

  it("Abort Command Limit Exceeded beyond ACL+1 outstanding Aborts", () => {
    const d = new TestDriver();
    d.enable({ asqEntries: 16 });
    for (let i = 0; i < 6; i++) d.submit(d.aq, { opcode: 0x08, cdw10: (0x999 << 16) | 1 }, { ring: false });
    d.ringSq(d.aq);
    d.settle();
    const es = d.reap(d.aq);
    // ACL 3: four Aborts may be outstanding; the 5th and 6th of the same batch are refused
    expect(es.map(st)).toEqual([
      "ok",
      "ok",
      "ok",
      "ok",
      "Abort Command Limit Exceeded",
      "Abort Command Limit Exceeded",
    ]);
    expect(es.slice(0, 4).every((e) => (e.dw0 & 1) === 1)).toBe(true); // nothing to abort: not aborted
  });
});

describe("queue ids and command ids after deletion", () => {
  it("a re-created SQ starts with no outstanding command ids, even if a completion of the old one is still waiting", () => {
    const d = new TestDriver({ faults: { dropRate: 1 } });
    const q = d.bringUp();
    d.submit(q, { opcode: 0x00, nsid: 1, cid: 9 });
    d.run(50_000);
    expect(st(d.admin({ opcode: 0x00, cdw10: 1 }))).toBe("ok"); // delete SQ1: cid 9 aborted
    expect(st(d.reap(q)[0])).toBe("Command Aborted due to SQ Deletion");
    d.ringCq(q);
    const sqOff = d.alloc(16 * 64);
    expect(st(d.admin({ opcode: 0x01, prp1: addrOf(sqOff), cdw10: (15 << 16) | 1, cdw11: (1 << 16) | 1 }))).toBe("ok");
    q.sqOff = sqOff;
    q.sqTail = 0;
    q.done.clear();
    d.ctrl.faults.dropRate = 0;
    expect(st(d.cmd(q, { opcode: 0x00, nsid: 1, cid: 9 }))).toBe("ok");
    expect(d.ctrl.violations).toHaveLength(0);
  });
});
