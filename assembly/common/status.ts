// Completion statuses (NVMe 1.4 section 4.6.1): the fields of a status value, what is success and
// what is worth retrying, and the brief form the driver's log prints. A device status is the CQE
// Status Field without the phase tag; values from 0x10000 are the driver's own (common/abi.ts).
// The words for device statuses are in status-words.ts, which only clients compile in: the driver
// keeps its size budget, and its log gives the numbers.
import { put, putHex, putDec } from "./console";
import { DRIVER_STATUS_BASE, ERR_TIMEOUT, ERR_CONTROLLER_FATAL, ERR_NOT_READY, ERR_BAD_COMPLETION } from "./abi";

// 4.6.1 Status Field (after removing the phase bit): SC 7:0, SCT 10:8, CRD 12:11, M 13, DNR 14.
export const STATUS_SC_MASK: u32 = 0xff;
export const STATUS_SCT_SHIFT: u32 = 8;
export const STATUS_SCT_MASK: u32 = 0x7;
export const STATUS_DNR: u32 = 1 << 14;
export const STATUS_CODE_MASK: u32 = 0x7ff; // SCT and SC together: 0 is success

export const SCT_GENERIC: u32 = 0;          // 4.6.1.2.1
export const SCT_COMMAND_SPECIFIC: u32 = 1; // 4.6.1.2.2
export const SCT_MEDIA: u32 = 2;            // 4.6.1.2.3
export const SCT_PATH: u32 = 3;
export const SCT_VENDOR: u32 = 7;
export const SC_ABORT_REQUESTED: u32 = 0x07;  // 4.6.1.2.1 Command Abort Requested: the driver's Abort (tick), worth a retry

export function sctOf(status: u32): u32 {
  return (status >> STATUS_SCT_SHIFT) & STATUS_SCT_MASK;
}

export function scOf(status: u32): u32 {
  return status & STATUS_SC_MASK;
}

// The driver's own failure (timeout, CFS, ...), not a status the device returned.
export function isDriverError(status: u32): bool {
  return status >= DRIVER_STATUS_BASE;
}

export function isSuccess(status: u32): bool {
  return !isDriverError(status) && (status & STATUS_CODE_MASK) == 0;
}

// Worth retrying: the device said so (DNR clear) and it is not a command the host got wrong; a
// command the driver aborted after it overran CAP.TO is sent again too.
export function isRetryable(status: u32): bool {
  if (isDriverError(status)) return false;
  if ((status & STATUS_DNR) != 0) return false;
  const sct = sctOf(status);
  return sct == SCT_MEDIA || sct == SCT_PATH || (sct == SCT_GENERIC && (scOf(status) == 0x06 || scOf(status) == SC_ABORT_REQUESTED || scOf(status) == 0x21 || scOf(status) == 0x22));
}

// The driver's log form: its own codes in words, a device status as numbers,
// e.g. "device status sct=2 sc=0x81" (status-words.ts names them).
export function putStatusBrief(status: u32): void {
  if (isDriverError(status)) { putDriverStatus(status); return; }
  put("device status ");
  putStatusNumbers(status);
}

// "sct=2 sc=0x81", with " dnr" when Do Not Retry is set.
export function putStatusNumbers(status: u32): void {
  put("sct=");
  putDec(<u64>sctOf(status));
  put(" sc=");
  putHex(<u64>scOf(status), 2);
  if ((status & STATUS_DNR) != 0) put(" dnr");
}

// The driver's own codes that its log prints, in words (status-words.ts has the rest).
export function putDriverStatus(status: u32): void {
  switch (status) {
    case ERR_TIMEOUT: put("command timed out"); return;
    case ERR_CONTROLLER_FATAL: put("controller fatal status (CSTS.CFS)"); return;
    case ERR_NOT_READY: put("controller not usable"); return;
    case ERR_BAD_COMPLETION: put("completion for an unknown command id"); return;
  }
  put("driver status "); putHex(<u64>status);
}
