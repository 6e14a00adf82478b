// fs.wasm: partition tables (MBR, GPT) and FAT12/16/32, read-only, as a module of its own. It is a
// client of the block interface (client.ts) with its own memory and its own share of the driver's
// buffer, and it answers messages (docs/fs-interface.md): the host copies a request into the inbox,
// calls fs_handle, and copies the response out of the outbox. It prints nothing; every failure is
// words in the response, and nothing a disk holds can make it trap or loop without bound.
import {
  FS_OP_PARTS, FS_OP_PART, FS_OP_STAT, FS_OP_LIST, FS_OP_OPEN, FS_OP_READ, FS_REQUEST_BYTES_MAX,
  FSQ_OP, FSQ_NS, FSQ_PART, FSQ_INDEX, FSQ_OFFSET, FSQ_LENGTH, FSQ_PATH_BYTES, FSQ_PATH, FS_PATH_BYTES_MAX,
  FSR_KIND, FSR_TYPE, FSR_START, FSR_BLOCKS, FSR_GUID, FSR_NUMBER, FSR_STATUS, FS_STATUS_END,
} from "../common/fs-abi";
import { outbox, replyBegin, replyLength, fail, set32, set64, say, sayDec, sayBytes, textAt, textRoom, textAdvance } from "./reply";
import { scan, openPart } from "./partitions";
import { partCount, part, labelOf } from "./table";
import { usedBackup, backupBlock, whyPrimary, whyPrimaryBytes } from "./gpt";
import { opStat, opList, opOpen, opRead, forgetList } from "./fat-ops";

const inbox: usize = memory.data(<i32>FS_REQUEST_BYTES_MAX, 8);

export function fs_inbox(): usize { return inbox; }
export function fs_inbox_bytes(): u32 { return FS_REQUEST_BYTES_MAX; }
export function fs_outbox(): usize { return outbox; }

function q32(field: u32): u32 { return load<u32>(inbox + <usize>field); }

// Handles the request of `len` bytes in the inbox; returns the response's length in the outbox.
export function fs_handle(len: u32): u32 {
  replyBegin();
  if (len < FSQ_PATH || len > FS_REQUEST_BYTES_MAX) { fail("request of a wrong size"); return replyLength(); }
  const pathBytes = q32(FSQ_PATH_BYTES);
  if (pathBytes > FS_PATH_BYTES_MAX || FSQ_PATH + pathBytes != len) { fail("request of a wrong size"); return replyLength(); }
  const op = q32(FSQ_OP);
  const ns = q32(FSQ_NS);
  const path = inbox + <usize>FSQ_PATH;
  if (op != FS_OP_LIST) forgetList();
  if (op == FS_OP_PARTS) opParts(ns);
  else if (op == FS_OP_PART) opPart(ns, q32(FSQ_PART), q32(FSQ_INDEX));
  else if (op == FS_OP_STAT) opStat(ns, q32(FSQ_PART), path, pathBytes);
  else if (op == FS_OP_LIST) opList(ns, q32(FSQ_PART), path, pathBytes, q32(FSQ_INDEX));
  else if (op == FS_OP_OPEN) opOpen(ns, q32(FSQ_PART), path, pathBytes);
  else if (op == FS_OP_READ) opRead(q32(FSQ_INDEX), load<u64>(inbox + <usize>FSQ_OFFSET), q32(FSQ_LENGTH));
  else fail("unknown operation");
  return replyLength();
}

// How many partitions; the note says when the GPT's backup header had to be used.
function opParts(ns: u32): void {
  if (!scan(ns)) return;
  set32(FSR_KIND, partCount);
  if (usedBackup) {
    say("GPT primary header unusable ("); sayBytes(whyPrimary(), whyPrimaryBytes());
    say("): using the backup at block "); sayDec(backupBlock);
  }
}

// Partition `number` (or, for 0, the `index`-th in table order): scheme, type, extent, GPT type
// GUID and label.
function opPart(ns: u32, number: u32, index: u32): void {
  if (number == 0) {
    if (!scan(ns)) return;
    if (index >= partCount) { set32(FSR_STATUS, FS_STATUS_END); return; }
    number = part(index).number;
  }
  const p = openPart(ns, number);
  if (p == null) return;
  set32(FSR_KIND, p.scheme);
  set32(FSR_TYPE, p.mbrType);
  set32(FSR_NUMBER, p.number);
  set64(FSR_START, p.start);
  set64(FSR_BLOCKS, p.blocks);
  set64(FSR_GUID, p.guid0);
  set64(FSR_GUID + 8, p.guid1);
  for (let i: u32 = 0; i < partCount; i++) {
    if (part(i).number != number) continue;
    const n = p.labelBytes < textRoom() ? p.labelBytes : textRoom();
    memory.copy(textAt(), labelOf(i), <usize>n);
    textAdvance(n);
  }
}
