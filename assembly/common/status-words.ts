// Completion statuses in words (NVMe 1.4 section 4.6.1.2, and the Zoned Namespace command set's),
// for clients: "Unrecovered Read Error (media error sct=2 sc=0x81)". The driver prints the numbers
// (status.ts putStatusBrief) and leaves the words to whoever shows them.
import { put } from "./console";
import { sctOf, scOf, isDriverError, putDriverStatus, putStatusNumbers, SCT_GENERIC, SCT_COMMAND_SPECIFIC, SCT_MEDIA, SCT_PATH, SCT_VENDOR } from "./status";
import { ERR_BUSY, ERR_NO_NAMESPACE, ERR_RANGE, ERR_READ_ONLY, ERR_BAD_BUFFER, ERR_BAD_OP, ERR_UNUSABLE } from "./abi";

// submit's answers, which only a client meets.
function submitAnswer(status: u32): string {
  switch (status) {
    case ERR_BUSY: return "busy: no queue slot or command id free now";
    case ERR_NO_NAMESPACE: return "no such namespace";
    case ERR_RANGE: return "range empty or past the end of the namespace";
    case ERR_READ_ONLY: return "namespace is write protected";
    case ERR_BAD_BUFFER: return "buffer outside the driver's buffer memory, or not 4-byte aligned";
    case ERR_BAD_OP: return "unknown operation";
    case ERR_UNUSABLE: return "namespace refused by the driver";
  }
  return "";
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
    // Zoned Namespace command set (ZNS 1.1, 4.2.1):
    case 0xb8: return "Zone Boundary Error";
    case 0xb9: return "Zone Is Full";
    case 0xba: return "Zone Is Read Only";
    case 0xbb: return "Zone Is Offline";
    case 0xbc: return "Zone Invalid Write";
    case 0xbd: return "Too Many Active Zones";
    case 0xbe: return "Too Many Open Zones";
    case 0xbf: return "Invalid Zone State Transition";
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

// "Unrecovered Read Error (media error sct=2 sc=0x81)", or a driver status in words.
export function putStatus(status: u32): void {
  if (isDriverError(status)) {
    const answer = submitAnswer(status);
    if (answer.length > 0) put(answer); else putDriverStatus(status);
    return;
  }
  const sct = sctOf(status);
  const sc = scOf(status);
  let name = "";
  if (sct == SCT_GENERIC) name = genericName(sc);
  else if (sct == SCT_COMMAND_SPECIFIC) name = commandSpecificName(sc);
  else if (sct == SCT_MEDIA) name = mediaName(sc);
  put(name.length > 0 ? name : "Unknown Status");
  put(" (");
  put(typeName(sct));
  put(" ");
  putStatusNumbers(status);
  put(")");
}
