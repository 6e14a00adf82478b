// Physical Region Page entries (NVMe 1.4 section 4.3): how a command tells the controller where its
// data is. PRP1 is the first page (it may start inside it); two pages use PRP2 directly; more use a
// PRP list page whose last entry chains to the next list page only when more entries follow. List
// pages come from a per-controller pool filled at bring-up, so nothing is allocated on the IO path.
// The same pool holds the range list of a Dataset Management command (6.7), which PRP1 points at.
import {
  SubmissionEntry, PRP_ENTRY_BYTES, DSM_ATTRIBUTE_DEALLOCATE, DSM_RANGE_BYTES, DSM_RANGE_LENGTH, DSM_RANGE_SLBA,
} from "./registers";
import { CommandSlot, MAX_LIST_PAGES } from "./queue";
import { Controller } from "./controller";
import { busAddress } from "../dma";

export function takePrpPage(c: Controller): usize {
  if (c.prpFree == 0) return 0;
  c.prpFree--;
  return <usize>load<u32>(c.prpStack + <usize>(c.prpFree * 4));
}

export function givePrpPage(c: Controller, page: usize): void {
  assert(c.prpFree < c.prpPages, "prp: pool overflow");
  store<u32>(c.prpStack + <usize>(c.prpFree * 4), <u32>page);
  c.prpFree++;
}

// Gives back every list page the command holds.
export function releaseLists(c: Controller, slot: CommandSlot): void {
  const n = slot.listCount;
  if (n > 0) givePrpPage(c, <usize>slot.list0);
  if (n > 1) givePrpPage(c, <usize>slot.list1);
  if (n > 2) givePrpPage(c, <usize>slot.list2);
  if (n > 3) givePrpPage(c, <usize>slot.list3);
  slot.listCount = 0;
}

function holdList(slot: CommandSlot, page: usize): void {
  const n = slot.listCount;
  assert(n < MAX_LIST_PAGES, "prp: too many list pages for one command");
  if (n == 0) slot.list0 = <u32>page;
  else if (n == 1) slot.list1 = <u32>page;
  else if (n == 2) slot.list2 = <u32>page;
  else slot.list3 = <u32>page;
  slot.listCount = n + 1;
}

// Fills PRP1/PRP2 of `sqe` for [buffer, buffer + bytes). Returns false, holding no page, when the
// pool cannot cover the list (the caller tries again after completions have given pages back).
export function buildPrps(c: Controller, slot: CommandSlot, sqe: SubmissionEntry, buffer: usize, bytes: u32): bool {
  const page = <u64>c.pageBytes;
  const bus = busAddress(buffer, bytes);
  const first = page - (bus & (page - 1));
  sqe.prp1 = bus;
  if (<u64>bytes <= first) return true;
  const next = bus + first;           // page-aligned from here on
  const rest = <u64>bytes - first;
  if (rest <= page) {
    sqe.prp2 = next;
    return true;
  }
  const pages = <u32>((rest + page - 1) / page);
  const perList = c.pageBytes / PRP_ENTRY_BYTES;
  let list = takePrpPage(c);
  if (list == 0) return false;
  holdList(slot, list);
  sqe.prp2 = busAddress(list, c.pageBytes);
  let idx: u32 = 0;
  for (let i: u32 = 0; i < pages; i++) {
    if (idx == perList - 1 && i < pages - 1) {
      // The last slot of a full list page points at the next list page.
      const more = slot.listCount < MAX_LIST_PAGES ? takePrpPage(c) : 0;
      if (more == 0) { releaseLists(c, slot); return false; }
      holdList(slot, more);
      store<u64>(list + <usize>(idx * PRP_ENTRY_BYTES), busAddress(more, c.pageBytes));
      list = more;
      idx = 0;
    }
    store<u64>(list + <usize>(idx * PRP_ENTRY_BYTES), next + <u64>i * page);
    idx++;
  }
  return true;
}

// A Dataset Management deallocate of one range (6.7): the 16-byte range (context attributes 0, the
// length, the starting LBA) at the start of a pool page the command holds until it completes (given
// back with its lists), PRP1 pointing at it, NR 0 (one range), AD set. False, holding no page, when
// the pool is lent out (the caller tries again after completions have given pages back).
export function buildRangeList(c: Controller, slot: CommandSlot, sqe: SubmissionEntry, lba: u64, blocks: u32): bool {
  assert(blocks != 0, "dsm: an empty range");
  const page = takePrpPage(c);
  if (page == 0) return false;
  holdList(slot, page);
  store<u32>(page, 0);                                  // context attributes: none
  store<u32>(page + <usize>DSM_RANGE_LENGTH, blocks);
  store<u64>(page + <usize>DSM_RANGE_SLBA, lba);
  sqe.prp1 = busAddress(page, DSM_RANGE_BYTES);
  sqe.cdw10 = 0;                                        // NR: one range (0-based)
  sqe.cdw11 = DSM_ATTRIBUTE_DEALLOCATE;
  return true;
}
