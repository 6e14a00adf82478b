// PRP walking, checked against an independent description of the spec for every offset/length.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { walkPrp } from "../../host/nvme/controller.js";
import { SC } from "../../host/nvme/constants.js";

const PS = 4096;

// Build what a spec-following driver would: data pages at arbitrary (shuffled) page addresses,
// PRP1 with an offset, PRP2 either the second page or a PRP list (maybe starting at an offset in
// its page) chained through the last slot of each list page.
function build({ off, len, pagePerm, listOff }) {
  const mem = new Map(); // address -> u64 entry
  const nPages = Math.ceil((off + len) / PS);
  const pageAddr = (i) => 0x10_0000_0000n + BigInt(pagePerm[i % pagePerm.length] + i * 1000) * BigInt(PS);
  const prp1 = pageAddr(0) + BigInt(off);
  let prp2 = 0n;
  const lists = [];
  if (nPages === 2) prp2 = pageAddr(1);
  else if (nPages > 2) {
    let listPage = 0x20_0000_0000n;
    let slot = listOff / 8;
    prp2 = listPage + BigInt(listOff);
    lists.push(prp2);
    for (let i = 1; i < nPages; i++) {
      const slotsLeft = PS / 8 - slot;
      const remaining = nPages - i;
      if (slotsLeft === 1 && remaining > 1) {
        const next = listPage + 0x1_0000n;
        mem.set(listPage + BigInt(slot * 8), next);
        listPage = next;
        lists.push(next);
        slot = 0;
      }
      mem.set(listPage + BigInt(slot * 8), pageAddr(i));
      slot++;
    }
  }
  // expected byte runs
  const expected = [];
  let left = len;
  for (let i = 0; i < nPages && left > 0; i++) {
    const start = i === 0 ? off : 0;
    const n = Math.min(left, PS - start);
    expected.push({ addr: pageAddr(i) + BigInt(start), len: n });
    left -= n;
  }
  return { prp1, prp2, mem, expected, lists };
}

const merge = (segs) => {
  const out = [];
  for (const s of segs) {
    const l = out[out.length - 1];
    if (l && l.addr + BigInt(l.len) === s.addr) l.len += s.len;
    else out.push({ addr: s.addr, len: s.len });
  }
  return out;
};

const reader = (mem, reads) => (addr, count) => {
  reads.push({ addr, count });
  return Array.from({ length: count }, (_, i) => {
    const v = mem.get(addr + BigInt(i * 8));
    if (v === undefined) throw new Error(`read of an unwritten list slot at ${addr + BigInt(i * 8)}`);
    return v;
  });
};

const arb = fc.record({
  off: fc.integer({ min: 0, max: PS / 4 - 1 }).map((x) => x * 4),
  len: fc.oneof(fc.integer({ min: 1, max: 3 * PS }), fc.integer({ min: 1, max: 1200 * PS })),
  pagePerm: fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 16 }),
  listOff: fc.integer({ min: 0, max: PS / 8 - 1 }).map((x) => x * 8),
});

describe("walkPrp", () => {
  it("maps every byte of every offset/length to the spec's place, reading only the list slots it needs", () => {
    fc.assert(
      fc.property(arb, (c) => {
        const { prp1, prp2, mem, expected } = build(c);
        const reads = [];
        const r = walkPrp({ prp1, prp2, len: c.len, pageSize: PS, readList: reader(mem, reads) });
        expect(r.ok).toBe(true);
        expect(merge(r.segments)).toEqual(merge(expected));
        const slotsRead = reads.reduce((a, x) => a + x.count, 0);
        expect(slotsRead).toBe(mem.size); // every entry read once, nothing else
      }),
      { numRuns: 300 },
    );
  });

  it("a data entry with an offset anywhere in the list -> PRP Offset Invalid", () => {
    fc.assert(
      fc.property(
        arb.filter((c) => Math.ceil((c.off + c.len) / PS) > 2),
        fc.nat(),
        (c, pick) => {
          const { prp1, prp2, mem } = build(c);
          const keys = [...mem.keys()];
          const k = keys[pick % keys.length];
          mem.set(k, mem.get(k) + 512n);
          const r = walkPrp({ prp1, prp2, len: c.len, pageSize: PS, readList: reader(mem, []) });
          expect(r.ok).toBe(false);
          expect(r.sc).toBe(SC.INVALID_PRP_OFFSET);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("PRP1 not dword-aligned, PRP2 (second page) not page-aligned, list pointer not qword-aligned", () => {
    const rl = () => {
      throw new Error("no list expected");
    };
    expect(walkPrp({ prp1: 0x1002n, prp2: 0n, len: 8, pageSize: PS, readList: rl }).sc).toBe(SC.INVALID_PRP_OFFSET);
    expect(walkPrp({ prp1: 0x1000n, prp2: 0x3004n, len: 8192, pageSize: PS, readList: rl }).sc).toBe(
      SC.INVALID_PRP_OFFSET,
    );
    expect(walkPrp({ prp1: 0x1000n, prp2: 0x3004n, len: 3 * PS, pageSize: PS, readList: rl }).sc).toBe(
      SC.INVALID_PRP_OFFSET,
    );
    expect(walkPrp({ prp1: 0x1000n, prp2: 0x3004n, len: 4096, pageSize: PS, readList: rl }).ok).toBe(true); // PRP2 unused
  });

  it("8 KiB pages (CC.MPS=1): the page size comes from CC, not from 4 KiB", () => {
    const rl = () => {
      throw new Error("no list expected");
    };
    // 4 KiB left in PRP1's 8 KiB page, then one 8 KiB page: PRP2 is a data pointer, not a list
    const r = walkPrp({ prp1: 0x21000n, prp2: 0x10000n, len: 4096 + 8192, pageSize: 8192, readList: rl });
    expect(r).toEqual({
      ok: true,
      segments: [
        { addr: 0x21000n, len: 4096 },
        { addr: 0x10000n, len: 8192 },
      ],
    });
    // 4 KiB aligned is not 8 KiB aligned
    expect(walkPrp({ prp1: 0x21000n, prp2: 0x11000n, len: 4096 + 8192, pageSize: 8192, readList: rl }).sc).toBe(
      SC.INVALID_PRP_OFFSET,
    );
  });
});
