// Stage 3 of bring-up: decode Identify Controller (NVMe 1.4 section 5.15.2.1), find the active
// namespaces (the CNS 02h list, or every id from 1 to NN) and identify each (CNS 00h, and CNS 03h
// for its command set). The device's answers are checked before they are used: a list that is not
// a list, a block size out of range, a namespace of another command set are met in words.
import {
  CNS_NAMESPACE, CNS_ACTIVE_NSID_LIST, CNS_NS_DESCRIPTORS, NIDT_CSI, NID_HEADER_BYTES,
  CAP_MPSMIN_SHIFT, CAP_MPS_MASK, SQES_LOG2, CQES_LOG2,
  IDC_MDTS, IDC_CNTRLTYPE, IDC_SQES, IDC_CQES, IDC_NN, IDC_ONCS, IDC_VWC, IDC_SGLS, NLB_MAX_BLOCKS, SGLS_SUPPORT_MASK,
} from "./registers";
import { Controller, fail } from "./controller";
import { identify } from "./admin";
import { addNamespace, MAX_NAMESPACES } from "./namespace";
import { QUIRK_IDENTIFY_CNS, QUIRK_BIT_IDENTIFY_CNS, traceQuirk } from "./quirks";
import { PAGE_BYTES } from "../dma";
import { logging } from "../log";
import { optionSgl } from "../options";
import { put, putLine, putDec, putHex, putCtrlName, putNsName, newline, putError, Text } from "../../common/console";
import { putStatusBrief as putStatus, isDriverError } from "../../common/status";
import {
  FAIL_SQES, FAIL_CQES, FAIL_CNTRLTYPE, FAIL_NS_LIST, FAIL_IDENTIFY_NS, refusedText, REFUSED_OVER_MDTS, REFUSED_COMMAND_SET,
} from "../../common/words";

// Our own cap on one command's transfer, on top of MDTS; larger than one PRP list page covers
// (511 data pages + a chain pointer at 4 KiB), so controllers without MDTS get chained lists.
export const MAX_COMMAND_BYTES: u32 = 4 << 20;
const NS_PROBE_MAX: u32 = 1024;   // namespaces probed one by one on a 1.0 controller
const NS_LIST_ENTRIES: u32 = 1024; // ids in the active namespace list page (5.15.2.2, CNS 02h)
const NSID_BROADCAST_MIN: u32 = 0xfffffffe; // FFFFFFFEh and FFFFFFFFh are never a namespace's id
const nsIds = memory.data(<i32>(MAX_NAMESPACES * 4));

// Stage 3a: what Identify Controller (5.15.2.1) says the driver must respect.
export function decodeIdentify(c: Controller): bool {
  const id = c.idctrl;
  // SQES/CQES give the required (3:0) and maximum (7:4) entry sizes; 0 on some 1.0 devices.
  const sqes = <u32>load<u8>(id + <usize>IDC_SQES);
  const cqes = <u32>load<u8>(id + <usize>IDC_CQES);
  if (sqes != 0 && ((sqes & 0xf) > SQES_LOG2 || (sqes >> 4) < SQES_LOG2)) return fail(c, FAIL_SQES);
  if (cqes != 0 && ((cqes & 0xf) > CQES_LOG2 || (cqes >> 4) < CQES_LOG2)) return fail(c, FAIL_CQES);
  if (<u32>load<u8>(id + <usize>IDC_CNTRLTYPE) > 1) return fail(c, FAIL_CNTRLTYPE);
  const mdts = <u32>load<u8>(id + <usize>IDC_MDTS);
  const mpsMin = <u32>(((<u64>c.capHi << 32) >> CAP_MPSMIN_SHIFT) & CAP_MPS_MASK);
  c.mdtsBytes = mdts == 0 ? 0 : (mdts >= 40 ? (<u64>1 << 52) : (<u64>(4096 << mpsMin) << mdts));
  let maxBytes: u64 = <u64>MAX_COMMAND_BYTES;
  if (c.mdtsBytes != 0 && c.mdtsBytes < maxBytes) maxBytes = c.mdtsBytes;
  c.maxCommandBytes = <u32>maxBytes;
  c.nn = load<u32>(id + <usize>IDC_NN);
  c.oncs = <u32>load<u16>(id + <usize>IDC_ONCS);
  c.vwc = <u32>load<u8>(id + <usize>IDC_VWC) & 1;
  c.sglAlignment = load<u32>(id + <usize>IDC_SGLS) & SGLS_SUPPORT_MASK;
  c.sgl = c.sglAlignment != 0 ? 1 : 0;
  // 11b is reserved: a value the driver cannot read is not used.
  c.sglOn = optionSgl != 0 && c.sglAlignment != SGLS_SUPPORT_MASK ? c.sgl : 0;
  if (logging()) {
    putCtrlName(c.index);
    put(" identify nn="); putDec(<u64>c.nn);
    put(" mdts_bytes="); putDec(c.mdtsBytes);
    put(" vwc="); put(c.vwc != 0 ? "yes" : "no");
    put(" sgl="); put(c.sgl != 0 ? "yes" : "no");
    newline();
  }
  return true;
}

// Stage 3b: active namespace ids from CNS 02h on 1.1+, else (or if refused, or if what came back
// is not a list) every id from 1 to NN.
export function stageNamespaces(c: Controller): bool {
  assert(c.namespaces == 0, "namespaces identified twice");
  let n: i32 = -1;   // ids taken from the list; -1: probe instead
  if (c.version >= 0x00010100 && (c.quirks & QUIRK_IDENTIFY_CNS) != 0) {
    traceQuirk(c.index, QUIRK_BIT_IDENTIFY_CNS);   // CNS 02h would return the controller's data
  } else if (c.version >= 0x00010100) {
    const status = identify(c, CNS_ACTIVE_NSID_LIST, 0, c.scratch);
    // A failure of the driver's own (timeout, CFS) ends bring-up; a status from the device (e.g.
    // Invalid Field on a controller that does not know CNS 02h) means probing.
    if (isDriverError(status)) return fail(c, FAIL_NS_LIST, status);
    if (status == 0) n = copyNamespaceList(c);
  }
  if (n < 0) {
    const last = c.nn < NS_PROBE_MAX ? c.nn : NS_PROBE_MAX;
    if (c.nn > NS_PROBE_MAX) tooMany(c, c.nn - NS_PROBE_MAX, "not probed: the driver probes ids 1 to 1024");
    for (let nsid: u32 = 1; nsid <= last; nsid++) {
      if (!identifyNamespace(c, nsid, false)) return false;
    }
    return true;
  }
  for (let i: u32 = 0; i < <u32>n; i++) {
    if (!identifyNamespace(c, load<u32>(nsIds + <usize>(i * 4)), true)) return false;
  }
  return true;
}

// The ids of the CNS 02h page in the scratch page, copied out (the page is needed for each Identify
// Namespace); how many, or -1 when the page is not a list of active ids (5.15.2.2: increasing,
// ended by 0, each at most NN), said in a line: a controller that answers CNS 02h with something
// else is probed id by id instead.
function copyNamespaceList(c: Controller): i32 {
  const list = c.scratch;
  let n: u32 = 0;
  let beyond: u32 = 0;
  let previous: u32 = 0;
  for (let i: u32 = 0; i < NS_LIST_ENTRIES; i++) {
    const nsid = load<u32>(list + <usize>(i * 4));
    if (nsid == 0) break;
    if (nsid <= previous || nsid >= NSID_BROADCAST_MIN || (c.nn != 0 && nsid > c.nn)) {
      if (logging()) {
        putCtrlName(c.index); put(" active namespace list rejected: id "); putHex(<u64>nsid, 8);
        put(" at entry "); putDec(<u64>i); putLine(", probing 1..NN");
      }
      return -1;
    }
    previous = nsid;
    if (n == MAX_NAMESPACES) { beyond++; continue; }
    store<u32>(nsIds + <usize>(n * 4), nsid);
    n++;
  }
  if (beyond > 0) tooMany(c, beyond, "ignored: more than the driver's 64");
  return <i32>n;
}

// Namespaces the driver leaves out, said in one error line.
function tooMany(c: Controller, count: u32, why: Text): void {
  putError(); putCtrlName(c.index); put(": "); putDec(<u64>count); put(" namespaces "); putLine(why);
}

// The namespace's command set from its identification descriptors (CNS 03h, NVMe 1.3+): 0 (NVM)
// when the list has no CSI descriptor, or the controller does not answer CNS 03h (or cannot be
// asked: QUIRK_IDENTIFY_CNS).
function commandSet(c: Controller, nsid: u32): u32 {
  if (c.version < 0x00010300) return 0;
  if ((c.quirks & QUIRK_IDENTIFY_CNS) != 0) { traceQuirk(c.index, QUIRK_BIT_IDENTIFY_CNS); return 0; }
  const page = c.scratch;
  memory.fill(page, 0, PAGE_BYTES);
  if (identify(c, CNS_NS_DESCRIPTORS, nsid, page) != 0) return 0;
  let off: u32 = 0;
  for (let steps: u32 = 0; steps < PAGE_BYTES / NID_HEADER_BYTES && off + NID_HEADER_BYTES < PAGE_BYTES; steps++) {
    const type = <u32>load<u8>(page + <usize>off);
    const length = <u32>load<u8>(page + <usize>off + 1);
    if (type == 0) break;
    if (type == NIDT_CSI && length >= 1 && off + NID_HEADER_BYTES < PAGE_BYTES) return <u32>load<u8>(page + <usize>(off + NID_HEADER_BYTES));
    off += NID_HEADER_BYTES + length;
  }
  return 0;
}

function identifyNamespace(c: Controller, nsid: u32, listed: bool): bool {
  const page = c.scratch;
  memory.fill(page, 0, PAGE_BYTES);
  const status = identify(c, CNS_NAMESPACE, nsid, page);
  if (isDriverError(status)) return fail(c, FAIL_IDENTIFY_NS, status);
  if (status != 0) {
    // Probing 1..NN: an inactive id may be answered with Invalid Namespace; that is not an error.
    if (!listed) return true;
    putError(); putNsName(c.index, nsid); put(": Identify Namespace failed: "); putStatus(status); newline();
    return true;
  }
  // An inactive namespace reads as all zeroes (NSZE = 0) when probed.
  if (!listed && load<u64>(page) == 0) return true;
  const ns = addNamespace(c.index, nsid, page);
  if (ns == null) {
    putError(); putNsName(c.index, nsid); putLine(": too many namespaces, ignored");
    return true;
  }
  // A block the controller cannot move in one command could never be read or written; a
  // namespace of another command set (zoned: writes only at a zone's write pointer) has rules the
  // driver does not keep.
  if (ns.refused == 0 && (<u64>1 << ns.lbaShift) > <u64>c.maxCommandBytes) ns.refused = REFUSED_OVER_MDTS;
  if (ns.refused == 0 && commandSet(c, nsid) != 0) ns.refused = REFUSED_COMMAND_SET;
  const blocks = c.maxCommandBytes >> ns.lbaShift;
  ns.maxBlocks = blocks > NLB_MAX_BLOCKS ? NLB_MAX_BLOCKS : blocks;
  c.namespaces++;
  if (logging()) {
    putNsName(c.index, nsid);
    put(" nsid="); putDec(<u64>nsid);
    put(" lba_bytes="); putDec(<u64>(ns.refused == 0 || ns.lbaShift < 32 ? (<u64>1 << ns.lbaShift) : 0));
    put(" blocks="); putDec(ns.blocks);
    if (ns.refused != 0) { put(" refused=\""); put(refusedText(ns.refused)); put("\""); }
    newline();
  }
  return true;
}

