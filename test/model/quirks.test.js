// The profiles that reproduce real controllers' documented quirks (host/nvme/profiles.js says
// where each fact comes from): each quirk shown directly through the harness, the way a driver
// meets it, and the profiles' own bookkeeping (ids, sources, validation, --help).
import { describe, it, expect } from "vitest";
import { TestDriver, MemDisk, addrOf, pattern } from "./harness.js";
import { REG, statusName } from "../../host/nvme/constants.js";
import {
  makeProfile,
  profiles,
  profileHelp,
  LINUX_QUIRKS,
  NVME_QUIRK_DELAY_AMOUNT_MS,
} from "../../host/nvme/profiles.js";
import { USAGE } from "../../host/cli.js";

const st = (e) => (e.ok ? "ok" : statusName(e.sct, e.sc));
const MS = 1_000_000;
const CC_EN = (4 << 20) | (6 << 16) | 1;

// The vendor/device ids and NVME_QUIRK_* flags of Linux's nvme_id_table (drivers/nvme/host/pci.c)
// each quirk profile stands for, as read there.
const LINUX_TABLE = {
  "hgst-sn100": { vid: 0x1c58, did: 0x0003, quirks: ["DELAY_BEFORE_CHK_RDY"] },
  "qemu-2.0": { vid: 0x8086, did: 0x5845, quirks: ["IDENTIFY_CNS", "DISABLE_WRITE_ZEROES", "BOGUS_NID"] },
  "qemu-5.1": { vid: 0x8086, did: 0x5845, quirks: ["IDENTIFY_CNS", "DISABLE_WRITE_ZEROES", "BOGUS_NID"] },
  "apple-t2": {
    vid: 0x106b,
    did: 0x2005,
    quirks: ["SINGLE_VECTOR", "128_BYTES_SQES", "SHARED_TAGS", "SKIP_CID_GEN", "IDENTIFY_CNS"],
  },
  "skhynix-pc400": { vid: 0x1c5c, did: 0x1504, quirks: ["DISABLE_WRITE_ZEROES"] },
  "amazon-ebs": { vid: 0x1d0f, did: 0x8061, quirks: ["DMA_ADDRESS_BITS_48"] },
};
const INVENTED = ["qemu", "strict", "legacy", "tiny"];

describe("the profiles themselves", () => {
  it("every profile is valid, says what it is and where its facts come from, and --help lists it", () => {
    for (const [name, p] of Object.entries(profiles)) {
      const made = makeProfile(name);
      expect(made.name).toBe(name);
      expect(p.summary, name).not.toBe("custom profile");
      expect(p.source, name).not.toBe("given by the caller");
      expect(p.summary).not.toMatch(/\n/);
      for (const q of p.linuxQuirks) expect(LINUX_QUIRKS).toContain(q);
      expect(USAGE).toContain(`  ${name} `);
      expect(USAGE).toContain(`source: ${p.source}`);
    }
    expect(profileHelp().split("\n")).toHaveLength(2 * Object.keys(profiles).length);
  });

  it("the quirk profiles carry the ids and quirks of the Linux table entries they stand for", () => {
    for (const [name, t] of Object.entries(LINUX_TABLE)) {
      const p = profiles[name];
      expect([p.vid, p.did], name).toEqual([t.vid, t.did]);
      expect([...p.linuxQuirks].sort(), name).toEqual([...t.quirks].sort());
      expect(p.source, name).toMatch(/Linux nvme_id_table/);
    }
    for (const name of INVENTED) expect(profiles[name].source, name).toMatch(/invented|the model's/);
  });

  it("what a profile is cannot be overridden; a quirk parameter without its quirk is refused", () => {
    expect(() => makeProfile("qemu", "summary=x")).toThrow(/describes the profile/);
    expect(() => makeProfile("qemu", { linuxQuirks: ["BOGUS_NID"] })).toThrow(/describes the profile/);
    expect(() => makeProfile({ name: "x", cnsQuirk: "maybe" })).toThrow(/cnsQuirk must be one of/);
    expect(() => makeProfile("hgst-sn100", { disableDelayNs: [3e9, 3e9] })).toThrow(/within rdyHandsOffNs/);
    expect(() => makeProfile("apple-t2", { mqes: 255 })).toThrow(/tagLimit 128 below the queue depth/);
    expect(() => makeProfile("skhynix-pc400", { writeZeroes: false })).toThrow(/writeZeroesQuirk needs writeZeroes/);
    // an override on a checked profile is a what-if: allowed
    expect(makeProfile("apple-t2", { ioSqeBytes: 64 }).ioSqeBytes).toBe(64);
    // a custom object profile needs no provenance
    expect(makeProfile({ name: "mine", mdts: 3 }).summary).toBe("custom profile");
  });

  it("Linux waits NVME_QUIRK_DELAY_AMOUNT = 2300 ms; hgst-sn100 needs exactly that", () => {
    expect(NVME_QUIRK_DELAY_AMOUNT_MS).toBe(2300);
    expect(profiles["hgst-sn100"].rdyHandsOffNs).toBe(2300 * MS);
  });
});

describe("hgst-sn100: NVME_QUIRK_DELAY_BEFORE_CHK_RDY", () => {
  const disable = (d) => d.w32(REG.CC, d.r32(REG.CC) & ~1);

  it("a host that keeps its hands off CSTS for 2.3 s after clearing CC.EN sees the reset finish, and enables again", () => {
    const d = new TestDriver({ profile: "hgst-sn100" });
    d.enable(); // polling CSTS at once after setting EN is fine: Linux does too
    expect(d.csts & 1).toBe(1);
    disable(d);
    d.run(NVME_QUIRK_DELAY_AMOUNT_MS * MS);
    expect(d.csts & 1).toBe(0);
    expect(d.ctrl.violations).toEqual([]);
    d.enable();
    expect(d.csts & 3).toBe(1);
    const e = d.identify(1);
    expect(st(e.e)).toBe("ok");
  });

  it("a CSTS read right after clearing CC.EN wedges the reset: CSTS.RDY stays 1 for good, recorded", () => {
    const d = new TestDriver({ profile: "hgst-sn100" });
    d.enable();
    disable(d);
    d.run(1000);
    expect(d.csts & 1).toBe(1);
    expect(d.ctrl.violations).toHaveLength(1);
    expect(d.ctrl.violations[0]).toMatch(
      /CSTS read 0\.001 ms after CC\.EN was cleared: this controller needs 2300 ms .*NVME_QUIRK_DELAY_BEFORE_CHK_RDY.*wedged/,
    );
    d.run(60_000 * MS); // a minute: still ready, the reset never finishes
    expect(d.csts & 1).toBe(1);
    // enabling again while RDY is still 1 is refused as on any controller: fatal
    d.w32(REG.CC, CC_EN);
    expect(d.csts & 2).toBe(2);
  });

  it("the boundary is the 2300 ms Linux sleeps: a read at 2299.999 ms wedges, at 2300 ms it does not", () => {
    for (const [wait, wedged] of [
      [2300 * MS - 1000, true],
      [2300 * MS, false],
    ]) {
      const d = new TestDriver({ profile: "hgst-sn100" });
      d.enable();
      disable(d);
      d.run(wait);
      expect(d.csts & 1, `read after ${wait} ns`).toBe(wedged ? 1 : 0);
      expect(d.ctrl.violations.length, `read after ${wait} ns`).toBe(wedged ? 1 : 0);
    }
  });

  it("the reset itself ends inside the hands-off time; CC.EN = 0 written to a disabled controller starts none", () => {
    const d = new TestDriver({ profile: "hgst-sn100" });
    d.w32(REG.CC, 0); // already disabled: no transition
    expect(d.csts).toBe(0);
    d.enable();
    disable(d);
    d.run(profiles["hgst-sn100"].disableDelayNs[1]);
    expect(d.ctrl.csts & 1).toBe(0); // the register, looked at without a host read
    expect(d.ctrl.violations).toEqual([]);
  });

  it("other profiles have no hands-off time: CSTS polled at once after clearing CC.EN is fine", () => {
    const d = new TestDriver({ profile: "strict" });
    d.enable();
    disable(d);
    expect(d.waitFor(() => (d.csts & 1) === 0, 10_000 * MS)).toBe(true);
    expect(d.ctrl.violations).toEqual([]);
  });
});

describe("qemu-2.0: NVME_QUIRK_IDENTIFY_CNS (Identify CDW10 read as a boolean)", () => {
  it("reports VS 0x00010001 (1.1 in the NVMe 1.0 layout) and QEMU 1.6-2.x's CAP", () => {
    const d = new TestDriver({ profile: "qemu-2.0" });
    expect(d.r32(REG.VS)).toBe(0x00010001);
    const cap = d.cap;
    expect(Number(cap & 0xffffn)).toBe(0x7ff);
    expect(Number((cap >> 17n) & 3n)).toBe(1); // AMS: weighted round robin
    expect(Number((cap >> 24n) & 0xffn)).toBe(0xf);
    expect(Number((cap >> 52n) & 0xfn)).toBe(0); // MPSMAX 0
  });

  it("CNS 02h and 03h answer with the Identify Controller structure and success; CNS 00h is still the namespace", () => {
    const d = new TestDriver({ profile: "qemu-2.0", disks: [new MemDisk(1 << 20), new MemDisk(1 << 20)] });
    d.enable();
    const ctrl = d.identify(1);
    expect(st(ctrl.e)).toBe("ok");
    for (const cns of [2, 3]) {
      const r = d.identify(cns, cns === 3 ? 1 : 0);
      expect(st(r.e), `CNS ${cns}`).toBe("ok");
      expect(Buffer.from(r.data).equals(Buffer.from(ctrl.data)), `CNS ${cns}`).toBe(true);
    }
    // parsed as an active namespace list, the first "namespace id" is VID | SSVID << 16
    const list = d.identify(2);
    expect(new DataView(list.data.buffer).getUint32(0, true)).toBe(0x1af48086);
    const ns = d.identify(0, 1);
    expect(st(ns.e)).toBe("ok");
    expect(new DataView(ns.data.buffer).getBigUint64(0, true)).toBe(2048n); // NSZE
    // identifiers: none at all (NGUID and EUI64 zero)
    expect(ns.data.subarray(104, 128).every((b) => b === 0)).toBe(true);
  });

  it("the Identify data of that QEMU: MDTS 0, SQES 66h, CQES 44h, ONCS 0, VWC 0, model and firmware", () => {
    const d = new TestDriver({ profile: "qemu-2.0" });
    d.enable();
    const { data } = d.identify(1);
    const dv = new DataView(data.buffer);
    expect(dv.getUint16(0, true)).toBe(0x8086);
    expect(Buffer.from(data.subarray(24, 38)).toString()).toBe("QEMU NVMe Ctrl");
    expect(Buffer.from(data.subarray(64, 67)).toString()).toBe("1.0");
    expect([data[73], data[74], data[75]]).toEqual([0x00, 0x02, 0xb3]); // IEEE OUI bytes as QEMU stores them
    expect(data[77]).toBe(0); // MDTS: no limit
    expect([data[512], data[513]]).toEqual([0x66, 0x44]);
    expect(dv.getUint16(520, true)).toBe(0); // ONCS
    expect(data[525]).toBe(0); // VWC
  });

  it("only queue create/delete, Identify and the Number of Queues feature: the rest is refused", () => {
    const d = new TestDriver({ profile: "qemu-2.0" });
    d.enable();
    const buf = d.alloc(4096);
    expect(st(d.admin({ opcode: 0x02, prp1: addrOf(buf), cdw10: 0x01 | (15 << 16) }))).toBe("Invalid Command Opcode");
    expect(st(d.admin({ opcode: 0x08, cdw10: 0 }))).toBe("Invalid Command Opcode");
    expect(st(d.admin({ opcode: 0x0c }))).toBe("Invalid Command Opcode");
    expect(st(d.admin({ opcode: 0x09, cdw10: 0x06, cdw11: 1 }))).toBe("Invalid Field in Command");
    expect(st(d.admin({ opcode: 0x0a, cdw10: 0x06 }))).toBe("Invalid Field in Command");
    const nq = d.admin({ opcode: 0x09, cdw10: 0x07, cdw11: 0 });
    expect(st(nq)).toBe("ok");
    expect(nq.dw0).toBe((62 << 16) | 62);
    const q = d.createQueuePair(1);
    expect(st(d.cmd(q, { opcode: 0x08, nsid: 1, cdw12: 0 }))).toBe("Invalid Command Opcode"); // no Write Zeroes
    expect(st(d.cmd(q, { opcode: 0x09, nsid: 1, cdw10: 0, cdw11: 4 }))).toBe("Invalid Command Opcode"); // no DSM
  });
});

describe("apple-t2: NVME_QUIRK_IDENTIFY_CNS (CNS read as one bit, NVMe 1.0 style), no AERs", () => {
  it("CNS 02h is Identify Namespace of NSID 0: Invalid Namespace; CNS 03h returns the controller structure", () => {
    const d = new TestDriver({ profile: "apple-t2" });
    d.enable();
    expect(d.r32(REG.VS)).toBe(0x00010100);
    expect(st(d.identify(2, 0).e)).toBe("Invalid Namespace or Format");
    const r = d.identify(3, 1);
    expect(st(r.e)).toBe("ok");
    expect(new DataView(r.data.buffer).getUint16(0, true)).toBe(0x106b); // VID, where a descriptor list would start
    expect(st(d.identify(0, 1).e)).toBe("ok");
    expect(st(d.admin({ opcode: 0x0c }))).toBe("Invalid Command Opcode");
  });
});

describe("qemu-5.1: NVME_QUIRK_BOGUS_NID", () => {
  const descriptors = (data) => {
    const out = [];
    for (let o = 0; o + 4 <= data.length;) {
      const type = data[o];
      const len = data[o + 1];
      if (type === 0) break;
      out.push({ type, len, value: Buffer.from(data.subarray(o + 4, o + 4 + len)).toString("hex") });
      o += 4 + len;
    }
    return out;
  };
  const twoControllers = (profile, overrides) =>
    [0, 1].map((i) => {
      const d = new TestDriver({
        profile,
        overrides,
        seed: 10 + i,
        disks: [new MemDisk(1 << 20), new MemDisk(1 << 20)],
      });
      d.enable();
      return d;
    });

  it("the UUID is the NSID in big-endian: the same namespace id has the same UUID on every controller", () => {
    const [a, b] = twoControllers("qemu-5.1");
    expect(a.r32(REG.VS)).toBe(0x00010300);
    for (const nsid of [1, 2]) {
      const la = descriptors(a.identify(3, nsid).data);
      const lb = descriptors(b.identify(3, nsid).data);
      // well-formed: one UUID descriptor (type 3, length 16), then the zero terminator
      expect(la).toEqual([{ type: 3, len: 16, value: `${nsid.toString(16).padStart(8, "0")}${"0".repeat(24)}` }]);
      expect(lb).toEqual(la);
    }
    for (const d of [a, b]) {
      const ns = d.identify(0, 1).data;
      expect(ns.subarray(104, 128).every((x) => x === 0)).toBe(true); // NGUID and EUI64: zero
    }
  });

  it("the all-null variant (nidQuirk zero) keeps the list walkable too", () => {
    const [a] = twoControllers("qemu-5.1", { nidQuirk: "zero" });
    expect(descriptors(a.identify(3, 2).data)).toEqual([{ type: 3, len: 16, value: "0".repeat(32) }]);
  });

  it("a profile without the quirk: every namespace its own UUID, and an NGUID", () => {
    const [a] = twoControllers("qemu");
    const u1 = descriptors(a.identify(3, 1).data)[0].value;
    const u2 = descriptors(a.identify(3, 2).data)[0].value;
    expect(u1).not.toBe(u2);
    expect(
      a
        .identify(0, 1)
        .data.subarray(104, 120)
        .some((x) => x !== 0),
    ).toBe(true);
  });
});

describe("apple-t2: 128-byte IO SQEs, one vector, one tag space (SHARED_TAGS, SKIP_CID_GEN)", () => {
  // an IO queue pair with room for 128-byte SQ entries
  function ioPair(d, entries = 16, sqeBytes = 128) {
    const cqOff = d.alloc(entries * 16);
    const sqOff = d.alloc(entries * sqeBytes);
    expect(st(d.admin({ opcode: 0x05, prp1: addrOf(cqOff), cdw10: ((entries - 1) << 16) | 1, cdw11: 3 }))).toBe("ok");
    expect(
      st(d.admin({ opcode: 0x01, prp1: addrOf(sqOff), cdw10: ((entries - 1) << 16) | 1, cdw11: (1 << 16) | 1 })),
    ).toBe("ok");
    const q = {
      qid: 1,
      sqOff,
      cqOff,
      sqSize: entries,
      cqSize: entries,
      sqTail: 0,
      cqHead: 0,
      phase: 1,
      done: new Map(),
    };
    d.queues.set(1, q);
    return q;
  }
  // writes a read command at the 128-byte slot of the tail; rings the doorbell unless ring = false
  function read128(d, q, { cid, slba = 0, buf, ring = true }) {
    const o = q.sqOff + q.sqTail * 128;
    const dv = new DataView(d.host.mem.buffer, o, 64);
    d.host.mem.fill(0, o, o + 128);
    dv.setUint32(0, 0x02 | (cid << 16), true);
    dv.setUint32(4, 1, true);
    dv.setBigUint64(24, addrOf(buf), true);
    dv.setUint32(40, slba, true);
    q.sqTail = (q.sqTail + 1) % q.sqSize;
    if (ring) d.ringSq(q);
  }
  const reapAll = (d, q) => {
    d.settle();
    d.reap(q);
    d.ringCq(q);
  };

  it("IO SQ entries are 128 bytes apart (the admin SQ stays at 64): two reads written that way both complete", () => {
    const disk = new MemDisk(1 << 20, (b) => b.set(pattern(1 << 20, 3)));
    const d = new TestDriver({ profile: "apple-t2", disks: [disk] });
    d.enable();
    const q = ioPair(d);
    const bufs = [d.alloc(512), d.alloc(512)];
    read128(d, q, { cid: 40, slba: 5, buf: bufs[0] });
    read128(d, q, { cid: 41, slba: 9, buf: bufs[1] });
    reapAll(d, q);
    expect([...q.done.values()].map((e) => [e.cid, st(e)])).toEqual([
      [40, "ok"],
      [41, "ok"],
    ]);
    expect(
      Buffer.from(d.host.mem.subarray(bufs[1], bufs[1] + 512)).equals(
        Buffer.from(disk.bytes.subarray(9 * 512, 10 * 512)),
      ),
    ).toBe(true);
    expect(d.ctrl.violations).toEqual([]);
  });

  it("a host writing 64-byte entries: the second command is read from the third 64-byte slot", () => {
    const d = new TestDriver({ profile: "apple-t2" });
    d.enable();
    const q = d.createQueuePair(1, 16); // 64-byte entries, as the spec says
    const a = d.submit(q, { opcode: 0x02, nsid: 1, prp1: addrOf(d.alloc(512)), cid: 40 });
    d.submit(q, { opcode: 0x02, nsid: 1, prp1: addrOf(d.alloc(512)), cid: 41 });
    reapAll(d, q);
    const done = [...q.done.values()];
    expect(done.find((e) => e.cid === a) && st(q.done.get(a))).toBe("ok");
    expect(q.done.has(41)).toBe(false); // never seen: the controller read a zeroed slot instead
    const stray = done.find((e) => e.cid === 0);
    expect(stray && st(stray)).toBe("Invalid Namespace or Format"); // opcode 0 (Flush) of NSID 0
  });

  it("CC.IOSQES 7 (FreeBSD) is accepted as well as 6 (Linux)", () => {
    const d = new TestDriver({ profile: "apple-t2" });
    d.enable({ cc: (4 << 20) | (7 << 16) | 1 });
    ioPair(d);
    expect(d.ctrl.violations).toEqual([]);
  });

  it("one MSI-X vector: the table has one entry and a CQ on vector 1 is refused", () => {
    const d = new TestDriver({ profile: "apple-t2" });
    const cap = d.ctrl.capMsix;
    expect(cap).toBeGreaterThan(0);
    expect((d.ctrl.configRead32(cap) >>> 16) & 0x7ff).toBe(0); // table size, 0-based
    d.ctrl.configWrite32(cap, 0x8000 << 16); // MSI-X enable
    d.enable();
    const cqOff = d.alloc(16 * 16);
    expect(st(d.admin({ opcode: 0x05, prp1: addrOf(cqOff), cdw10: (15 << 16) | 1, cdw11: (1 << 16) | 3 }))).toBe(
      "Invalid Interrupt Vector",
    );
  });

  it("a command id used on the admin queue while outstanding on the IO queue takes the controller down, recorded", () => {
    const d = new TestDriver({ profile: "apple-t2", overrides: { completionDelayNs: [200_000, 200_000] } });
    d.enable();
    const q = ioPair(d);
    read128(d, q, { cid: 5, buf: d.alloc(512) });
    d.run(20_000); // the read is fetched and still executing
    d.submit(d.aq, { opcode: 0x06, cid: 5, prp1: addrOf(d.alloc(4096)), cdw10: 1 });
    d.run(20_000);
    expect(d.csts & 2).toBe(2);
    expect(d.ctrl.violations[0]).toMatch(
      /SQ0: command id 5 \(identify\) submitted while SQ1 has command id 5 \(read\) outstanding: .*NVME_QUIRK_SHARED_TAGS/,
    );
    expect(d.ctrl.fatalReason).toMatch(/shared tags/);
  });

  it("admin and IO ids kept apart (Linux: admin 0..31, IO from 32 up) run side by side", () => {
    const d = new TestDriver({ profile: "apple-t2", overrides: { completionDelayNs: [200_000, 200_000] } });
    d.enable();
    const q = ioPair(d);
    read128(d, q, { cid: 32, buf: d.alloc(512) });
    d.run(20_000);
    d.submit(d.aq, { opcode: 0x06, cid: 5, prp1: addrOf(d.alloc(4096)), cdw10: 1 });
    d.settle();
    d.reap(q);
    d.reap(d.aq);
    expect(st(q.done.get(32))).toBe("ok");
    expect(st(d.aq.done.get(5))).toBe("ok");
    expect(d.ctrl.violations).toEqual([]);
  });

  it("the same id again after its completion is fine: only ids outstanding at once collide", () => {
    const d = new TestDriver({ profile: "apple-t2" });
    d.enable();
    const q = ioPair(d);
    read128(d, q, { cid: 5, buf: d.alloc(512) });
    reapAll(d, q);
    expect(st(d.admin({ opcode: 0x06, cid: 5, prp1: addrOf(d.alloc(4096)), cdw10: 1 }))).toBe("ok");
    expect(d.ctrl.violations).toEqual([]);
  });

  it("a command id of 128 or more (past the IO queue depth) takes the controller down, recorded", () => {
    const d = new TestDriver({ profile: "apple-t2" });
    d.enable();
    d.submit(d.aq, { opcode: 0x06, cid: 0x1005, prp1: addrOf(d.alloc(4096)), cdw10: 1 }); // Linux's generation bits in 15:12
    d.run(100_000);
    expect(d.csts & 2).toBe(2);
    expect(d.ctrl.violations[0]).toMatch(/command id 4101 \(identify\) not below 128: .*NVME_QUIRK_SKIP_CID_GEN/);
  });

  it("other controllers keep a command id space per queue: the same id on admin and IO at once is fine", () => {
    const d = new TestDriver({ profile: "qemu", overrides: { completionDelayNs: [200_000, 200_000] } });
    d.enable();
    const q = d.createQueuePair(1);
    d.submit(q, { opcode: 0x02, nsid: 1, cid: 5, prp1: addrOf(d.alloc(512)) });
    d.run(20_000);
    expect(st(d.admin({ opcode: 0x06, cid: 5, prp1: addrOf(d.alloc(4096)), cdw10: 1 }))).toBe("ok");
    expect(d.ctrl.violations).toEqual([]);
  });
});

describe("skhynix-pc400: NVME_QUIRK_DISABLE_WRITE_ZEROES (NLB off by one)", () => {
  const blocks = 64;
  const setup = (profile) => {
    const disk = new MemDisk(blocks * 512, (b) => b.fill(0xa5));
    const d = new TestDriver({ profile, disks: [disk] });
    d.enable();
    return { d, disk, q: d.createQueuePair(1) };
  };
  const zeroed = (disk, lba) => disk.bytes.subarray(lba * 512, lba * 512 + 512).every((x) => x === 0);

  it("Write Zeroes is advertised (ONCS bit 3), then zeroes the block after the range too and reports success", () => {
    const { d, disk, q } = setup("skhynix-pc400");
    const id = d.identify(1).data;
    expect(new DataView(id.buffer).getUint16(520, true) & 0x8).toBe(0x8);
    const e = d.cmd(q, { opcode: 0x08, nsid: 1, cdw10: 10, cdw12: 3 }); // LBA 10..13
    expect(st(e)).toBe("ok");
    expect([9, 10, 11, 12, 13, 14, 15].map((l) => zeroed(disk, l))).toEqual([
      false,
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
    expect(d.ctrl.violations[0]).toMatch(
      /Write Zeroes LBA 10\+4 on a controller whose Write Zeroes is broken \(NVME_QUIRK_DISABLE_WRITE_ZEROES\): zeroed 5 blocks, LBA 14 after the range too/,
    );
    expect(d.ctrl.stats.blocksZeroed).toBe(5);
  });

  it("a range ending at the last block fails with LBA Out of Range, nothing zeroed; NLB FFFFh with Invalid Field", () => {
    const { d, disk, q } = setup("skhynix-pc400");
    expect(st(d.cmd(q, { opcode: 0x08, nsid: 1, cdw10: blocks - 4, cdw12: 3 }))).toBe("LBA Out of Range");
    expect(zeroed(disk, blocks - 1)).toBe(false);
    expect(st(d.cmd(q, { opcode: 0x08, nsid: 1, cdw10: 0, cdw12: 0xffff }))).toBe("Invalid Field in Command");
    expect(d.ctrl.violations).toHaveLength(2);
  });

  it("a controller without the quirk zeroes exactly the range", () => {
    const { d, disk, q } = setup("samsung-pm981");
    expect(st(d.cmd(q, { opcode: 0x08, nsid: 1, cdw10: 10, cdw12: 3 }))).toBe("ok");
    expect([9, 10, 13, 14].map((l) => zeroed(disk, l))).toEqual([false, true, true, false]);
    expect(d.ctrl.violations).toEqual([]);
  });
});

describe("amazon-ebs: NVME_QUIRK_DMA_ADDRESS_BITS_48", () => {
  const TWO48 = 1n << 48n;

  it("a data pointer at or above 2^48 is a DMA fault, recorded, and the command fails with Data Transfer Error", () => {
    const d = new TestDriver({ profile: "amazon-ebs" });
    const q = d.bringUp();
    const e = d.cmd(q, { opcode: 0x02, nsid: 1, prp1: TWO48 + addrOf(d.alloc(512)) });
    expect(st(e)).toBe("Data Transfer Error");
    expect(d.host.faults).toHaveLength(1);
    expect(d.host.faults[0].why).toMatch(
      /beyond the controller's 48-bit DMA addressing \(NVME_QUIRK_DMA_ADDRESS_BITS_48\)/,
    );
    expect(d.ctrl.stats.dmaFaults).toBe(1);
    // the last page below 2^48 is the controller's to reach: here the host's window refuses it
    // instead (its own message)
    const e3 = d.cmd(q, { opcode: 0x02, nsid: 1, prp1: TWO48 - 4096n });
    expect(st(e3)).toBe("Data Transfer Error");
    expect(d.host.faults[1].why).toBe("outside the DMA window");
  });

  it("a PRP list above 2^48 too", () => {
    const d = new TestDriver({ profile: "amazon-ebs" });
    const q = d.bringUp();
    const buf = d.alloc(16384);
    const e = d.cmd(q, { opcode: 0x02, nsid: 1, prp1: addrOf(buf), prp2: TWO48 + 0x1000n, cdw12: 23 });
    expect(st(e)).toBe("Data Transfer Error");
    expect(d.host.faults[0].why).toMatch(/48-bit/);
  });

  it("an admin queue above 2^48 cannot be fetched: controller fatal status, recorded", () => {
    const d = new TestDriver({ profile: "amazon-ebs" });
    const acq = d.alloc(16 * 16);
    d.w32(REG.AQA, (15 << 16) | 15);
    d.w64(REG.ASQ, TWO48 + 0x10000n);
    d.w64(REG.ACQ, addrOf(acq));
    d.w32(REG.CC, CC_EN);
    expect(d.waitFor(() => (d.csts & 1) === 1, 100 * MS)).toBe(true);
    d.w32(d.sqDoorbell(0), 1);
    d.run(10 * MS);
    expect(d.csts & 2).toBe(2);
    expect(d.ctrl.fatalReason).toMatch(/cannot fetch SQ0 entry 0 at 0x1000000010000: .*48-bit/);
    expect(d.host.faults[0].why).toMatch(/48-bit/);
  });

  it("the same addresses on a 64-bit controller reach the host, which decides", () => {
    const d = new TestDriver({ profile: "amazon-ebs", overrides: { dmaBits: 64 } });
    const q = d.bringUp();
    expect(st(d.cmd(q, { opcode: 0x02, nsid: 1, prp1: TWO48 + addrOf(d.alloc(512)) }))).toBe("Data Transfer Error");
    expect(d.host.faults[0].why).toBe("outside the DMA window");
  });
});

describe("fault dropAfter (for reset tests): exactly one IO command never completes", () => {
  it("the IO command fetched after the first N is dropped, once; admin commands are not counted", () => {
    const d = new TestDriver({ faults: { drop_after: 2 } });
    const q = d.bringUp();
    const done = [0, 1, 2, 3, 4].map((slba) =>
      d.cmd(q, { opcode: 0x02, nsid: 1, prp1: addrOf(d.alloc(512)), cdw10: slba }, { maxNs: 50 * MS }),
    );
    expect(done.map((e) => (e ? st(e) : "dropped"))).toEqual(["ok", "ok", "dropped", "ok", "ok"]);
    expect(d.ctrl.stats.injected.drop).toBe(1);
  });
});

describe("figures real controllers report", () => {
  const cases = [
    // profile, CAP.MQES, VS, MDTS, queue pairs granted, Write Zeroes in ONCS, CAP.AMS
    ["samsung-pm981", 16383, 0x00010200, 9, 32, true, 1],
    ["samsung-sm961", 16383, 0x00010200, 13, 8, true, 1],
    ["skhynix-pc401", 511, 0x00010200, 5, 16, false, 0],
  ];
  for (const [profile, mqes, vs, mdts, pairs, wz, ams] of cases) {
    it(`${profile}: MQES ${mqes}, VS ${vs.toString(16)}, MDTS ${mdts}, ${pairs} queue pairs`, () => {
      const d = new TestDriver({ profile, memBytes: 16 << 20, disks: [new MemDisk(8 << 20)] });
      expect(Number(d.cap & 0xffffn)).toBe(mqes);
      expect(Number((d.cap >> 17n) & 3n)).toBe(ams);
      expect(d.r32(REG.VS)).toBe(vs);
      d.enable();
      const id = d.identify(1).data;
      expect(id[77]).toBe(mdts);
      expect(!!(new DataView(id.buffer).getUint16(520, true) & 0x8)).toBe(wz);
      expect(Buffer.from(id.subarray(24, 64)).toString().trim()).toBe(profiles[profile].model);
      const nq = d.admin({ opcode: 0x09, cdw10: 0x07, cdw11: 0 });
      expect(nq.dw0).toBe(((pairs - 1) << 16) | (pairs - 1));
      const q = d.createQueuePair(1);
      // a transfer of exactly MDTS is taken, one block more is refused
      const max = 4096 * 2 ** mdts;
      if (max <= 4 << 20) {
        expect(st(d.read(q, { nlb: max / 512 }).e)).toBe("ok");
        expect(st(d.read(q, { nlb: max / 512 + 1 }).e)).toBe("Invalid Field in Command");
      }
    });
  }
});
