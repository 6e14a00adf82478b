// A namespace's partition table, read afresh for every request (the shell may have written over it
// since): MBR, or GPT behind a protective MBR.
import { useNamespace, cacheClear, setWindow } from "./disk";
import { scanMbr } from "./mbr";
import { scanGpt } from "./gpt";
import { tableClear, byNumber, Part } from "./table";
import { fail, sayDec } from "./reply";

// Scans namespace `ns` into the table; false (said) when there is no usable table.
export function scan(ns: u32): bool {
  tableClear();
  cacheClear();
  if (!useNamespace(ns)) return false;
  const mbr = scanMbr();
  if (mbr < 0) return false;
  return mbr == 0 ? true : scanGpt();
}

// Partition `number` of namespace `ns`, its blocks made the window of every read; null (said) if
// there is none.
export function openPart(ns: u32, number: u32): Part | null {
  if (!scan(ns)) return null;
  const p = byNumber(number);
  if (p == null) { fail("no partition "); sayDec(<u64>number); return null; }
  setWindow(p.start, p.blocks);
  return p;
}
