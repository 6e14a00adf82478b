// A tiny JS "driver" for the controller model's conformance tests: a fake host memory (the DMA
// window at DMA_BASE), a virtual clock, and helpers that write registers and SQEs the way a
// driver would. Nothing here is clever on purpose: the tests spell out the protocol.
import { Rng } from "../../host/rng.js";
import { NvmeController } from "../../host/nvme/controller.js";
import { REG, unpackStatus } from "../../host/nvme/constants.js";

export const DMA_BASE = 0x1_2345_6000n;
export const BAR0 = 0xfebf_0000n;
export const BAR4 = 0xfebe_0000n;

export class MemDisk {
  constructor(size, fill = null) {
    this.bytes = new Uint8Array(Number(size));
    if (fill) fill(this.bytes);
    this.size = BigInt(size);
    this.flushes = 0;
  }
  read(off, len) {
    const o = Number(off);
    if (o < 0 || o + len > this.bytes.length) throw new Error(`MemDisk read out of range ${o}+${len}`);
    return this.bytes.slice(o, o + len);
  }
  write(off, data) {
    const o = Number(off);
    if (o < 0 || o + data.length > this.bytes.length) throw new Error(`MemDisk write out of range ${o}+${data.length}`);
    this.bytes.set(data, o);
  }
  flush() {
    this.flushes++;
  }
}

// like the machine's: dmaRead/dmaWrite record the fault themselves and throw a DmaFault
export class DmaFault extends Error {
  constructor(msg) {
    super(msg);
    this.name = "DmaFault";
  }
}

export class FakeHost {
  constructor({ seed = 1, memBytes = 4 << 20 } = {}) {
    this.mem = new Uint8Array(memBytes);
    this.clock = 0n;
    this.rng = new Rng(seed);
    this.faults = [];
    this.msi = [];
    this.intx = false;
    this.intxChanges = [];
    this.logs = [];
  }
  now() {
    return this.clock;
  }
  _off(addr, len) {
    const a = BigInt(addr);
    if (a < DMA_BASE || a + BigInt(len) > DMA_BASE + BigInt(this.mem.length)) {
      this.dmaFault(a, len, "outside the DMA window");
      throw new DmaFault(`bus address 0x${a.toString(16)}+${len} outside the DMA window`);
    }
    return Number(a - DMA_BASE);
  }
  dmaRead(addr, len) {
    const o = this._off(addr, len);
    return this.mem.slice(o, o + len);
  }
  dmaWrite(addr, bytes) {
    const o = this._off(addr, bytes.length);
    this.mem.set(bytes, o);
  }
  dmaFault(addr, len, why) {
    this.faults.push({ addr, len, why });
  }
  setIntx(level) {
    this.intx = level;
    this.intxChanges.push({ level, t: this.clock });
  }
  msiWrite(address, data) {
    this.msi.push({ address, data, t: this.clock });
  }
  log(line) {
    this.logs.push(line);
  }
}

export const addrOf = (off) => DMA_BASE + BigInt(off);

export class TestDriver {
  constructor({ profile = "qemu", overrides, namespaces, faults, seed = 1, memBytes, busMaster = true, disks } = {}) {
    this.seed = seed;
    this.host = new FakeHost({ seed, memBytes });
    if (!namespaces) {
      disks = disks ?? [new MemDisk(1 << 20)];
      namespaces = disks.map((disk) => ({ disk, lbaBytes: 512 }));
    }
    this.namespaces = namespaces;
    this.ctrl = new NvmeController({ host: this.host, profile, overrides, namespaces, faults, name: "nvme0" });
    this.ctrl.setBarAddress(0, BAR0);
    if (this.ctrl.bars.some((b) => b.index === 4)) this.ctrl.setBarAddress(4, BAR4);
    this.ctrl.configWrite32(0x04, busMaster ? 0x0006 : 0x0002);
    this.next = 0; // bump allocator over host memory, page-granular
    this.queues = new Map();
    this.cidSeq = 1;
  }

  // ---- memory ----
  alloc(bytes, align = 4096) {
    this.next = Math.ceil(this.next / align) * align;
    const off = this.next;
    this.next += Math.max(bytes, 1);
    if (this.next > this.host.mem.length) throw new Error("test driver out of memory");
    return off;
  }
  u32(off) {
    return new DataView(this.host.mem.buffer).getUint32(off, true);
  }
  u64(off) {
    return new DataView(this.host.mem.buffer).getBigUint64(off, true);
  }
  setU64(off, v) {
    new DataView(this.host.mem.buffer).setBigUint64(off, BigInt(v), true);
  }

  // ---- registers ----
  r32(off, bar = 0) {
    return this.ctrl.mmioRead32(bar, off);
  }
  w32(off, v, bar = 0) {
    this.ctrl.mmioWrite32(bar, off, v >>> 0);
  }
  r64(off) {
    const lo = this.r32(off);
    const hi = this.r32(off + 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }
  w64(off, v) {
    v = BigInt(v);
    this.w32(off, Number(v & 0xffffffffn));
    this.w32(off + 4, Number(v >> 32n));
  }
  get cap() {
    return this.r64(REG.CAP);
  }
  get csts() {
    return this.r32(REG.CSTS);
  }
  get dstrd() {
    return Number((this.cap >> 32n) & 0xfn);
  }
  sqDoorbell(qid) {
    return 0x1000 + 2 * qid * (4 << this.dstrd);
  }
  cqDoorbell(qid) {
    return 0x1000 + (2 * qid + 1) * (4 << this.dstrd);
  }

  // ---- time ----
  // run the clock forward by ns, running every device event on the way
  run(ns) {
    const target = this.host.clock + BigInt(ns);
    for (;;) {
      const t = this.ctrl.nextEventNs();
      if (t === null || t > target) break;
      if (t > this.host.clock) this.host.clock = t;
      this.ctrl.advance(this.host.clock);
    }
    this.host.clock = target;
    this.ctrl.advance(target);
  }
  // step event by event until pred() or maxNs passed; returns pred()
  waitFor(pred, maxNs = 100_000_000) {
    const deadline = this.host.clock + BigInt(maxNs);
    while (!pred()) {
      const t = this.ctrl.nextEventNs();
      if (t === null || t > deadline) {
        this.host.clock = deadline;
        this.ctrl.advance(deadline);
        return pred();
      }
      if (t > this.host.clock) this.host.clock = t;
      this.ctrl.advance(this.host.clock);
    }
    return true;
  }
  settle(maxNs = 1_000_000_000) {
    this.waitFor(() => this.ctrl.nextEventNs() === null, maxNs);
  }

  // ---- bring-up ----
  // writes AQA/ASQ/ACQ and CC with EN=1; waits for RDY unless wait=false
  enable({ asqEntries = 16, acqEntries = 16, mps = 0, cc = null, wait = true, asq, acq } = {}) {
    const ps = 4096 << mps;
    const asqOff = asq ?? this.alloc(asqEntries * 64, ps);
    const acqOff = acq ?? this.alloc(acqEntries * 16, ps);
    this.host.mem.fill(0, acqOff, acqOff + acqEntries * 16);
    this.w32(REG.AQA, ((acqEntries - 1) << 16) | (asqEntries - 1));
    this.w64(REG.ASQ, addrOf(asqOff));
    this.w64(REG.ACQ, addrOf(acqOff));
    const aq = {
      qid: 0,
      sqOff: asqOff,
      cqOff: acqOff,
      sqSize: asqEntries,
      cqSize: acqEntries,
      sqTail: 0,
      cqHead: 0,
      phase: 1,
      done: new Map(),
    };
    this.queues.set(0, aq);
    this.aq = aq;
    this.w32(REG.CC, cc ?? (4 << 20) | (6 << 16) | (mps << 7) | 1);
    if (wait && !this.waitFor(() => (this.csts & 3) !== 0, 10_000_000_000)) throw new Error("RDY never came");
    if (wait && this.csts & 2) throw new Error(`enable failed: ${this.ctrl.fatalReason}`);
    return aq;
  }

  disable() {
    this.w32(REG.CC, this.r32(REG.CC) & ~1);
    this.waitFor(() => (this.csts & 1) === 0, 10_000_000_000);
  }

  // ---- commands ----
  // writes an SQE at the SQ tail; rings the doorbell unless ring=false. Returns the cid.
  submit(q, f, { ring = true } = {}) {
    const cid = f.cid ?? this.cidSeq++ & 0xffff;
    const o = q.sqOff + q.sqTail * 64;
    const m = this.host.mem;
    m.fill(0, o, o + 64);
    const dv = new DataView(m.buffer, o, 64);
    dv.setUint32(0, (f.opcode & 0xff) | ((f.fuse ?? 0) << 8) | ((f.psdt ?? 0) << 14) | (cid << 16), true);
    dv.setUint32(4, f.nsid ?? 0, true);
    dv.setBigUint64(16, BigInt(f.mptr ?? 0), true);
    dv.setBigUint64(24, BigInt(f.prp1 ?? 0), true);
    dv.setBigUint64(32, BigInt(f.prp2 ?? 0), true);
    for (let i = 10; i <= 15; i++) dv.setUint32(40 + (i - 10) * 4, (f[`cdw${i}`] ?? 0) >>> 0, true);
    if (f.raw) m.set(f.raw, o);
    q.sqTail = (q.sqTail + 1) % q.sqSize;
    if (ring) this.ringSq(q);
    return cid;
  }
  ringSq(q) {
    this.w32(this.sqDoorbell(q.qid), q.sqTail);
  }
  ringCq(q) {
    this.w32(this.cqDoorbell(q.qid), q.cqHead);
  }
  // reads every new CQ entry (phase tag matches), without ringing the head doorbell
  reap(q) {
    const out = [];
    for (;;) {
      const o = q.cqOff + q.cqHead * 16;
      const dw3 = this.u32(o + 12);
      if (((dw3 >>> 16) & 1) !== q.phase) break;
      const sf = dw3 >>> 17;
      const e = {
        dw0: this.u32(o),
        dw1: this.u32(o + 4),
        sqhd: this.u32(o + 8) & 0xffff,
        sqid: this.u32(o + 8) >>> 16,
        cid: dw3 & 0xffff,
        phase: q.phase,
        ...unpackStatus(sf),
      };
      e.ok = e.sct === 0 && e.sc === 0;
      out.push(e);
      q.done.set(e.cid, e);
      q.cqHead = (q.cqHead + 1) % q.cqSize;
      if (q.cqHead === 0) q.phase ^= 1;
    }
    return out;
  }
  // submit and wait for that command's completion; rings the CQ head doorbell after reaping
  cmd(q, f, { maxNs = 1_000_000_000 } = {}) {
    const cid = this.submit(q, f);
    const got = this.waitFor(() => {
      if (this.reap(q).length) this.ringCq(q);
      return q.done.has(cid);
    }, maxNs);
    if (!got) return null;
    const e = q.done.get(cid);
    q.done.delete(cid);
    return e;
  }
  admin(f, opts) {
    return this.cmd(this.aq, f, opts);
  }

  identify(cns, nsid = 0, cdw10extra = 0) {
    const buf = this.alloc(4096);
    const e = this.admin({ opcode: 0x06, nsid, prp1: addrOf(buf), cdw10: cns | cdw10extra });
    return { e, data: this.host.mem.slice(buf, buf + 4096), buf };
  }

  // Create IO CQ then SQ with the same qid
  createQueuePair(qid, entries = 16, { ien = true, vector = 0 } = {}) {
    const cqOff = this.alloc(entries * 16);
    const sqOff = this.alloc(entries * 64);
    const e1 = this.admin({
      opcode: 0x05,
      prp1: addrOf(cqOff),
      cdw10: ((entries - 1) << 16) | qid,
      cdw11: (vector << 16) | (ien ? 2 : 0) | 1,
    });
    if (!e1.ok) throw new Error(`Create IO CQ ${qid} failed: sct ${e1.sct} sc ${e1.sc}`);
    const e2 = this.admin({
      opcode: 0x01,
      prp1: addrOf(sqOff),
      cdw10: ((entries - 1) << 16) | qid,
      cdw11: (qid << 16) | 1,
    });
    if (!e2.ok) throw new Error(`Create IO SQ ${qid} failed: sct ${e2.sct} sc ${e2.sc}`);
    const q = { qid, sqOff, cqOff, sqSize: entries, cqSize: entries, sqTail: 0, cqHead: 0, phase: 1, done: new Map() };
    this.queues.set(qid, q);
    return q;
  }

  // bring-up: enable, then one IO queue pair
  bringUp({ entries = 16, ...opts } = {}) {
    this.enable(opts);
    return this.createQueuePair(1, entries);
  }

  // a simple PRP builder for a contiguous buffer at host offset `off` of `len` bytes
  prps(off, len, pageSize = 4096) {
    const addr = addrOf(off);
    const first = pageSize - (off % pageSize);
    if (len <= first) return { prp1: addr, prp2: 0n };
    if (len <= first + pageSize) return { prp1: addr, prp2: addrOf(off + first) };
    const pages = [];
    for (let o = off + first; o < off + len; o += pageSize) pages.push(addrOf(o));
    const perList = pageSize / 8;
    const nLists = pages.length <= perList ? 1 : Math.ceil((pages.length - 1) / (perList - 1));
    const lists = [];
    for (let i = 0; i < nLists; i++) lists.push(this.alloc(pageSize, pageSize));
    let p = 0;
    for (let i = 0; i < nLists; i++) {
      const last = i === nLists - 1;
      const slots = last ? pages.length - p : perList - 1;
      for (let j = 0; j < slots; j++) this.setU64(lists[i] + j * 8, pages[p++]);
      if (!last) this.setU64(lists[i] + (perList - 1) * 8, addrOf(lists[i + 1]));
    }
    return { prp1: addr, prp2: addrOf(lists[0]) };
  }

  read(q, { nsid = 1, slba = 0, nlb = 1, buf, lbaBytes = 512, ...rest } = {}) {
    buf = buf ?? this.alloc(nlb * lbaBytes);
    const e = this.cmd(q, {
      opcode: 0x02,
      nsid,
      ...this.prps(buf, nlb * lbaBytes),
      cdw10: Number(BigInt(slba) & 0xffffffffn),
      cdw11: Number(BigInt(slba) >> 32n),
      cdw12: nlb - 1,
      ...rest,
    });
    return { e, data: this.host.mem.slice(buf, buf + nlb * lbaBytes), buf };
  }
  write(q, { nsid = 1, slba = 0, data, lbaBytes = 512, ...rest }) {
    const nlb = data.length / lbaBytes;
    const buf = this.alloc(data.length);
    this.host.mem.set(data, buf);
    return this.cmd(q, {
      opcode: 0x01,
      nsid,
      ...this.prps(buf, data.length),
      cdw10: Number(BigInt(slba) & 0xffffffffn),
      cdw11: Number(BigInt(slba) >> 32n),
      cdw12: nlb - 1,
      ...rest,
    });
  }
}

export function pattern(len, seed = 1) {
  const r = new Rng(`pattern/${seed}`);
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i += 4) {
    const v = r.nextU32();
    b[i] = v;
    b[i + 1] = v >> 8;
    b[i + 2] = v >> 16;
    b[i + 3] = v >> 24;
  }
  return b;
}
