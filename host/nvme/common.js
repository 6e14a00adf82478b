// Small pieces shared by the controller modules (controller.js and the files it is split into):
// sizes, the two errors a command handler can end with (CmdError -> a completion status, NVMe 1.4
// §4.6.1; DmaError -> Data Transfer Error), and number formatting.

import { SCT, SC } from "./constants.js";

export const PAGE = 4096;
export const SQE_BYTES = 64;
export const CQE_BYTES = 16;
export const U64 = (lo, hi) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

// A command that ends with a status (thrown inside command handlers).
class CmdError extends Error {
  constructor(sct, sc, why, { dnr = true } = {}) {
    super(why);
    this.sct = sct;
    this.sc = sc;
    this.dnr = dnr;
  }
}
export const fail = (sct, sc, why, opts) => new CmdError(sct, sc, why, opts);
export const invalidField = (why) => fail(SCT.GENERIC, SC.INVALID_FIELD, why);

// A DMA the device could not do: the command fails with Data Transfer Error.
export class DmaError extends Error {}

export const hex = (v, w = 0) =>
  "0x" + (typeof v === "bigint" ? v.toString(16) : (v >>> 0).toString(16)).padStart(w, "0");

export { CmdError };
