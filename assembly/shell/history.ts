// The prompt's history (console=tty only): the last HISTORY_LINES lines run, in a ring in static
// memory, each up to HISTORY_LINE_CAP bytes (the prompt's line limit). A line equal to the newest
// one is not stored again; empty lines are not stored.

export const HISTORY_LINES: u32 = 16;
export const HISTORY_LINE_CAP: u32 = 512;
const ring: usize = memory.data(<i32>(HISTORY_LINES * HISTORY_LINE_CAP));
const lengths: usize = memory.data(<i32>(HISTORY_LINES * 4), 4);
let newest: u32 = 0;   // slot of the newest line (valid when count > 0)
export let historyCount: u32 = 0;

function slotPtr(slot: u32): usize { return ring + <usize>(slot * HISTORY_LINE_CAP); }
function slotLen(slot: u32): u32 { return load<u32>(lengths + <usize>(slot * 4)); }

// Line `back` back from the newest (0 = newest), as its slot; back < historyCount.
function slotBack(back: u32): u32 {
  return (newest + HISTORY_LINES - back) % HISTORY_LINES;
}

export function historyPtr(back: u32): usize { return slotPtr(slotBack(back)); }
export function historyLen(back: u32): u32 { return slotLen(slotBack(back)); }

function sameAsNewest(ptr: usize, len: u32): bool {
  if (historyCount == 0 || slotLen(newest) != len) return false;
  return memory.compare(slotPtr(newest), ptr, <usize>len) == 0;
}

export function historyAdd(ptr: usize, len: u32): void {
  if (len == 0 || len > HISTORY_LINE_CAP || sameAsNewest(ptr, len)) return;
  newest = historyCount == 0 ? 0 : (newest + 1) % HISTORY_LINES;
  memory.copy(slotPtr(newest), ptr, <usize>len);
  store<u32>(lengths + <usize>(newest * 4), len);
  if (historyCount < HISTORY_LINES) historyCount++;
}
