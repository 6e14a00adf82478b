// Controller registers, enable/disable/shutdown, PCI config space: the model on its own.
import { describe, it, expect } from "vitest";
import { TestDriver, MemDisk, addrOf } from "./harness.js";
import { REG, field, CAP } from "../../host/nvme/constants.js";
import { makeProfile, profiles } from "../../host/nvme/profiles.js";

const CC_OK = (4 << 20) | (6 << 16) | 1;

describe("CAP and VS per profile", () => {
  it.each([
    ["qemu", { vid: 0x1b36, did: 0x0010, vs: 0x00010400, mqes: 2047, dstrd: 0, to: 15, mpsmin: 0, mpsmax: 4 }],
    ["strict", { vid: 0x144d, did: 0xa808, vs: 0x00010300, mqes: 31, dstrd: 2, to: 20, mpsmin: 0, mpsmax: 4 }],
    ["legacy", { vid: 0x8086, did: 0x0953, vs: 0x00010000, mqes: 63, dstrd: 1, to: 10, mpsmin: 0, mpsmax: 0 }],
    ["tiny", { vid: 0x1d0f, did: 0x0061, vs: 0x00010200, mqes: 3, dstrd: 0, to: 15, mpsmin: 0, mpsmax: 0 }],
  ])("%s: config space ids, CAP fields read as two 32-bit halves, VS", (profile, x) => {
    const d = new TestDriver({ profile });
    expect(d.ctrl.configRead32(0)).toBe(((x.did << 16) | x.vid) >>> 0);
    expect(d.ctrl.configRead32(8) >>> 8).toBe(0x010802); // class: mass storage, NVM, NVMe
    const cap = d.cap;
    expect(field(cap, CAP.MQES)).toBe(x.mqes);
    expect(field(cap, CAP.CQR)).toBe(1);
    expect(field(cap, CAP.DSTRD)).toBe(x.dstrd);
    expect(field(cap, CAP.TO)).toBe(x.to);
    expect(field(cap, CAP.CSS) & 1).toBe(1); // NVM command set, bit 37
    expect(field(cap, CAP.NSSRS)).toBe(0);
    expect(field(cap, CAP.MPSMIN)).toBe(x.mpsmin);
    expect(field(cap, CAP.MPSMAX)).toBe(x.mpsmax);
    expect(d.r32(REG.VS)).toBe(x.vs);
    expect(d.r32(REG.CSTS)).toBe(0); // disabled at power-on
  });

  it("profile overrides apply field by field from a CLI string", () => {
    const p = makeProfile("strict", "mdts=2,mqes=15,sgl=yes,rdyDelayNs=1000:2000");
    expect(p).toMatchObject({ mdts: 2, mqes: 15, sgl: true, rdyDelayNs: [1000, 2000], dstrd: 2 });
    expect(profiles.strict.mqes).toBe(31); // the table itself is untouched
    expect(() => makeProfile("strict", "nosuch=1")).toThrow(/unknown profile field/);
    expect(() => makeProfile("qemu", "mqes=0")).toThrow(/mqes/);
    const d = new TestDriver({ profile: "qemu", overrides: "mqes=15,dstrd=3" });
    expect(field(d.cap, CAP.MQES)).toBe(15);
    expect(field(d.cap, CAP.DSTRD)).toBe(3);
  });
});

describe("CC.EN 0->1 checks (CSTS.CFS with the reason)", () => {
  const cases = [
    ["ASQ not page-aligned", (d) => d.enable({ wait: false, asq: d.alloc(4096) + 64 }), /ASQ .* not aligned/],
    [
      "ACQ not aligned to CC.MPS=1 (8 KiB pages)",
      (d) => {
        const asq = d.alloc(8192, 8192);
        d.alloc(4096, 8192);
        const acq = d.alloc(4096, 4096); // 4 KiB aligned, not 8 KiB aligned
        d.enable({ wait: false, mps: 1, asq, acq: acq % 8192 ? acq : acq + 4096 });
      },
      /ACQ .* not aligned/,
    ],
    ["MPS above MPSMAX", (d) => d.enable({ wait: false, cc: (4 << 20) | (6 << 16) | (5 << 7) | 1 }), /MPS=5 outside/],
    ["CSS not NVM", (d) => d.enable({ wait: false, cc: CC_OK | (1 << 4) }), /CSS=1/],
    ["AMS weighted round robin not supported", (d) => d.enable({ wait: false, cc: CC_OK | (1 << 11) }), /AMS=1/],
    ["AQA.ASQS = 0 (one entry)", (d) => d.enable({ wait: false, asqEntries: 1 }), /ASQS is 0/],
    ["AQA.ACQS = 0 (one entry)", (d) => d.enable({ wait: false, acqEntries: 1 }), /ACQS is 0/],
    ["AQA.ASQS above MQES", (d) => d.enable({ wait: false, asqEntries: 2049 }), /ASQS=2048 above CAP.MQES=2047/],
  ];
  it.each(cases)("%s -> CFS", (_name, go, reason) => {
    const d = new TestDriver({ profile: "qemu" });
    go(d);
    d.run(1000);
    expect(d.csts & 3).toBe(2); // CFS=1, RDY=0
    expect(d.ctrl.fatalReason).toMatch(reason);
    expect(d.ctrl.violations.join("\n")).toMatch(/enable failed/);
  });

  it("ASQ = 0 -> CFS", () => {
    const d = new TestDriver();
    d.w32(REG.AQA, 0x000f000f);
    d.w64(REG.ACQ, addrOf(0));
    d.w32(REG.CC, CC_OK);
    expect(d.csts & 2).toBe(2);
    expect(d.ctrl.fatalReason).toMatch(/ASQ is 0/);
  });

  it("after CFS, clearing EN clears CSTS and a correct enable succeeds", () => {
    const d = new TestDriver();
    d.enable({ wait: false, asqEntries: 1 });
    expect(d.csts & 2).toBe(2);
    d.disable();
    expect(d.csts).toBe(0);
    d.enable();
    expect(d.csts & 3).toBe(1);
    expect(d.ctrl.fatalReason).toBe(null);
  });

  it("tiny: admin queues of MQES+1 = 4 entries are accepted, 5 are not", () => {
    const d = new TestDriver({ profile: "tiny" });
    d.enable({ asqEntries: 4, acqEntries: 4 });
    expect(d.csts & 3).toBe(1);
    const d2 = new TestDriver({ profile: "tiny" });
    d2.enable({ wait: false, asqEntries: 5, acqEntries: 4 });
    expect(d2.ctrl.fatalReason).toMatch(/ASQS=4 above CAP.MQES=3/);
  });
});

describe("RDY timing", () => {
  it("qemu: CSTS.RDY follows CC.EN in the same register write, and clears at once on disable", () => {
    const d = new TestDriver({ profile: "qemu" });
    d.enable({ wait: false });
    expect(d.csts & 1).toBe(1);
    d.w32(REG.CC, d.r32(REG.CC) & ~1);
    expect(d.csts & 1).toBe(0);
  });

  it("strict (seed 7): RDY=0 right after EN, =1 only after a delay of 2..8 ms; disable takes 1..4 ms", () => {
    const d = new TestDriver({ profile: "strict", seed: 7 });
    d.enable({ wait: false });
    expect(d.csts & 1).toBe(0);
    d.run(1_999_000);
    expect(d.csts & 1).toBe(0);
    const t0 = d.host.clock;
    expect(d.waitFor(() => d.csts & 1, 10_000_000)).toBeTruthy();
    expect(Number(d.host.clock)).toBeGreaterThanOrEqual(2_000_000);
    expect(Number(d.host.clock)).toBeLessThanOrEqual(8_000_000);
    expect(d.host.clock >= t0).toBe(true);
    const tOff = d.host.clock;
    d.w32(REG.CC, d.r32(REG.CC) & ~1);
    expect(d.csts & 1).toBe(1); // still ready for a while
    d.waitFor(() => (d.csts & 1) === 0, 10_000_000);
    const took = Number(d.host.clock - tOff);
    expect(took).toBeGreaterThanOrEqual(1_000_000);
    expect(took).toBeLessThanOrEqual(4_000_000);
  });

  it("strict: setting EN again before RDY cleared is a violation and the controller goes fatal", () => {
    const d = new TestDriver({ profile: "strict", seed: 3 });
    d.enable();
    d.w32(REG.CC, d.r32(REG.CC) & ~1);
    d.w32(REG.CC, d.r32(REG.CC) | 1);
    expect(d.csts & 2).toBe(2);
    expect(d.ctrl.violations.join("\n")).toMatch(/CC.EN set to 1 while CSTS.RDY was still 1/);
  });

  it("the same seed gives the same RDY delay; another seed another delay", () => {
    const when = (seed) => {
      const d = new TestDriver({ profile: "strict", seed });
      d.enable();
      return d.host.clock;
    };
    expect(when(11)).toBe(when(11));
    expect(new Set([11, 12, 13, 14].map(when)).size).toBeGreaterThan(1);
  });
});

describe("registers while enabled", () => {
  it("CC fields other than EN/SHN written while EN=1 are ignored and recorded", () => {
    const d = new TestDriver();
    d.enable();
    const cc = d.r32(REG.CC);
    d.w32(REG.CC, cc | (1 << 7)); // MPS 1
    expect(d.r32(REG.CC)).toBe(cc);
    expect(d.ctrl.violations.at(-1)).toMatch(/CC.MPS changed while CC.EN=1/);
  });

  it("AQA/ASQ/ACQ written while EN=1 are ignored and recorded", () => {
    const d = new TestDriver();
    d.enable();
    const aqa = d.r32(REG.AQA);
    d.w32(REG.AQA, 0x00030003);
    expect(d.r32(REG.AQA)).toBe(aqa);
    d.w32(REG.ASQ, 0x5000);
    expect(d.ctrl.violations.length).toBe(2);
    expect(d.ctrl.violations[1]).toMatch(/ASQ while CC.EN=1/);
  });

  it("ASQ/ACQ are 64-bit registers written and read as halves, low first", () => {
    const d = new TestDriver();
    d.w64(REG.ASQ, 0x1_2345_6000n);
    d.w64(REG.ACQ, 0xabcd_0000_1000n);
    expect(d.r64(REG.ASQ)).toBe(0x1_2345_6000n);
    expect(d.r32(REG.ACQ + 4)).toBe(0xabcd);
  });

  it("writes to CAP/VS and reserved offsets are recorded", () => {
    const d = new TestDriver();
    d.w32(REG.CAP, 1);
    d.w32(REG.VS, 1);
    d.w32(0x40, 1);
    d.w32(REG.NSSR, 0x4e564d65);
    expect(d.ctrl.violations).toHaveLength(4);
    expect(d.ctrl.violations[3]).toMatch(/NSSR/);
    expect(d.r32(REG.VS)).toBe(0x00010400);
  });

  it("MMIO while PCI memory space is disabled reads all ones and drops writes", () => {
    const d = new TestDriver();
    d.ctrl.configWrite32(4, 0);
    expect(d.r32(REG.VS)).toBe(0xffffffff);
    d.w32(REG.AQA, 0x00010001);
    d.ctrl.configWrite32(4, 6);
    expect(d.r32(REG.AQA)).toBe(0);
    expect(d.ctrl.violations).toHaveLength(2);
  });

  it("CC.EN 1->0 frees every IO queue: doorbells to them are then violations", () => {
    const d = new TestDriver();
    const q = d.bringUp();
    expect(d.ctrl.sqs.size).toBe(2);
    d.disable();
    expect(d.ctrl.sqs.size).toBe(0);
    expect(d.ctrl.cqs.size).toBe(0);
    d.enable();
    d.w32(d.sqDoorbell(q.qid), 1);
    expect(d.ctrl.violations.at(-1)).toMatch(/SQ 1 does not exist/);
  });

  it("CC.EN 1->0 discards outstanding commands: they never complete", () => {
    const d = new TestDriver({ profile: "strict", seed: 5 });
    const q = d.bringUp();
    d.submit(q, { opcode: 0x00, nsid: 1 });
    d.run(100); // fetched? not yet completed
    d.disable();
    d.enable();
    d.settle();
    expect(d.reap(q)).toHaveLength(0);
    expect(d.ctrl.stats.completions).toBeGreaterThan(0); // the admin commands of bring-up
  });
});

describe("shutdown", () => {
  it("qemu: CC.SHN=01b reports SHST=10b (complete) at once and flushes the disks", () => {
    const disk = new MemDisk(1 << 16);
    const d = new TestDriver({ disks: [disk] });
    d.enable();
    d.w32(REG.CC, d.r32(REG.CC) | (1 << 14));
    expect((d.csts >> 2) & 3).toBe(2);
    expect(disk.flushes).toBe(1);
  });

  it("strict: SHST=01b (occurring) then 10b (complete) after several ms; reset clears SHST", () => {
    const d = new TestDriver({ profile: "strict", seed: 9 });
    d.enable();
    const t0 = d.host.clock;
    d.w32(REG.CC, d.r32(REG.CC) | (2 << 14)); // abrupt
    expect((d.csts >> 2) & 3).toBe(1);
    d.waitFor(() => ((d.csts >> 2) & 3) === 2, 50_000_000);
    expect((d.csts >> 2) & 3).toBe(2);
    expect(Number(d.host.clock - t0)).toBeGreaterThanOrEqual(3_000_000);
    d.disable();
    expect(d.csts).toBe(0);
  });
});

describe("PCI configuration space", () => {
  it("qemu: BAR0 is a 64-bit memory BAR holding registers, doorbells and the MSI-X table/PBA", () => {
    const d = new TestDriver({ profile: "qemu" });
    expect(d.ctrl.bars).toEqual([{ index: 0, size: 0x4000, is64: true, prefetchable: false }]);
    expect(d.ctrl.configRead32(0x10)).toBe(0xfebf0004);
    expect(d.ctrl.configRead32(0x14)).toBe(0);
    // capability list: PM -> MSI-X -> PCIe
    expect((d.ctrl.configRead32(0x04) >>> 16) & 0x10).toBe(0x10);
    let p = d.ctrl.configRead32(0x34) & 0xff;
    const ids = [];
    while (p) {
      const h = d.ctrl.configRead32(p);
      ids.push({ id: h & 0xff, at: p, h });
      p = (h >> 8) & 0xff;
    }
    expect(ids.map((c) => c.id)).toEqual([0x01, 0x11, 0x10]);
    const msix = ids[1];
    expect(((msix.h >>> 16) & 0x7ff) + 1).toBe(65); // table size
    const table = d.ctrl.configRead32(msix.at + 4);
    const pba = d.ctrl.configRead32(msix.at + 8);
    expect(table & 7).toBe(0); // BIR 0
    expect(table & ~7).toBeGreaterThanOrEqual(0x1000 + 65 * 8);
    expect((pba & ~7) >= (table & ~7) + 65 * 16).toBe(true);
    expect((d.ctrl.configRead32(0x3c) >> 8) & 0xff).toBe(1); // INTA
  });

  it("strict: the MSI-X table lives in BAR4", () => {
    const d = new TestDriver({ profile: "strict" });
    expect(d.ctrl.bars.map((b) => b.index)).toEqual([0, 4]);
    expect(d.ctrl.configRead32(0x54) & 7).toBe(4);
    expect(d.ctrl.configRead32(0x20)).toBe(0xfebe0004);
  });

  it("legacy: no MSI-X capability, INTx only", () => {
    const d = new TestDriver({ profile: "legacy" });
    const h = d.ctrl.configRead32(0x40);
    expect(h & 0xff).toBe(0x01);
    expect(d.ctrl.configRead32((h >> 8) & 0xff) & 0xff).toBe(0x10);
    expect(d.ctrl.bars).toHaveLength(1);
  });

  it("BAR writes are ignored; the command register keeps memory/bus-master/INTx-disable", () => {
    const d = new TestDriver();
    d.ctrl.configWrite32(0x10, 0xffffffff);
    expect(d.ctrl.configRead32(0x10)).toBe(0xfebf0004);
    d.ctrl.configWrite32(0x04, 0xffffffff);
    expect(d.ctrl.configRead32(0x04) & 0xffff).toBe(0x0546);
  });

  it("doorbells are (4 << DSTRD) apart: strict (DSTRD 2) records a write between them", () => {
    const d = new TestDriver({ profile: "strict" });
    d.enable();
    d.w32(0x1004, 0); // CQ0 head with stride 4: wrong on this controller
    expect(d.ctrl.violations.at(-1)).toMatch(/not on the 16-byte doorbell stride/);
    d.w32(0x1000 + 16 * 2 * 5, 1); // SQ5: beyond the 4 IO queue pairs
    expect(d.ctrl.violations.at(-1)).toMatch(/beyond the last queue/);
  });
});
