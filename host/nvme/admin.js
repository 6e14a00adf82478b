// Admin commands (NvmeController methods, installed by controller.js; NVMe 1.4 §5): IO queue
// create/delete (§5.3-§5.6), Abort (§5.1), Identify data structures (§5.15), Get Log Page with the
// error, SMART and firmware slot logs (§5.14), Set/Get Features (§5.21/§5.9), and Asynchronous
// Event Requests with the events they report (§5.2).

import { CC, CSTS, ADMIN, CNS, FEAT, LOG, AER_TYPE, SCT, SC, CSS, PCI, field, packStatus } from "./constants.js";
import { CQE_BYTES, U64, fail, invalidField, hex } from "./common.js";
import { Rng } from "../rng.js";

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

export const adminMethods = {
  // ======================= admin commands (§5) =================================================

  _admin(rec) {
    const { cmd } = rec;
    // QEMU 1.6-2.x (qemu-2.0) knew only queue create/delete, Identify and Set/Get Features
    const legacy = this.p.adminSet === "qemu-1.x";
    if (legacy && (cmd.opcode === ADMIN.GET_LOG_PAGE || cmd.opcode === ADMIN.ABORT)) {
      throw fail(SCT.GENERIC, SC.INVALID_OPCODE, `admin opcode ${hex(cmd.opcode, 2)} not supported by this controller`);
    }
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
      case ADMIN.DOORBELL_BUFFER_CONFIG:
        return this._doorbellBufferConfig(cmd); // dbbuf.js
      default:
        throw fail(SCT.GENERIC, SC.INVALID_OPCODE, `admin opcode ${hex(cmd.opcode, 2)} not supported`);
    }
  },

  _checkQueueEntrySizes() {
    const sqes = field(this.cc, CC.IOSQES);
    const cqes = field(this.cc, CC.IOCQES);
    // apple-t2 takes 6 (Linux) or 7 (FreeBSD) and uses 128-byte IO SQ entries either way
    const sqesOk = sqes === 6 || (this.p.ioSqeBytes === 128 && sqes === 7);
    if (!sqesOk || cqes !== 4) {
      throw fail(
        SCT.COMMAND_SPECIFIC,
        CSS.INVALID_QUEUE_SIZE,
        `CC.IOSQES=${sqes}/IOCQES=${cqes}, must be 6/4 (64/16-byte entries) before creating IO queues`,
      );
    }
  },

  _createCq(cmd) {
    this._checkQueueEntrySizes();
    const qid = cmd.cdw10 & 0xffff;
    const qsize = cmd.cdw10 >>> 16; // 0-based
    const pc = cmd.cdw11 & 1;
    const ien = (cmd.cdw11 & 2) !== 0;
    const vector = cmd.cdw11 >>> 16;
    this._checkNewQueue("CQ", this.cqs, qid, qsize, cmd.prp1);
    const msiVectors = this._msiEnabled() ? 1 << ((this.msi.control >> PCI.MSI_CTRL_MME_SHIFT) & 7) : 1;
    if (!this._msixEnabled() && vector >= msiVectors) {
      throw fail(
        SCT.COMMAND_SPECIFIC,
        CSS.INVALID_INTERRUPT_VECTOR,
        this._msiEnabled()
          ? `interrupt vector ${vector} beyond the ${msiVectors} MSI message(s) enabled (MME)`
          : `interrupt vector ${vector} without MSI-X enabled (INTx has only vector 0)`,
      );
    }
    if (this._msixEnabled() && vector >= this.p.msixVectors)
      throw fail(
        SCT.COMMAND_SPECIFIC,
        CSS.INVALID_INTERRUPT_VECTOR,
        `interrupt vector ${vector} beyond the ${this.p.msixVectors}-entry MSI-X table`,
      );
    if (!pc) throw invalidField("PC=0: physically non-contiguous queues not supported (CAP.CQR=1)");
    const base = cmd.prp1;
    const bar = this._inOwnBar(base, (qsize + 1) * CQE_BYTES);
    if (bar) throw fail(SCT.GENERIC, SC.INVALID_PRP_OFFSET, `CQ base ${hex(base)} is inside the controller's ${bar}`);
    this._newCq({ qid, base, size: qsize + 1, ien, vector });
    this.qsCreated = true;
    this._log(`created CQ${qid} at ${hex(base)} x${qsize + 1}${ien ? ` vector ${vector}` : " polled"}`);
    return {};
  },

  // Create I/O CQ and SQ alike (§5.3, §5.4): the queue id (Invalid Queue Identifier), its size within
  // CAP.MQES (Invalid Queue Size) and a page-aligned base (Invalid PRP Offset).
  _checkNewQueue(kind, existing, qid, qsize, base) {
    if (qid === 0 || qid > this.maxQid || existing.has(qid)) {
      throw fail(
        SCT.COMMAND_SPECIFIC,
        CSS.INVALID_QID,
        qid === 0
          ? `${kind} id 0 is the admin queue`
          : qid > this.maxQid
            ? `${kind} id ${qid} above the ${this.maxQid} granted`
            : `${kind} ${qid} already exists`,
      );
    }
    if (qsize === 0 || qsize > this.p.mqes)
      throw fail(
        SCT.COMMAND_SPECIFIC,
        CSS.INVALID_QUEUE_SIZE,
        `QSIZE=${qsize} (0-based) must be 1..CAP.MQES=${this.p.mqes}`,
      );
    if (base % BigInt(this.pageSize) || base === 0n)
      throw fail(SCT.GENERIC, SC.INVALID_PRP_OFFSET, `${kind} base ${hex(base)} is not page-aligned`);
  },

  _createSq(cmd) {
    this._checkQueueEntrySizes();
    const qid = cmd.cdw10 & 0xffff;
    const qsize = cmd.cdw10 >>> 16;
    const pc = cmd.cdw11 & 1;
    const cqid = cmd.cdw11 >>> 16;
    if (cqid === 0 || !this.cqs.has(cqid))
      throw fail(
        SCT.COMMAND_SPECIFIC,
        CSS.INVALID_CQ,
        `CQ ${cqid} does not exist${cqid === 0 ? " (IO SQs cannot use the admin CQ)" : ""}`,
      );
    this._checkNewQueue("SQ", this.sqs, qid, qsize, cmd.prp1);
    if (!pc) throw invalidField("PC=0: physically non-contiguous queues not supported (CAP.CQR=1)");
    const bar = this._inOwnBar(cmd.prp1, (qsize + 1) * this.p.ioSqeBytes);
    if (bar)
      throw fail(SCT.GENERIC, SC.INVALID_PRP_OFFSET, `SQ base ${hex(cmd.prp1)} is inside the controller's ${bar}`);
    this._newSq({ qid, base: cmd.prp1, size: qsize + 1, cqid, cq: this.cqs.get(cqid) });
    this.qsCreated = true;
    this._log(`created SQ${qid} at ${hex(cmd.prp1)} x${qsize + 1} -> CQ${cqid}`);
    return {};
  },

  _deleteSq(cmd) {
    const qid = cmd.cdw10 & 0xffff;
    const sq = this.sqs.get(qid);
    if (qid === 0 || !sq)
      throw fail(
        SCT.COMMAND_SPECIFIC,
        CSS.INVALID_QID,
        qid === 0 ? "cannot delete the admin SQ" : `SQ ${qid} does not exist`,
      );
    // every command still in the device is aborted, its completion posted first (§5.6)
    for (const rec of [...this.outstanding.values()]) {
      if (rec.sqid === qid && (rec.state === "pending" || rec.state === "dropped")) {
        rec.state = "aborting";
        this._complete(rec, { sct: SCT.GENERIC, sc: SC.ABORTED_SQ_DELETION, dnr: false, why: `SQ${qid} deleted` });
      }
    }
    // the queue id is free again: so are its command ids, even for completions still waiting for CQ room
    for (const [key, rec] of this.outstanding) if (rec.sqid === qid) this.outstanding.delete(key);
    this.sqs.delete(qid);
    this.cqs.get(sq.cqid)?.sqs.delete(qid);
    this._log(`deleted SQ${qid}`);
    return {};
  },

  _deleteCq(cmd) {
    const qid = cmd.cdw10 & 0xffff;
    const cq = this.cqs.get(qid);
    if (qid === 0 || !cq)
      throw fail(
        SCT.COMMAND_SPECIFIC,
        CSS.INVALID_QID,
        qid === 0 ? "cannot delete the admin CQ" : `CQ ${qid} does not exist`,
      );
    if (cq.sqs.size)
      throw fail(
        SCT.COMMAND_SPECIFIC,
        CSS.INVALID_QUEUE_DELETION,
        `CQ ${qid} still has SQ ${[...cq.sqs].join(",")}: delete them first`,
      );
    this.cqs.delete(qid);
    this._updateIntx();
    this._log(`deleted CQ${qid}`);
    return {};
  },

  _abort(cmd, rec) {
    if (rec.abortLimit)
      throw fail(
        SCT.COMMAND_SPECIFIC,
        CSS.ABORT_LIMIT_EXCEEDED,
        `more than ACL+1 = ${this.p.acl + 1} Abort commands outstanding`,
      );
    const sqid = cmd.cdw10 & 0xffff;
    const cid = cmd.cdw10 >>> 16;
    const target = this.outstanding.get((sqid << 16) | cid);
    if (this.faults.abortIgnored) return { dw0: 1 }; // fault: an Abort that does not help
    if (target && target !== rec && ["pending", "dropped", "aer"].includes(target.state)) {
      if (target.state === "aer") this.aers = this.aers.filter((r) => r !== target);
      target.state = "aborting";
      this._complete(target, {
        sct: SCT.GENERIC,
        sc: SC.ABORT_REQUESTED,
        dnr: false,
        why: "aborted by an Abort command",
      });
      return { dw0: 0 };
    }
    return { dw0: 1 }; // not aborted
  },

  _identify(cmd) {
    let cns = cmd.cdw10 & 0xff;
    const nn = this.namespaces.length;
    let data;
    // NVME_QUIRK_IDENTIFY_CNS. qemu-2.0: CDW10 read as a boolean, anything but 0 is the controller
    // structure, with success. apple-t2: CNS read as its bit 0, as in NVMe 1.0 (02h -> Identify
    // Namespace, 03h -> Identify Controller).
    if (this.p.cnsQuirk === "boolean" && cmd.cdw10 !== 0) {
      this._toHost(cmd, this._identifyController());
      return {};
    }
    if (this.p.cnsQuirk === "bit0") cns &= 1;
    switch (cns) {
      case CNS.NAMESPACE: {
        const nsid = cmd.nsid;
        if (nsid === 0 || nsid > nn)
          throw fail(SCT.GENERIC, SC.INVALID_NAMESPACE, `NSID ${hex(nsid)} is not a namespace (1..${nn})`);
        data = this._identifyNamespace(this.namespaces[nsid - 1]);
        break;
      }
      case CNS.CONTROLLER:
        data = this._identifyController();
        break;
      case CNS.ACTIVE_NS_LIST: {
        if (!this.p.cns2)
          throw invalidField(`CNS 02h (active namespace list) not supported by an NVMe ${this.p.version} controller`);
        if (cmd.nsid >= 0xfffffffe)
          throw fail(SCT.GENERIC, SC.INVALID_NAMESPACE, `NSID ${hex(cmd.nsid)} not allowed for CNS 02h`);
        data = new Uint8Array(4096);
        const dv = new DataView(data.buffer);
        let j = 0;
        for (const ns of this.namespaces) if (ns.nsid > cmd.nsid && j < 1024) dv.setUint32(4 * j++, ns.nsid, true);
        break;
      }
      case CNS.NS_ID_DESCRIPTORS: {
        if (!this.p.cns3) throw invalidField(`CNS 03h not supported by an NVMe ${this.p.version} controller`);
        const nsid = cmd.nsid;
        if (nsid === 0 || nsid > nn)
          throw fail(SCT.GENERIC, SC.INVALID_NAMESPACE, `NSID ${hex(nsid)} is not a namespace (1..${nn})`);
        data = new Uint8Array(4096);
        data[0] = 3; // NIDT: UUID
        data[1] = 16; // NIDL
        data.set(this._nsUuid(nsid), 4);
        const csi = this.namespaces[nsid - 1].csi;
        if (csi) {
          data[20] = 4;
          data[21] = 1;
          data[24] = csi;
        } // NIDT 04h: Command Set Identifier
        break;
      }
      default:
        throw invalidField(`Identify CNS ${hex(cns, 2)} not supported`);
    }
    this._toHost(cmd, data);
    return {};
  },

  // The UUID the controller reports for a namespace. NVME_QUIRK_BOGUS_NID: qemu-5.1 reports the
  // NSID in big-endian (the same on every controller), 'zero' an all-null one.
  _nsUuid(nsid) {
    const u = new Uint8Array(16);
    if (this.p.nidQuirk === "nsid-uuid") new DataView(u.buffer).setUint32(0, nsid, false);
    else if (this.p.nidQuirk !== "zero") u.set(this._uuid(nsid));
    return u;
  },

  _uuid(nsid) {
    const r = new Rng(`${this.p.serial}/ns${nsid}`);
    const u = new Uint8Array(16);
    for (let i = 0; i < 16; i++) u[i] = r.nextU32() & 0xff;
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    return u;
  },

  _identifyController() {
    const p = this.p;
    const d = new Uint8Array(4096);
    const dv = new DataView(d.buffer);
    const ascii = (off, len, s) => {
      for (let i = 0; i < len; i++) d[off + i] = i < s.length ? s.charCodeAt(i) & 0x7f : 0x20;
    };
    const [maj, min] = p.version.split(".").map(Number);
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
    dv.setUint16(256, p.dbbuf ? 1 << 8 : 0, true); // OACS: bit 8 Doorbell Buffer Config; no security, format, firmware, NS management
    d[258] = p.acl; // ACL
    d[259] = p.aerl; // AERL
    d[260] = 0x03; // FRMW: one slot, slot 1 read-only
    d[261] = v12 ? 0x04 : 0x00; // LPA: extended data (NUMDU, LPO) for Get Log Page
    d[262] = p.elpe; // ELPE
    d[263] = 0; // NPSS: one power state
    d[264] = 1; // AVSCC
    dv.setUint16(266, 0x0157, true); // WCTEMP 343 K
    dv.setUint16(268, 0x0175, true); // CCTEMP 373 K
    d[512] = p.sqes; // SQES: 64 bytes (required and maximum)
    d[513] = 0x44; // CQES: 16 bytes
    dv.setUint16(514, 0, true); // MAXCMD
    dv.setUint32(516, this.namespaces.length, true); // NN
    // ONCS: Dataset Management (bit 2), Write Zeroes (bit 3), Save/Select in features (bit 4)
    const legacy = p.adminSet === "qemu-1.x";
    dv.setUint16(520, (p.dsm ? 1 << 2 : 0) | (v11 && p.writeZeroes ? 1 << 3 : 0) | (v11 && !legacy ? 1 << 4 : 0), true);
    dv.setUint16(522, 0, true); // FUSES
    d[524] = 0; // FNA
    d[525] = p.vwc ? 0x07 : 0x00; // VWC (byte 525): present, Flush with NSID FFFFFFFFh supported (bits 2:1 = 11b)
    d[530] = 1; // NVSCC: NVM vendor specific commands use the standard format
    // SGLS: bits 1:0 01b SGLs supported (any alignment) or 10b (dword alignment), bit 16 bit
    // bucket, bit 20 SGLs longer than the transfer allowed
    dv.setUint32(536, p.sgl ? (p.sglDword ? 2 : 1) | (1 << 16) | (p.sglExcess ? 1 << 20 : 0) : 0, true);
    if (v12) {
      const nqn = `${p.subnqnPrefix}:nvme:${p.serial}`; // SUBNQN, NUL padded
      for (let i = 0; i < nqn.length && i < 255; i++) d[768 + i] = nqn.charCodeAt(i) & 0x7f;
    }
    // power state 0: 25 W, operational
    dv.setUint16(2048, 2500, true);
    return d;
  },

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
    d[33] = this.p.dlfeat; // DLFEAT: 2:0 001b deallocated blocks read as zeroes; bit 3 Write Zeroes' DEAC honoured
    d[99] = ns.readonly ? 1 : 0; // NSATTR bit 0: write protected
    if (this.p.nidQuirk === "none") d.set(this._uuid(ns.nsid), 104); // NGUID (0 with BOGUS_NID, like QEMU 5.1)
    for (let i = 0; i < list.length; i++) {
      dv.setUint32(128 + 4 * i, (list[i].ms & 0xffff) | (list[i].lbads << 16), true); // LBAF: MS, LBADS, RP=0
    }
    return d;
  },

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
        if (cmd.nsid !== 0 && cmd.nsid !== 0xffffffff)
          throw invalidField(`SMART log for NSID ${cmd.nsid}: only controller-wide (LPA bit 0 = 0)`);
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
  },

  _logError(rec, sct, sc, dnr) {
    this.errorCount++;
    this.errorLog.unshift({
      count: this.errorCount,
      sqid: rec.sqid,
      cid: rec.cid,
      status: packStatus({ sct, sc, dnr }),
      nsid: rec.cmd.nsid,
      lba: rec.admin ? 0n : U64(rec.cmd.cdw10, rec.cmd.cdw11),
    });
    this.errorLog.length = Math.min(this.errorLog.length, this.p.elpe + 1);
  },

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
  },

  _smartLog() {
    const d = new Uint8Array(512);
    const dv = new DataView(d.buffer);
    const s = this.stats;
    // critical warning: bit 1 temperature (at or above WCTEMP, 343 K), bit 2 reliability degraded
    // (CSTS.CFS), and whatever was set (smartCriticalWarning)
    d[0] = this.smartCriticalWarning | (this.temperatureK >= 343 ? 0x02 : 0) | (this.csts & CSTS.CFS ? 0x04 : 0);
    dv.setUint16(1, this.temperatureK, true); // composite temperature, K
    d[3] = 100; // available spare, %
    d[4] = 10; // available spare threshold, %
    d[5] = 0; // percentage used
    const units = (bytes) => BigInt(Math.ceil(bytes / 512000)); // thousands of 512-byte units, rounded up
    dv.setBigUint64(32, units(s.bytesRead), true); // data units read
    dv.setBigUint64(48, units(s.bytesWritten), true); // data units written
    dv.setBigUint64(64, BigInt(s.readCommands), true); // host read commands (completed without error)
    dv.setBigUint64(80, BigInt(s.writeCommands), true); // host write commands
    dv.setBigUint64(96, (this._now() - this.powerOnNs) / 60_000_000_000n, true); // controller busy time (min)
    dv.setBigUint64(112, 1n, true); // power cycles: this model is powered on once
    dv.setBigUint64(128, (this._now() - this.bornNs) / 3_600_000_000_000n, true); // power on hours
    dv.setBigUint64(144, BigInt(this.unsafeShutdowns), true); // unsafe shutdowns
    dv.setBigUint64(160, BigInt(s.injected.error), true); // media and data integrity errors (the injected media errors)
    dv.setBigUint64(176, this.errorCount, true); // error information log entries (over the life)
    return d;
  },

  _setFeatures(cmd) {
    const fid = cmd.cdw10 & 0xff;
    const sv = cmd.cdw10 >>> 31;
    const dw11 = cmd.cdw11;
    const p = this.p;
    if (p.adminSet === "qemu-1.x" && fid !== FEAT.NUMBER_OF_QUEUES)
      throw invalidField(`feature ${hex(fid, 2)} not supported (only Number of Queues)`);
    if (sv) throw fail(SCT.COMMAND_SPECIFIC, CSS.FEATURE_NOT_SAVEABLE, `feature ${hex(fid, 2)} cannot be saved`);
    switch (fid) {
      case FEAT.NUMBER_OF_QUEUES: {
        const nsqr = dw11 & 0xffff;
        const ncqr = dw11 >>> 16;
        if (this.qsCreated)
          throw fail(SCT.GENERIC, SC.COMMAND_SEQUENCE_ERROR, "Number of Queues set after IO queues were created");
        if (nsqr === 0xffff || ncqr === 0xffff)
          throw invalidField("Number of Queues requested 65536 (0xFFFF, 0-based)");
        const n = p.ioQueuePairs - 1; // granted whatever was asked
        this.features.set(fid, (n << 16) | n);
        return { dw0: (n << 16) | n };
      }
      case FEAT.VOLATILE_WRITE_CACHE:
        if (!p.vwc) throw invalidField("no volatile write cache (Identify VWC=0)");
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
  },

  _getFeatures(cmd) {
    const fid = cmd.cdw10 & 0xff;
    if (this.p.adminSet === "qemu-1.x" && fid !== FEAT.NUMBER_OF_QUEUES)
      throw invalidField(`feature ${hex(fid, 2)} not supported (only Number of Queues)`);
    const sel = (cmd.cdw10 >>> 8) & 7;
    const [maj, min] = this.p.version.split(".").map(Number);
    const selOk = maj > 1 || min >= 1;
    if (fid === FEAT.VOLATILE_WRITE_CACHE && !this.p.vwc)
      throw invalidField("no volatile write cache (Identify VWC=0)");
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
  },

  // ======================= asynchronous events =================================================

  _asyncEvent(type, info, logPage) {
    if (!this.ready) return;
    // queued (once per type/info) and held while its type is masked: reported, log page not yet read
    if (this.aerQueue.some((e) => e.type === type && e.info === info)) return;
    this.aerQueue.push({ type, info, logPage });
    this._deliverAsyncEvents();
  },

  _deliverAsyncEvents() {
    while (this.aers.length && this.aerQueue.length) {
      const idx = this.aerQueue.findIndex((e) => !this.aerMasked.has(e.type));
      if (idx < 0) return;
      const [ev] = this.aerQueue.splice(idx, 1);
      const rec = this.aers.shift();
      this.aerMasked.add(ev.type);
      this.stats.asyncEvents++;
      rec.state = "pending";
      const dw0 = ev.type | (ev.info << 8) | (ev.logPage << 16);
      this._at(this._delay(this.p.completionDelayNs), () => this._complete(rec, { dw0 }));
    }
  },

  // For tests (a machine method; no fault option yet): SMART critical warning bits become set, and the
  // SMART / Health event is raised (§5.2.1, Figure 146 information: 00h reliability, 01h
  // temperature threshold, 02h spare below threshold), reported by an outstanding AER unless its
  // type is masked (reported and the SMART log not yet read with RAE=0).
  raiseCriticalWarning(bits) {
    this.smartCriticalWarning |= bits;
    const info = bits & 0x01 ? 0x02 : bits & 0x02 ? 0x01 : 0x00;
    this._asyncEvent(AER_TYPE.SMART, info, LOG.SMART);
  },

  _unmaskAsyncEvents(type) {
    if (!this.aerMasked.delete(type)) return;
    this._deliverAsyncEvents();
  },
};
