// Shadow doorbells (NvmeController methods, installed by controller.js): the Doorbell Buffer Config
// admin command (opcode 7Ch, NVMe 1.3+, offered by Identify OACS bit 8) and what it changes.
//
// The host gives two memory pages: PRP1 the shadow doorbell buffer, PRP2 the EventIdx buffer. Each
// must be aligned to the memory page size (CC.MPS) and lie outside the controller's BARs, or the
// command ends with Invalid Field in Command. From then on, for every IO queue (never the admin
// queue, whose doorbells stay registers), the host writes each new SQ tail and CQ head into the
// shadow buffer, at the offset its doorbell register has from 1000h (SQ y at 2y * stride, CQ y at
// (2y + 1) * stride), and writes the register as well (with the same value) only when the need-event
// rule says the controller asked for it: (new - EventIdx - 1) mod 2^16 < (new - old) mod 2^16.
//
// What this model does, as QEMU 7.2's controller does:
// - at the command, every existing IO queue's current tail or head is written into its shadow
//   entry; EventIdx entries are left as the host wrote them until the queue is first processed;
// - when it fetches from an IO SQ, it reads the tail from the shadow entry, fetches, writes the
//   tail it reached into EventIdx, and reads the shadow again (a tail written meanwhile is fetched
//   in the same pass, so a host that saw the old EventIdx and skipped the register loses nothing);
// - when it posts to an IO CQ, it reads the head from the shadow entry and writes it to EventIdx;
// - a register write to an IO queue's doorbell must carry the shadow entry's value (a violation if
//   not), and schedules a fetch as without shadow doorbells;
// - a shadow value out of range is a violation with the Invalid Doorbell Write Value event, as the
//   same value written to the register would be;
// - a controller reset (CC.EN to 0) forgets the buffers.

import { SCT, SC, AER_TYPE, AER_ERROR_INFO, LOG } from "./constants.js";
import { fail, invalidField, DmaError, hex } from "./common.js";

export const dbbufMethods = {
  _doorbellBufferConfig(cmd) {
    if (!this.p.dbbuf)
      throw fail(SCT.GENERIC, SC.INVALID_OPCODE, "Doorbell Buffer Config not supported (Identify OACS bit 8 clear)");
    const ps = BigInt(this.pageSize);
    const pages = [
      ["shadow doorbell buffer (PRP1)", cmd.prp1],
      ["EventIdx buffer (PRP2)", cmd.prp2],
    ];
    for (const [what, addr] of pages) {
      if (addr === 0n || addr % ps)
        throw invalidField(
          `${what} ${hex(addr)} is not a non-zero multiple of the ${this.pageSize}-byte memory page size`,
        );
      const bar = this._inOwnBar(addr, this.pageSize);
      if (bar) throw invalidField(`${what} ${hex(addr)} is inside the controller's ${bar}`);
    }
    if (cmd.prp1 === cmd.prp2)
      throw invalidField(`the shadow doorbell and EventIdx buffers are the same page ${hex(cmd.prp1)}`);
    this.dbbuf = { shadow: cmd.prp1, eventIdx: cmd.prp2 };
    for (const sq of this.sqs.values()) {
      if (sq.qid === 0) continue;
      this._attachShadow(sq, 2 * sq.qid);
      this._dmaWrite32(sq.shadow, sq.tail);
    }
    for (const cq of this.cqs.values()) {
      if (cq.qid === 0) continue;
      this._attachShadow(cq, 2 * cq.qid + 1);
      this._dmaWrite32(cq.shadow, cq.head);
    }
    this.stats.dbbufConfigs++;
    this._log(`shadow doorbells at ${hex(cmd.prp1)}, EventIdx at ${hex(cmd.prp2)}`);
    return {};
  },

  // A new or existing IO queue's entries in both buffers (doorbell index `index`).
  _attachShadow(q, index) {
    if (!this.dbbuf || q.qid === 0) return;
    const off = BigInt(index * this.stride);
    q.shadow = this.dbbuf.shadow + off;
    q.eventIdx = this.dbbuf.eventIdx + off;
  },

  _dmaWrite32(addr, value) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value, true);
    this._dmaWrite(addr, b);
  },

  _dmaRead32(addr) {
    const b = this._dmaRead(addr, 4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  },

  // The SQ tail in the shadow buffer, checked like a register write; null (after a violation, or
  // a fatal status when the page cannot be read) when it cannot be used.
  _shadowTail(sq) {
    let v;
    try {
      v = this._dmaRead32(sq.shadow);
    } catch (e) {
      if (!(e instanceof DmaError)) throw e;
      this._fatal(`cannot read SQ${sq.qid}'s shadow tail at ${hex(sq.shadow)}: ${e.message}`);
      return null;
    }
    if (v >= sq.size) {
      this._violation(`SQ${sq.qid} shadow tail = ${v}: not below the queue size ${sq.size}: ignored`);
      this._asyncEvent(AER_TYPE.ERROR, AER_ERROR_INFO.INVALID_DOORBELL_VALUE, LOG.ERROR_INFO);
      return null;
    }
    return v;
  },

  // Before posting to a CQ with a shadow entry: the head from the shadow buffer (checked as a
  // register write would be), then EventIdx = that head. False when the controller stopped.
  _readShadowHead(cq) {
    let v;
    try {
      v = this._dmaRead32(cq.shadow);
    } catch (e) {
      if (!(e instanceof DmaError)) throw e;
      this._fatal(`cannot read CQ${cq.qid}'s shadow head at ${hex(cq.shadow)}: ${e.message}`);
      return false;
    }
    const posted = (cq.tail - cq.head + cq.size) % cq.size;
    const consumed = (v - cq.head + cq.size) % cq.size;
    if (v >= cq.size || consumed > posted) {
      this._violation(
        `CQ${cq.qid} shadow head = ${v}: ${v >= cq.size ? `not below the queue size ${cq.size}` : `beyond the entries posted (head ${cq.head}, tail ${cq.tail})`}: ignored`,
      );
      this._asyncEvent(AER_TYPE.ERROR, AER_ERROR_INFO.INVALID_DOORBELL_VALUE, LOG.ERROR_INFO);
    } else {
      cq.head = v;
    }
    return this._writeEventIdx(cq, cq.head);
  },

  _writeEventIdx(q, value) {
    try {
      this._dmaWrite32(q.eventIdx, value);
      return true;
    } catch (e) {
      if (!(e instanceof DmaError)) throw e;
      this._fatal(`cannot write the EventIdx of queue ${q.qid} at ${hex(q.eventIdx)}: ${e.message}`);
      return false;
    }
  },

  // A register write to an IO queue's doorbell while shadow doorbells are on: it must carry the
  // value the host put in the shadow entry.
  _checkShadowMatches(q, what, value) {
    let v;
    try {
      v = this._dmaRead32(q.shadow);
    } catch (e) {
      if (!(e instanceof DmaError)) throw e;
      return; // the fetch or post that follows reports it
    }
    if (v !== value)
      this._violation(
        `${what} = ${value} while its shadow entry holds ${v}: the register must be written with the shadow value`,
      );
  },
};
