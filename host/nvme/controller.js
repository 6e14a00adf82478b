// NvmeController: a software NVMe controller, strict like QEMU's hw/nvme (and stricter, as real
// controllers are), with deterministic seeded timing, reordering and fault injection.
//
// It is one PCI function (docs/node-host.md): config space, BAR0 registers and doorbells, the
// MSI-X table and PBA (in BAR0 after the doorbells, or in BAR4), INTx. Everything the device does
// on its own (RDY after EN, fetching commands, posting completions, interrupts) happens inside
// advance(nowNs), at times drawn from host.rng with the profile's ranges; nextEventNs() says when.
//
// What the host did wrong, where a device could not answer with a status, lands in
// ctrl.violations (strings); why the controller went fatal (CSTS.CFS) in ctrl.fatalReason.
//
//   new NvmeController({
//     host,                 // docs/node-host.md: dmaRead/dmaWrite/dmaFault/now/setIntx/msiWrite/rng/log
//     profile: 'strict',    // a name from profiles.js, or a profile object (missing fields from qemu)
//     overrides,            // optional: "mdts=2,mqes=15" or { mdts: 2 } applied to the profile
//     namespaces: [{ disk, lbaBytes = 512, ms = 0, readonly = false }],  // NSID 1, 2, …
//     faults: { errorRate, dropRate, cfsAfter, slowRate, slowNs },      // or error/drop/cfs/slow/slow_ns
//     name: 'nvme0',        // for log lines and Rng forks
//     rng,                  // optional: defaults to host.rng
//   })
//   disk: { size (BigInt bytes), read(offBigInt, len) -> Uint8Array, write(offBigInt, bytes), flush() }
//   ms > 0: metadata in a separate buffer at MPTR (FLBAS bit 4 = 0); MPTR = 0 -> Invalid Field.
//
//   ctrl.stats = { commands, completions, errors, admin: { identify: n, … }, io: { read: n, … },
//                  bytesRead, bytesWritten, readCommands, writeCommands, blocksZeroed,
//                  blocksDeallocated, interrupts, msix, intx (rising edges), dmaFaults, violations,
//                  doorbells, resets, asyncEvents, injected: { error, drop, cfs, slow } }

import {
  REG, CAP, CC, CSTS, SHST, AQA, ADMIN, IO, CNS, FEAT, LOG, AER_TYPE, AER_ERROR_INFO,
  SCT, SC, CSS, MEDIA, PCI, field, opcodeName, statusName, packStatus,
} from './constants.js';
import { makeProfile, checkProfile, versionValue } from './profiles.js';
import { Rng } from '../rng.js';

const PAGE = 4096;
const SQE_BYTES = 64;
const CQE_BYTES = 16;
const MAX_VIOLATIONS = 1000;
const U64 = (lo, hi) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

// A command that ends with a status (thrown inside command handlers).
class CmdError extends Error {
  constructor(sct, sc, why, { dnr = true } = {}) {
    super(why);
    this.sct = sct;
    this.sc = sc;
    this.dnr = dnr;
  }
}
const fail = (sct, sc, why, opts) => new CmdError(sct, sc, why, opts);
const invalidField = (why) => fail(SCT.GENERIC, SC.INVALID_FIELD, why);

// A DMA the device could not do: the command fails with Data Transfer Error.
export class DmaError extends Error {}

const hex = (v, w = 0) => '0x' + (typeof v === 'bigint' ? v.toString(16) : (v >>> 0).toString(16)).padStart(w, '0');
const pow2AtLeast = (n) => {
  let p = 1;
  while (p < n) p *= 2;
  return p;
};
const alignUp = (n, a) => Math.ceil(n / a) * a;

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
    if (prp2 % ps) return { ok: false, sc: SC.INVALID_PRP_OFFSET, why: `PRP2 ${hex(prp2)} (second data page) is not page-aligned` };
    segments.push({ addr: prp2, len: remaining });
    return { ok: true, segments };
  }
  if (prp2 & 7n) return { ok: false, sc: SC.INVALID_PRP_OFFSET, why: `PRP2 ${hex(prp2)} (PRP list pointer) is not qword-aligned` };
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
        return { ok: false, sc: SC.INVALID_PRP_OFFSET, why: `PRP list entry ${i} at ${hex(list + BigInt(i * 8))} = ${hex(e)} is not page-aligned` };
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
        return { ok: false, sc: SC.INVALID_PRP_OFFSET, why: `PRP list chain pointer at ${hex(list + BigInt((count - 1) * 8))} = ${hex(next)} is not page-aligned` };
      }
      list = next;
    }
    if (listPages > 1 + len / pageSize) return { ok: false, sc: SC.INVALID_PRP_OFFSET, why: 'PRP list chain does not end' };
  }
  return { ok: true, segments };
}

// ---- the controller --------------------------------------------------------------------------

function normalizeNamespace(ns, i) {
  if (!ns || !ns.disk) throw new Error(`namespace ${i + 1}: needs a disk`);
  const lbaBytes = ns.lbaBytes ?? 512;
  if (!(lbaBytes >= 512 && lbaBytes <= 65536 && (lbaBytes & (lbaBytes - 1)) === 0)) {
    throw new Error(`namespace ${i + 1}: lbaBytes ${lbaBytes} must be a power of two, 512..65536`);
  }
  const ms = ns.ms ?? 0;
  if (!(ms >= 0 && ms <= 0xffff)) throw new Error(`namespace ${i + 1}: ms ${ms} out of range`);
  const size = BigInt(ns.disk.size);
  const blocks = size / BigInt(lbaBytes);
  if (blocks === 0n) throw new Error(`namespace ${i + 1}: disk smaller than one block`);
  return { disk: ns.disk, lbaBytes, ms, readonly: !!ns.readonly, blocks, nsid: i + 1, meta: ms ? new Map() : null };
}

// LBA formats reported in Identify Namespace: 512 B and 4 KiB with and without metadata, plus the
// one in use if it is not among them.
function lbaFormats(ns) {
  const list = [
    { ms: 0, lbads: 9 },
    { ms: 8, lbads: 9 },
    { ms: 0, lbads: 12 },
    { ms: 8, lbads: 12 },
    { ms: 64, lbads: 12 },
  ];
  const lbads = Math.log2(ns.lbaBytes);
  let idx = list.findIndex((f) => f.ms === ns.ms && f.lbads === lbads);
  if (idx < 0) {
    list.push({ ms: ns.ms, lbads });
    idx = list.length - 1;
  }
  return { list, idx };
}

// faults: { errorRate, dropRate, cfsAfter, slowRate, slowNs }; the CLI's short names
// (error=, drop=, cfs=, slow=, slow_ns=) are accepted too.
const FAULT_ALIASES = { error: 'errorRate', drop: 'dropRate', cfs: 'cfsAfter', slow: 'slowRate', slow_ns: 'slowNs', slowns: 'slowNs' };
export function normalizeFaults(faults = {}) {
  const out = { errorRate: 0, dropRate: 0, cfsAfter: null, slowRate: 0, slowNs: 5_000_000 };
  for (const [k, v] of Object.entries(faults || {})) {
    const key = FAULT_ALIASES[k] ?? k;
    if (!(key in out)) throw new Error(`unknown fault option "${k}" (have: ${Object.keys(out).join(', ')}, or error/drop/cfs/slow/slow_ns)`);
    const n = v == null ? null : Number(v);
    if (n != null && !(Number.isFinite(n) && n >= 0)) throw new Error(`fault option ${k}: bad value ${v}`);
    out[key] = n;
  }
  for (const k of ['errorRate', 'dropRate', 'slowRate']) if (out[k] > 1) throw new Error(`fault option ${k}: a probability, 0..1`);
  return out;
}

export class NvmeController {
  constructor({ host, profile = 'qemu', overrides, namespaces = [], faults = {}, name = 'nvme0', rng } = {}) {
    if (!host) throw new Error('NvmeController needs a host');
    this.host = host;
    this.name = name;
    this.p = typeof profile === 'string' ? makeProfile(profile, overrides) : overrides ? makeProfile(profile, overrides) : checkProfile({ ...makeProfile('qemu'), ...profile });
    this.namespaces = namespaces.map(normalizeNamespace);
    this.faults = normalizeFaults(faults);
    const base = rng ?? host.rng ?? new Rng(name);
    this.rng = base.fork ? base.fork(`${name}/timing`) : base;
    this.faultRng = base.fork ? base.fork(`${name}/faults`) : base;

    const p = this.p;
    this.vs = versionValue(p.version);
    this.stride = 4 << p.dstrd;
    this.minPage = PAGE << p.mpsmin;
    this.maxTransfer = p.mdts ? 2 ** p.mdts * this.minPage : Infinity;
    this.maxQid = p.ioQueuePairs;
    this.doorbellEnd = REG.DOORBELL_BASE + (this.maxQid + 1) * 2 * this.stride;

    // BAR layout: BAR0 registers + doorbells (+ MSI-X table and PBA), or the MSI-X structures in BAR4
    const nv = p.msixVectors;
    this.msix = null;
    let bar0End = this.doorbellEnd;
    if (nv > 0) {
      const tableBytes = nv * 16;
      const pbaBytes = alignUp(nv, 64) / 8;
      const bar = p.msixBar;
      const tableOff = bar === 0 ? alignUp(this.doorbellEnd, 0x1000) : 0;
      const pbaOff = alignUp(tableOff + tableBytes, 0x800);
      const end = pbaOff + pbaBytes;
      if (bar === 0) bar0End = end;
      this.msix = {
        bar,
        tableOff,
        pbaOff,
        end,
        table: new Uint32Array(nv * 4),
        pending: new Uint8Array(nv),
        control: 0, // Message Control bits 15 (enable) and 14 (function mask)
      };
      for (let v = 0; v < nv; v++) this.msix.table[v * 4 + 3] = 1; // vector control: masked at reset
    }
    this.bars = [{ index: 0, size: pow2AtLeast(Math.max(p.bar0Size, bar0End, 0x4000)), is64: true, prefetchable: false }];
    if (this.msix && this.msix.bar === 4) {
      this.bars.push({ index: 4, size: pow2AtLeast(Math.max(this.msix.end, 0x1000)), is64: true, prefetchable: false });
    }
    this.barAddr = new Map(this.bars.map((b) => [b.index, 0n]));

    // PCI config space
    this.pciCommand = 0;
    this.interruptLine = 0xff;
    this.cacheLine = 0;
    this.pmcsr = 0;
    this.pcieDevCtl = 0x2810;
    this.capMsix = nv > 0 ? 0x50 : 0;
    this.capPcie = 0x60;

    // controller state
    this.violations = [];
    this.fatalReason = null;
    this.stats = {
      commands: 0,
      completions: 0,
      errors: 0,
      admin: {},
      io: {},
      bytesRead: 0,
      bytesWritten: 0,
      blocksZeroed: 0,
      blocksDeallocated: 0,
      readCommands: 0,
      writeCommands: 0,
      interrupts: 0,
      msix: 0,
      intx: 0,
      injected: { error: 0, drop: 0, cfs: 0, slow: 0 },
      dmaFaults: 0,
      violations: 0,
      doorbells: 0,
      resets: 0,
      asyncEvents: 0,
    };
    this.errorLog = [];
    this.errorCount = 0n;
    this.events = [];
    this.seq = 0;
    this.epoch = 0;
    this.evTime = null;
    this.intxLevel = false;
    this.cfsFired = false;
    this.ioFetched = 0;
    this.powerOnNs = 0n;

    this.cc = 0;
    this.csts = 0;
    this.intms = 0;
    this.aqa = 0;
    this.asq = 0n;
    this.acq = 0n;
    this._resetQueues();
  }

  // ======================= PCI function interface ==============================================

  setBarAddress(index, addr) {
    if (!this.barAddr.has(index)) throw new Error(`${this.name}: no BAR ${index}`);
    this.barAddr.set(index, BigInt(addr));
  }

  configRead32(off) {
    const p = this.p;
    switch (off) {
      case 0x00:
        return ((p.did << 16) | p.vid) >>> 0;
      case 0x04: {
        const status = (1 << 4) | (this.intxLevel ? 1 << 3 : 0); // capabilities list, interrupt status
        return ((status << 16) | this.pciCommand) >>> 0;
      }
      case 0x08:
        return ((PCI.CLASS_NVME << 8) | p.revision) >>> 0;
      case 0x0c:
        return this.cacheLine & 0xff; // header type 0, single function
      case 0x2c:
        return ((p.ssid << 16) | p.ssvid) >>> 0;
      case 0x34:
        return 0x40;
      case 0x3c:
        return ((p.intx ? 1 : 0) << 8) | this.interruptLine;
      // Power management capability (PCI PM 1.2): version 3
      case 0x40:
        return ((0x0003 << 16) | ((this.capMsix || this.capPcie) << 8) | PCI.CAP_ID_PM) >>> 0;
      case 0x44:
        return this.pmcsr | (1 << 3); // No_Soft_Reset
    }
    if (off >= 0x10 && off < 0x28) return this._barRead(off);
    if (this.capMsix && off >= this.capMsix && off < this.capMsix + 12) {
      const m = this.msix;
      const r = off - this.capMsix;
      if (r === 0) return (((m.control | (this.p.msixVectors - 1)) << 16) | (this.capPcie << 8) | PCI.CAP_ID_MSIX) >>> 0;
      if (r === 4) return (m.tableOff | m.bar) >>> 0;
      return (m.pbaOff | m.bar) >>> 0;
    }
    if (off >= this.capPcie && off < this.capPcie + 0x3c) {
      const r = off - this.capPcie;
      if (r === 0) return ((0x0002 << 16) | PCI.CAP_ID_PCIE) >>> 0; // version 2, PCI Express endpoint
      if (r === 4) return 0x00008000 | 0x1; // device capabilities: role-based error reporting, 256 B payload
      if (r === 8) return this.pcieDevCtl;
      if (r === 0x0c) return 0x00400000 | (4 << 4) | 3; // link capabilities: x4, 8 GT/s
      if (r === 0x10) return ((4 << 4) | 3) << 16; // link status: x4, 8 GT/s
      return 0;
    }
    return 0;
  }

  _barRead(off) {
    for (const b of this.bars) {
      const lo = 0x10 + b.index * 4;
      const addr = this.barAddr.get(b.index);
      if (off === lo) return (Number(addr & 0xfffffff0n) | (b.is64 ? 0x4 : 0) | (b.prefetchable ? 0x8 : 0)) >>> 0;
      if (b.is64 && off === lo + 4) return Number(addr >> 32n) >>> 0;
    }
    return 0;
  }

  configWrite32(off, value) {
    value >>>= 0;
    if (off === 0x04) {
      const old = this.pciCommand;
      this.pciCommand = value & (PCI.CMD_MEMORY | PCI.CMD_BUS_MASTER | PCI.CMD_INTX_DISABLE | (1 << 6) | (1 << 8));
      if ((old ^ this.pciCommand) & PCI.CMD_BUS_MASTER) this._log(`bus mastering ${this.pciCommand & PCI.CMD_BUS_MASTER ? 'on' : 'off'}`);
      this._updateIntx();
      return;
    }
    if (off === 0x0c) {
      this.cacheLine = value & 0xff;
      return;
    }
    if (off === 0x3c) {
      this.interruptLine = value & 0xff;
      return;
    }
    if (off === 0x44) {
      this.pmcsr = value & 3;
      return;
    }
    if (this.capMsix && off === this.capMsix) {
      const m = this.msix;
      const old = m.control;
      m.control = (value >>> 16) & (PCI.MSIX_CTRL_ENABLE | PCI.MSIX_CTRL_FUNCTION_MASK);
      if (old !== m.control) {
        this._log(`MSI-X ${m.control & PCI.MSIX_CTRL_ENABLE ? 'enabled' : 'disabled'}${m.control & PCI.MSIX_CTRL_FUNCTION_MASK ? ' (function masked)' : ''}`);
        this._msixDeliverPending();
        this._updateIntx();
      }
      return;
    }
    if (off === this.capPcie + 8) {
      this.pcieDevCtl = value & 0xffff;
      return;
    }
    // BARs are placed by the host; everything else is read-only
  }

  mmioRead32(bar, off) {
    if (!(this.pciCommand & PCI.CMD_MEMORY)) {
      this._violation(`MMIO read of BAR${bar}+${hex(off)} while PCI memory space is disabled (command bit 1): reads as all ones`);
      return 0xffffffff;
    }
    if (off & 3) {
      this._violation(`MMIO read of BAR${bar}+${hex(off)} not dword-aligned`);
      return 0xffffffff;
    }
    if (this.msix && bar === this.msix.bar && off >= this.msix.tableOff && off < this.msix.end) return this._msixRead(off);
    if (bar !== 0) return 0;
    if (off >= REG.DOORBELL_BASE) return 0; // doorbells read as 0 (QEMU does the same)
    return this._regRead(off) >>> 0;
  }

  mmioWrite32(bar, off, value) {
    value >>>= 0;
    if (!(this.pciCommand & PCI.CMD_MEMORY)) {
      this._violation(`MMIO write of ${hex(value)} to BAR${bar}+${hex(off)} while PCI memory space is disabled (command bit 1): dropped`);
      return;
    }
    if (off & 3) {
      this._violation(`MMIO write to BAR${bar}+${hex(off)} not dword-aligned: dropped`);
      return;
    }
    if (this.msix && bar === this.msix.bar && off >= this.msix.tableOff && off < this.msix.end) {
      this._msixWrite(off, value);
      return;
    }
    if (bar !== 0) {
      this._violation(`MMIO write of ${hex(value)} to BAR${bar}+${hex(off)}: nothing there`);
      return;
    }
    if (off >= REG.DOORBELL_BASE) {
      this._doorbell(off, value);
      return;
    }
    this._regWrite(off, value);
  }

  advance(nowNs) {
    const now = BigInt(nowNs);
    let guard = 0;
    while (this.events.length && this.events[0].t <= now) {
      const ev = this.events.shift();
      if (ev.epoch !== this.epoch) continue;
      this.evTime = ev.t;
      try {
        ev.fn();
      } finally {
        this.evTime = null;
      }
      if (++guard > 1_000_000) throw new Error(`${this.name}: runaway event loop`);
    }
  }

  nextEventNs() {
    while (this.events.length && this.events[0].epoch !== this.epoch) this.events.shift();
    return this.events.length ? this.events[0].t : null;
  }

  // ======================= time and events =====================================================

  _now() {
    return this.evTime ?? BigInt(this.host.now());
  }

  _delay(range) {
    const [lo, hi] = range;
    return BigInt(this.rng.int(lo, hi));
  }

  _at(delayNs, fn) {
    const ev = { t: this._now() + BigInt(delayNs), seq: this.seq++, epoch: this.epoch, fn };
    // keep sorted by (t, seq): binary search for the insertion point
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = this.events[mid];
      if (e.t < ev.t || (e.t === ev.t && e.seq < ev.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.events.splice(lo, 0, ev);
    return ev;
  }

  // ======================= bookkeeping =========================================================

  _log(msg) {
    this.host.log?.(`${this.name}: ${msg}`);
  }

  _violation(msg) {
    this.stats.violations++;
    if (this.violations.length < MAX_VIOLATIONS) this.violations.push(msg);
    this._log(`violation: ${msg}`);
  }

  _fatal(why) {
    if (!(this.csts & CSTS.CFS)) this._log(`fatal: ${why} (CSTS.CFS=1)`);
    this.csts |= CSTS.CFS;
    if (!this.fatalReason) this.fatalReason = why;
    // the controller stops: nothing scheduled runs any more
    this.epoch++;
    this.events = [];
  }

  get ready() {
    return (this.csts & CSTS.RDY) !== 0 && (this.csts & CSTS.CFS) === 0 && (this.cc & 1) === 1;
  }

  get pageSize() {
    return PAGE << field(this.cc, CC.MPS);
  }

  // ======================= registers ===========================================================

  get cap() {
    const p = this.p;
    return (
      BigInt(p.mqes) |
      (1n << 16n) | // CQR: queues must be physically contiguous (we do not support PRP-list queues)
      (BigInt(p.ams & 3) << 17n) |
      (BigInt(p.timeout) << 24n) |
      (BigInt(p.dstrd) << 32n) |
      (1n << 37n) | // CSS: NVM command set
      (BigInt(p.mpsmin) << 48n) |
      (BigInt(p.mpsmax) << 52n)
    );
  }

  _regRead(off) {
    switch (off) {
      case REG.CAP:
        return Number(this.cap & 0xffffffffn);
      case REG.CAP + 4:
        return Number(this.cap >> 32n);
      case REG.VS:
        return this.vs;
      case REG.INTMS:
      case REG.INTMC:
        if (this._msixEnabled()) this._violation(`read of ${off === REG.INTMS ? 'INTMS' : 'INTMC'} while MSI-X is enabled (the spec reserves them then)`);
        return this.intms;
      case REG.CC:
        return this.cc;
      case REG.CSTS:
        return this.csts;
      case REG.AQA:
        return this.aqa;
      case REG.ASQ:
        return Number(this.asq & 0xffffffffn);
      case REG.ASQ + 4:
        return Number(this.asq >> 32n);
      case REG.ACQ:
        return Number(this.acq & 0xffffffffn);
      case REG.ACQ + 4:
        return Number(this.acq >> 32n);
      default:
        return 0;
    }
  }

  _regWrite(off, v) {
    const en = (this.cc & 1) === 1;
    switch (off) {
      case REG.CAP:
      case REG.CAP + 4:
      case REG.VS:
        this._violation(`write of ${hex(v)} to read-only register ${off === REG.VS ? 'VS' : 'CAP'}`);
        return;
      case REG.CSTS:
        if (v & ~CSTS.NSSRO) this._violation(`write of ${hex(v)} to CSTS (read-only except NSSRO)`);
        return;
      case REG.INTMS:
      case REG.INTMC:
        if (this._msixEnabled()) {
          this._violation(`write to ${off === REG.INTMS ? 'INTMS' : 'INTMC'} while MSI-X is enabled (the host shall not use them then): ignored`);
          return;
        }
        if (off === REG.INTMS) this.intms |= v;
        else this.intms &= ~v;
        this.intms >>>= 0;
        this._updateIntx();
        return;
      case REG.CC:
        this._writeCC(v);
        return;
      case REG.NSSR:
        this._violation(`write of ${hex(v)} to NSSR, but CAP.NSSRS=0 (subsystem reset not supported): ignored`);
        return;
      case REG.AQA:
      case REG.ASQ:
      case REG.ASQ + 4:
      case REG.ACQ:
      case REG.ACQ + 4: {
        const nm = off === REG.AQA ? 'AQA' : off < REG.ACQ ? 'ASQ' : 'ACQ';
        if (en) {
          this._violation(`write of ${hex(v)} to ${nm} while CC.EN=1: ignored (configure the admin queue before enabling)`);
          return;
        }
        if (off === REG.AQA) this.aqa = v & 0x0fff0fff;
        else if (off === REG.ASQ) this.asq = (this.asq & ~0xffffffffn) | BigInt(v);
        else if (off === REG.ASQ + 4) this.asq = (this.asq & 0xffffffffn) | (BigInt(v) << 32n);
        else if (off === REG.ACQ) this.acq = (this.acq & ~0xffffffffn) | BigInt(v);
        else this.acq = (this.acq & 0xffffffffn) | (BigInt(v) << 32n);
        return;
      }
      default:
        this._violation(`write of ${hex(v)} to reserved register offset ${hex(off)}: ignored`);
    }
  }

  _writeCC(v) {
    const old = this.cc;
    const wasEn = (old & 1) === 1;
    const en = (v & 1) === 1;
    const SHN_MASK = 3 << 14;
    const CC_DEFINED = 0x00fffff1;
    if (v & ~CC_DEFINED) this._violation(`CC write ${hex(v)} sets reserved bits ${hex(v & ~CC_DEFINED)}`);
    v &= CC_DEFINED;
    if (wasEn && en) {
      const changed = (old ^ v) & ~SHN_MASK & ~1;
      if (changed) {
        const names = Object.entries(CC).filter(([, f]) => field(changed, f)).map(([k]) => k);
        this._violation(`CC.${names.join('/')} changed while CC.EN=1: ignored (write CC fields while disabled)`);
      }
      this.cc = (old & ~SHN_MASK) | (v & SHN_MASK);
      const shn = field(v, CC.SHN);
      if (shn && !field(old, CC.SHN)) this._startShutdown(shn);
      return;
    }
    if (!wasEn && en) {
      this.cc = v;
      if (this.csts & CSTS.RDY) {
        this._violation('CC.EN set to 1 while CSTS.RDY was still 1 from the previous enable: wait for CSTS.RDY=0 after clearing CC.EN');
        this._fatal('CC.EN set to 1 before CSTS.RDY had cleared after a reset');
        return;
      }
      this._enable();
      return;
    }
    if (wasEn && !en) {
      this.cc = v;
      this._disable();
      return;
    }
    // disabled, stays disabled: configuration
    this.cc = v;
    if (field(v, CC.SHN)) this._log('CC.SHN written while disabled: nothing to shut down');
  }

  _enable() {
    const p = this.p;
    const cc = this.cc;
    const mps = field(cc, CC.MPS);
    const ps = BigInt(PAGE << mps);
    const asqs = field(this.aqa, AQA.ASQS);
    const acqs = field(this.aqa, AQA.ACQS);
    let why = null;
    if (field(cc, CC.CSS) !== 0) why = `CC.CSS=${field(cc, CC.CSS)} is not the NVM command set (000b)`;
    else if (mps < p.mpsmin || mps > p.mpsmax) why = `CC.MPS=${mps} outside CAP.MPSMIN..MPSMAX = ${p.mpsmin}..${p.mpsmax}`;
    else if (field(cc, CC.AMS) !== 0 && !((p.ams & 1) && field(cc, CC.AMS) === 1)) why = `CC.AMS=${field(cc, CC.AMS)} is not supported (CAP.AMS=${p.ams})`;
    else if (this.asq === 0n) why = 'ASQ is 0';
    else if (this.acq === 0n) why = 'ACQ is 0';
    else if (this.asq % ps) why = `ASQ ${hex(this.asq)} is not aligned to the memory page size ${ps} (CC.MPS)`;
    else if (this.acq % ps) why = `ACQ ${hex(this.acq)} is not aligned to the memory page size ${ps} (CC.MPS)`;
    else if (asqs === 0) why = 'AQA.ASQS is 0 (a 1-entry admin submission queue; the field is 0-based)';
    else if (acqs === 0) why = 'AQA.ACQS is 0 (a 1-entry admin completion queue; the field is 0-based)';
    else if (asqs > p.mqes) why = `AQA.ASQS=${asqs} above CAP.MQES=${p.mqes}`;
    else if (acqs > p.mqes) why = `AQA.ACQS=${acqs} above CAP.MQES=${p.mqes}`;
    if (why) {
      this._violation(`controller enable failed: ${why}`);
      this._fatal(`enable failed: ${why}`);
      return;
    }
    this._resetQueues();
    const cq = this._newCq({ qid: 0, base: this.acq, size: acqs + 1, ien: true, vector: 0 });
    this._newSq({ qid: 0, base: this.asq, size: asqs + 1, cqid: 0, cq });
    this._log(`enabled: ASQ ${hex(this.asq)} x${asqs + 1}, ACQ ${hex(this.acq)} x${acqs + 1}, page ${ps}`);
    const ready = () => {
      this.csts = (this.csts & ~CSTS.CFS) | CSTS.RDY;
      this.fatalReason = null;
      this.powerOnNs = this._now();
    };
    const d = this._delay(p.rdyDelayNs);
    if (d === 0n) ready();
    else this._at(d, ready);
  }

  _disable() {
    this.stats.resets++;
    this._log('CC.EN 1->0: controller reset');
    this._resetQueues(); // epoch++: everything scheduled is dropped
    const done = () => {
      this.csts &= ~(CSTS.RDY | CSTS.SHST_MASK | CSTS.CFS);
    };
    const d = this._delay(this.p.disableDelayNs);
    if (d === 0n || !(this.csts & CSTS.RDY)) done();
    else this._at(d, done);
  }

  _startShutdown(shn) {
    this._log(`shutdown notification (${shn === 1 ? 'normal' : 'abrupt'})`);
    this.csts = (this.csts & ~CSTS.SHST_MASK) | (SHST.OCCURRING << CSTS.SHST_SHIFT);
    const done = () => {
      for (const ns of this.namespaces) ns.disk.flush?.();
      this.csts = (this.csts & ~CSTS.SHST_MASK) | (SHST.COMPLETE << CSTS.SHST_SHIFT);
    };
    const d = this._delay(this.p.shutdownDelayNs);
    if (d === 0n) done();
    else this._at(d, done);
  }

  _resetQueues() {
    this.epoch++;
    this.events = [];
    this.sqs = new Map();
    this.cqs = new Map();
    this.outstanding = new Map(); // (sqid << 16 | cid) -> command record, from fetch until its CQE is posted
    this.aers = []; // outstanding Asynchronous Event Requests
    this.aerQueue = []; // events waiting for an AER
    this.aerMasked = new Set(); // event types reported and not yet cleared by reading their log page
    this.qsCreated = false;
    this.abortsInFlight = 0;
    this.features = this._defaultFeatures();
    this._updateIntx();
  }

  _defaultFeatures() {
    const p = this.p;
    const n = p.ioQueuePairs - 1;
    return new Map([
      [FEAT.ARBITRATION, 0],
      [FEAT.POWER_MANAGEMENT, 0],
      [FEAT.TEMPERATURE_THRESHOLD, 0x0157], // 343 K
      [FEAT.ERROR_RECOVERY, 0],
      [FEAT.VOLATILE_WRITE_CACHE, p.vwc ? 1 : 0],
      [FEAT.NUMBER_OF_QUEUES, (n << 16) | n],
      [FEAT.INTERRUPT_COALESCING, 0],
      [FEAT.WRITE_ATOMICITY, 0],
      [FEAT.ASYNC_EVENT_CONFIG, 0],
    ]);
  }

  // ======================= queues ==============================================================

  _newCq({ qid, base, size, ien, vector }) {
    const cq = { qid, base, size, head: 0, tail: 0, phase: 1, ien, vector, posts: [], sqs: new Set() };
    this.cqs.set(qid, cq);
    return cq;
  }

  _newSq({ qid, base, size, cqid, cq }) {
    const sq = { qid, base, size, head: 0, tail: 0, cqid, fetchPending: false, lastDoneNs: 0n };
    this.sqs.set(qid, sq);
    cq.sqs.add(qid);
    return sq;
  }

  _doorbell(off, value) {
    this.stats.doorbells++;
    const rel = off - REG.DOORBELL_BASE;
    if (off >= this.doorbellEnd || rel % this.stride) {
      const why = rel % this.stride
        ? `doorbell write at ${hex(off)}: not on the ${this.stride}-byte doorbell stride (CAP.DSTRD=${this.p.dstrd})`
        : `doorbell write at ${hex(off)}: beyond the last queue's doorbell (${this.maxQid} IO queue pairs)`;
      this._violation(why + ': ignored');
      this._asyncEvent(AER_TYPE.ERROR, AER_ERROR_INFO.INVALID_DOORBELL_REGISTER, LOG.ERROR_INFO);
      return;
    }
    const idx = rel / this.stride;
    const qid = idx >> 1;
    const isCq = (idx & 1) === 1;
    const what = `${isCq ? 'CQ' : 'SQ'}${qid} ${isCq ? 'head' : 'tail'} doorbell`;
    if (this.csts & CSTS.CFS) {
      this._log(`${what} = ${value} ignored: controller is in fatal state`);
      return;
    }
    if (!this.ready) {
      this._violation(`${what} = ${value} written while the controller is not ready (CSTS.RDY=0): ignored`);
      return;
    }
    if (field(this.csts, [2, 2]) !== SHST.NORMAL) this._violation(`${what} = ${value} written after a shutdown notification`);
    if (isCq) {
      const cq = this.cqs.get(qid);
      if (!cq) {
        this._violation(`${what} = ${value}: CQ ${qid} does not exist: ignored`);
        this._asyncEvent(AER_TYPE.ERROR, AER_ERROR_INFO.INVALID_DOORBELL_REGISTER, LOG.ERROR_INFO);
        return;
      }
      if (value >= cq.size) {
        this._violation(`${what} = ${value}: not below the queue size ${cq.size}: ignored`);
        this._asyncEvent(AER_TYPE.ERROR, AER_ERROR_INFO.INVALID_DOORBELL_VALUE, LOG.ERROR_INFO);
        return;
      }
      const posted = (cq.tail - cq.head + cq.size) % cq.size;
      const consumed = (value - cq.head + cq.size) % cq.size;
      if (consumed > posted) {
        this._violation(`${what} = ${value}: beyond the entries posted (head ${cq.head}, tail ${cq.tail}): ignored`);
        this._asyncEvent(AER_TYPE.ERROR, AER_ERROR_INFO.INVALID_DOORBELL_VALUE, LOG.ERROR_INFO);
        return;
      }
      cq.head = value;
      this._drainCq(cq);
      this._updateIntx();
      return;
    }
    const sq = this.sqs.get(qid);
    if (!sq) {
      this._violation(`${what} = ${value}: SQ ${qid} does not exist: ignored`);
      this._asyncEvent(AER_TYPE.ERROR, AER_ERROR_INFO.INVALID_DOORBELL_REGISTER, LOG.ERROR_INFO);
      return;
    }
    if (value >= sq.size) {
      this._violation(`${what} = ${value}: not below the queue size ${sq.size}: ignored`);
      this._asyncEvent(AER_TYPE.ERROR, AER_ERROR_INFO.INVALID_DOORBELL_VALUE, LOG.ERROR_INFO);
      return;
    }
    sq.tail = value;
    if (!sq.fetchPending && sq.tail !== sq.head) {
      sq.fetchPending = true;
      this._at(this._delay(this.p.fetchDelayNs), () => this._fetch(sq));
    }
  }

  _fetch(sq) {
    sq.fetchPending = false;
    if (!this.ready || this.sqs.get(sq.qid) !== sq) return;
    const batch = [];
    while (sq.head !== sq.tail) {
      const addr = sq.base + BigInt(sq.head * SQE_BYTES);
      let bytes;
      try {
        bytes = this._dmaRead(addr, SQE_BYTES);
      } catch (e) {
        if (!(e instanceof DmaError)) throw e;
        this._fatal(`cannot fetch SQ${sq.qid} entry ${sq.head} at ${hex(addr)}: ${e.message}`);
        return;
      }
      sq.head = (sq.head + 1) % sq.size;
      batch.push(this._parse(bytes));
    }
    const admin = sq.qid === 0;
    if (!admin && this.p.reorder) this.rng.shuffle(batch);
    for (const cmd of batch) {
      this._submit(sq, cmd);
      if (!this.ready) return; // a fault stopped the controller
    }
  }

  _parse(bytes) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const u32 = (o) => dv.getUint32(o, true);
    const cdw0 = u32(0);
    return {
      raw: bytes,
      opcode: cdw0 & 0xff,
      fuse: (cdw0 >>> 8) & 3,
      psdt: (cdw0 >>> 14) & 3,
      cid: cdw0 >>> 16,
      nsid: u32(4),
      mptr: dv.getBigUint64(16, true),
      prp1: dv.getBigUint64(24, true),
      prp2: dv.getBigUint64(32, true),
      cdw10: u32(40),
      cdw11: u32(44),
      cdw12: u32(48),
      cdw13: u32(52),
      cdw14: u32(56),
      cdw15: u32(60),
    };
  }

  _submit(sq, cmd) {
    const admin = sq.qid === 0;
    const opname = opcodeName(admin, cmd.opcode);
    const bucket = admin ? this.stats.admin : this.stats.io;
    bucket[opname] = (bucket[opname] ?? 0) + 1;
    this.stats.commands++;
    const rec = { sqid: sq.qid, cqid: sq.cqid, cid: cmd.cid, cmd, admin, opname, state: 'pending', sqhd: sq.head };
    const key = (sq.qid << 16) | cmd.cid;

    if (!admin) {
      this.ioFetched++;
      const n = this.faults.cfsAfter;
      if (n != null && !this.cfsFired && this.ioFetched > n) {
        this.cfsFired = true;
        this.stats.injected.cfs++;
        this._fatal(`injected fault: controller fatal status after ${n} IO commands`);
        return;
      }
    }

    if (this.outstanding.has(key)) {
      const other = this.outstanding.get(key);
      this._violation(`SQ${sq.qid}: command id ${cmd.cid} (${opname}) submitted while command id ${cmd.cid} (${other.opname}) is still outstanding`);
      rec.conflict = true;
      this._at(this._delay(this.p.completionDelayNs), () =>
        this._complete(rec, { sct: SCT.GENERIC, sc: SC.CID_CONFLICT, dnr: true, why: `command id ${cmd.cid} already outstanding` }),
      );
      return;
    }
    this.outstanding.set(key, rec);
    rec.key = key;

    // AERs are held until an event happens (§5.2)
    if (admin && cmd.opcode === ADMIN.ASYNC_EVENT_REQUEST && !cmd.fuse && !cmd.psdt) {
      if (this.aers.length > this.p.aerl) {
        this._at(this._delay(this.p.completionDelayNs), () =>
          this._complete(rec, { sct: SCT.COMMAND_SPECIFIC, sc: CSS.AER_LIMIT_EXCEEDED, dnr: true, why: `more than AERL+1 = ${this.p.aerl + 1} outstanding` }),
        );
        return;
      }
      rec.state = 'aer';
      this.aers.push(rec);
      this._deliverAsyncEvents();
      return;
    }
    if (admin && cmd.opcode === ADMIN.ABORT) {
      // Abort Command Limit (ACL, 0-based): the ACL+2nd concurrent Abort is refused
      if (this.abortsInFlight > this.p.acl) rec.abortLimit = true;
      else {
        rec.abortCounted = true;
        this.abortsInFlight++;
      }
    }

    if (!admin && this.faultRng.chance(this.faults.dropRate)) {
      rec.state = 'dropped';
      this.stats.injected.drop++;
      this._log(`injected fault: SQ${sq.qid} cid ${cmd.cid} (${opname}) dropped`);
      return;
    }
    let delay = this._delay(this.p.completionDelayNs);
    if (!admin && this.faultRng.chance(this.faults.slowRate)) {
      delay += BigInt(this.faults.slowNs);
      this.stats.injected.slow++;
    }
    if (admin || !this.p.reorder) {
      // in order: never complete before an earlier command of the same SQ
      let t = this._now() + delay;
      if (t < sq.lastDoneNs) t = sq.lastDoneNs;
      sq.lastDoneNs = t;
      delay = t - this._now();
    }
    this._at(delay, () => this._execute(rec));
  }

  _execute(rec) {
    if (rec.state !== 'pending') return;
    rec.state = 'executing';
    let result;
    try {
      this._commonChecks(rec);
      result = rec.admin ? this._admin(rec) : this._io(rec);
    } catch (e) {
      if (e instanceof CmdError) result = { sct: e.sct, sc: e.sc, dnr: e.dnr, why: e.message };
      else if (e instanceof DmaError) result = { sct: SCT.GENERIC, sc: SC.DATA_TRANSFER_ERROR, dnr: true, why: e.message };
      else throw e;
    }
    if (rec.abortCounted) this.abortsInFlight--;
    if (result === null) return; // completes later
    this._complete(rec, result);
  }

  _commonChecks(rec) {
    const { cmd, admin } = rec;
    if (cmd.fuse) throw invalidField(`fused operation (FUSE=${cmd.fuse}) not supported (Identify FUSES=0)`);
    if (cmd.psdt === 3) throw invalidField('PSDT=11b is reserved');
    if (cmd.psdt) {
      if (admin) throw invalidField('admin commands must use PRPs (PSDT=00b)');
      if (!this.p.sgl) throw invalidField(`PSDT=${cmd.psdt}: SGLs not supported (Identify SGLS=0)`);
    }
  }

  // post a completion (possibly later, when the CQ has room)
  _complete(rec, { sct = 0, sc = 0, dnr = false, dw0 = 0, dw1 = 0, why = null }) {
    if (rec.state === 'done') return;
    rec.state = 'done';
    const cq = this.cqs.get(rec.cqid);
    if (sct || sc) {
      this.stats.errors++;
      this._log(`SQ${rec.sqid} cid ${rec.cid} ${rec.opname}: ${statusName(sct, sc)}${why ? ` (${why})` : ''}`);
      if (!(sct === SCT.GENERIC && (sc === SC.ABORT_REQUESTED || sc === SC.ABORTED_SQ_DELETION))) this._logError(rec, sct, sc, dnr);
    }
    const entry = { rec, sqid: rec.sqid, cid: rec.cid, dw0: dw0 >>> 0, dw1: dw1 >>> 0, status: packStatus({ sct, sc, dnr }) };
    if (!cq) {
      if (!rec.conflict && this.outstanding.get(rec.key) === rec) this.outstanding.delete(rec.key);
      return;
    }
    cq.posts.push(entry);
    this._drainCq(cq);
  }

  _drainCq(cq) {
    let posted = false;
    while (cq.posts.length && (cq.tail + 1) % cq.size !== cq.head) {
      const e = cq.posts.shift();
      const sq = this.sqs.get(e.sqid);
      const sqhd = sq ? sq.head : e.rec.sqhd;
      const buf = new Uint8Array(CQE_BYTES);
      const dv = new DataView(buf.buffer);
      dv.setUint32(0, e.dw0, true);
      dv.setUint32(4, e.dw1, true);
      dv.setUint16(8, sqhd, true);
      dv.setUint16(10, e.sqid, true);
      dv.setUint16(12, e.cid, true);
      dv.setUint16(14, (e.status << 1) | cq.phase, true);
      const addr = cq.base + BigInt(cq.tail * CQE_BYTES);
      try {
        this._dmaWrite(addr, buf);
      } catch (err) {
        if (!(err instanceof DmaError)) throw err;
        this._fatal(`cannot post to CQ${cq.qid} entry ${cq.tail} at ${hex(addr)}: ${err.message}`);
        return;
      }
      if (!e.rec.conflict && this.outstanding.get(e.rec.key) === e.rec) this.outstanding.delete(e.rec.key);
      this.stats.completions++;
      cq.tail = (cq.tail + 1) % cq.size;
      if (cq.tail === 0) cq.phase ^= 1;
      posted = true;
    }
    if (posted) this._interrupt(cq);
  }

  // ======================= interrupts ==========================================================

  _msixEnabled() {
    return !!this.msix && (this.msix.control & PCI.MSIX_CTRL_ENABLE) !== 0;
  }

  _interrupt(cq) {
    if (!cq.ien) return;
    if (this._msixEnabled()) this._msixSignal(cq.vector);
    else this._updateIntx();
  }

  _msixSignal(v) {
    const m = this.msix;
    if (m.control & PCI.MSIX_CTRL_FUNCTION_MASK || m.table[v * 4 + 3] & 1) {
      m.pending[v] = 1;
      return;
    }
    m.pending[v] = 0;
    const addr = U64(m.table[v * 4], m.table[v * 4 + 1]);
    const data = m.table[v * 4 + 2];
    if (addr === 0n) {
      this._violation(`MSI-X vector ${v} fired with message address 0 (table entry not programmed): interrupt lost`);
      return;
    }
    this.stats.msix++;
    this.stats.interrupts++;
    this.host.msiWrite(addr, data);
  }

  _msixDeliverPending() {
    if (!this._msixEnabled() || this.msix.control & PCI.MSIX_CTRL_FUNCTION_MASK) return;
    for (let v = 0; v < this.msix.pending.length; v++) {
      if (this.msix.pending[v] && !(this.msix.table[v * 4 + 3] & 1)) this._msixSignal(v);
    }
  }

  _msixRead(off) {
    const m = this.msix;
    if (off >= m.pbaOff) {
      const bit0 = ((off - m.pbaOff) >> 2) * 32;
      let w = 0;
      for (let i = 0; i < 32 && bit0 + i < m.pending.length; i++) if (m.pending[bit0 + i]) w |= 1 << i;
      return w >>> 0;
    }
    const i = (off - m.tableOff) >> 2;
    return i < m.table.length ? m.table[i] : 0;
  }

  _msixWrite(off, value) {
    const m = this.msix;
    if (off >= m.pbaOff) {
      this._violation(`write of ${hex(value)} to the MSI-X PBA (read-only) at ${hex(off)}: ignored`);
      return;
    }
    const i = (off - m.tableOff) >> 2;
    if (i >= m.table.length) return;
    const wasMasked = (m.table[i] & 1) === 1;
    m.table[i] = (i & 3) === 3 ? value & 1 : value;
    if ((i & 3) === 3 && wasMasked && !(value & 1)) {
      const v = i >> 2;
      if (m.pending[v] && this._msixEnabled() && !(m.control & PCI.MSIX_CTRL_FUNCTION_MASK)) this._msixSignal(v);
    }
  }

  _updateIntx() {
    let level = false;
    if (this.p.intx && !this._msixEnabled() && !(this.pciCommand & PCI.CMD_INTX_DISABLE)) {
      for (const cq of this.cqs.values()) {
        if (cq.ien && cq.head !== cq.tail && !(this.intms & (1 << (cq.vector & 31)))) {
          level = true;
          break;
        }
      }
    }
    if (level !== this.intxLevel) {
      this.intxLevel = level;
      if (level) {
        this.stats.intx++;
        this.stats.interrupts++;
      }
      this.host.setIntx?.(level);
    }
  }

  // ======================= asynchronous events =================================================

  _asyncEvent(type, info, logPage) {
    if (!this.ready) return;
    // queued (once per type/info) and held while its type is masked: reported, log page not yet read
    if (this.aerQueue.some((e) => e.type === type && e.info === info)) return;
    this.aerQueue.push({ type, info, logPage });
    this._deliverAsyncEvents();
  }

  _deliverAsyncEvents() {
    while (this.aers.length && this.aerQueue.length) {
      const idx = this.aerQueue.findIndex((e) => !this.aerMasked.has(e.type));
      if (idx < 0) return;
      const [ev] = this.aerQueue.splice(idx, 1);
      const rec = this.aers.shift();
      this.aerMasked.add(ev.type);
      this.stats.asyncEvents++;
      rec.state = 'pending';
      const dw0 = ev.type | (ev.info << 8) | (ev.logPage << 16);
      this._at(this._delay(this.p.completionDelayNs), () => this._complete(rec, { dw0 }));
    }
  }

  _unmaskAsyncEvents(type) {
    if (!this.aerMasked.delete(type)) return;
    this._deliverAsyncEvents();
  }

  // ======================= DMA =================================================================

  _inOwnBar(addr, len) {
    const end = addr + BigInt(len);
    for (const b of this.bars) {
      const base = this.barAddr.get(b.index);
      if (base === 0n) continue;
      if (addr < base + BigInt(b.size) && end > base) return `BAR${b.index}`;
    }
    return null;
  }

  _dmaCheck(addr, len) {
    if (!(this.pciCommand & PCI.CMD_BUS_MASTER)) {
      this.stats.dmaFaults++;
      this.host.dmaFault?.(addr, len, `${this.name}: DMA with bus mastering disabled`);
      throw new DmaError(`DMA at ${hex(addr)} with bus mastering disabled`);
    }
    const bar = this._inOwnBar(addr, len);
    if (bar) throw new DmaError(`DMA address ${hex(addr)} points into the controller's own ${bar}`);
  }

  _dmaRead(addr, len) {
    this._dmaCheck(addr, len);
    try {
      return this.host.dmaRead(addr, len);
    } catch (e) {
      this.stats.dmaFaults++;
      if (e?.name !== 'DmaFault') this.host.dmaFault?.(addr, len, `${this.name}: DMA read: ${e.message}`);
      throw new DmaError(`DMA read of ${len} bytes at ${hex(addr)} failed: ${e.message}`);
    }
  }

  _dmaWrite(addr, bytes) {
    this._dmaCheck(addr, bytes.length);
    try {
      this.host.dmaWrite(addr, bytes);
    } catch (e) {
      this.stats.dmaFaults++;
      if (e?.name !== 'DmaFault') this.host.dmaFault?.(addr, bytes.length, `${this.name}: DMA write: ${e.message}`);
      throw new DmaError(`DMA write of ${bytes.length} bytes at ${hex(addr)} failed: ${e.message}`);
    }
  }

  // the data pointer (PRP or SGL) of a command mapped for `len` bytes -> segments
  _mapData(cmd, len) {
    if (len === 0) return [];
    if (cmd.psdt) return this._mapSgl(cmd, len);
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
      if (bar) throw fail(SCT.GENERIC, SC.DATA_TRANSFER_ERROR, `PRP entry ${hex(s.addr)} points into the controller's own ${bar}`);
    }
    return r.segments;
  }

  // SGL (1.4 §4.4): Data Block, Bit Bucket, Segment and Last Segment descriptors
  _mapSgl(cmd, len) {
    const segments = [];
    let total = 0;
    const parseDesc = (b, o) => {
      const dv = new DataView(b.buffer, b.byteOffset + o, 16);
      return { addr: dv.getBigUint64(0, true), len: dv.getUint32(8, true), type: b[o + 15] >> 4, subtype: b[o + 15] & 0xf };
    };
    const take = (d) => {
      if (d.subtype !== 0) throw fail(SCT.GENERIC, SC.INVALID_SGL_TYPE, `SGL descriptor subtype ${d.subtype} not supported`);
      if (d.type === 1) {
        total += d.len; // bit bucket: skipped bytes (reads only)
        segments.push({ addr: null, len: d.len });
        return;
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
      if (d.type !== 2 && d.type !== 3) throw fail(SCT.GENERIC, SC.INVALID_SGL_TYPE, `SGL descriptor type ${d.type} not supported`);
      if (d.len === 0 || d.len % 16) throw fail(SCT.GENERIC, SC.INVALID_SGL_SEGMENT, `SGL segment length ${d.len} not a multiple of 16`);
      const n = d.len / 16;
      const seg = this._dmaRead(d.addr, d.len);
      const last = d.type === 3;
      let next = null;
      for (let i = 0; i < n; i++) {
        const e = parseDesc(seg, i * 16);
        if (e.type === 2 || e.type === 3) {
          if (last || i !== n - 1) throw fail(SCT.GENERIC, SC.INVALID_SGL_SEGMENT, 'SGL segment descriptor not in the last slot of a Segment');
          next = e;
        } else take(e);
      }
      if (!next) {
        if (!last) throw fail(SCT.GENERIC, SC.INVALID_SGL_SEGMENT, 'SGL Segment without a following segment descriptor');
        break;
      }
      d = next;
      if (++guard > 4096) throw fail(SCT.GENERIC, SC.INVALID_SGL_SEGMENT, 'SGL chain does not end');
    }
    if (total < len) throw fail(SCT.GENERIC, SC.INVALID_SGL_DATA_LENGTH, `SGL describes ${total} bytes, the command transfers ${len}`);
    for (const s of segments) {
      if (s.addr !== null && this._inOwnBar(s.addr, s.len)) throw fail(SCT.GENERIC, SC.DATA_TRANSFER_ERROR, `SGL address ${hex(s.addr)} points into the controller's own BAR`);
    }
    return segments;
  }

  // device -> host
  _toHost(cmd, data) {
    const segs = this._mapData(cmd, data.length);
    let o = 0;
    for (const s of segs) {
      if (s.addr !== null) this._dmaWrite(s.addr, data.subarray(o, o + s.len));
      o += s.len;
    }
  }

  // host -> device
  _fromHost(cmd, len) {
    const segs = this._mapData(cmd, len);
    if (segs.length === 1) return this._dmaRead(segs[0].addr, len);
    const out = new Uint8Array(len);
    let o = 0;
    for (const s of segs) {
      if (s.addr !== null) out.set(this._dmaRead(s.addr, s.len), o);
      o += s.len;
    }
    return out;
  }

  _checkMdts(len) {
    if (len > this.maxTransfer) throw invalidField(`transfer of ${len} bytes above MDTS (${this.maxTransfer} bytes)`);
  }

  // ======================= admin commands (§5) =================================================

  _admin(rec) {
    const { cmd } = rec;
    switch (cmd.opcode) {
      case ADMIN.DELETE_IO_SQ:
        return this._deleteSq(cmd);
      case ADMIN.CREATE_IO_SQ:
        return this._createSq(cmd);
      case ADMIN.GET_LOG_PAGE:
        return this._getLogPage(cmd);
      case ADMIN.DELETE_IO_CQ:
        return this._deleteCq(cmd);
      case ADMIN.CREATE_IO_CQ:
        return this._createCq(cmd);
      case ADMIN.IDENTIFY:
        return this._identify(cmd);
      case ADMIN.ABORT:
        return this._abort(cmd, rec);
      case ADMIN.SET_FEATURES:
        return this._setFeatures(cmd);
      case ADMIN.GET_FEATURES:
        return this._getFeatures(cmd);
      default:
        throw fail(SCT.GENERIC, SC.INVALID_OPCODE, `admin opcode ${hex(cmd.opcode, 2)} not supported`);
    }
  }

  _checkQueueEntrySizes() {
    const sqes = field(this.cc, CC.IOSQES);
    const cqes = field(this.cc, CC.IOCQES);
    if (sqes !== 6 || cqes !== 4) {
      throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_QUEUE_SIZE, `CC.IOSQES=${sqes}/IOCQES=${cqes}, must be 6/4 (64/16-byte entries) before creating IO queues`);
    }
  }

  _createCq(cmd) {
    this._checkQueueEntrySizes();
    const qid = cmd.cdw10 & 0xffff;
    const qsize = cmd.cdw10 >>> 16; // 0-based
    const pc = cmd.cdw11 & 1;
    const ien = (cmd.cdw11 & 2) !== 0;
    const vector = cmd.cdw11 >>> 16;
    if (qid === 0 || qid > this.maxQid || this.cqs.has(qid)) {
      throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_QID, qid === 0 ? 'CQ id 0 is the admin queue' : qid > this.maxQid ? `CQ id ${qid} above the ${this.maxQid} granted` : `CQ ${qid} already exists`);
    }
    if (qsize === 0 || qsize > this.p.mqes) throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_QUEUE_SIZE, `QSIZE=${qsize} (0-based) must be 1..CAP.MQES=${this.p.mqes}`);
    if (cmd.prp1 % BigInt(this.pageSize) || cmd.prp1 === 0n) throw fail(SCT.GENERIC, SC.INVALID_PRP_OFFSET, `CQ base ${hex(cmd.prp1)} is not page-aligned`);
    if (!this._msixEnabled() && vector !== 0) throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_INTERRUPT_VECTOR, `interrupt vector ${vector} without MSI-X enabled (INTx has only vector 0)`);
    if (this._msixEnabled() && vector >= this.p.msixVectors) throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_INTERRUPT_VECTOR, `interrupt vector ${vector} beyond the ${this.p.msixVectors}-entry MSI-X table`);
    if (!pc) throw invalidField('PC=0: physically non-contiguous queues not supported (CAP.CQR=1)');
    const base = cmd.prp1;
    const bar = this._inOwnBar(base, (qsize + 1) * CQE_BYTES);
    if (bar) throw fail(SCT.GENERIC, SC.INVALID_PRP_OFFSET, `CQ base ${hex(base)} is inside the controller's ${bar}`);
    this._newCq({ qid, base, size: qsize + 1, ien, vector });
    this.qsCreated = true;
    this._log(`created CQ${qid} at ${hex(base)} x${qsize + 1}${ien ? ` vector ${vector}` : ' polled'}`);
    return {};
  }

  _createSq(cmd) {
    this._checkQueueEntrySizes();
    const qid = cmd.cdw10 & 0xffff;
    const qsize = cmd.cdw10 >>> 16;
    const pc = cmd.cdw11 & 1;
    const cqid = cmd.cdw11 >>> 16;
    if (cqid === 0 || !this.cqs.has(cqid)) throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_CQ, `CQ ${cqid} does not exist${cqid === 0 ? ' (IO SQs cannot use the admin CQ)' : ''}`);
    if (qid === 0 || qid > this.maxQid || this.sqs.has(qid)) {
      throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_QID, qid === 0 ? 'SQ id 0 is the admin queue' : qid > this.maxQid ? `SQ id ${qid} above the ${this.maxQid} granted` : `SQ ${qid} already exists`);
    }
    if (qsize === 0 || qsize > this.p.mqes) throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_QUEUE_SIZE, `QSIZE=${qsize} (0-based) must be 1..CAP.MQES=${this.p.mqes}`);
    if (cmd.prp1 % BigInt(this.pageSize) || cmd.prp1 === 0n) throw fail(SCT.GENERIC, SC.INVALID_PRP_OFFSET, `SQ base ${hex(cmd.prp1)} is not page-aligned`);
    if (!pc) throw invalidField('PC=0: physically non-contiguous queues not supported (CAP.CQR=1)');
    const bar = this._inOwnBar(cmd.prp1, (qsize + 1) * SQE_BYTES);
    if (bar) throw fail(SCT.GENERIC, SC.INVALID_PRP_OFFSET, `SQ base ${hex(cmd.prp1)} is inside the controller's ${bar}`);
    this._newSq({ qid, base: cmd.prp1, size: qsize + 1, cqid, cq: this.cqs.get(cqid) });
    this.qsCreated = true;
    this._log(`created SQ${qid} at ${hex(cmd.prp1)} x${qsize + 1} -> CQ${cqid}`);
    return {};
  }

  _deleteSq(cmd) {
    const qid = cmd.cdw10 & 0xffff;
    const sq = this.sqs.get(qid);
    if (qid === 0 || !sq) throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_QID, qid === 0 ? 'cannot delete the admin SQ' : `SQ ${qid} does not exist`);
    // every command still in the device is aborted, its completion posted first (§5.6)
    for (const rec of [...this.outstanding.values()]) {
      if (rec.sqid === qid && (rec.state === 'pending' || rec.state === 'dropped')) {
        rec.state = 'aborting';
        this._complete(rec, { sct: SCT.GENERIC, sc: SC.ABORTED_SQ_DELETION, dnr: false, why: `SQ${qid} deleted` });
      }
    }
    // the queue id is free again: so are its command ids, even for completions still waiting for CQ room
    for (const [key, rec] of this.outstanding) if (rec.sqid === qid) this.outstanding.delete(key);
    this.sqs.delete(qid);
    this.cqs.get(sq.cqid)?.sqs.delete(qid);
    this._log(`deleted SQ${qid}`);
    return {};
  }

  _deleteCq(cmd) {
    const qid = cmd.cdw10 & 0xffff;
    const cq = this.cqs.get(qid);
    if (qid === 0 || !cq) throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_QID, qid === 0 ? 'cannot delete the admin CQ' : `CQ ${qid} does not exist`);
    if (cq.sqs.size) throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_QUEUE_DELETION, `CQ ${qid} still has SQ ${[...cq.sqs].join(',')}: delete them first`);
    this.cqs.delete(qid);
    this._updateIntx();
    this._log(`deleted CQ${qid}`);
    return {};
  }

  _abort(cmd, rec) {
    if (rec.abortLimit) throw fail(SCT.COMMAND_SPECIFIC, CSS.ABORT_LIMIT_EXCEEDED, `more than ACL+1 = ${this.p.acl + 1} Abort commands outstanding`);
    const sqid = cmd.cdw10 & 0xffff;
    const cid = cmd.cdw10 >>> 16;
    const target = this.outstanding.get((sqid << 16) | cid);
    if (target && target !== rec && ['pending', 'dropped', 'aer'].includes(target.state)) {
      if (target.state === 'aer') this.aers = this.aers.filter((r) => r !== target);
      target.state = 'aborting';
      this._complete(target, { sct: SCT.GENERIC, sc: SC.ABORT_REQUESTED, dnr: false, why: 'aborted by an Abort command' });
      return { dw0: 0 };
    }
    return { dw0: 1 }; // not aborted
  }

  _identify(cmd) {
    const cns = cmd.cdw10 & 0xff;
    const nn = this.namespaces.length;
    let data;
    switch (cns) {
      case CNS.NAMESPACE: {
        const nsid = cmd.nsid;
        if (nsid === 0 || nsid > nn) throw fail(SCT.GENERIC, SC.INVALID_NAMESPACE, `NSID ${hex(nsid)} is not a namespace (1..${nn})`);
        data = this._identifyNamespace(this.namespaces[nsid - 1]);
        break;
      }
      case CNS.CONTROLLER:
        data = this._identifyController();
        break;
      case CNS.ACTIVE_NS_LIST: {
        if (!this.p.cns2) throw invalidField(`CNS 02h (active namespace list) not supported by an NVMe ${this.p.version} controller`);
        if (cmd.nsid >= 0xfffffffe) throw fail(SCT.GENERIC, SC.INVALID_NAMESPACE, `NSID ${hex(cmd.nsid)} not allowed for CNS 02h`);
        data = new Uint8Array(4096);
        const dv = new DataView(data.buffer);
        let j = 0;
        for (const ns of this.namespaces) if (ns.nsid > cmd.nsid && j < 1024) dv.setUint32(4 * j++, ns.nsid, true);
        break;
      }
      case CNS.NS_ID_DESCRIPTORS: {
        if (!this.p.cns3) throw invalidField(`CNS 03h not supported by an NVMe ${this.p.version} controller`);
        const nsid = cmd.nsid;
        if (nsid === 0 || nsid > nn) throw fail(SCT.GENERIC, SC.INVALID_NAMESPACE, `NSID ${hex(nsid)} is not a namespace (1..${nn})`);
        data = new Uint8Array(4096);
        data[0] = 3; // NIDT: UUID
        data[1] = 16; // NIDL
        data.set(this._uuid(nsid), 4);
        break;
      }
      default:
        throw invalidField(`Identify CNS ${hex(cns, 2)} not supported`);
    }
    this._toHost(cmd, data);
    return {};
  }

  _uuid(nsid) {
    const r = new Rng(`${this.p.serial}/ns${nsid}`);
    const u = new Uint8Array(16);
    for (let i = 0; i < 16; i++) u[i] = r.nextU32() & 0xff;
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    return u;
  }

  _identifyController() {
    const p = this.p;
    const d = new Uint8Array(4096);
    const dv = new DataView(d.buffer);
    const ascii = (off, len, s) => {
      for (let i = 0; i < len; i++) d[off + i] = i < s.length ? s.charCodeAt(i) & 0x7f : 0x20;
    };
    const [maj, min] = p.version.split('.').map(Number);
    const v11 = maj > 1 || min >= 1;
    const v12 = maj > 1 || min >= 2;
    dv.setUint16(0, p.vid, true); // VID
    dv.setUint16(2, p.ssvid, true); // SSVID
    ascii(4, 20, p.serial); // SN
    ascii(24, 40, p.model); // MN
    ascii(64, 8, p.firmware); // FR
    d[72] = 6; // RAB: 64 commands
    d[73] = p.ieee & 0xff; // IEEE OUI, little endian
    d[74] = (p.ieee >> 8) & 0xff;
    d[75] = (p.ieee >> 16) & 0xff;
    d[76] = 0; // CMIC: single port, single controller
    d[77] = p.mdts; // MDTS
    if (v11) dv.setUint16(78, 1, true); // CNTLID
    if (v12) dv.setUint32(80, this.vs, true); // VER
    dv.setUint32(84, 1_000_000, true); // RTD3R (µs)
    dv.setUint32(88, 1_000_000, true); // RTD3E
    if (v12) d[111] = 1; // CNTRLTYPE: I/O controller (1.4)
    dv.setUint16(256, 0, true); // OACS: no security, format, firmware, NS management
    d[258] = p.acl; // ACL
    d[259] = p.aerl; // AERL
    d[260] = 0x03; // FRMW: one slot, slot 1 read-only
    d[261] = v12 ? 0x04 : 0x00; // LPA: extended data (NUMDU, LPO) for Get Log Page
    d[262] = p.elpe; // ELPE
    d[263] = 0; // NPSS: one power state
    d[264] = 1; // AVSCC
    dv.setUint16(266, 0x0157, true); // WCTEMP 343 K
    dv.setUint16(268, 0x0175, true); // CCTEMP 373 K
    d[512] = 0x66; // SQES: 64 bytes
    d[513] = 0x44; // CQES: 16 bytes
    dv.setUint16(514, 0, true); // MAXCMD
    dv.setUint32(516, this.namespaces.length, true); // NN
    // ONCS: Dataset Management (bit 2), Write Zeroes (bit 3), Save/Select in features (bit 4)
    dv.setUint16(520, (1 << 2) | (v11 ? 1 << 3 : 0) | (v11 ? 1 << 4 : 0), true);
    dv.setUint16(522, 0, true); // FUSES
    d[524] = 0; // FNA
    d[525] = p.vwc ? 0x07 : 0x00; // VWC (byte 525): present, Flush with NSID FFFFFFFFh supported (bits 2:1 = 11b)
    d[530] = 1; // NVSCC: NVM vendor specific commands use the standard format
    // SGLS: bit 0 SGLs supported (no alignment), bit 16 bit bucket
    dv.setUint32(536, p.sgl ? 0x00010001 : 0, true);
    if (v12) {
      const nqn = `${p.subnqnPrefix}:nvme:${p.serial}`; // SUBNQN, NUL padded
      for (let i = 0; i < nqn.length && i < 255; i++) d[768 + i] = nqn.charCodeAt(i) & 0x7f;
    }
    // power state 0: 25 W, operational
    dv.setUint16(2048, 2500, true);
    return d;
  }

  _identifyNamespace(ns) {
    const d = new Uint8Array(4096);
    const dv = new DataView(d.buffer);
    dv.setBigUint64(0, ns.blocks, true); // NSZE
    dv.setBigUint64(8, ns.blocks, true); // NCAP
    dv.setBigUint64(16, ns.blocks, true); // NUSE
    d[24] = 0; // NSFEAT
    const { list, idx } = lbaFormats(ns);
    d[25] = list.length - 1; // NLBAF (0-based)
    d[26] = idx & 0xf; // FLBAS: format in use; bit 4 = 0: metadata in a separate buffer (MPTR)
    d[27] = 0x02; // MC: metadata as a separate buffer
    d[33] = 0x09; // DLFEAT: deallocated blocks read as zeroes; Write Zeroes may deallocate
    d[99] = ns.readonly ? 1 : 0; // NSATTR bit 0: write protected
    d.set(this._uuid(ns.nsid), 104); // NGUID
    for (let i = 0; i < list.length; i++) {
      dv.setUint32(128 + 4 * i, (list[i].ms & 0xffff) | (list[i].lbads << 16), true); // LBAF: MS, LBADS, RP=0
    }
    return d;
  }

  _getLogPage(cmd) {
    const lid = cmd.cdw10 & 0xff;
    const rae = (cmd.cdw10 >>> 15) & 1;
    const numdl = cmd.cdw10 >>> 16;
    const numdu = cmd.cdw11 & 0xffff;
    const len = (((numdu << 16) >>> 0) + numdl + 1) * 4;
    const lpo = U64(cmd.cdw12, cmd.cdw13);
    this._checkMdts(len);
    if (lpo & 3n) throw invalidField(`log page offset ${lpo} not dword-aligned`);
    let log;
    switch (lid) {
      case LOG.ERROR_INFO:
        log = this._errorLog();
        if (!rae) this._unmaskAsyncEvents(AER_TYPE.ERROR);
        break;
      case LOG.SMART:
        if (cmd.nsid !== 0 && cmd.nsid !== 0xffffffff) throw invalidField(`SMART log for NSID ${cmd.nsid}: only controller-wide (LPA bit 0 = 0)`);
        log = this._smartLog();
        if (!rae) this._unmaskAsyncEvents(AER_TYPE.SMART);
        break;
      case LOG.FIRMWARE_SLOT: {
        log = new Uint8Array(512);
        log[0] = 1; // AFI: slot 1 active
        for (let i = 0; i < 8; i++) log[8 + i] = i < this.p.firmware.length ? this.p.firmware.charCodeAt(i) : 0x20;
        break;
      }
      default:
        throw fail(SCT.COMMAND_SPECIFIC, CSS.INVALID_LOG_PAGE, `log page ${hex(lid, 2)} not supported`);
    }
    if (lpo >= BigInt(log.length)) throw invalidField(`log page offset ${lpo} beyond the ${log.length}-byte log`);
    const off = Number(lpo);
    const n = Math.min(len, log.length - off);
    this._toHost(cmd, log.subarray(off, off + n));
    return {};
  }

  _logError(rec, sct, sc, dnr) {
    this.errorCount++;
    this.errorLog.unshift({ count: this.errorCount, sqid: rec.sqid, cid: rec.cid, status: packStatus({ sct, sc, dnr }), nsid: rec.cmd.nsid, lba: rec.admin ? 0n : U64(rec.cmd.cdw10, rec.cmd.cdw11) });
    this.errorLog.length = Math.min(this.errorLog.length, this.p.elpe + 1);
  }

  _errorLog() {
    const d = new Uint8Array(64 * (this.p.elpe + 1));
    const dv = new DataView(d.buffer);
    this.errorLog.forEach((e, i) => {
      const o = i * 64;
      dv.setBigUint64(o, e.count, true);
      dv.setUint16(o + 8, e.sqid, true);
      dv.setUint16(o + 10, e.cid, true);
      dv.setUint16(o + 12, e.status << 1, true);
      dv.setUint16(o + 14, 0xffff, true); // parameter error location: not specified
      dv.setBigUint64(o + 16, e.lba, true);
      dv.setUint32(o + 24, e.nsid, true);
    });
    return d;
  }

  _smartLog() {
    const d = new Uint8Array(512);
    const dv = new DataView(d.buffer);
    const s = this.stats;
    d[0] = this.csts & CSTS.CFS ? 0x04 : 0; // critical warning: reliability degraded
    dv.setUint16(1, 0x0141, true); // composite temperature 321 K
    d[3] = 100; // available spare
    d[4] = 10; // available spare threshold
    d[5] = 0; // percentage used
    const units = (bytes) => BigInt(Math.ceil(bytes / 512000)); // thousands of 512-byte units, rounded up
    dv.setBigUint64(32, units(s.bytesRead), true); // data units read
    dv.setBigUint64(48, units(s.bytesWritten), true); // data units written
    dv.setBigUint64(64, BigInt(s.readCommands), true); // host read commands
    dv.setBigUint64(80, BigInt(s.writeCommands), true); // host write commands
    dv.setBigUint64(96, (this._now() - this.powerOnNs) / 60_000_000_000n, true); // controller busy time (min)
    dv.setBigUint64(112, 1n, true); // power cycles
    dv.setBigUint64(128, 0n, true); // power on hours
    dv.setBigUint64(144, 0n, true); // unsafe shutdowns
    dv.setBigUint64(160, BigInt(s.injected.error), true); // media errors
    dv.setBigUint64(176, this.errorCount, true); // error log entries
    return d;
  }

  _setFeatures(cmd) {
    const fid = cmd.cdw10 & 0xff;
    const sv = cmd.cdw10 >>> 31;
    const dw11 = cmd.cdw11;
    const p = this.p;
    if (sv) throw fail(SCT.COMMAND_SPECIFIC, CSS.FEATURE_NOT_SAVEABLE, `feature ${hex(fid, 2)} cannot be saved`);
    switch (fid) {
      case FEAT.NUMBER_OF_QUEUES: {
        const nsqr = dw11 & 0xffff;
        const ncqr = dw11 >>> 16;
        if (this.qsCreated) throw fail(SCT.GENERIC, SC.COMMAND_SEQUENCE_ERROR, 'Number of Queues set after IO queues were created');
        if (nsqr === 0xffff || ncqr === 0xffff) throw invalidField('Number of Queues requested 65536 (0xFFFF, 0-based)');
        const n = p.ioQueuePairs - 1; // granted whatever was asked
        this.features.set(fid, (n << 16) | n);
        return { dw0: (n << 16) | n };
      }
      case FEAT.VOLATILE_WRITE_CACHE:
        if (!p.vwc) throw invalidField('no volatile write cache (Identify VWC=0)');
        this.features.set(fid, dw11 & 1);
        if (!(dw11 & 1)) for (const ns of this.namespaces) ns.disk.flush?.();
        return {};
      case FEAT.POWER_MANAGEMENT:
        if ((dw11 & 0x1f) > 0) throw invalidField(`power state ${dw11 & 0x1f} above NPSS=0`);
        this.features.set(fid, dw11 & 0xff);
        return {};
      case FEAT.INTERRUPT_VECTOR_CONFIG: {
        const iv = dw11 & 0xffff;
        if (iv >= Math.max(1, p.msixVectors)) throw invalidField(`interrupt vector ${iv} does not exist`);
        return {};
      }
      case FEAT.ARBITRATION:
      case FEAT.TEMPERATURE_THRESHOLD:
      case FEAT.ERROR_RECOVERY:
      case FEAT.INTERRUPT_COALESCING:
      case FEAT.WRITE_ATOMICITY:
      case FEAT.ASYNC_EVENT_CONFIG:
        this.features.set(fid, dw11 >>> 0);
        return {};
      default:
        throw invalidField(`feature ${hex(fid, 2)} not supported`);
    }
  }

  _getFeatures(cmd) {
    const fid = cmd.cdw10 & 0xff;
    const sel = (cmd.cdw10 >>> 8) & 7;
    const [maj, min] = this.p.version.split('.').map(Number);
    const selOk = maj > 1 || min >= 1;
    if (fid === FEAT.VOLATILE_WRITE_CACHE && !this.p.vwc) throw invalidField('no volatile write cache (Identify VWC=0)');
    if (fid === FEAT.INTERRUPT_VECTOR_CONFIG) {
      const iv = cmd.cdw11 & 0xffff;
      if (iv >= Math.max(1, this.p.msixVectors)) throw invalidField(`interrupt vector ${iv} does not exist`);
      return { dw0: iv };
    }
    if (!this.features.has(fid)) throw invalidField(`feature ${hex(fid, 2)} not supported`);
    if (selOk && sel) {
      if (sel === 3) return { dw0: fid === FEAT.NUMBER_OF_QUEUES ? 0 : 0b100 }; // changeable, not saveable, not per namespace
      if (sel === 1 || sel === 2) return { dw0: this._defaultFeatures().get(fid) };
      throw invalidField(`SEL=${sel} reserved`);
    }
    return { dw0: this.features.get(fid) };
  }

  // ======================= NVM commands (§6) ===================================================

  _ns(cmd) {
    const nsid = cmd.nsid;
    if (nsid === 0 || nsid > this.namespaces.length) throw fail(SCT.GENERIC, SC.INVALID_NAMESPACE, `NSID ${hex(nsid)} is not a namespace (1..${this.namespaces.length})`);
    return this.namespaces[nsid - 1];
  }

  _checkRange(ns, slba, nlb) {
    if (slba + BigInt(nlb) > ns.blocks || slba + BigInt(nlb) < slba) {
      throw fail(SCT.GENERIC, SC.LBA_OUT_OF_RANGE, `LBA ${slba}+${nlb} beyond NSZE ${ns.blocks}`);
    }
  }

  _io(rec) {
    const { cmd } = rec;
    switch (cmd.opcode) {
      case IO.FLUSH: {
        if (cmd.nsid === 0xffffffff && this.p.vwc) {
          for (const ns of this.namespaces) ns.disk.flush?.();
          return {};
        }
        this._ns(cmd).disk.flush?.();
        return {};
      }
      case IO.READ:
      case IO.WRITE:
        return this._readWrite(cmd);
      case IO.WRITE_ZEROES: {
        const ns = this._ns(cmd);
        if (ns.readonly) throw fail(SCT.GENERIC, SC.NS_WRITE_PROTECTED, `namespace ${ns.nsid} is write protected`);
        const slba = U64(cmd.cdw10, cmd.cdw11);
        const nlb = (cmd.cdw12 & 0xffff) + 1;
        this._checkRange(ns, slba, nlb);
        this._zero(ns, slba, nlb);
        this.stats.blocksZeroed += nlb;
        return {};
      }
      case IO.DATASET_MANAGEMENT: {
        const ns = this._ns(cmd);
        const nr = (cmd.cdw10 & 0xff) + 1;
        const ad = (cmd.cdw11 >>> 2) & 1;
        const ranges = this._fromHost(cmd, nr * 16);
        if (!ad) return {}; // only hints (IDR/IDW): nothing to do
        if (ns.readonly) throw fail(SCT.GENERIC, SC.NS_WRITE_PROTECTED, `namespace ${ns.nsid} is write protected`);
        const dv = new DataView(ranges.buffer, ranges.byteOffset, ranges.byteLength);
        const list = [];
        for (let i = 0; i < nr; i++) {
          const nlb = dv.getUint32(i * 16 + 4, true);
          const slba = dv.getBigUint64(i * 16 + 8, true);
          this._checkRange(ns, slba, nlb);
          list.push([slba, nlb]);
        }
        for (const [slba, nlb] of list) {
          if (nlb) this._zero(ns, slba, nlb);
          this.stats.blocksDeallocated += nlb;
        }
        return {};
      }
      default:
        throw fail(SCT.GENERIC, SC.INVALID_OPCODE, `IO opcode ${hex(cmd.opcode, 2)} not supported`);
    }
  }

  _zero(ns, slba, nlb) {
    const chunkBlocks = Math.max(1, Math.floor((1 << 20) / ns.lbaBytes));
    let lba = slba;
    let left = nlb;
    while (left > 0) {
      const n = Math.min(left, chunkBlocks);
      ns.disk.write(lba * BigInt(ns.lbaBytes), new Uint8Array(n * ns.lbaBytes));
      if (ns.meta) for (let i = 0n; i < BigInt(n); i++) ns.meta.delete(lba + i);
      lba += BigInt(n);
      left -= n;
    }
  }

  _readWrite(cmd) {
    const write = cmd.opcode === IO.WRITE;
    const ns = this._ns(cmd);
    if (write && ns.readonly) throw fail(SCT.GENERIC, SC.NS_WRITE_PROTECTED, `namespace ${ns.nsid} is write protected`);
    const slba = U64(cmd.cdw10, cmd.cdw11);
    const nlb = (cmd.cdw12 & 0xffff) + 1;
    const fua = (cmd.cdw12 >>> 30) & 1;
    const len = nlb * ns.lbaBytes;
    this._checkMdts(len);
    this._checkRange(ns, slba, nlb);
    if (ns.ms) {
      if (cmd.mptr === 0n) throw invalidField(`namespace ${ns.nsid} has ${ns.ms}-byte metadata in a separate buffer, but MPTR is 0`);
      if (cmd.psdt !== 2 && cmd.mptr & 3n) throw invalidField(`MPTR ${hex(cmd.mptr)} not dword-aligned`);
    }
    if (this.faultRng.chance(this.faults.errorRate)) {
      this.stats.injected.error++;
      throw fail(SCT.MEDIA, write ? MEDIA.WRITE_FAULT : MEDIA.UNRECOVERED_READ_ERROR, `injected ${write ? 'write' : 'read'} error at LBA ${slba}`, { dnr: false });
    }
    const off = slba * BigInt(ns.lbaBytes);
    if (write) {
      const data = this._fromHost(cmd, len);
      let meta = null;
      if (ns.ms) meta = this._dmaRead(cmd.mptr, nlb * ns.ms);
      ns.disk.write(off, data);
      if (meta) for (let i = 0; i < nlb; i++) ns.meta.set(slba + BigInt(i), meta.slice(i * ns.ms, (i + 1) * ns.ms));
      if (fua) ns.disk.flush?.();
      this.stats.bytesWritten += len;
      this.stats.writeCommands++;
    } else {
      const data = ns.disk.read(off, len);
      this._toHost(cmd, data);
      if (ns.ms) {
        const meta = new Uint8Array(nlb * ns.ms);
        for (let i = 0; i < nlb; i++) {
          const m = ns.meta.get(slba + BigInt(i));
          if (m) meta.set(m, i * ns.ms);
        }
        this._dmaWrite(cmd.mptr, meta);
      }
      this.stats.bytesRead += len;
      this.stats.readCommands++;
    }
    return {};
  }
}

export { CmdError };
export default NvmeController;
