// NVM (IO) commands (NvmeController methods, installed by controller.js; NVMe 1.4 §6): Flush
// (§6.8), Read (§6.9), Write (§6.15), Write Zeroes (§6.16) and Dataset Management (§6.7), with
// separate-buffer metadata and the injected media errors (faults.errorRate) on every command that
// reads or changes the medium.

import { IO, SCT, SC, MEDIA } from "./constants.js";
import { U64, fail, invalidField, hex } from "./common.js";

export const nvmMethods = {
  // ======================= NVM commands (§6) ===================================================

  _ns(cmd) {
    const nsid = cmd.nsid;
    if (nsid === 0 || nsid > this.namespaces.length)
      throw fail(
        SCT.GENERIC,
        SC.INVALID_NAMESPACE,
        `NSID ${hex(nsid)} is not a namespace (1..${this.namespaces.length})`,
      );
    return this.namespaces[nsid - 1];
  },

  _checkRange(ns, slba, nlb) {
    if (slba + BigInt(nlb) > ns.blocks || slba + BigInt(nlb) < slba) {
      throw fail(SCT.GENERIC, SC.LBA_OUT_OF_RANGE, `LBA ${slba}+${nlb} beyond NSZE ${ns.blocks}`);
    }
  },

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
        if (!this.p.writeZeroes)
          throw fail(SCT.GENERIC, SC.INVALID_OPCODE, "Write Zeroes not supported (ONCS bit 3 clear)");
        const ns = this._ns(cmd);
        if (ns.readonly) throw fail(SCT.GENERIC, SC.NS_WRITE_PROTECTED, `namespace ${ns.nsid} is write protected`);
        const slba = U64(cmd.cdw10, cmd.cdw11);
        if (this.p.writeZeroesQuirk === "nlb-off-by-one") return this._writeZeroesPc400(ns, slba, cmd.cdw12 & 0xffff);
        const nlb = (cmd.cdw12 & 0xffff) + 1;
        this._checkRange(ns, slba, nlb);
        this._injectError(MEDIA.WRITE_FAULT, "Write Zeroes", slba);
        this._zero(ns, slba, nlb);
        this.stats.blocksZeroed += nlb;
        return {};
      }
      case IO.DATASET_MANAGEMENT: {
        if (!this.p.dsm)
          throw fail(SCT.GENERIC, SC.INVALID_OPCODE, "Dataset Management not supported (ONCS bit 2 clear)");
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
        this._injectError(MEDIA.WRITE_FAULT, "Dataset Management", list[0][0]);
        for (const [slba, nlb] of list) {
          if (nlb && this.p.deallocate === "zeroes") this._zero(ns, slba, nlb);
          this.stats.blocksDeallocated += nlb;
        }
        return {};
      }
      default:
        throw fail(SCT.GENERIC, SC.INVALID_OPCODE, `IO opcode ${hex(cmd.opcode, 2)} not supported`);
    }
  },

  // SK hynix PC400's Write Zeroes (skhynix-pc400 in profiles.js: NVME_QUIRK_DISABLE_WRITE_ZEROES,
  // Linux 5611ec2b9814): the firmware takes the 0-based NLB field one block too far. It zeroes the
  // range and the block after it and reports success; when that block is past the namespace the
  // command fails with LBA Out of Range; NLB = FFFFh overflows its count: Invalid Field. Every use
  // is recorded: Linux never sends Write Zeroes to this drive.
  _writeZeroesPc400(ns, slba, nlbField) {
    const asked = nlbField + 1;
    const done = nlbField + 2;
    const what = `Write Zeroes LBA ${slba}+${asked} on a controller whose Write Zeroes is broken (NVME_QUIRK_DISABLE_WRITE_ZEROES)`;
    if (nlbField === 0xffff) {
      this._violation(`${what}: NLB FFFFh is not a valid value to its firmware: Invalid Field`);
      throw invalidField("NLB FFFFh: the firmware's block count overflows");
    }
    if (slba + BigInt(done) > ns.blocks) {
      this._violation(`${what}: the firmware covers one block more, past the namespace's end: LBA Out of Range`);
      throw fail(
        SCT.GENERIC,
        SC.LBA_OUT_OF_RANGE,
        `LBA ${slba}+${done} (one more than asked) beyond NSZE ${ns.blocks}`,
      );
    }
    this._violation(
      `${what}: zeroed ${done} blocks, LBA ${slba + BigInt(asked)} after the range too, and reported success`,
    );
    this._zero(ns, slba, done);
    this.stats.blocksZeroed += done;
    return {};
  },

  // faults.errorRate: the command fails with a media error the host may retry (DNR clear), the
  // medium untouched.
  _injectError(sc, what, slba) {
    if (!this.faultRng.chance(this.faults.errorRate)) return;
    this.stats.injected.error++;
    throw fail(SCT.MEDIA, sc, `injected ${what} error at LBA ${slba}`, { dnr: false });
  },

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
  },

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
      if (cmd.mptr === 0n)
        throw invalidField(`namespace ${ns.nsid} has ${ns.ms}-byte metadata in a separate buffer, but MPTR is 0`);
      if (cmd.psdt !== 2 && cmd.mptr & 3n) throw invalidField(`MPTR ${hex(cmd.mptr)} not dword-aligned`);
    }
    this._injectError(write ? MEDIA.WRITE_FAULT : MEDIA.UNRECOVERED_READ_ERROR, write ? "write" : "read", slba);
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
  },
};
