// Commands and completions in the spec's words, for the trace: the admin command set (NVMe 1.4
// section 5) and the NVM command set (section 6), each with the fields that matter decoded:
// "Identify CNS=01h (controller) nsid=0 prp1=0x123457000", "Read nsid=1 slba=2048 nlb=8 prp1=… prp2=…".
import { put, putDec, putHex, putHexDigits, putByte, ascii, Text, textLength } from "../common/console";
import { putStatus } from "../common/status-words";

// Offsets of the 64-byte submission queue entry (4.2) and the 16-byte completion (4.6).
const CDW0: u32 = 0; const NSID: u32 = 4; const PRP1: u32 = 24; const PRP2: u32 = 32;
const CDW10: u32 = 40; const CDW11: u32 = 44; const CDW12: u32 = 48;
const CQE_DW0: u32 = 0; const CQE_SQHD: u32 = 8; const CQE_CID: u32 = 12; const CQE_STATUS: u32 = 14;

export function adminName(op: u32): Text {
  switch (op) {
    case 0x00: return ascii("Delete I/O Submission Queue");
    case 0x01: return ascii("Create I/O Submission Queue");
    case 0x02: return ascii("Get Log Page");
    case 0x04: return ascii("Delete I/O Completion Queue");
    case 0x05: return ascii("Create I/O Completion Queue");
    case 0x06: return ascii("Identify");
    case 0x08: return ascii("Abort");
    case 0x09: return ascii("Set Features");
    case 0x0a: return ascii("Get Features");
    case 0x0c: return ascii("Asynchronous Event Request");
    case 0x10: return ascii("Firmware Commit");
    case 0x11: return ascii("Firmware Image Download");
    case 0x7c: return ascii("Doorbell Buffer Config");
    case 0x80: return ascii("Format NVM");
  }
  return ascii("");
}

export function ioName(op: u32): Text {
  switch (op) {
    case 0x00: return ascii("Flush");
    case 0x01: return ascii("Write");
    case 0x02: return ascii("Read");
    case 0x04: return ascii("Write Uncorrectable");
    case 0x05: return ascii("Compare");
    case 0x08: return ascii("Write Zeroes");
    case 0x09: return ascii("Dataset Management");
  }
  return ascii("");
}

// The opcode in the spec's words; one it does not know, with its number: "admin opcode 0xc0".
function putOpcode(qid: u32, op: u32): void {
  const name = qid == 0 ? adminName(op) : ioName(op);
  if (textLength(name) > 0) { put(name); return; }
  put(qid == 0 ? "admin opcode " : "I/O opcode "); putHex(<u64>op, 2);
}

function cnsName(cns: u32): Text {
  switch (cns) {
    case 0x00: return ascii("namespace");
    case 0x01: return ascii("controller");
    case 0x02: return ascii("active namespace list");
    case 0x03: return ascii("namespace identification descriptors");
  }
  return ascii("other");
}

function featureName(fid: u32): Text {
  switch (fid) {
    case 0x01: return ascii("Arbitration");
    case 0x02: return ascii("Power Management");
    case 0x04: return ascii("Temperature Threshold");
    case 0x06: return ascii("Volatile Write Cache");
    case 0x07: return ascii("Number of Queues");
    case 0x08: return ascii("Interrupt Coalescing");
    case 0x0b: return ascii("Asynchronous Event Configuration");
  }
  return ascii("feature");
}

function kv(name: Text, v: u64): void { putByte(32); put(name); putByte(61); putDec(v); }
function kvHex(name: Text, v: u64): void { putByte(32); put(name); putByte(61); putHex(v); }

function adminFields(op: u32, e: usize): void {
  const cdw10 = load<u32>(e + CDW10);
  const cdw11 = load<u32>(e + CDW11);
  if (op == 0x06) {
    put(" CNS="); putHexDigits(<u64>(cdw10 & 0xff), 2); put("h ("); put(cnsName(cdw10 & 0xff)); put(")");
    kv("nsid", <u64>load<u32>(e + NSID)); kvHex("prp1", load<u64>(e + PRP1));
  } else if (op == 0x05 || op == 0x01) {
    kv("qid", <u64>(cdw10 & 0xffff)); kv("qsize", <u64>(cdw10 >> 16) + 1);
    if (op == 0x05) { kv("iv", <u64>(cdw11 >> 16)); kv("ien", <u64>((cdw11 >> 1) & 1)); }
    else { kv("cqid", <u64>(cdw11 >> 16)); kv("qprio", <u64>((cdw11 >> 1) & 3)); }
    kv("pc", <u64>(cdw11 & 1)); kvHex("prp1", load<u64>(e + PRP1));
  } else if (op == 0x00 || op == 0x04) {
    kv("qid", <u64>(cdw10 & 0xffff));
  } else if (op == 0x09 || op == 0x0a) {
    put(" FID="); putHexDigits(<u64>(cdw10 & 0xff), 2); put("h ("); put(featureName(cdw10 & 0xff)); put(")");
    if (op == 0x09 && (cdw10 & 0xff) == 0x07) { kv("nsqr", <u64>(cdw11 & 0xffff) + 1); kv("ncqr", <u64>(cdw11 >> 16) + 1); }
    else if (op == 0x09) kvHex("cdw11", <u64>cdw11);
  } else if (op == 0x08) {
    kv("sqid", <u64>(cdw10 & 0xffff)); kv("cid", <u64>(cdw10 >> 16));
  } else if (op == 0x02) {
    put(" LID="); putHexDigits(<u64>(cdw10 & 0xff), 2); put("h"); kv("dwords", <u64>(cdw10 >> 16) + 1); kvHex("prp1", load<u64>(e + PRP1));
  } else if (op == 0x7c) {  // Doorbell Buffer Config: PRP1 the shadow doorbell page, PRP2 the EventIdx page
    kvHex("shadow", load<u64>(e + PRP1)); kvHex("eventidx", load<u64>(e + PRP2));
  }
}

function ioFields(op: u32, e: usize): void {
  kv("nsid", <u64>load<u32>(e + NSID));
  if (op == 0x00) return;
  if (op == 0x09) {  // Dataset Management (6.7): NR 0-based in CDW10, AD (deallocate) bit 2 of CDW11
    kv("nr", <u64>(load<u32>(e + CDW10) & 0xff) + 1);
    if ((load<u32>(e + CDW11) & 4) != 0) put(" AD");
    kvHex("prp1", load<u64>(e + PRP1));
    return;
  }
  kv("slba", load<u64>(e + CDW10));
  kv("nlb", <u64>(load<u32>(e + CDW12) & 0xffff) + 1);
  if (op == 0x08) {  // Write Zeroes (6.16): no data, so no PRPs; DEAC is bit 25 of CDW12
    if ((load<u32>(e + CDW12) & (1 << 25)) != 0) put(" DEAC");
    return;
  }
  if (((load<u32>(e + CDW0) >> 14) & 3) != 0) {  // SGL descriptor 1 (4.4): address, length, type in byte 15 bits 7:4
    kvHex("sgl_addr", load<u64>(e + PRP1)); kv("sgl_bytes", <u64>load<u32>(e + PRP2)); kv("sgl_type", <u64>(load<u8>(e + PRP2 + 7) >> 4));
    return;
  }
  kvHex("prp1", load<u64>(e + PRP1));
  const prp2 = load<u64>(e + PRP2);
  if (prp2 != 0) kvHex("prp2", prp2);
}

// What a completion needs to know of its command: opcode | feature id << 8 (admin features).
export function commandKey(qid: u32, e: usize): u32 {
  const op = load<u32>(e + CDW0) & 0xff;
  return qid == 0 && (op == 0x09 || op == 0x0a) ? op | ((load<u32>(e + CDW10) & 0xff) << 8) : op;
}

// "cmd nvme0 SQ1 cid=3 Read nsid=1 slba=…": the entry at e, on queue qid of controller ctrl.
export function putCommand(ctrl: u32, qid: u32, e: usize): void {
  const cdw0 = load<u32>(e + CDW0);
  const op = cdw0 & 0xff;
  put("cmd nvme"); putDec(<u64>ctrl); put(" SQ"); putDec(<u64>qid);
  kv("cid", <u64>(cdw0 >> 16)); putByte(32);
  putOpcode(qid, op);
  if (qid == 0) adminFields(op, e); else ioFields(op, e);
  if (((cdw0 >> 8) & 3) != 0) put(" fused");
  if (((cdw0 >> 14) & 3) != 0) put(" SGL");
}

// "cpl nvme0 CQ1 cid=3 sqhd=4 phase=1 Read: Successful Completion", with DW0 where it means something.
// `what` is the command's opcode | feature id << 8 as putCommand saw it, or -1 when unknown.
export function putCompletion(ctrl: u32, qid: u32, e: usize, what: i32): void {
  const opcode = what < 0 ? -1 : what & 0xff;
  const raw = <u32>load<u16>(e + CQE_STATUS);
  put("cpl nvme"); putDec(<u64>ctrl); put(" CQ"); putDec(<u64>qid);
  kv("cid", <u64>load<u16>(e + CQE_CID));
  kv("sqhd", <u64>load<u16>(e + CQE_SQHD));
  kv("phase", <u64>(raw & 1));
  putByte(32);
  if (opcode >= 0) { putOpcode(qid, <u32>opcode); put(": "); }
  putStatus(raw >> 1);
  const dw0 = load<u32>(e + CQE_DW0);
  if (qid == 0 && opcode == 0x09 && (what >> 8) == 0x07) { put(" dw0="); putHex(<u64>dw0, 8); put(" (NSQA="); putDec(<u64>(dw0 & 0xffff) + 1); put(" NCQA="); putDec(<u64>(dw0 >> 16) + 1); put(")"); }
}
