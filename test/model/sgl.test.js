// The model's SGLs (host/nvme/prp.js _mapSgl) as the driver uses them, one Data Block descriptor
// in the command, and the statuses a malformed one gets.
import { describe, it, expect } from "vitest";
import { TestDriver, MemDisk, addrOf, pattern } from "./harness.js";
import { statusName } from "../../host/nvme/constants.js";

const st = (e) => (e.ok ? "ok" : statusName(e.sct, e.sc));
const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

// A command whose SGL descriptor 1 is (addr, len, identifier byte).
function sglCommand(opcode, { addr, len, id = 0x00, slba = 0, nlb = 1, cid }) {
  const raw = new Uint8Array(64);
  const dv = new DataView(raw.buffer);
  dv.setUint32(0, opcode | (1 << 14) | (cid << 16), true);
  dv.setUint32(4, 1, true);
  dv.setBigUint64(24, addr, true);
  dv.setUint32(32, len, true);
  raw[39] = id;
  dv.setUint32(40, slba, true);
  dv.setUint32(48, nlb - 1, true);
  return { opcode, cid, raw };
}

function setup(overrides) {
  const disk = new MemDisk(1 << 20, (b) => b.set(pattern(b.length, 5)));
  const d = new TestDriver({ disks: [disk], overrides });
  return { d, disk, q: d.bringUp() };
}

describe("SGL Data Block descriptors", () => {
  it("one descriptor moves 1 block and 128 KiB (32 pages, no list) both ways", () => {
    const { d, disk, q } = setup();
    for (const nlb of [1, 256]) {
      const buf = d.alloc(nlb * 512);
      let e = d.cmd(q, sglCommand(0x02, { addr: addrOf(buf), len: nlb * 512, slba: 7, nlb, cid: 100 + nlb }));
      expect(st(e)).toBe("ok");
      expect(same(d.host.mem.subarray(buf, buf + nlb * 512), disk.bytes.subarray(7 * 512, (7 + nlb) * 512))).toBe(true);
      const data = pattern(nlb * 512, 40 + nlb);
      d.host.mem.set(data, buf);
      e = d.cmd(q, sglCommand(0x01, { addr: addrOf(buf), len: nlb * 512, slba: 900, nlb, cid: 200 + nlb }));
      expect(st(e)).toBe("ok");
      expect(same(disk.bytes.subarray(900 * 512, (900 + nlb) * 512), data)).toBe(true);
    }
    expect(d.ctrl.violations).toEqual([]);
  });

  it("a length other than NLB's bytes is Data SGL Length Invalid, shorter or longer (SGLS bit 20 clear)", () => {
    const { d, q } = setup();
    const buf = d.alloc(4096);
    expect(st(d.cmd(q, sglCommand(0x02, { addr: addrOf(buf), len: 1024, nlb: 4, cid: 1 })))).toBe(
      "Data SGL Length Invalid",
    );
    expect(st(d.cmd(q, sglCommand(0x02, { addr: addrOf(buf), len: 4096, nlb: 4, cid: 2 })))).toBe(
      "Data SGL Length Invalid",
    );
    expect(st(d.cmd(q, sglCommand(0x02, { addr: addrOf(buf), len: 2048, nlb: 4, cid: 3 })))).toBe("ok");
  });

  it("a longer SGL is accepted where SGLS bit 20 says so", () => {
    const { d, q } = setup("sglExcess=1");
    expect(new DataView(d.identify(1).data.buffer).getUint32(536, true)).toBe(0x00110001);
    const buf = d.alloc(4096);
    expect(st(d.cmd(q, sglCommand(0x02, { addr: addrOf(buf), len: 4096, nlb: 4, cid: 4 })))).toBe("ok");
  });

  it("keyed and reserved descriptor types, and a subtype other than address, are SGL Descriptor Type Invalid", () => {
    const { d, q } = setup();
    const buf = d.alloc(512);
    expect(st(d.cmd(q, sglCommand(0x02, { addr: addrOf(buf), len: 512, id: 0x40, cid: 5 })))).toBe(
      "SGL Descriptor Type Invalid",
    );
    expect(st(d.cmd(q, sglCommand(0x02, { addr: addrOf(buf), len: 512, id: 0xe0, cid: 6 })))).toBe(
      "SGL Descriptor Type Invalid",
    );
    expect(st(d.cmd(q, sglCommand(0x02, { addr: addrOf(buf), len: 512, id: 0x01, cid: 7 })))).toBe(
      "SGL Descriptor Type Invalid",
    );
  });

  it("a Bit Bucket (type 1) drops read data, and is SGL Descriptor Type Invalid in a write", () => {
    const { d, disk, q } = setup();
    const buf = d.alloc(1024);
    const seg = d.alloc(32);
    const dv = new DataView(d.host.mem.buffer);
    // Last Segment: 512 bytes dropped, then a Data Block for the second block
    dv.setUint32(seg + 8, 512, true);
    d.host.mem[seg + 15] = 0x10;
    dv.setBigUint64(seg + 16, addrOf(buf), true);
    dv.setUint32(seg + 24, 512, true);
    d.host.mem[seg + 31] = 0x00;
    const cmd = (opcode, cid) => sglCommand(opcode, { addr: addrOf(seg), len: 32, id: 0x30, nlb: 2, slba: 40, cid });
    expect(st(d.cmd(q, cmd(0x02, 10)))).toBe("ok");
    expect(same(d.host.mem.subarray(buf, buf + 512), disk.bytes.subarray(41 * 512, 42 * 512))).toBe(true);
    expect(st(d.cmd(q, cmd(0x01, 11)))).toBe("SGL Descriptor Type Invalid");
  });

  it("dword alignment where SGLS bits 1:0 are 10b: SGL Data Block Granularity Invalid", () => {
    const { d, q } = setup("sglDword=1");
    expect(new DataView(d.identify(1).data.buffer).getUint32(536, true) & 3).toBe(2);
    const buf = d.alloc(1024);
    expect(st(d.cmd(q, sglCommand(0x02, { addr: addrOf(buf + 2), len: 512, cid: 8 })))).toBe(
      "SGL Data Block Granularity Invalid",
    );
    expect(st(d.cmd(q, sglCommand(0x02, { addr: addrOf(buf + 4), len: 512, cid: 9 })))).toBe("ok");
  });
});
