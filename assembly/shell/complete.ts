// Tab completion at the prompt (console=tty only): the word that ends at the cursor, completed as
// a command name when it is a command's first word, else as a device name (nvme0n1, … from the
// namespaces the driver describes, and nvme0n1p1, … of the namespaces whose name the word begins
// with or is the start of, from their partition tables as fs.wasm reads them; after smart and
// errors, a controller name: nvme0, …). One candidate: the rest of it and a blank. Several: as far as
// they agree, and when that adds nothing, the list (listCandidates). None: the bell.
import { ascii, Text, textLength, putByte, put, newline } from "../common/console";
import { namespaceCount, loadNamespace, nsCtrl, nsId, nsRefused, controllerCount } from "./devices";
import { fsRequest, fs32 } from "./fs-link";
import { FS_OP_PARTS, FS_OP_PART, FSR_KIND, FSR_NUMBER, FSR_STATUS, FS_STATUS_END } from "../common/fs-abi";

// The commands of dispatch.ts, in help's order: keep the two in step (a test compares them).
const COMMANDS: u32 = 19;
function commandName(i: u32): Text {
  switch (i) {
    case 0: return ascii("help");
    case 1: return ascii("info");
    case 2: return ascii("read");
    case 3: return ascii("crc");
    case 4: return ascii("fill");
    case 5: return ascii("verify");
    case 6: return ascii("zero");
    case 7: return ascii("trim");
    case 8: return ascii("flush");
    case 9: return ascii("bench");
    case 10: return ascii("iochk");
    case 11: return ascii("smart");
    case 12: return ascii("errors");
    case 13: return ascii("stats");
    case 14: return ascii("parts");
    case 15: return ascii("ls");
    case 16: return ascii("cat");
    case 17: return ascii("sum");
    default: return ascii("poweroff");
  }
}

const CHAR_SPACE: u32 = 32;
const CHAR_TAB: u32 = 9;
const CHAR_SEMICOLON: u32 = 59;
const CHAR_ZERO: u32 = 48;
const CANDIDATE_CAP: u32 = 32;
const NAMESPACES_MAX: u32 = 1024;          // candidates looked at, at most
const candidate: usize = memory.data(<i32>CANDIDATE_CAP);
let candidateLen: u32 = 0;
export const addition: usize = memory.data(<i32>CANDIDATE_CAP);
export let additionLen: u32 = 0;           // bytes to insert at the cursor
export let matches: u32 = 0;

let wordAt: usize = 0;                     // the word being completed: [wordAt, wordAt + wordLen)
let wordLen: u32 = 0;
let commandWord = false;
let controllerWord = false;                // an argument of smart or errors: a controller's name
const CMD_SMART: u32 = 11;
const CMD_ERRORS: u32 = 12;

function isSeparator(b: u32): bool { return b == CHAR_SPACE || b == CHAR_TAB || b == CHAR_SEMICOLON; }

function appendByte(b: u32): void {
  if (candidateLen < CANDIDATE_CAP) { store<u8>(candidate + <usize>candidateLen, <u8>b); candidateLen++; }
}

function appendDec(v: u32): void {
  let div: u32 = 1;
  while (v / div >= 10) div *= 10;
  for (; div > 0; div /= 10) appendByte(CHAR_ZERO + v / div % 10);
}

// Partition candidates: (namespace index, partition number) pairs, found when the word is a device's.
const PARTS_MAX: u32 = 64;
const partNs: usize = memory.data(<i32>PARTS_MAX * 4, 4);
const partNo: usize = memory.data(<i32>PARTS_MAX * 4, 4);
let partCandidates: u32 = 0;

function appendNsName(): void {
  appendByte(110); appendByte(118); appendByte(109); appendByte(101);  // "nvme"
  appendDec(nsCtrl()); appendByte(110); appendDec(nsId());              // K "n" N
}

// The partitions of every namespace whose name and the word agree as far as both go (so a Tab
// after "nvme0" or "nvme0n1p" reads the tables, one after "nvme1" not nvme0's).
function findPartitions(): void {
  partCandidates = 0;
  const n = namespaceCount() < NAMESPACES_MAX ? namespaceCount() : NAMESPACES_MAX;
  for (let ns: u32 = 0; ns < n; ns++) {
    if (!loadNamespace(ns) || nsRefused() != 0) continue;
    candidateLen = 0;
    appendNsName();
    const common = candidateLen < wordLen ? candidateLen : wordLen;
    if (memory.compare(candidate, wordAt, <usize>common) != 0) continue;
    if (!fsRequest(FS_OP_PARTS, ns, 0, 0, 0, 0, 0, 0)) continue;
    const count = fs32(FSR_KIND);
    for (let k: u32 = 0; k < count && partCandidates < PARTS_MAX; k++) {
      if (!fsRequest(FS_OP_PART, ns, 0, k, 0, 0, 0, 0) || fs32(FSR_STATUS) == FS_STATUS_END) break;
      store<u32>(partNs + <usize>(partCandidates * 4), ns);
      store<u32>(partNo + <usize>(partCandidates * 4), fs32(FSR_NUMBER));
      partCandidates++;
    }
  }
}

// Candidate i into `candidate`; false when there is no candidate i.
function loadCandidate(i: u32): bool {
  candidateLen = 0;
  if (commandWord) {
    if (i >= COMMANDS) return false;
    const t = commandName(i);
    for (let k = 1; k <= textLength(t); k++) appendByte(<u32>load<u8>(t + <usize>k));
    return true;
  }
  appendByte(110); appendByte(118); appendByte(109); appendByte(101);  // "nvme"
  if (controllerWord) {
    if (i >= controllerCount() || i >= NAMESPACES_MAX) return false;
    appendDec(i);                                                       // K
    return true;
  }
  const namespaces = namespaceCount() < NAMESPACES_MAX ? namespaceCount() : NAMESPACES_MAX;
  if (i >= namespaces) {
    const k = i - namespaces;
    if (k >= partCandidates || !loadNamespace(load<u32>(partNs + <usize>(k * 4)))) return false;
    candidateLen = 0;
    appendNsName(); appendByte(112); appendDec(load<u32>(partNo + <usize>(k * 4)));   // "p" P
    return true;
  }
  if (!loadNamespace(i)) return false;
  appendDec(nsCtrl()); appendByte(110); appendDec(nsId());              // K "n" N
  return true;
}

function candidateMatches(): bool {
  if (candidateLen < wordLen) return false;
  return memory.compare(candidate, wordAt, <usize>wordLen) == 0;
}

// Whether the command that the line's bytes before `end` belong to starts with command `cmd`.
function firstWordIs(line: usize, end: u32, cmd: u32): bool {
  let start = end;
  while (start > 0 && load<u8>(line + <usize>(start - 1)) != <u8>CHAR_SEMICOLON) start--;
  while (start < end && (load<u8>(line + <usize>start) == <u8>CHAR_SPACE || load<u8>(line + <usize>start) == <u8>CHAR_TAB)) start++;
  const name = commandName(cmd);
  const n = <u32>textLength(name);
  if (end - start < n || (end - start > n && !isSeparator(<u32>load<u8>(line + <usize>(start + n))))) return false;
  return memory.compare(line + <usize>start, name + 1, <usize>n) == 0;
}

// Finds the word before `cursor` in the line and its candidates; sets addition/additionLen and
// matches. The word must end at the cursor (the byte after it, if any, a separator).
export function complete(line: usize, len: u32, cursor: u32): void {
  matches = 0; additionLen = 0;
  if (cursor < len && !isSeparator(<u32>load<u8>(line + <usize>cursor))) return;
  let start = cursor;
  while (start > 0 && !isSeparator(<u32>load<u8>(line + <usize>(start - 1)))) start--;
  let before = start;
  while (before > 0 && (load<u8>(line + <usize>(before - 1)) == CHAR_SPACE || load<u8>(line + <usize>(before - 1)) == CHAR_TAB)) before--;
  commandWord = before == 0 || load<u8>(line + <usize>(before - 1)) == CHAR_SEMICOLON;
  controllerWord = !commandWord && (firstWordIs(line, before, CMD_SMART) || firstWordIs(line, before, CMD_ERRORS));
  wordAt = line + <usize>start;
  wordLen = cursor - start;
  if (wordLen > CANDIDATE_CAP) return;
  partCandidates = 0;
  if (!commandWord && !controllerWord) findPartitions();
  for (let i: u32 = 0; i < COMMANDS + NAMESPACES_MAX + PARTS_MAX && loadCandidate(i); i++) {
    if (!candidateMatches()) continue;
    if (matches == 0) {
      additionLen = candidateLen - wordLen;
      memory.copy(addition, candidate + <usize>wordLen, <usize>additionLen);
    } else {
      let same: u32 = 0;
      while (same < additionLen && wordLen + same < candidateLen && load<u8>(addition + <usize>same) == load<u8>(candidate + <usize>(wordLen + same))) same++;
      additionLen = same;
    }
    matches++;
  }
  if (matches == 1 && additionLen < CANDIDATE_CAP) { store<u8>(addition + <usize>additionLen, <u8>CHAR_SPACE); additionLen++; }
}

// The candidates of the last complete(), on one line, two blanks apart.
export function listCandidates(): void {
  let shown: u32 = 0;
  for (let i: u32 = 0; i < COMMANDS + NAMESPACES_MAX + PARTS_MAX && loadCandidate(i); i++) {
    if (!candidateMatches()) continue;
    if (shown > 0) put("  ");
    for (let k: u32 = 0; k < candidateLen; k++) putByte(<u32>load<u8>(candidate + <usize>k));
    shown++;
  }
  newline();
}
