// Completion status in words (NVMe 1.4 section 4.6.1.2), and the driver's own status codes
// (assembly/common/abi.ts). A device status is the CQE Status Field without the phase tag.
import { put, putHex, putDec } from "./console";
import {
  DRIVER_STATUS_BASE, ERR_TIMEOUT, ERR_CONTROLLER_FATAL, ERR_NOT_READY, ERR_BAD_COMPLETION, ERR_BUSY,
  ERR_NO_NAMESPACE, ERR_RANGE, ERR_READ_ONLY, ERR_BAD_BUFFER, ERR_BAD_OP, ERR_UNUSABLE,
} from "./abi";

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

// Worth retrying: the device said so (DNR clear) and it is not a command the host got wrong.
export function isRetryable(status: u32): bool {
  if (isDriverError(status)) return false;
  if ((status & STATUS_DNR) != 0) return false;
  const sct = sctOf(status);
  return sct == SCT_MEDIA || sct == SCT_PATH || (sct == SCT_GENERIC && (scOf(status) == 0x06 || scOf(status) == 0x21 || scOf(status) == 0x22));
}

function genericName(sc: u32): string {
  switch (sc) {
    case 0x00: return "Successful Completion";
    case 0x01: return "Invalid Command Opcode";
    case 0x02: return "Invalid Field in Command";
    case 0x03: return "Command ID Conflict";
    case 0x04: return "Data Transfer Error";
    case 0x05: return "Commands Aborted due to Power Loss Notification";
    case 0x06: return "Internal Error";
    case 0x07: return "Command Abort Requested";
    case 0x08: return "Command Aborted due to SQ Deletion";
    case 0x09: return "Command Aborted due to Failed Fused Command";
    case 0x0a: return "Command Aborted due to Missing Fused Command";
    case 0x0b: return "Invalid Namespace or Format";
    case 0x0c: return "Command Sequence Error";
    case 0x0d: return "Invalid SGL Segment Descriptor";
    case 0x0e: return "Invalid Number of SGL Descriptors";
    case 0x0f: return "Data SGL Length Invalid";
    case 0x12: return "Invalid Use of Controller Memory Buffer";
    case 0x13: return "PRP Offset Invalid";
    case 0x14: return "Atomic Write Unit Exceeded";
    case 0x15: return "Operation Denied";
    case 0x16: return "SGL Offset Invalid";
    case 0x1d: return "Sanitize In Progress";
    case 0x20: return "Namespace is Write Protected";
    case 0x21: return "Command Interrupted";
    case 0x22: return "Transient Transport Error";
    case 0x80: return "LBA Out of Range";
    case 0x81: return "Capacity Exceeded";
    case 0x82: return "Namespace Not Ready";
    case 0x83: return "Reservation Conflict";
    case 0x84: return "Format In Progress";
  }
  return "";
}

function commandSpecificName(sc: u32): string {
  switch (sc) {
    case 0x00: return "Completion Queue Invalid";
    case 0x01: return "Invalid Queue Identifier";
    case 0x02: return "Invalid Queue Size";
    case 0x03: return "Abort Command Limit Exceeded";
    case 0x05: return "Asynchronous Event Request Limit Exceeded";
    case 0x08: return "Invalid Interrupt Vector";
    case 0x09: return "Invalid Log Page";
    case 0x0a: return "Invalid Format";
    case 0x0c: return "Invalid Queue Deletion";
    case 0x0d: return "Feature Identifier Not Saveable";
    case 0x0e: return "Feature Not Changeable";
    case 0x0f: return "Feature Not Namespace Specific";
    case 0x80: return "Conflicting Attributes";
    case 0x81: return "Invalid Protection Information";
    case 0x82: return "Attempted Write to Read Only Range";
  }
  return "";
}

function mediaName(sc: u32): string {
  switch (sc) {
    case 0x80: return "Write Fault";
    case 0x81: return "Unrecovered Read Error";
    case 0x82: return "End-to-end Guard Check Error";
    case 0x83: return "End-to-end Application Tag Check Error";
    case 0x84: return "End-to-end Reference Tag Check Error";
    case 0x85: return "Compare Failure";
    case 0x86: return "Access Denied";
    case 0x87: return "Deallocated or Unwritten Logical Block";
  }
  return "";
}

function typeName(sct: u32): string {
  switch (sct) {
    case SCT_GENERIC: return "generic";
    case SCT_COMMAND_SPECIFIC: return "command specific";
    case SCT_MEDIA: return "media error";
    case SCT_PATH: return "path related";
    case SCT_VENDOR: return "vendor specific";
  }
  return "reserved type";
}

// "Unrecovered Read Error (media error sct=2 sc=0x81)", or the driver failure in words.
export function putStatus(status: u32): void {
  switch (status) {
    case ERR_TIMEOUT: put("command timed out"); return;
    case ERR_CONTROLLER_FATAL: put("controller fatal status (CSTS.CFS)"); return;
    case ERR_NOT_READY: put("controller not usable"); return;
    case ERR_BAD_COMPLETION: put("completion for an unknown command id"); return;
    case ERR_BUSY: put("busy: no queue slot or command id free now"); return;
    case ERR_NO_NAMESPACE: put("no such namespace"); return;
    case ERR_RANGE: put("range empty or past the end of the namespace"); return;
    case ERR_READ_ONLY: put("namespace is write protected"); return;
    case ERR_BAD_BUFFER: put("buffer outside the driver's buffer memory, or not 4-byte aligned"); return;
    case ERR_BAD_OP: put("unknown operation"); return;
    case ERR_UNUSABLE: put("namespace refused by the driver"); return;
  }
  if (isDriverError(status)) { put("driver status "); putHex(<u64>status); return; }
  const sct = sctOf(status);
  const sc = scOf(status);
  let name = "";
  if (sct == SCT_GENERIC) name = genericName(sc);
  else if (sct == SCT_COMMAND_SPECIFIC) name = commandSpecificName(sc);
  else if (sct == SCT_MEDIA) name = mediaName(sc);
  if (name.length > 0) put(name);
  else put("Unknown Status");
  put(" (");
  put(typeName(sct));
  put(" sct=");
  putDec(<u64>sct);
  put(" sc=");
  putHex(<u64>sc, 2);
  if ((status & STATUS_DNR) != 0) put(" dnr");
  put(")");
}
