// Write Zeroes (NVMe 1.4 section 6.16) and Dataset Management deallocate (6.7) in the model: strict
// about what a host sends (ranges, ONCS, write protection, the range list read by DMA through PRPs),
// DLFEAT as the profile says (QEMU 7.2: 01h), deallocated blocks read as zeroes unless the profile
// keeps them (deallocate=ignore: QEMU's -drive discard=ignore), media errors injected on both.
import { describe, it, expect } from "vitest";
import { TestDriver, MemDisk, addrOf } from "./harness.js";
import { statusName } from "../../host/nvme/constants.js";
import { makeProfile } from "../../host/nvme/profiles.js";

const st = (e) => (e.ok ? "ok" : statusName(e.sct, e.sc));
const WRITE_ZEROES = 0x08,
  DSM = 0x09;
const AD = 1 << 2;

// n ranges [slba, nlb] written as the 16-byte Range Definition at `off` of host memory
function ranges(d, off, list) {
  const dv = new DataView(d.host.mem.buffer, off, list.length * 16);
  list.forEach(([slba, nlb], i) => {
    dv.setUint32(i * 16, 0xffffffff, true); // context attributes: the model ignores them
    dv.setUint32(i * 16 + 4, nlb, true);
    dv.setBigUint64(i * 16 + 8, BigInt(slba), true);
  });
}

function setup(opts = {}) {
  const disk = new MemDisk(1 << 20, (b) => b.fill(0x5a)); // 2048 blocks
  const d = new TestDriver({ disks: [disk], ...opts });
  const q = d.bringUp();
  const block = (lba) => disk.bytes.subarray(lba * 512, (lba + 1) * 512);
  const isZero = (lba, n = 1) => disk.bytes.subarray(lba * 512, (lba + n) * 512).every((v) => v === 0);
  const isOld = (lba, n = 1) => disk.bytes.subarray(lba * 512, (lba + n) * 512).every((v) => v === 0x5a);
  return { d, q, disk, block, isZero, isOld };
}

describe("Write Zeroes (6.16)", () => {
  it("NLB is 0-based and 16 bits: FFFFh is 65,536 blocks; the last block of the namespace is in range, one more is not", () => {
    const disk = new MemDisk(65536 * 512 + 4096, (b) => b.fill(0x77)); // 65,544 blocks
    const d = new TestDriver({ disks: [disk], memBytes: 8 << 20 });
    const q = d.bringUp();
    expect(st(d.cmd(q, { opcode: WRITE_ZEROES, nsid: 1, cdw10: 8, cdw12: 0xffff }))).toBe("ok");
    expect(disk.bytes.subarray(8 * 512, 65544 * 512).every((v) => v === 0)).toBe(true);
    expect(disk.bytes.subarray(0, 8 * 512).every((v) => v === 0x77)).toBe(true);
    const e = d.cmd(q, { opcode: WRITE_ZEROES, nsid: 1, cdw10: 9, cdw12: 0xffff });
    expect(st(e)).toBe("LBA Out of Range");
    expect(e.dnr).toBe(true);
    expect(st(d.cmd(q, { opcode: WRITE_ZEROES, nsid: 1, cdw10: 0, cdw11: 1, cdw12: 0 }))).toBe("LBA Out of Range"); // SLBA 2^32
    expect(d.ctrl.stats.blocksZeroed).toBe(65536);
  });

  it("without ONCS bit 3: Invalid Command Opcode, the medium untouched", () => {
    const { d, q, isOld } = setup({ overrides: { writeZeroes: false } });
    expect(d.identify(1).data[520] & (1 << 3)).toBe(0);
    expect(st(d.cmd(q, { opcode: WRITE_ZEROES, nsid: 1, cdw12: 3 }))).toBe("Invalid Command Opcode");
    expect(isOld(0, 4)).toBe(true);
  });

  it("a write-protected namespace: Namespace is Write Protected; a bad NSID: Invalid Namespace or Format", () => {
    const d = new TestDriver({ namespaces: [{ disk: new MemDisk(1 << 16), lbaBytes: 512, readonly: true }] });
    const q = d.bringUp();
    expect(st(d.cmd(q, { opcode: WRITE_ZEROES, nsid: 1, cdw12: 0 }))).toBe("Namespace is Write Protected");
    expect(st(d.cmd(q, { opcode: WRITE_ZEROES, nsid: 2, cdw12: 0 }))).toBe("Invalid Namespace or Format");
  });

  it("moves no data: MDTS does not bound it (a 1 MiB Write Zeroes on a controller with MDTS 128 KiB)", () => {
    const { d, q, isZero } = setup({ profile: "strict" });
    expect(st(d.cmd(q, { opcode: WRITE_ZEROES, nsid: 1, cdw12: 2047 }))).toBe("ok");
    expect(isZero(0, 2048)).toBe(true);
  });

  it("an injected media error: Write Fault with DNR clear (the host may retry), nothing zeroed", () => {
    const { d, q, isOld } = setup({ faults: { errorRate: 1 } });
    const e = d.cmd(q, { opcode: WRITE_ZEROES, nsid: 1, cdw10: 4, cdw12: 7 });
    expect(st(e)).toBe("Write Fault");
    expect(e.dnr).toBe(false);
    expect(isOld(4, 8)).toBe(true);
  });
});

describe("Dataset Management, deallocate (6.7)", () => {
  it("the range list is read through PRP1/PRP2 like data: 256 ranges (NR FFh) starting mid-page cross into PRP2", () => {
    const { d, q, isZero, isOld } = setup();
    const list = d.alloc(8192) + 2048; // 4096 bytes from the middle of a page
    const want = Array.from({ length: 256 }, (_, i) => [i * 8, i % 3]); // lengths 0, 1, 2
    ranges(d, list, want);
    const e = d.cmd(q, {
      opcode: DSM,
      nsid: 1,
      prp1: addrOf(list),
      prp2: addrOf(list - 2048 + 4096),
      cdw10: 0xff,
      cdw11: AD,
    });
    expect(st(e)).toBe("ok");
    for (const [slba, nlb] of want) {
      if (nlb) expect(isZero(slba, nlb), `range ${slba}+${nlb}`).toBe(true);
      expect(isOld(slba + nlb, 8 - nlb), `after range ${slba}+${nlb}`).toBe(true);
    }
    expect(d.ctrl.stats.blocksDeallocated).toBe(want.reduce((a, [, n]) => a + n, 0));
  });

  it("a range list that crosses a page without PRP2: the model reads where PRP2 points (0): a DMA fault, Data Transfer Error", () => {
    const { d, q, isOld } = setup();
    const list = d.alloc(8192) + 4096 - 16; // the second range is on the next page
    ranges(d, list, [
      [0, 4],
      [8, 4],
    ]);
    const e = d.cmd(q, { opcode: DSM, nsid: 1, prp1: addrOf(list), cdw10: 1, cdw11: AD });
    expect(st(e)).toBe("Data Transfer Error");
    expect(d.ctrl.stats.dmaFaults).toBe(1);
    expect(isOld(0, 16)).toBe(true);
  });

  it("every range is checked before any is deallocated: one past the end -> LBA Out of Range, nothing deallocated", () => {
    const { d, q, isOld } = setup();
    const list = d.alloc(4096);
    ranges(d, list, [
      [0, 4],
      [2047, 2],
    ]);
    const e = d.cmd(q, { opcode: DSM, nsid: 1, prp1: addrOf(list), cdw10: 1, cdw11: AD });
    expect(st(e)).toBe("LBA Out of Range");
    expect(e.dnr).toBe(true);
    expect(isOld(0, 4)).toBe(true);
    ranges(d, list, [
      [0, 4],
      [0xffff_ffff_ffff_fff0n, 0x20],
    ]); // SLBA + NLB wraps 2^64
    expect(st(d.cmd(q, { opcode: DSM, nsid: 1, prp1: addrOf(list), cdw10: 1, cdw11: AD }))).toBe("LBA Out of Range");
    expect(isOld(0, 4)).toBe(true);
  });

  it("the 32-bit range length: a range longer than the namespace is LBA Out of Range, not truncated", () => {
    const { d, q, isOld } = setup();
    const list = d.alloc(4096);
    ranges(d, list, [[0, 0xffffffff]]);
    expect(st(d.cmd(q, { opcode: DSM, nsid: 1, prp1: addrOf(list), cdw10: 0, cdw11: AD }))).toBe("LBA Out of Range");
    expect(isOld(0, 2048)).toBe(true);
  });

  it("without AD only hints (IDR/IDW): success, nothing deallocated", () => {
    const { d, q, isOld } = setup();
    const list = d.alloc(4096);
    ranges(d, list, [[0, 4]]);
    expect(st(d.cmd(q, { opcode: DSM, nsid: 1, prp1: addrOf(list), cdw10: 0, cdw11: 0b11 }))).toBe("ok");
    expect(isOld(0, 4)).toBe(true);
  });

  it("without ONCS bit 2: Invalid Command Opcode; a write-protected namespace: Namespace is Write Protected", () => {
    const { d, q } = setup({ overrides: { dsm: false } });
    expect(d.identify(1).data[520] & (1 << 2)).toBe(0);
    const list = d.alloc(4096);
    ranges(d, list, [[0, 4]]);
    expect(st(d.cmd(q, { opcode: DSM, nsid: 1, prp1: addrOf(list), cdw10: 0, cdw11: AD }))).toBe(
      "Invalid Command Opcode",
    );
    const r = new TestDriver({ namespaces: [{ disk: new MemDisk(1 << 16), lbaBytes: 512, readonly: true }] });
    const rq = r.bringUp();
    const rl = r.alloc(4096);
    ranges(r, rl, [[0, 4]]);
    expect(st(r.cmd(rq, { opcode: DSM, nsid: 1, prp1: addrOf(rl), cdw10: 0, cdw11: AD }))).toBe(
      "Namespace is Write Protected",
    );
  });

  it("deallocate=ignore (QEMU -drive discard=ignore): success, the old data stays", () => {
    const { d, q, isOld } = setup({ overrides: { deallocate: "ignore" } });
    const list = d.alloc(4096);
    ranges(d, list, [[10, 6]]);
    expect(st(d.cmd(q, { opcode: DSM, nsid: 1, prp1: addrOf(list), cdw10: 0, cdw11: AD }))).toBe("ok");
    expect(isOld(10, 6)).toBe(true);
    expect(d.ctrl.stats.blocksDeallocated).toBe(6);
  });

  it("an injected media error: Write Fault with DNR clear, nothing deallocated", () => {
    const { d, q, isOld } = setup({ faults: { errorRate: 1 } });
    const list = d.alloc(4096);
    ranges(d, list, [[10, 6]]);
    const e = d.cmd(q, { opcode: DSM, nsid: 1, prp1: addrOf(list), cdw10: 0, cdw11: AD });
    expect(st(e)).toBe("Write Fault");
    expect(e.dnr).toBe(false);
    expect(isOld(10, 6)).toBe(true);
  });
});

describe("DLFEAT (Identify Namespace byte 33, 5.15.2.2)", () => {
  it("qemu says 01h as QEMU 7.2 does (deallocated blocks read as zeroes, no DEAC); strict 09h", () => {
    const q = new TestDriver();
    q.bringUp();
    expect(q.identify(0, 1).data[33]).toBe(0x01);
    const s = new TestDriver({ profile: "strict" });
    s.bringUp();
    expect(s.identify(0, 1).data[33]).toBe(0x09);
  });

  it("a profile cannot say deallocated blocks read as FFh (010b): the model reads zeroes", () => {
    expect(() => makeProfile("qemu", { dlfeat: 2 })).toThrow(/dlfeat/);
    expect(() => makeProfile("qemu", { deallocate: "maybe" })).toThrow(/deallocate must be one of/);
    expect(makeProfile("qemu", { dlfeat: 0 }).dlfeat).toBe(0);
  });
});
