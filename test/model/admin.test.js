// Admin commands: Identify, features, queue creation/deletion checks, logs, abort, AER.
import { describe, it, expect } from "vitest";
import { TestDriver, MemDisk, addrOf } from "./harness.js";
import { statusName } from "../../host/nvme/constants.js";

const ascii = (b, off, len) => String.fromCharCode(...b.slice(off, off + len));
const u16 = (b, o) => b[o] | (b[o + 1] << 8);
const u32 = (b, o) => new DataView(b.buffer, b.byteOffset).getUint32(o, true);
const u64 = (b, o) => new DataView(b.buffer, b.byteOffset).getBigUint64(o, true);
const st = (e) => (e.ok ? "ok" : statusName(e.sct, e.sc));

describe("Identify controller (CNS 01h)", () => {
  it.each([
    [
      "qemu",
      {
        vid: 0x1b36,
        mdts: 7,
        ver: 0x00010400,
        vwc: 0x07,
        sgls: 0x00010001,
        mn: "QEMU NVMe Ctrl",
        sn: "deadbeef",
        subnqn: "nqn.2019-08.org.qemu:nvme:deadbeef",
      },
    ],
    [
      "strict",
      {
        vid: 0x144d,
        mdts: 5,
        ver: 0x00010300,
        vwc: 0x07,
        sgls: 0,
        mn: "nvme-wasm strict SSD 970",
        sn: "S4EWNX0R123456",
        subnqn: "nqn.2014-08.org.nvmexpress:nvme:S4EWNX0R123456",
      },
    ],
    [
      "legacy",
      { vid: 0x8086, mdts: 0, ver: 0, vwc: 0, sgls: 0, mn: "nvme-wasm legacy 750", sn: "CVCQ5130001", subnqn: "" },
    ],
  ])("%s: realistic fields", (profile, x) => {
    const d = new TestDriver({ profile, disks: [new MemDisk(1 << 20), new MemDisk(1 << 20)] });
    d.enable();
    const { e, data } = d.identify(1);
    expect(st(e)).toBe("ok");
    expect(u16(data, 0)).toBe(x.vid);
    expect(ascii(data, 4, 20)).toBe(x.sn.padEnd(20, " "));
    expect(ascii(data, 24, 40)).toBe(x.mn.padEnd(40, " "));
    expect(data[77]).toBe(x.mdts);
    expect(u32(data, 80)).toBe(x.ver);
    expect(data[512]).toBe(0x66); // SQES
    expect(data[513]).toBe(0x44); // CQES
    expect(u32(data, 516)).toBe(2); // NN
    expect(data[525]).toBe(x.vwc); // VWC is byte 525 (after FUSES 523:522 and FNA 524)
    expect(data[530]).toBe(1); // NVSCC
    expect(u32(data, 536)).toBe(x.sgls);
    const nqn = ascii(data, 768, 256).replace(/\0+$/, "");
    expect(nqn).toBe(x.subnqn);
    expect(u16(data, 520) & 0x4).toBe(4); // ONCS: Dataset Management
  });
});

describe("Identify namespace (CNS 00h)", () => {
  it("sizes, LBA formats with 512 B and 4 KiB, FLBAS pointing at the one in use", () => {
    const d = new TestDriver({ namespaces: [{ disk: new MemDisk(1 << 20), lbaBytes: 4096 }] });
    d.enable();
    const { e, data } = d.identify(0, 1);
    expect(st(e)).toBe("ok");
    expect(u64(data, 0)).toBe(256n); // NSZE
    expect(u64(data, 8)).toBe(256n); // NCAP
    const nlbaf = data[25] + 1;
    const formats = [];
    for (let i = 0; i < nlbaf; i++) formats.push({ ms: u16(data, 128 + 4 * i), lbads: data[130 + 4 * i] });
    expect(formats).toContainEqual({ ms: 0, lbads: 9 });
    expect(formats).toContainEqual({ ms: 0, lbads: 12 });
    expect(formats[data[26] & 0xf]).toEqual({ ms: 0, lbads: 12 });
    expect(data[99]).toBe(0); // NSATTR: not write protected
  });

  it("a namespace with metadata reports MS>0 in its format; a read-only one sets NSATTR bit 0", () => {
    const d = new TestDriver({
      namespaces: [
        { disk: new MemDisk(1 << 20), lbaBytes: 512, ms: 16 },
        { disk: new MemDisk(1 << 20), lbaBytes: 512, readonly: true },
      ],
    });
    d.enable();
    const a = d.identify(0, 1).data;
    const fmt = a[26] & 0xf;
    expect(u16(a, 128 + 4 * fmt)).toBe(16);
    expect(a[130 + 4 * fmt]).toBe(9);
    expect(a[26] & 0x10).toBe(0); // metadata in a separate buffer
    const b = d.identify(0, 2).data;
    expect(b[99] & 1).toBe(1);
  });

  it("NSID 0, beyond NN, or broadcast -> Invalid Namespace or Format", () => {
    const d = new TestDriver();
    d.enable();
    for (const nsid of [0, 2, 0xffffffff]) expect(st(d.identify(0, nsid).e)).toBe("Invalid Namespace or Format");
  });
});

describe("Identify CNS 02h and others", () => {
  it("qemu: active namespace list holds NSIDs greater than the one given", () => {
    const d = new TestDriver({ disks: [1, 2, 3].map(() => new MemDisk(1 << 16)) });
    d.enable();
    const all = d.identify(2, 0).data;
    expect([u32(all, 0), u32(all, 4), u32(all, 8), u32(all, 12)]).toEqual([1, 2, 3, 0]);
    const after1 = d.identify(2, 1).data;
    expect([u32(after1, 0), u32(after1, 4), u32(after1, 8)]).toEqual([2, 3, 0]);
    expect(st(d.identify(2, 0xfffffffe).e)).toBe("Invalid Namespace or Format");
  });

  it("legacy (NVMe 1.0): CNS 02h -> Invalid Field in Command, with DNR", () => {
    const d = new TestDriver({ profile: "legacy" });
    d.enable();
    const { e } = d.identify(2, 0);
    expect(st(e)).toBe("Invalid Field in Command");
    expect(e.dnr).toBe(true);
  });

  it("unknown CNS -> Invalid Field in Command", () => {
    const d = new TestDriver();
    d.enable();
    expect(st(d.identify(0x42, 0).e)).toBe("Invalid Field in Command");
  });

  it("CNS 03h: a UUID namespace identification descriptor", () => {
    const d = new TestDriver();
    d.enable();
    const { e, data } = d.identify(3, 1);
    expect(st(e)).toBe("ok");
    expect([data[0], data[1]]).toEqual([3, 16]);
  });
});

describe("command dword 0 checks", () => {
  it("unsupported admin opcodes -> Invalid Command Opcode (Format NVM, Firmware Commit, vendor 0xC0)", () => {
    const d = new TestDriver();
    d.enable();
    for (const opcode of [0x80, 0x10, 0xc0]) {
      const e = d.admin({ opcode });
      expect(st(e)).toBe("Invalid Command Opcode");
      expect(e.dnr).toBe(true);
    }
  });

  it("admin opcode on an IO queue -> Invalid Command Opcode", () => {
    const d = new TestDriver();
    const q = d.bringUp();
    expect(st(d.cmd(q, { opcode: 0x06, nsid: 1 }))).toBe("Invalid Command Opcode");
  });

  it("fused commands and PSDT != 0 on the admin queue -> Invalid Field", () => {
    const d = new TestDriver();
    d.enable();
    const buf = d.alloc(4096);
    expect(st(d.admin({ opcode: 0x06, cdw10: 1, prp1: addrOf(buf), fuse: 1 }))).toBe("Invalid Field in Command");
    expect(st(d.admin({ opcode: 0x06, cdw10: 1, prp1: addrOf(buf), psdt: 1 }))).toBe("Invalid Field in Command");
  });

  it("strict (no SGL): PSDT=01b on an IO command -> Invalid Field", () => {
    const d = new TestDriver({ profile: "strict" });
    const q = d.bringUp();
    const buf = d.alloc(512);
    expect(st(d.cmd(q, { opcode: 0x02, nsid: 1, prp1: addrOf(buf), psdt: 1 }))).toBe("Invalid Field in Command");
  });

  it("completion DW2 carries the SQ head and SQ id, DW3 the command id", () => {
    const d = new TestDriver();
    d.enable({ asqEntries: 8 });
    const e = d.admin({ opcode: 0x0a, cdw10: 0x07, cid: 0xbeef });
    expect(e.cid).toBe(0xbeef);
    expect(e.sqid).toBe(0);
    expect(e.sqhd).toBe(1);
  });
});

describe("Get/Set Features", () => {
  it("Number of Queues: the profile grants its count whatever is asked (0-based both halves)", () => {
    const d = new TestDriver({ profile: "strict" });
    d.enable();
    const e = d.admin({ opcode: 0x09, cdw10: 0x07, cdw11: (63 << 16) | 63 });
    expect(st(e)).toBe("ok");
    expect(e.dw0).toBe((3 << 16) | 3);
    expect(d.admin({ opcode: 0x0a, cdw10: 0x07 }).dw0).toBe((3 << 16) | 3);
  });

  it("Number of Queues 0xFFFF -> Invalid Field; after queues exist -> Command Sequence Error", () => {
    const d = new TestDriver();
    d.enable();
    expect(st(d.admin({ opcode: 0x09, cdw10: 0x07, cdw11: 0xffff }))).toBe("Invalid Field in Command");
    expect(st(d.admin({ opcode: 0x09, cdw10: 0x07, cdw11: 0xffff0000 }))).toBe("Invalid Field in Command");
    d.createQueuePair(1);
    expect(st(d.admin({ opcode: 0x09, cdw10: 0x07, cdw11: 0 }))).toBe("Command Sequence Error");
    // a reset starts over
    d.disable();
    d.enable();
    expect(st(d.admin({ opcode: 0x09, cdw10: 0x07, cdw11: 0 }))).toBe("ok");
  });

  it("Volatile Write Cache: settable when present, Invalid Field when absent (legacy)", () => {
    const d = new TestDriver();
    d.enable();
    expect(d.admin({ opcode: 0x0a, cdw10: 0x06 }).dw0).toBe(1);
    expect(st(d.admin({ opcode: 0x09, cdw10: 0x06, cdw11: 0 }))).toBe("ok");
    expect(d.admin({ opcode: 0x0a, cdw10: 0x06 }).dw0).toBe(0);
    const l = new TestDriver({ profile: "legacy" });
    l.enable();
    expect(st(l.admin({ opcode: 0x09, cdw10: 0x06, cdw11: 1 }))).toBe("Invalid Field in Command");
    expect(st(l.admin({ opcode: 0x0a, cdw10: 0x06 }))).toBe("Invalid Field in Command");
  });

  it("Arbitration and Interrupt Coalescing are accepted and read back; unknown FID and SV=1 refused", () => {
    const d = new TestDriver();
    d.enable();
    expect(st(d.admin({ opcode: 0x09, cdw10: 0x01, cdw11: 0x03 }))).toBe("ok");
    expect(d.admin({ opcode: 0x0a, cdw10: 0x01 }).dw0).toBe(3);
    expect(st(d.admin({ opcode: 0x09, cdw10: 0x08, cdw11: 0x0a05 }))).toBe("ok");
    expect(d.admin({ opcode: 0x0a, cdw10: 0x08 }).dw0).toBe(0x0a05);
    expect(d.admin({ opcode: 0x0a, cdw10: 0x01 | (1 << 8) }).dw0).toBe(0); // SEL=default
    expect(st(d.admin({ opcode: 0x09, cdw10: 0x7e }))).toBe("Invalid Field in Command");
    expect(st(d.admin({ opcode: 0x09, cdw10: 0x01 | (1 << 31) }))).toBe("Feature Identifier Not Saveable");
  });
});

describe("Create/Delete IO queues", () => {
  const cq = (d, { qid = 1, size = 16, base, flags = 1, vector = 0 } = {}) =>
    d.admin({
      opcode: 0x05,
      prp1: base ?? addrOf(d.alloc(size * 16)),
      cdw10: ((size - 1) << 16) | qid,
      cdw11: (vector << 16) | flags,
    });
  const sq = (d, { qid = 1, size = 16, base, cqid = 1, flags = 1 } = {}) =>
    d.admin({
      opcode: 0x01,
      prp1: base ?? addrOf(d.alloc(size * 64)),
      cdw10: ((size - 1) << 16) | qid,
      cdw11: (cqid << 16) | flags,
    });

  it("CQ: qid 0, above the granted count, or in use -> Invalid Queue Identifier", () => {
    const d = new TestDriver({ profile: "strict" });
    d.enable();
    expect(st(cq(d, { qid: 0 }))).toBe("Invalid Queue Identifier");
    expect(st(cq(d, { qid: 5 }))).toBe("Invalid Queue Identifier");
    expect(st(cq(d, { qid: 4 }))).toBe("ok");
    expect(st(cq(d, { qid: 4 }))).toBe("Invalid Queue Identifier");
  });

  it("CQ: size 1 (QSIZE 0) or above MQES+1 -> Invalid Queue Size", () => {
    const d = new TestDriver({ profile: "strict" });
    d.enable();
    expect(st(cq(d, { size: 1 }))).toBe("Invalid Queue Size");
    expect(st(cq(d, { size: 33 }))).toBe("Invalid Queue Size");
    expect(st(cq(d, { size: 32 }))).toBe("ok");
  });

  it("CQ: base not page-aligned -> PRP Offset Invalid; PC=0 -> Invalid Field", () => {
    const d = new TestDriver();
    d.enable();
    expect(st(cq(d, { base: addrOf(d.alloc(8192) + 256) }))).toBe("PRP Offset Invalid");
    expect(st(cq(d, { flags: 0 }))).toBe("Invalid Field in Command");
  });

  it("CQ: an interrupt vector without MSI-X enabled, or beyond the table -> Invalid Interrupt Vector", () => {
    const d = new TestDriver();
    d.enable();
    expect(st(cq(d, { vector: 1, flags: 3 }))).toBe("Invalid Interrupt Vector");
    d.ctrl.configWrite32(0x50, 0x8000 << 16); // MSI-X enable
    expect(st(cq(d, { vector: 65, flags: 3 }))).toBe("Invalid Interrupt Vector");
    expect(st(cq(d, { vector: 64, flags: 3 }))).toBe("ok");
  });

  it("CQ/SQ: CC.IOCQES/IOSQES not 4/6 -> Invalid Queue Size", () => {
    const d = new TestDriver();
    d.enable({ cc: 1 });
    expect(st(cq(d))).toBe("Invalid Queue Size");
  });

  it("SQ: missing CQ or CQ 0 -> Completion Queue Invalid; qid checks; PC=0", () => {
    const d = new TestDriver();
    d.enable();
    expect(st(sq(d, { cqid: 1 }))).toBe("Completion Queue Invalid");
    expect(st(sq(d, { cqid: 0 }))).toBe("Completion Queue Invalid");
    expect(st(cq(d))).toBe("ok");
    expect(st(sq(d, { qid: 0 }))).toBe("Invalid Queue Identifier");
    expect(st(sq(d, { qid: 65 }))).toBe("Invalid Queue Identifier");
    expect(st(sq(d, { flags: 0 }))).toBe("Invalid Field in Command");
    expect(st(sq(d, { size: 2049 }))).toBe("Invalid Queue Size"); // qemu: MQES 2047
    expect(st(sq(d, { size: 2048 }))).toBe("ok");
  });

  it("delete: CQ with SQs -> Invalid Queue Deletion; missing queue -> Invalid Queue Identifier; order SQ then CQ works", () => {
    const d = new TestDriver();
    d.enable();
    d.createQueuePair(1);
    expect(st(d.admin({ opcode: 0x04, cdw10: 1 }))).toBe("Invalid Queue Deletion");
    expect(st(d.admin({ opcode: 0x00, cdw10: 2 }))).toBe("Invalid Queue Identifier");
    expect(st(d.admin({ opcode: 0x00, cdw10: 0 }))).toBe("Invalid Queue Identifier");
    expect(st(d.admin({ opcode: 0x00, cdw10: 1 }))).toBe("ok");
    expect(st(d.admin({ opcode: 0x04, cdw10: 1 }))).toBe("ok");
    expect(st(d.admin({ opcode: 0x04, cdw10: 1 }))).toBe("Invalid Queue Identifier");
    expect(d.ctrl.sqs.size).toBe(1);
  });

  it("delete SQ aborts its outstanding commands with Command Aborted due to SQ Deletion", () => {
    const d = new TestDriver({ faults: { dropRate: 1 } });
    const q = d.bringUp();
    const cid = d.submit(q, { opcode: 0x00, nsid: 1 });
    d.run(10_000);
    expect(d.reap(q)).toHaveLength(0); // dropped: never completes on its own
    expect(st(d.admin({ opcode: 0x00, cdw10: 1 }))).toBe("ok");
    const [e] = d.reap(q);
    expect(e.cid).toBe(cid);
    expect(st(e)).toBe("Command Aborted due to SQ Deletion");
  });
});

describe("Get Log Page", () => {
  const log = (d, lid, bytes, { offset = 0, nsid = 0xffffffff, rae = 0 } = {}) => {
    const buf = d.alloc(Math.max(bytes, 4096));
    const numd = bytes / 4 - 1;
    const e = d.admin({
      opcode: 0x02,
      nsid,
      prp1: addrOf(buf),
      ...d.prps(buf, bytes),
      cdw10: lid | (rae << 15) | ((numd & 0xffff) << 16),
      cdw11: numd >>> 16,
      cdw12: offset,
    });
    return { e, data: d.host.mem.slice(buf, buf + bytes) };
  };

  it("SMART / Health: data units and commands read/written count the IO", () => {
    const d = new TestDriver({ disks: [new MemDisk(4 << 20)] });
    const q = d.bringUp();
    for (let i = 0; i < 3; i++) expect(d.write(q, { slba: i * 256, data: new Uint8Array(128 * 1024) }).ok).toBe(true);
    expect(d.read(q, { slba: 0, nlb: 8 }).e.ok).toBe(true);
    const { e, data } = log(d, 0x02, 512);
    expect(st(e)).toBe("ok");
    expect(u16(data, 1)).toBeGreaterThan(273); // temperature in kelvins
    expect(data[3]).toBe(100); // available spare
    expect(u64(data, 32)).toBe(1n); // 4 KiB read: rounds up to 1 unit of 512,000 bytes
    expect(u64(data, 48)).toBe(1n); // 384 KiB written: 393216 / 512000 rounds up to 1
    expect(u64(data, 64)).toBe(1n); // host read commands
    expect(u64(data, 80)).toBe(3n); // host write commands
  });

  it("SMART with a specific NSID -> Invalid Field; unknown log id -> Invalid Log Page; offset past the end -> Invalid Field", () => {
    const d = new TestDriver();
    d.enable();
    expect(st(log(d, 0x02, 512, { nsid: 1 }).e)).toBe("Invalid Field in Command");
    expect(st(log(d, 0x7f, 512).e)).toBe("Invalid Log Page");
    expect(st(log(d, 0x02, 64, { offset: 512 }).e)).toBe("Invalid Field in Command");
    expect(st(log(d, 0x02, 64, { offset: 2 }).e)).toBe("Invalid Field in Command");
  });

  it("NUMDL/NUMDU and LPO select part of the log", () => {
    const d = new TestDriver();
    d.enable();
    const a = log(d, 0x03, 512).data;
    const b = log(d, 0x03, 8, { offset: 8 }).data;
    expect(a[0]).toBe(1); // AFI: slot 1 active
    expect(ascii(a, 8, 8)).toBe("7.2.0   ");
    expect(Array.from(b)).toEqual(Array.from(a.slice(8, 16)));
  });

  it("Error Information: newest first, with SQID, CID and status of failed commands", () => {
    const d = new TestDriver();
    d.enable();
    d.admin({ opcode: 0x80, cid: 0x111 });
    d.identify(0x42, 0); // invalid field
    const { data } = log(d, 0x01, 128);
    expect(u64(data, 0)).toBe(2n);
    expect(u16(data, 10)).not.toBe(0x111);
    expect((u16(data, 12) >> 1) & 0xff).toBe(0x02);
    expect(u64(data, 64)).toBe(1n);
    expect(u16(data, 64 + 10)).toBe(0x111);
    expect((u16(data, 64 + 12) >> 1) & 0xff).toBe(0x01);
  });

  it("SMART counts what the model did: power cycles, power-on hours, unsafe shutdowns, media errors, error log entries, critical warning", () => {
    const d = new TestDriver({ disks: [new MemDisk(1 << 20)], faults: { errorRate: 1 } });
    let q = d.bringUp();
    const e = d.read(q, { slba: 0, nlb: 1 }).e;
    expect(st(e)).toBe("Unrecovered Read Error");
    let s = log(d, 0x02, 512).data;
    expect(u64(s, 112)).toBe(1n); // power cycles
    expect(u64(s, 128)).toBe(0n); // power-on hours: not one yet
    expect(u64(s, 144)).toBe(0n); // unsafe shutdowns
    expect(u64(s, 160)).toBe(1n); // media errors: the injected one
    expect(u64(s, 176)).toBe(1n); // error log entries
    expect(u64(s, 64)).toBe(0n); // a failed read is no host read command
    expect(s[0]).toBe(0); // no critical warning
    // a reset of a ready controller without shutdown notification: one unsafe shutdown
    d.disable();
    q = d.bringUp();
    d.host.clock += 2n * 3_600_000_000_000n; // two hours of virtual time
    d.ctrl.smartCriticalWarning = 0x01; // available spare below threshold
    d.ctrl.temperatureK = 350; // above WCTEMP 343 K
    s = log(d, 0x02, 512).data;
    expect(u64(s, 144)).toBe(1n);
    expect(u64(s, 128)).toBe(2n);
    expect(u16(s, 1)).toBe(350);
    expect(s[0]).toBe(0x03); // spare (as set) and temperature (bit 1)
    // a normal shutdown before the reset is not unsafe
    d.w32(0x14, d.r32(0x14) | (1 << 14)); // CC.SHN = 01b
    d.waitFor(() => ((d.r32(0x1c) >> 2) & 3) === 2); // CSTS.SHST complete
    d.disable();
    d.bringUp();
    expect(u64(log(d, 0x02, 512).data, 144)).toBe(1n);
  });

  it("Error Information: an injected media error is recorded with its SQID, CID, status, LBA and NSID", () => {
    const d = new TestDriver({ disks: [new MemDisk(1 << 20)], faults: { errorRate: 1 } });
    const q = d.bringUp();
    const r = d.read(q, { slba: 77, nlb: 2 });
    expect(st(r.e)).toBe("Unrecovered Read Error");
    const { e, data } = log(d, 0x01, 256);
    expect(st(e)).toBe("ok");
    expect(u64(data, 0)).toBe(1n); // error count
    expect(u16(data, 8)).toBe(q.qid); // SQID
    expect(u16(data, 10)).toBe(r.e.cid); // CID
    expect((u16(data, 12) >> 1) & 0x7ff).toBe(0x281); // SCT 2, SC 81h
    expect(u64(data, 16)).toBe(77n); // LBA
    expect(u32(data, 24)).toBe(1); // NSID
    expect(u64(data, 64)).toBe(0n); // the next entry is empty: error count 0
  });

  it("tiny (MDTS 1 = 8 KiB): a 12 KiB log read -> Invalid Field", () => {
    const d = new TestDriver({ profile: "tiny" });
    d.enable({ asqEntries: 4, acqEntries: 4 });
    expect(st(log(d, 0x02, 12288).e)).toBe("Invalid Field in Command");
  });
});

describe("Abort and Asynchronous Event Request", () => {
  it("abort of a command still in the device: it completes with Command Abort Requested, the Abort with DW0 bit 0 = 0", () => {
    const d = new TestDriver({ faults: { dropRate: 1 } });
    const q = d.bringUp();
    const cid = d.submit(q, { opcode: 0x00, nsid: 1 });
    d.run(10_000);
    const a = d.admin({ opcode: 0x08, cdw10: (cid << 16) | 1 });
    expect(st(a)).toBe("ok");
    expect(a.dw0 & 1).toBe(0);
    const [e] = d.reap(q);
    expect(e.cid).toBe(cid);
    expect(st(e)).toBe("Command Abort Requested");
    expect(e.dnr).toBe(false);
  });

  it("abort of an unknown command: DW0 bit 0 = 1 (not aborted)", () => {
    const d = new TestDriver();
    d.bringUp();
    const a = d.admin({ opcode: 0x08, cdw10: (0x7777 << 16) | 1 });
    expect(st(a)).toBe("ok");
    expect(a.dw0 & 1).toBe(1);
  });

  it("an outstanding AER completes with an Error event when the host writes an invalid doorbell value", () => {
    const d = new TestDriver();
    d.enable();
    const cid = d.submit(d.aq, { opcode: 0x0c });
    d.run(100_000);
    expect(d.reap(d.aq)).toHaveLength(0); // held
    d.w32(d.sqDoorbell(0), 999); // beyond the 16-entry admin SQ
    d.run(100_000);
    const [e] = d.reap(d.aq);
    d.ringCq(d.aq);
    expect(e.cid).toBe(cid);
    expect(st(e)).toBe("ok");
    expect(e.dw0 & 7).toBe(0); // Error status
    expect((e.dw0 >> 8) & 0xff).toBe(1); // Invalid Doorbell Write Value
    expect((e.dw0 >> 16) & 0xff).toBe(1); // Error Information log
    expect(d.ctrl.violations.join("\n")).toMatch(/not below the queue size 16/);
  });

  it("more AERs than AERL+1 -> Asynchronous Event Request Limit Exceeded", () => {
    const d = new TestDriver();
    d.enable();
    for (let i = 0; i < 4; i++) d.submit(d.aq, { opcode: 0x0c });
    const e = d.admin({ opcode: 0x0c });
    expect(st(e)).toBe("Asynchronous Event Request Limit Exceeded");
  });
});
