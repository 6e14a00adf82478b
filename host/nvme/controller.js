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
//     namespaces: [{ disk, lbaBytes = 512, ms = 0, readonly = false, csi = 0 }],  // NSID 1, 2, …
//     faults: { errorRate, dropRate, dropAfter, cfsAfter, cfsRepeat, slowRate, slowNs }, // or error/drop/drop_after/cfs/cfs_repeat/slow/slow_ns
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
//
// The code is split by concern; this file holds construction, the PCI function interface (BARs,
// MMIO, advance/nextEventNs), time and events, and the register file with the CC/CSTS state
// machine (enable, disable/reset, shutdown: NVMe 1.4 §3.1, §7.3, §7.6). The rest, installed as
// NvmeController methods at the end of this file:
//   pci-config.js  configuration space header and capabilities (NVMe 1.4 §2)
//   interrupts.js  MSI-X table/PBA/masking, INTx level (§7.5)
//   queues.js      queues, doorbells, command fetch, completion posting with the phase tag (§4)
//   prp.js         walkPrp, SGLs, DMA (§4.3, §4.4)
//   dbbuf.js       shadow doorbells and EventIdx (Doorbell Buffer Config, NVMe 1.3+)
//   admin.js       admin commands and asynchronous events (§5)
//   nvm.js         IO commands (§6)
//   common.js      sizes, CmdError/DmaError, hex

import { REG, CC, CSTS, SHST, AQA, FEAT, PCI, field } from "./constants.js";
import { PAGE, hex } from "./common.js";
import { makeProfile, checkProfile, versionValue } from "./profiles.js";
import { Rng } from "../rng.js";
import { pciConfigMethods } from "./pci-config.js";
import { interruptMethods } from "./interrupts.js";
import { queueMethods } from "./queues.js";
import { dmaMethods } from "./prp.js";
import { adminMethods } from "./admin.js";
import { nvmMethods } from "./nvm.js";
import { dbbufMethods } from "./dbbuf.js";

const MAX_VIOLATIONS = 1000;

const pow2AtLeast = (n) => {
  let p = 1;
  while (p < n) p *= 2;
  return p;
};
const alignUp = (n, a) => Math.ceil(n / a) * a;

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
  const csi = ns.csi ?? 0; // Command Set Identifier: 0 NVM, 2 zoned (reported by CNS 03h only)
  return {
    disk: ns.disk,
    lbaBytes,
    ms,
    readonly: !!ns.readonly,
    csi,
    blocks,
    nsid: i + 1,
    meta: ms ? new Map() : null,
  };
}

// faults: { errorRate, dropRate, dropAfter, cfsAfter, cfsRepeat, slowRate, slowNs }; the CLI's short
// names (error=, drop=, drop_after=, cfs=, cfs_repeat=, slow=, slow_ns=) are accepted too. cfsRepeat
// (1): CSTS.CFS again on every IO command fetched after the first, through every reset. dropAfter N:
// the IO command fetched after the first N never completes, once (one timeout, one reset).
// abortIgnored (1): Abort completes successfully with DW0 bit 0 set ("not aborted", 5.1) and aborts
// nothing, so a dropped command stays lost and the driver's reset path is what frees it.
const FAULT_ALIASES = {
  abort_ignored: "abortIgnored",
  error: "errorRate",
  drop: "dropRate",
  drop_after: "dropAfter",
  cfs: "cfsAfter",
  cfs_repeat: "cfsRepeat",
  slow: "slowRate",
  slow_ns: "slowNs",
  slowns: "slowNs",
};
export function normalizeFaults(faults = {}) {
  const out = {
    errorRate: 0,
    dropRate: 0,
    cfsAfter: null,
    cfsRepeat: 0,
    slowRate: 0,
    slowNs: 5_000_000,
    abortIgnored: 0,
  };
  for (const [k, v] of Object.entries(faults || {})) {
    const key = FAULT_ALIASES[k] ?? k;
    // dropAfter is only in the result when asked for
    if (!(key in out) && key !== "dropAfter")
      throw new Error(
        `unknown fault option "${k}" (have: ${Object.keys(out).join(", ")}, dropAfter, or error/drop/drop_after/cfs/slow/slow_ns)`,
      );
    const n = v == null ? null : Number(v);
    if (n != null && !(Number.isFinite(n) && n >= 0)) throw new Error(`fault option ${k}: bad value ${v}`);
    out[key] = n;
  }
  for (const k of ["errorRate", "dropRate", "slowRate"])
    if (out[k] > 1) throw new Error(`fault option ${k}: a probability, 0..1`);
  return out;
}

export class NvmeController {
  constructor({ host, profile = "qemu", overrides, namespaces = [], faults = {}, name = "nvme0", rng } = {}) {
    if (!host) throw new Error("NvmeController needs a host");
    this.host = host;
    this.name = name;
    this.p =
      typeof profile === "string"
        ? makeProfile(profile, overrides)
        : overrides
          ? makeProfile(profile, overrides)
          : checkProfile({ ...makeProfile("qemu"), ...profile });
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
    this.bars = [
      { index: 0, size: pow2AtLeast(Math.max(p.bar0Size, bar0End, 0x4000)), is64: true, prefetchable: false },
    ];
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
    this.capMsi = p.msiVectors > 0 ? PCI.MSI_CAP : 0;
    // MSI: control holds Message Control's writable bits (enable, MME); the rest as written
    this.msi = this.capMsi ? { control: 0, addrLo: 0, addrHi: 0, data: 0, mask: 0, pending: 0 } : null;

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
      doorbells: 0, // doorbell register writes
      dbbufConfigs: 0, // Doorbell Buffer Config commands accepted (dbbuf.js)
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
    this.dropFired = false;
    this.ioFetched = 0;
    this.powerOnNs = 0n;
    // SMART / Health Information (§5.14.1.2), counted over this model's life: it is powered on once
    // (power cycles 1), from its construction (power-on hours); an unsafe shutdown is CC.EN cleared
    // on a ready controller without a completed shutdown notification (its state is lost as at a
    // power loss: a reset after a timeout counts). smartCriticalWarning bits are reported as set
    // (a test's or --set's), temperatureK is the composite temperature.
    this.bornNs = 0n; // the machine's time 0: powered on with it
    this.unsafeShutdowns = 0;
    this.smartCriticalWarning = 0;
    this.temperatureK = this.p.temperatureK;
    this.handsOff = null; // NVME_QUIRK_DELAY_BEFORE_CHK_RDY: { until } after CC.EN 1->0 (profile rdyHandsOffNs)
    this.wedged = false; // a reset that will never finish (CSTS read inside the hands-off time)

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

  // configRead32 / configWrite32: pci-config.js

  mmioRead32(bar, off) {
    if (!(this.pciCommand & PCI.CMD_MEMORY)) {
      this._violation(
        `MMIO read of BAR${bar}+${hex(off)} while PCI memory space is disabled (command bit 1): reads as all ones`,
      );
      return 0xffffffff;
    }
    if (off & 3) {
      this._violation(`MMIO read of BAR${bar}+${hex(off)} not dword-aligned`);
      return 0xffffffff;
    }
    if (this.msix && bar === this.msix.bar && off >= this.msix.tableOff && off < this.msix.end)
      return this._msixRead(off);
    if (bar !== 0) return 0;
    if (off >= REG.DOORBELL_BASE) return 0; // doorbells read as 0 (QEMU does the same)
    return this._regRead(off) >>> 0;
  }

  mmioWrite32(bar, off, value) {
    value >>>= 0;
    if (!(this.pciCommand & PCI.CMD_MEMORY)) {
      this._violation(
        `MMIO write of ${hex(value)} to BAR${bar}+${hex(off)} while PCI memory space is disabled (command bit 1): dropped`,
      );
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
        if (this._msixEnabled())
          this._violation(
            `read of ${off === REG.INTMS ? "INTMS" : "INTMC"} while MSI-X is enabled (the spec reserves them then)`,
          );
        return this.intms;
      case REG.CC:
        return this.cc;
      case REG.CSTS:
        this._cstsRead();
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
        this._violation(`write of ${hex(v)} to read-only register ${off === REG.VS ? "VS" : "CAP"}`);
        return;
      case REG.CSTS:
        if (v & ~CSTS.NSSRO) this._violation(`write of ${hex(v)} to CSTS (read-only except NSSRO)`);
        return;
      case REG.INTMS:
      case REG.INTMC:
        if (this._msixEnabled()) {
          this._violation(
            `write to ${off === REG.INTMS ? "INTMS" : "INTMC"} while MSI-X is enabled (the host shall not use them then): ignored`,
          );
          return;
        }
        if (off === REG.INTMS) this.intms |= v;
        else this.intms &= ~v;
        this.intms >>>= 0;
        this._updateIntx();
        this._msiDeliverPending();
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
        const nm = off === REG.AQA ? "AQA" : off < REG.ACQ ? "ASQ" : "ACQ";
        if (en) {
          this._violation(
            `write of ${hex(v)} to ${nm} while CC.EN=1: ignored (configure the admin queue before enabling)`,
          );
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
        const names = Object.entries(CC)
          .filter(([, f]) => field(changed, f))
          .map(([k]) => k);
        this._violation(`CC.${names.join("/")} changed while CC.EN=1: ignored (write CC fields while disabled)`);
      }
      this.cc = (old & ~SHN_MASK) | (v & SHN_MASK);
      const shn = field(v, CC.SHN);
      if (shn && !field(old, CC.SHN)) this._startShutdown(shn);
      return;
    }
    if (!wasEn && en) {
      this.cc = v;
      if (this.csts & CSTS.RDY) {
        this._violation(
          "CC.EN set to 1 while CSTS.RDY was still 1 from the previous enable: wait for CSTS.RDY=0 after clearing CC.EN",
        );
        this._fatal("CC.EN set to 1 before CSTS.RDY had cleared after a reset");
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
    if (field(v, CC.SHN)) this._log("CC.SHN written while disabled: nothing to shut down");
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
    else if (mps < p.mpsmin || mps > p.mpsmax)
      why = `CC.MPS=${mps} outside CAP.MPSMIN..MPSMAX = ${p.mpsmin}..${p.mpsmax}`;
    else if (field(cc, CC.AMS) !== 0 && !(p.ams & 1 && field(cc, CC.AMS) === 1))
      why = `CC.AMS=${field(cc, CC.AMS)} is not supported (CAP.AMS=${p.ams})`;
    else if (this.asq === 0n) why = "ASQ is 0";
    else if (this.acq === 0n) why = "ACQ is 0";
    else if (this.asq % ps) why = `ASQ ${hex(this.asq)} is not aligned to the memory page size ${ps} (CC.MPS)`;
    else if (this.acq % ps) why = `ACQ ${hex(this.acq)} is not aligned to the memory page size ${ps} (CC.MPS)`;
    else if (asqs === 0) why = "AQA.ASQS is 0 (a 1-entry admin submission queue; the field is 0-based)";
    else if (acqs === 0) why = "AQA.ACQS is 0 (a 1-entry admin completion queue; the field is 0-based)";
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
    if (this.csts & CSTS.RDY && field(this.csts, [2, 2]) !== SHST.COMPLETE) this.unsafeShutdowns++;
    this._log("CC.EN 1->0: controller reset");
    this._resetQueues(); // epoch++: everything scheduled is dropped
    const done = () => {
      if (this.wedged) return; // read during the hands-off time: this reset never finishes
      this.csts &= ~(CSTS.RDY | CSTS.SHST_MASK | CSTS.CFS);
    };
    // NVME_QUIRK_DELAY_BEFORE_CHK_RDY (profiles.js, hgst-sn100): from now until rdyHandsOffNs have
    // passed the host must not read CSTS; the reset itself ends within that time (checkProfile).
    if (this.p.rdyHandsOffNs) this.handsOff = { from: this._now(), until: this._now() + BigInt(this.p.rdyHandsOffNs) };
    const d = this._delay(this.p.disableDelayNs);
    if (d === 0n || !(this.csts & CSTS.RDY)) done();
    else this._at(d, done);
  }

  // A CSTS read. On a controller that needs a delay before RDY is checked after CC.EN is cleared,
  // a read inside that delay wedges the reset: the controller keeps CSTS.RDY = 1 from then on (the
  // host times out waiting for 0 and gives the controller up, which is what the quirk prevents).
  _cstsRead() {
    const h = this.handsOff;
    if (!h) return;
    const now = this._now();
    if (now >= h.until) {
      this.handsOff = null;
      return;
    }
    this.handsOff = null;
    this.wedged = true;
    this.csts |= CSTS.RDY;
    const ms = Number(now - h.from) / 1e6;
    this._violation(
      `CSTS read ${ms.toFixed(3)} ms after CC.EN was cleared: this controller needs ${this.p.rdyHandsOffNs / 1e6} ms before CSTS is checked ` +
        "(NVME_QUIRK_DELAY_BEFORE_CHK_RDY): the reset is wedged, CSTS.RDY stays 1",
    );
  }

  _startShutdown(shn) {
    this._log(`shutdown notification (${shn === 1 ? "normal" : "abrupt"})`);
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
    this.dbbuf = null; // { shadow, eventIdx } bus addresses after Doorbell Buffer Config (dbbuf.js)
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
}

// The rest of the device model, one concern per file. Their methods become NvmeController methods
// (non-enumerable, like those written in the class body), so everything calls them through `this`
// and a subclass can override any of them.
for (const methods of [
  pciConfigMethods,
  interruptMethods,
  queueMethods,
  dmaMethods,
  adminMethods,
  nvmMethods,
  dbbufMethods,
]) {
  for (const [name, desc] of Object.entries(Object.getOwnPropertyDescriptors(methods))) {
    if (Object.hasOwn(NvmeController.prototype, name)) throw new Error(`NvmeController.${name} defined twice`);
    Object.defineProperty(NvmeController.prototype, name, { ...desc, enumerable: false });
  }
}

export { walkPrp } from "./prp.js";
export { CmdError, DmaError } from "./common.js";
export default NvmeController;
