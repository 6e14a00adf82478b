// Completion statuses in words (NVMe 1.4 section 4.6.1.2, and the Zoned Namespace command set's),
// for clients: "Unrecovered Read Error (media error sct=2 sc=0x81)". The driver prints the numbers
// (status.ts putStatusBrief) and leaves the words to whoever shows them.
import { put, ascii, Text, textLength } from "./console";
import { sctOf, scOf, isDriverError, putDriverStatus, putStatusNumbers, SCT_GENERIC, SCT_COMMAND_SPECIFIC, SCT_MEDIA, SCT_PATH, SCT_VENDOR } from "./status";
import { ERR_BUSY, ERR_NO_NAMESPACE, ERR_RANGE, ERR_READ_ONLY, ERR_BAD_BUFFER, ERR_BAD_OP, ERR_UNUSABLE, ERR_UNSUPPORTED } from "./abi";

// submit's answers, which only a client meets.
function submitAnswer(status: u32): Text {
  switch (status) {
    case ERR_BUSY: return ascii("busy: no queue slot or command id free now");
    case ERR_NO_NAMESPACE: return ascii("no such namespace");
    case ERR_RANGE: return ascii("range empty or past the end of the namespace");
    case ERR_READ_ONLY: return ascii("namespace is write protected");
    case ERR_BAD_BUFFER: return ascii("buffer outside the driver's buffer memory, or not 4-byte aligned");
    case ERR_BAD_OP: return ascii("unknown operation");
    case ERR_UNUSABLE: return ascii("namespace refused by the driver");
    case ERR_UNSUPPORTED: return ascii("the controller does not offer this operation (ONCS, or disabled by a quirk)");
  }
  return ascii("");
}

function genericName(sc: u32): Text {
  switch (sc) {
    case 0x00: return ascii("Successful Completion");
    case 0x01: return ascii("Invalid Command Opcode");
    case 0x02: return ascii("Invalid Field in Command");
    case 0x03: return ascii("Command ID Conflict");
    case 0x04: return ascii("Data Transfer Error");
    case 0x05: return ascii("Commands Aborted due to Power Loss Notification");
    case 0x06: return ascii("Internal Error");
    case 0x07: return ascii("Command Abort Requested");
    case 0x08: return ascii("Command Aborted due to SQ Deletion");
    case 0x09: return ascii("Command Aborted due to Failed Fused Command");
    case 0x0a: return ascii("Command Aborted due to Missing Fused Command");
    case 0x0b: return ascii("Invalid Namespace or Format");
    case 0x0c: return ascii("Command Sequence Error");
    case 0x0d: return ascii("Invalid SGL Segment Descriptor");
    case 0x0e: return ascii("Invalid Number of SGL Descriptors");
    case 0x0f: return ascii("Data SGL Length Invalid");
    case 0x12: return ascii("Invalid Use of Controller Memory Buffer");
    case 0x13: return ascii("PRP Offset Invalid");
    case 0x14: return ascii("Atomic Write Unit Exceeded");
    case 0x15: return ascii("Operation Denied");
    case 0x16: return ascii("SGL Offset Invalid");
    case 0x1d: return ascii("Sanitize In Progress");
    case 0x20: return ascii("Namespace is Write Protected");
    case 0x21: return ascii("Command Interrupted");
    case 0x22: return ascii("Transient Transport Error");
    case 0x80: return ascii("LBA Out of Range");
    case 0x81: return ascii("Capacity Exceeded");
    case 0x82: return ascii("Namespace Not Ready");
    case 0x83: return ascii("Reservation Conflict");
    case 0x84: return ascii("Format In Progress");
  }
  return ascii("");
}

function commandSpecificName(sc: u32): Text {
  switch (sc) {
    case 0x00: return ascii("Completion Queue Invalid");
    case 0x01: return ascii("Invalid Queue Identifier");
    case 0x02: return ascii("Invalid Queue Size");
    case 0x03: return ascii("Abort Command Limit Exceeded");
    case 0x05: return ascii("Asynchronous Event Request Limit Exceeded");
    case 0x08: return ascii("Invalid Interrupt Vector");
    case 0x09: return ascii("Invalid Log Page");
    case 0x0a: return ascii("Invalid Format");
    case 0x0c: return ascii("Invalid Queue Deletion");
    case 0x0d: return ascii("Feature Identifier Not Saveable");
    case 0x0e: return ascii("Feature Not Changeable");
    case 0x0f: return ascii("Feature Not Namespace Specific");
    case 0x80: return ascii("Conflicting Attributes");
    case 0x81: return ascii("Invalid Protection Information");
    case 0x82: return ascii("Attempted Write to Read Only Range");
    // Zoned Namespace command set (ZNS 1.1, 4.2.1):
    case 0xb8: return ascii("Zone Boundary Error");
    case 0xb9: return ascii("Zone Is Full");
    case 0xba: return ascii("Zone Is Read Only");
    case 0xbb: return ascii("Zone Is Offline");
    case 0xbc: return ascii("Zone Invalid Write");
    case 0xbd: return ascii("Too Many Active Zones");
    case 0xbe: return ascii("Too Many Open Zones");
    case 0xbf: return ascii("Invalid Zone State Transition");
  }
  return ascii("");
}

function mediaName(sc: u32): Text {
  switch (sc) {
    case 0x80: return ascii("Write Fault");
    case 0x81: return ascii("Unrecovered Read Error");
    case 0x82: return ascii("End-to-end Guard Check Error");
    case 0x83: return ascii("End-to-end Application Tag Check Error");
    case 0x84: return ascii("End-to-end Reference Tag Check Error");
    case 0x85: return ascii("Compare Failure");
    case 0x86: return ascii("Access Denied");
    case 0x87: return ascii("Deallocated or Unwritten Logical Block");
  }
  return ascii("");
}

function typeName(sct: u32): Text {
  switch (sct) {
    case SCT_GENERIC: return ascii("generic");
    case SCT_COMMAND_SPECIFIC: return ascii("command specific");
    case SCT_MEDIA: return ascii("media error");
    case SCT_PATH: return ascii("path related");
    case SCT_VENDOR: return ascii("vendor specific");
  }
  return ascii("reserved type");
}

// "Unrecovered Read Error (media error sct=2 sc=0x81)", or a driver status in words.
export function putStatus(status: u32): void {
  if (isDriverError(status)) {
    const answer = submitAnswer(status);
    if (textLength(answer) > 0) put(answer); else putDriverStatus(status);
    return;
  }
  const sct = sctOf(status);
  const sc = scOf(status);
  let name = ascii("");
  if (sct == SCT_GENERIC) name = genericName(sc);
  else if (sct == SCT_COMMAND_SPECIFIC) name = commandSpecificName(sc);
  else if (sct == SCT_MEDIA) name = mediaName(sc);
  put(textLength(name) > 0 ? name : ascii("Unknown Status"));
  put(" (");
  put(typeName(sct));
  put(" ");
  putStatusNumbers(status);
  put(")");
}
