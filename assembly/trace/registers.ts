// NVMe controller registers (NVMe 1.4 section 3.1) and PCI configuration writes, named and decoded
// for the trace: "CC = 0x00460001 (EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B)".
// 64-bit registers are accessed as two halves, and decoded half by half.
import { put, putDec, putHex, putByte, ascii, Text, textLength } from "../common/console";

// 3.1 offsets
const CAP_LO: u32 = 0x00; const CAP_HI: u32 = 0x04; const VS: u32 = 0x08; const INTMS: u32 = 0x0c;
const INTMC: u32 = 0x10; const CC: u32 = 0x14; const CSTS: u32 = 0x1c; const NSSR: u32 = 0x20;
const AQA: u32 = 0x24; const ASQ_LO: u32 = 0x28; const ASQ_HI: u32 = 0x2c; const ACQ_LO: u32 = 0x30;
const ACQ_HI: u32 = 0x34; const CMBLOC: u32 = 0x38; const CMBSZ: u32 = 0x3c; const BPINFO: u32 = 0x40;
const BPRSEL: u32 = 0x44; const BPMBL: u32 = 0x48; const CMBMSC: u32 = 0x50;
export const DOORBELLS: u32 = 0x1000;

// A parenthesised list of fields: " (A=1 B=2)".
let first = true;
function begin(): void { put(" ("); first = true; }
function end(): void { put(")"); }
function next(): void { if (!first) putByte(32); first = false; }
function text(s: Text): void { next(); put(s); }
function field(name: Text, v: u32): void { next(); put(name); putByte(61); putDec(<u64>v); }
function bytes(name: Text, log2: u32): void { next(); put(name); putByte(61); putDec(<u64>1 << log2); putByte(66); }
function pageSize(name: Text, mps: u32): void { next(); put(name); putByte(61); putDec(<u64>4 << mps); put("KiB"); }

// 3.1.1 CAP, low half: MQES 15:0, CQR 16, AMS 18:17, TO 31:24.
function capLow(v: u32): void {
  field("MQES", v & 0xffff); put(" (0-based)");
  field("CQR", (v >> 16) & 1);
  field("AMS", (v >> 17) & 3);
  field("TO", v >> 24); put(" ("); putDec(<u64>(v >> 24) * 500); put(" ms)");
}

// 3.1.1 CAP, high half (bits 63:32): DSTRD 35:32, NSSRS 36, CSS 44:37, BPS 45, MPSMIN 51:48,
// MPSMAX 55:52, PMRS 56, CMBS 57.
function capHigh(v: u32): void {
  field("DSTRD", v & 0xf); put(" ("); putDec(<u64>4 << (v & 0xf)); put("-byte doorbells)");
  field("NSSRS", (v >> 4) & 1);
  next(); put("CSS="); putHex(<u64>((v >> 5) & 0xff), 2);
  if (((v >> 5) & 1) != 0) put(" (NVM)");
  field("BPS", (v >> 13) & 1);
  pageSize("MPSMIN", (v >> 16) & 0xf);
  pageSize("MPSMAX", (v >> 20) & 0xf);
  field("PMRS", (v >> 24) & 1);
  field("CMBS", (v >> 25) & 1);
}

// 3.1.5 CC: EN 0, CSS 6:4, MPS 10:7, AMS 13:11, SHN 15:14, IOSQES 19:16, IOCQES 23:20.
function cc(v: u32): void {
  field("EN", v & 1);
  const css = (v >> 4) & 7;
  text(css == 0 ? "CSS=NVM" : css == 6 ? "CSS=all" : css == 7 ? "CSS=admin-only" : "CSS=reserved");
  pageSize("MPS", (v >> 7) & 0xf);
  const ams = (v >> 11) & 7;
  text(ams == 0 ? "AMS=RR" : ams == 1 ? "AMS=WRR" : "AMS=vendor");
  const shn = (v >> 14) & 3;
  text(shn == 0 ? "SHN=none" : shn == 1 ? "SHN=normal" : shn == 2 ? "SHN=abrupt" : "SHN=reserved");
  bytes("IOSQES", (v >> 16) & 0xf);
  bytes("IOCQES", (v >> 20) & 0xf);
}

// 3.1.6 CSTS: RDY 0, CFS 1, SHST 3:2, NSSRO 4, PP 5.
function csts(v: u32): void {
  if (v == 0xffffffff) { text("all ones: the device is gone"); return; }
  field("RDY", v & 1);
  field("CFS", (v >> 1) & 1);
  const shst = (v >> 2) & 3;
  text(shst == 0 ? "SHST=normal" : shst == 1 ? "SHST=occurring" : shst == 2 ? "SHST=complete" : "SHST=reserved");
  if (((v >> 4) & 1) != 0) text("NSSRO=1");
  if (((v >> 5) & 1) != 0) text("PP=1");
}

function registerName(off: u32): Text {
  switch (off) {
    case CAP_LO: return ascii("CAP[31:0]"); case CAP_HI: return ascii("CAP[63:32]"); case VS: return ascii("VS");
    case INTMS: return ascii("INTMS"); case INTMC: return ascii("INTMC"); case CC: return ascii("CC"); case CSTS: return ascii("CSTS");
    case NSSR: return ascii("NSSR"); case AQA: return ascii("AQA"); case ASQ_LO: return ascii("ASQ[31:0]"); case ASQ_HI: return ascii("ASQ[63:32]");
    case ACQ_LO: return ascii("ACQ[31:0]"); case ACQ_HI: return ascii("ACQ[63:32]"); case CMBLOC: return ascii("CMBLOC"); case CMBSZ: return ascii("CMBSZ");
    case BPINFO: return ascii("BPINFO"); case BPRSEL: return ascii("BPRSEL"); case BPMBL: return ascii("BPMBL[31:0]"); case BPMBL + 4: return ascii("BPMBL[63:32]");
    case CMBMSC: return ascii("CMBMSC[31:0]"); case CMBMSC + 4: return ascii("CMBMSC[63:32]");
  }
  return ascii("");
}

function decoded(off: u32, v: u32): void {
  if (off == CAP_LO) { begin(); capLow(v); end(); }
  else if (off == CAP_HI) { begin(); capHigh(v); end(); }
  else if (off == VS) { put(" ("); putDec(<u64>(v >> 16)); putByte(46); putDec(<u64>((v >> 8) & 0xff)); putByte(46); putDec(<u64>(v & 0xff)); put(")"); }
  else if (off == CC) { begin(); cc(v); end(); }
  else if (off == CSTS) { begin(); csts(v); end(); }
  else if (off == AQA) { put(" (ASQS="); putDec(<u64>(v & 0xfff) + 1); put(" ACQS="); putDec(<u64>((v >> 16) & 0xfff) + 1); put(" entries)"); }
  else if (off == INTMS || off == INTMC) { put(" (vectors "); putHex(<u64>v); put(")"); }
}

// One NVMe register access (BAR0), `strideBytes` from this controller's CAP.DSTRD.
export function putRegister(off: u32, v: u32, strideBytes: u32): void {
  if (off >= DOORBELLS) {
    const index = (off - DOORBELLS) / strideBytes;
    const qid = index >> 1;
    put((index & 1) == 0 ? "SQ" : "CQ"); putDec(<u64>qid);
    put((index & 1) == 0 ? " tail=" : " head="); putDec(<u64>v);
    return;
  }
  const name = registerName(off);
  if (textLength(name) == 0) { put("reg+"); putHex(<u64>off, 3); } else put(name);
  put(" = "); putHex(<u64>v, 8);
  decoded(off, v);
}

// 6.8.2 MSI-X table entry fields, 16 bytes each.
export function putMsixTable(off: u32, v: u32): void {
  put("MSI-X entry "); putDec(<u64>(off >> 4));
  const f = off & 15;
  put(f == 0 ? " address[31:0]" : f == 4 ? " address[63:32]" : f == 8 ? " data" : " vector control");
  put(" = "); putHex(<u64>v, 8);
  if (f == 12) put((v & 1) != 0 ? " (masked)" : " (unmasked)");
}

// 6.2.2 the PCI command register, and the MSI-X Message Control (6.8.2.3) when the write lands there.
export function putConfigWrite(off: u32, v: u32, msixCap: u32): void {
  if (off == 0x04) {
    put("COMMAND = "); putHex(<u64>(v & 0xffff), 4);
    begin();
    if ((v & 1) != 0) text("IO");
    if ((v & 2) != 0) text("MEM");
    if ((v & 4) != 0) text("BUSMASTER");
    if ((v & 0x400) != 0) text("INTX-DISABLE");
    if (first) text("none");
    end();
    return;
  }
  if (msixCap != 0 && off == msixCap) {
    put("MSI-X control = "); putHex(<u64>(v >> 16), 4);
    put(" (enable="); putDec(<u64>(v >> 31)); put(" function-mask="); putDec(<u64>((v >> 30) & 1)); put(")");
    return;
  }
  put("+"); putHex(<u64>off, 2); put(" = "); putHex(<u64>v, 8);
}
