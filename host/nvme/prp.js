// Data pointers and DMA: walkPrp (NVMe 1.4 §4.3 PRP entries and lists) as a plain function, and
// the NvmeController methods (installed by controller.js) that map a command's PRPs or SGL
// (§4.4) to segments and move the data through host DMA, refusing addresses in the
// controller's own BARs and DMA with bus mastering off.

import { SCT, SC, PCI } from "./constants.js";
import { fail, invalidField, DmaError, hex } from "./common.js";

// ---- PRP walking (1.4 §4.3 "Physical Region Page Entry and List") ------------------------------
// walkPrp({ prp1, prp2, len, pageSize, readList }) -> { ok: true, segments: [{ addr, len }] }
//                                                  or { ok: false, sc, why }
// readList(addr, count) -> BigInt[] reads `count` PRP entries at addr (it may throw DmaError).
// Rules (QEMU's and the spec's): PRP1 may have a dword-aligned offset; when the rest fits in one
// page, PRP2 is that page and must be page-aligned; otherwise PRP2 points at a PRP list (qword
// aligned, possibly with an offset: entries start there); every list entry is page-aligned; when the
// remaining transfer needs more entries than are left in the list page, the last entry of that page
// points to the next list page (page-aligned).
export function walkPrp({ prp1, prp2, len, pageSize, readList }) {
  const ps = BigInt(pageSize);
  const segments = [];
  if (len <= 0) return { ok: true, segments };
  if (prp1 & 3n) return { ok: false, sc: SC.INVALID_PRP_OFFSET, why: `PRP1 ${hex(prp1)} is not dword-aligned` };
  const first = Math.min(len, Number(ps - (prp1 % ps)));
  segments.push({ addr: prp1, len: first });
  let remaining = len - first;
  if (remaining === 0) return { ok: true, segments };
  if (remaining <= pageSize) {
    if (prp2 % ps)
      return { ok: false, sc: SC.INVALID_PRP_OFFSET, why: `PRP2 ${hex(prp2)} (second data page) is not page-aligned` };
    segments.push({ addr: prp2, len: remaining });
    return { ok: true, segments };
  }
  if (prp2 & 7n)
    return { ok: false, sc: SC.INVALID_PRP_OFFSET, why: `PRP2 ${hex(prp2)} (PRP list pointer) is not qword-aligned` };
  let list = prp2;
  let listPages = 0;
  while (remaining > 0) {
    const slots = Number((ps - (list % ps)) / 8n);
    const pagesNeeded = Math.ceil(remaining / pageSize);
    const chain = pagesNeeded > slots;
    const count = chain ? slots : pagesNeeded;
    const entries = readList(list, count);
    listPages++;
    const dataEntries = chain ? count - 1 : count;
    for (let i = 0; i < dataEntries; i++) {
      const e = entries[i];
      if (e % ps) {
        return {
          ok: false,
          sc: SC.INVALID_PRP_OFFSET,
          why: `PRP list entry ${i} at ${hex(list + BigInt(i * 8))} = ${hex(e)} is not page-aligned`,
        };
      }
      const n = Math.min(remaining, pageSize);
      const last = segments[segments.length - 1];
      if (last.addr + BigInt(last.len) === e && last.len % pageSize === 0) last.len += n;
      else segments.push({ addr: e, len: n });
      remaining -= n;
    }
    if (chain) {
      const next = entries[count - 1];
      if (next % ps) {
        return {
          ok: false,
          sc: SC.INVALID_PRP_OFFSET,
          why: `PRP list chain pointer at ${hex(list + BigInt((count - 1) * 8))} = ${hex(next)} is not page-aligned`,
        };
      }
      list = next;
    }
    if (listPages > 1 + len / pageSize)
      return { ok: false, sc: SC.INVALID_PRP_OFFSET, why: "PRP list chain does not end" };
  }
  return { ok: true, segments };
}

export const dmaMethods = {
  // ======================= DMA =================================================================

  _inOwnBar(addr, len) {
    const end = addr + BigInt(len);
    for (const b of this.bars) {
      const base = this.barAddr.get(b.index);
      if (base === 0n) continue;
      if (addr < base + BigInt(b.size) && end > base) return `BAR${b.index}`;
    }
    return null;
  },

  _dmaCheck(addr, len) {
    if (!(this.pciCommand & PCI.CMD_BUS_MASTER)) {
      this.stats.dmaFaults++;
      this.host.dmaFault?.(addr, len, `${this.name}: DMA with bus mastering disabled`);
      throw new DmaError(`DMA at ${hex(addr)} with bus mastering disabled`);
    }
    const bar = this._inOwnBar(addr, len);
    if (bar) throw new DmaError(`DMA address ${hex(addr)} points into the controller's own ${bar}`);
    // NVME_QUIRK_DMA_ADDRESS_BITS_48 (amazon-ebs): the controller cannot address 2^48 and beyond.
    // What the real one does with the high bits is not public; the model refuses and records it.
    if (this.p.dmaBits < 64 && (addr + BigInt(Math.max(len, 1)) - 1n) >> BigInt(this.p.dmaBits)) {
      const why = `${this.name}: DMA at ${hex(addr)} (+${len}) beyond the controller's ${this.p.dmaBits}-bit DMA addressing (NVME_QUIRK_DMA_ADDRESS_BITS_48)`;
      this.stats.dmaFaults++;
      this.host.dmaFault?.(addr, len, why);
      throw new DmaError(why);
    }
  },

  _dmaRead(addr, len) {
    this._dmaCheck(addr, len);
    try {
      return this.host.dmaRead(addr, len);
    } catch (e) {
      this.stats.dmaFaults++;
      if (e?.name !== "DmaFault") this.host.dmaFault?.(addr, len, `${this.name}: DMA read: ${e.message}`);
      throw new DmaError(`DMA read of ${len} bytes at ${hex(addr)} failed: ${e.message}`);
    }
  },

  _dmaWrite(addr, bytes) {
    this._dmaCheck(addr, bytes.length);
    try {
      this.host.dmaWrite(addr, bytes);
    } catch (e) {
      this.stats.dmaFaults++;
      if (e?.name !== "DmaFault") this.host.dmaFault?.(addr, bytes.length, `${this.name}: DMA write: ${e.message}`);
      throw new DmaError(`DMA write of ${bytes.length} bytes at ${hex(addr)} failed: ${e.message}`);
    }
  },

  // the data pointer (PRP or SGL) of a command mapped for `len` bytes -> segments
  _mapData(cmd, len, toHost = true) {
    if (len === 0) return [];
    if (cmd.psdt) return this._mapSgl(cmd, len, toHost);
    const r = walkPrp({
      prp1: cmd.prp1,
      prp2: cmd.prp2,
      len,
      pageSize: this.pageSize,
      readList: (addr, count) => {
        const b = this._dmaRead(addr, count * 8);
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const out = new Array(count);
        for (let i = 0; i < count; i++) out[i] = dv.getBigUint64(i * 8, true);
        return out;
      },
    });
    if (!r.ok) throw fail(SCT.GENERIC, r.sc, r.why);
    for (const s of r.segments) {
      const bar = this._inOwnBar(s.addr, s.len);
      if (bar)
        throw fail(
          SCT.GENERIC,
          SC.DATA_TRANSFER_ERROR,
          `PRP entry ${hex(s.addr)} points into the controller's own ${bar}`,
        );
    }
    return r.segments;
  },

  // SGL (1.4 §4.4): Data Block, Bit Bucket, Segment and Last Segment descriptors
  // (toHost: the data goes to the host, a read; a Bit Bucket, data to drop, only makes sense there)
  _mapSgl(cmd, len, toHost) {
    const segments = [];
    let total = 0;
    const parseDesc = (b, o) => {
      const dv = new DataView(b.buffer, b.byteOffset + o, 16);
      return {
        addr: dv.getBigUint64(0, true),
        len: dv.getUint32(8, true),
        type: b[o + 15] >> 4,
        subtype: b[o + 15] & 0xf,
      };
    };
    const take = (d) => {
      if (d.subtype !== 0)
        throw fail(SCT.GENERIC, SC.INVALID_SGL_TYPE, `SGL descriptor subtype ${d.subtype} not supported`);
      if (d.type === 1) {
        if (!toHost)
          throw fail(
            SCT.GENERIC,
            SC.INVALID_SGL_TYPE,
            "SGL Bit Bucket descriptor in a command that moves data to the controller",
          );
        total += d.len; // bit bucket: skipped bytes (reads only)
        segments.push({ addr: null, len: d.len });
        return;
      }
      if (this.p.sglDword && (d.addr & 3n || d.len % 4)) {
        throw fail(
          SCT.GENERIC,
          SC.INVALID_SGL_BLOCK_GRANULARITY,
          `SGL Data Block ${hex(d.addr)} +${d.len} not dword-aligned (SGLS bits 1:0 = 10b)`,
        );
      }
      if (total < len && d.len) segments.push({ addr: d.addr, len: Math.min(d.len, len - total) });
      total += d.len;
    };
    let d = parseDesc(cmd.raw, 24);
    let guard = 0;
    for (;;) {
      if (d.type === 0 || d.type === 1) {
        take(d);
        break;
      }
      if (d.type !== 2 && d.type !== 3)
        throw fail(SCT.GENERIC, SC.INVALID_SGL_TYPE, `SGL descriptor type ${d.type} not supported`);
      if (d.len === 0 || d.len % 16)
        throw fail(SCT.GENERIC, SC.INVALID_SGL_SEGMENT, `SGL segment length ${d.len} not a multiple of 16`);
      const n = d.len / 16;
      const seg = this._dmaRead(d.addr, d.len);
      const last = d.type === 3;
      let next = null;
      for (let i = 0; i < n; i++) {
        const e = parseDesc(seg, i * 16);
        if (e.type === 2 || e.type === 3) {
          if (last || i !== n - 1)
            throw fail(SCT.GENERIC, SC.INVALID_SGL_SEGMENT, "SGL segment descriptor not in the last slot of a Segment");
          next = e;
        } else take(e);
      }
      if (!next) {
        if (!last)
          throw fail(SCT.GENERIC, SC.INVALID_SGL_SEGMENT, "SGL Segment without a following segment descriptor");
        break;
      }
      d = next;
      if (++guard > 4096) throw fail(SCT.GENERIC, SC.INVALID_SGL_SEGMENT, "SGL chain does not end");
    }
    if (total < len)
      throw fail(SCT.GENERIC, SC.INVALID_SGL_DATA_LENGTH, `SGL describes ${total} bytes, the command transfers ${len}`);
    if (total > len && !this.p.sglExcess)
      throw fail(
        SCT.GENERIC,
        SC.INVALID_SGL_DATA_LENGTH,
        `SGL describes ${total} bytes, more than the ${len} the command transfers (SGLS bit 20 clear)`,
      );
    for (const s of segments) {
      if (s.addr !== null && this._inOwnBar(s.addr, s.len))
        throw fail(
          SCT.GENERIC,
          SC.DATA_TRANSFER_ERROR,
          `SGL address ${hex(s.addr)} points into the controller's own BAR`,
        );
    }
    return segments;
  },

  // device -> host
  _toHost(cmd, data) {
    const segs = this._mapData(cmd, data.length);
    let o = 0;
    for (const s of segs) {
      if (s.addr !== null) this._dmaWrite(s.addr, data.subarray(o, o + s.len));
      o += s.len;
    }
  },

  // host -> device
  _fromHost(cmd, len) {
    const segs = this._mapData(cmd, len, false);
    if (segs.length === 1) return this._dmaRead(segs[0].addr, len);
    const out = new Uint8Array(len);
    let o = 0;
    for (const s of segs) {
      if (s.addr !== null) out.set(this._dmaRead(s.addr, s.len), o);
      o += s.len;
    }
    return out;
  },

  _checkMdts(len) {
    if (len > this.maxTransfer) throw invalidField(`transfer of ${len} bytes above MDTS (${this.maxTransfer} bytes)`);
  },
};
