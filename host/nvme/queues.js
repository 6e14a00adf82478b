// Submission and completion queues (NvmeController methods, installed by controller.js): queue
// objects, SQ tail / CQ head doorbells (NVMe 1.4 §3.1.24/§3.1.25), fetching and parsing commands
// (§4.2), scheduling them (with the injected drop/slow/CFS faults), and posting completions with
// the phase tag (§4.6) when the CQ has room. NVMe 1.4 §4.1 and §7.2 (command processing).

import {
  REG,
  CSTS,
  SHST,
  ADMIN,
  LOG,
  AER_TYPE,
  AER_ERROR_INFO,
  SCT,
  SC,
  CSS,
  field,
  opcodeName,
  statusName,
  packStatus,
} from "./constants.js";
import { SQE_BYTES, CQE_BYTES, CmdError, invalidField, DmaError, hex } from "./common.js";

export const queueMethods = {
  // ======================= queues ==============================================================

  _newCq({ qid, base, size, ien, vector }) {
    const cq = { qid, base, size, head: 0, tail: 0, phase: 1, ien, vector, posts: [], sqs: new Set() };
    this.cqs.set(qid, cq);
    this._attachShadow(cq, 2 * qid + 1); // dbbuf.js: shadow doorbells, once configured
    return cq;
  },

  _newSq({ qid, base, size, cqid, cq }) {
    const sq = { qid, base, size, head: 0, tail: 0, cqid, fetchPending: false, lastDoneNs: 0n };
    this.sqs.set(qid, sq);
    this._attachShadow(sq, 2 * qid);
    cq.sqs.add(qid);
    return sq;
  },

  _doorbell(off, value) {
    this.stats.doorbells++;
    const rel = off - REG.DOORBELL_BASE;
    if (off >= this.doorbellEnd || rel % this.stride) {
      const why =
        rel % this.stride
          ? `doorbell write at ${hex(off)}: not on the ${this.stride}-byte doorbell stride (CAP.DSTRD=${this.p.dstrd})`
          : `doorbell write at ${hex(off)}: beyond the last queue's doorbell (${this.maxQid} IO queue pairs)`;
      this._violation(why + ": ignored");
      this._asyncEvent(AER_TYPE.ERROR, AER_ERROR_INFO.INVALID_DOORBELL_REGISTER, LOG.ERROR_INFO);
      return;
    }
    const idx = rel / this.stride;
    const qid = idx >> 1;
    const isCq = (idx & 1) === 1;
    const what = `${isCq ? "CQ" : "SQ"}${qid} ${isCq ? "head" : "tail"} doorbell`;
    if (this.csts & CSTS.CFS) {
      this._log(`${what} = ${value} ignored: controller is in fatal state`);
      return;
    }
    if (!this.ready) {
      this._violation(`${what} = ${value} written while the controller is not ready (CSTS.RDY=0): ignored`);
      return;
    }
    if (field(this.csts, [2, 2]) !== SHST.NORMAL)
      this._violation(`${what} = ${value} written after a shutdown notification`);
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
      if (cq.shadow !== undefined) this._checkShadowMatches(cq, what, value);
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
    if (sq.shadow !== undefined) this._checkShadowMatches(sq, what, value);
    sq.tail = value;
    if (!sq.fetchPending && sq.tail !== sq.head) {
      sq.fetchPending = true;
      this._at(this._delay(this.p.fetchDelayNs), () => this._fetch(sq));
    }
  },

  _fetch(sq) {
    sq.fetchPending = false;
    if (!this.ready || this.sqs.get(sq.qid) !== sq) return;
    const batch = [];
    // NVME_QUIRK_128_BYTES_SQES (apple-t2): IO SQ entries are 128 bytes apart, the command in the
    // first 64, whatever CC.IOSQES says; the admin SQ keeps 64-byte entries.
    const stride = sq.qid === 0 ? SQE_BYTES : this.p.ioSqeBytes;
    // With shadow doorbells (dbbuf.js) the tail is the shadow entry's, read again after EventIdx is
    // written: a pass per tail the host moved meanwhile, at most one ring's worth in all.
    if (sq.shadow !== undefined) {
      const t = this._shadowTail(sq);
      if (this.csts & CSTS.CFS) return;
      if (t !== null) sq.tail = t;
    }
    for (let pass = 0; pass <= sq.size; pass++) {
      while (sq.head !== sq.tail) {
        const addr = sq.base + BigInt(sq.head * stride);
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
      if (sq.shadow === undefined) break;
      if (!this._writeEventIdx(sq, sq.tail)) return;
      const t = this._shadowTail(sq);
      if (this.csts & CSTS.CFS) return;
      if (t === null || t === sq.tail) break;
      sq.tail = t;
    }
    const admin = sq.qid === 0;
    if (!admin && this.p.reorder) this.rng.shuffle(batch);
    for (const cmd of batch) {
      this._submit(sq, cmd);
      if (!this.ready) return; // a fault stopped the controller
    }
  },

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
  },

  _submit(sq, cmd) {
    const admin = sq.qid === 0;
    const opname = opcodeName(admin, cmd.opcode);
    const bucket = admin ? this.stats.admin : this.stats.io;
    bucket[opname] = (bucket[opname] ?? 0) + 1;
    this.stats.commands++;
    const rec = { sqid: sq.qid, cqid: sq.cqid, cid: cmd.cid, cmd, admin, opname, state: "pending", sqhd: sq.head };
    const key = (sq.qid << 16) | cmd.cid;

    if (!admin) {
      this.ioFetched++;
      const n = this.faults.cfsAfter;
      if (n != null && (!this.cfsFired || this.faults.cfsRepeat) && this.ioFetched > n) {
        this.cfsFired = true;
        this.stats.injected.cfs++;
        this._fatal(`injected fault: controller fatal status after ${n} IO commands`);
        return;
      }
    }

    // NVME_QUIRK_SHARED_TAGS / SKIP_CID_GEN (apple-t2): the controller tracks commands by id alone,
    // one table for every queue, of tagLimit entries. A collision, or an id past the table, takes
    // the controller down (Linux: "they blow up (and shut the machine down)").
    if (this.p.tagLimit && cmd.cid >= this.p.tagLimit) {
      this._violation(
        `SQ${sq.qid}: command id ${cmd.cid} (${opname}) not below ${this.p.tagLimit}: this controller's command ids must stay below its queue depth (NVME_QUIRK_SKIP_CID_GEN)`,
      );
      this._fatal(`command id ${cmd.cid} beyond the controller's ${this.p.tagLimit}-entry tag table`);
      return;
    }
    if (this.p.sharedTags) {
      for (const other of this.outstanding.values()) {
        if (other.cid === cmd.cid && other.sqid !== sq.qid && !other.conflict) {
          this._violation(
            `SQ${sq.qid}: command id ${cmd.cid} (${opname}) submitted while SQ${other.sqid} has command id ${cmd.cid} (${other.opname}) outstanding: ` +
              "this controller shares one tag space across the admin and IO queues (NVME_QUIRK_SHARED_TAGS)",
          );
          this._fatal(`command id ${cmd.cid} used on SQ${sq.qid} and SQ${other.sqid} at once (shared tags)`);
          return;
        }
      }
    }

    if (this.outstanding.has(key)) {
      const other = this.outstanding.get(key);
      this._violation(
        `SQ${sq.qid}: command id ${cmd.cid} (${opname}) submitted while command id ${cmd.cid} (${other.opname}) is still outstanding`,
      );
      rec.conflict = true;
      this._at(this._delay(this.p.completionDelayNs), () =>
        this._complete(rec, {
          sct: SCT.GENERIC,
          sc: SC.CID_CONFLICT,
          dnr: true,
          why: `command id ${cmd.cid} already outstanding`,
        }),
      );
      return;
    }
    this.outstanding.set(key, rec);
    rec.key = key;

    // AERs are held until an event happens (§5.2); a controller without them fails the opcode
    if (
      admin &&
      cmd.opcode === ADMIN.ASYNC_EVENT_REQUEST &&
      !cmd.fuse &&
      !cmd.psdt &&
      this.p.aer &&
      this.p.adminSet === "full"
    ) {
      if (this.aers.length > this.p.aerl) {
        this._at(this._delay(this.p.completionDelayNs), () =>
          this._complete(rec, {
            sct: SCT.COMMAND_SPECIFIC,
            sc: CSS.AER_LIMIT_EXCEEDED,
            dnr: true,
            why: `more than AERL+1 = ${this.p.aerl + 1} outstanding`,
          }),
        );
        return;
      }
      rec.state = "aer";
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

    const dropOnce =
      !admin && this.faults.dropAfter != null && !this.dropFired && this.ioFetched > this.faults.dropAfter;
    if (dropOnce) this.dropFired = true;
    if (!admin && (dropOnce || this.faultRng.chance(this.faults.dropRate))) {
      rec.state = "dropped";
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
  },

  _execute(rec) {
    if (rec.state !== "pending") return;
    rec.state = "executing";
    let result;
    try {
      this._commonChecks(rec);
      result = rec.admin ? this._admin(rec) : this._io(rec);
    } catch (e) {
      if (e instanceof CmdError) result = { sct: e.sct, sc: e.sc, dnr: e.dnr, why: e.message };
      else if (e instanceof DmaError)
        result = { sct: SCT.GENERIC, sc: SC.DATA_TRANSFER_ERROR, dnr: true, why: e.message };
      else throw e;
    }
    if (rec.abortCounted) this.abortsInFlight--;
    if (result === null) return; // completes later
    this._complete(rec, result);
  },

  _commonChecks(rec) {
    const { cmd, admin } = rec;
    if (cmd.fuse) throw invalidField(`fused operation (FUSE=${cmd.fuse}) not supported (Identify FUSES=0)`);
    if (cmd.psdt === 3) throw invalidField("PSDT=11b is reserved");
    if (cmd.psdt) {
      if (admin) throw invalidField("admin commands must use PRPs (PSDT=00b)");
      if (!this.p.sgl) throw invalidField(`PSDT=${cmd.psdt}: SGLs not supported (Identify SGLS=0)`);
    }
  },

  // post a completion (possibly later, when the CQ has room)
  _complete(rec, { sct = 0, sc = 0, dnr = false, dw0 = 0, dw1 = 0, why = null }) {
    if (rec.state === "done") return;
    rec.state = "done";
    const cq = this.cqs.get(rec.cqid);
    if (sct || sc) {
      this.stats.errors++;
      this._log(`SQ${rec.sqid} cid ${rec.cid} ${rec.opname}: ${statusName(sct, sc)}${why ? ` (${why})` : ""}`);
      if (!(sct === SCT.GENERIC && (sc === SC.ABORT_REQUESTED || sc === SC.ABORTED_SQ_DELETION)))
        this._logError(rec, sct, sc, dnr);
    }
    const entry = {
      rec,
      sqid: rec.sqid,
      cid: rec.cid,
      dw0: dw0 >>> 0,
      dw1: dw1 >>> 0,
      status: packStatus({ sct, sc, dnr }),
    };
    if (!cq) {
      if (!rec.conflict && this.outstanding.get(rec.key) === rec) this.outstanding.delete(rec.key);
      return;
    }
    cq.posts.push(entry);
    this._drainCq(cq);
  },

  _drainCq(cq) {
    if (cq.shadow !== undefined && cq.posts.length && !this._readShadowHead(cq)) return;
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
  },
};
