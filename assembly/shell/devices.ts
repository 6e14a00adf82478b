// The shell's view of the devices: controller and namespace records fetched from the driver through
// the host (describe_*), and names as Linux gives them (nvme0 a controller, nvme0n1 its namespace 1).
import { controller_count, namespace_count, describe_controller, describe_namespace } from "./client";
import {
  CONTROLLER_RECORD_BYTES, NAMESPACE_RECORD_BYTES, CTRL_STATE, CTRL_FAIL_REASON, CTRL_FAIL_STATUS,
  NS_CTRL, NS_NSID, NS_BLOCKS, NS_LBA_SHIFT, NS_READONLY, NS_REFUSED,
  STATE_FAILED, STATE_STOPPED,
} from "../common/abi";
import { failText } from "../common/words";
import { put, putByte, putDec, putNsName } from "../common/console";
import { fsRequest, fs64 } from "./fs-link";
import { FS_OP_PART, FSR_START, FSR_BLOCKS } from "../common/fs-abi";

const CHAR_P: u32 = 0x70;
import { putStatus } from "../common/status-words";

// One controller record and one namespace record at a time, fetched fresh for each use (a
// controller can fail or be reset between commands).
export const ctrlRecord: usize = memory.data(<i32>CONTROLLER_RECORD_BYTES, 8);
export const nsRecord: usize = memory.data(<i32>NAMESPACE_RECORD_BYTES, 8);

export function loadController(i: u32): bool {
  return describe_controller(i, ctrlRecord) == <i32>CONTROLLER_RECORD_BYTES;
}

export function loadNamespace(i: u32): bool {
  return describe_namespace(i, nsRecord) == <i32>NAMESPACE_RECORD_BYTES;
}

@inline export function ctrl32(field: u32): u32 { return load<u32>(ctrlRecord + <usize>field); }
@inline export function ctrl64(field: u32): u64 { return load<u64>(ctrlRecord + <usize>field); }
@inline export function ns32(field: u32): u32 { return load<u32>(nsRecord + <usize>field); }
@inline export function ns64(field: u32): u64 { return load<u64>(nsRecord + <usize>field); }

// The namespace now in nsRecord.
export function nsCtrl(): u32 { return ns32(NS_CTRL); }
export function nsId(): u32 { return ns32(NS_NSID); }
export function nsBlocks(): u64 { return ns64(NS_BLOCKS); }
export function nsShift(): u32 { return ns32(NS_LBA_SHIFT); }
export function nsReadonly(): bool { return ns32(NS_READONLY) != 0; }
export function nsRefused(): u32 { return ns32(NS_REFUSED); }

export function controllerCount(): u32 { return controller_count(); }
export function namespaceCount(): u32 { return namespace_count(); }

// A number in a device name, as Linux writes it: decimal digits, no leading zero (nvme0n1, never
// nvme00n1 or nvme0n01: one device, one name); -1 otherwise.
function decimal(ptr: usize, len: i32): i64 {
  if (len == 0 || len > 9 || (len > 1 && load<u8>(ptr) == 48)) return -1;
  let v: i64 = 0;
  for (let i = 0; i < len; i++) {
    const c = <i32>load<u8>(ptr + <usize>i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + <i64>(c - 48);
  }
  return v;
}

function startsWithNvme(ptr: usize, len: i32): bool {
  return len > 4 && load<u8>(ptr) == 110 && load<u8>(ptr + 1) == 118 && load<u8>(ptr + 2) == 109 && load<u8>(ptr + 3) == 101;
}

// "nvme0" -> the controller's index, with its record in ctrlRecord; -1 if there is none.
export function controllerByName(ptr: usize, len: i32): i32 {
  if (!startsWithNvme(ptr, len)) return -1;
  const ctrl = decimal(ptr + 4, len - 4);
  if (ctrl < 0 || ctrl >= <i64>controllerCount() || !loadController(<u32>ctrl)) return -1;
  return <i32>ctrl;
}

// The device a block command names: a namespace (partNumber 0, partStart 0, all its blocks) or one
// of its partitions, nvme0n1p1 (partNumber 1: LBAs from partStart, partBlocks of them). Set anew by
// every namespaceByName; commands give LBAs relative to the device and are bounded by devBlocks().
export let partNumber: u32 = 0;
export let partStart: u64 = 0;
let partBlocks: u64 = 0;
// The name was a partition that fs.wasm could not find: fsWhy() says why.
export let partFailed = false;

export function devBlocks(): u64 { return partNumber == 0 ? nsBlocks() : partBlocks; }

// nvme0n1 or nvme0n1p1: the device of the last namespaceByName.
export function putDevName(): void {
  putNsName(nsCtrl(), nsId());
  if (partNumber != 0) { putByte(CHAR_P); putDec(<u64>partNumber); }
}

// "nvme0n1" -> the namespace's index, with its record in nsRecord; -1 if there is none.
// "nvme0n1p2" -> the same, with partition 2's extent (read from the disk by fs.wasm) in part*.
export function namespaceByName(ptr: usize, len: i32): i32 {
  // Every field of the last device goes: a partition's start left behind would move the next
  // whole-namespace command's LBAs by it.
  partNumber = 0;
  partStart = 0;
  partBlocks = 0;
  partFailed = false;
  if (!startsWithNvme(ptr, len)) return -1;
  let split = -1;
  let pSplit = len;
  for (let i = 4; i < len; i++) if (load<u8>(ptr + <usize>i) == 110) { split = i; break; }
  if (split < 0) return -1;
  for (let i = split + 1; i < len; i++) if (load<u8>(ptr + <usize>i) == <u8>CHAR_P) { pSplit = i; break; }
  const ctrl = decimal(ptr + 4, split - 4);
  const nsid = decimal(ptr + <usize>(split + 1), pSplit - split - 1);
  const part = pSplit == len ? 0 : decimal(ptr + <usize>(pSplit + 1), len - pSplit - 1);
  if (ctrl < 0 || nsid <= 0 || part < 0 || (pSplit < len && part == 0)) return -1;
  const n = namespaceCount();
  for (let i: u32 = 0; i < n; i++) {
    if (loadNamespace(i) && <i64>nsCtrl() == ctrl && <i64>nsId() == nsid) {
      if (part == 0) return <i32>i;
      if (nsRefused() != 0 || !fsRequest(FS_OP_PART, i, <u32>part, 0, 0, 0, 0, 0)) { partFailed = nsRefused() == 0; return -1; }
      partNumber = <u32>part;
      partStart = fs64(FSR_START);
      partBlocks = fs64(FSR_BLOCKS);
      assert(partStart <= nsBlocks() && partBlocks <= nsBlocks() - partStart, "fs.wasm gave a partition outside its namespace");
      return <i32>i;
    }
  }
  return -1;
}

// Why the controller in ctrlRecord is not usable, in the driver's words.
export function putNotReady(): void {
  const state = ctrl32(CTRL_STATE);
  if (state == STATE_FAILED) putFailure();
  else if (state == STATE_STOPPED) put("bring-up stopped at an earlier stage");
  else put("shut down");
}

export function putFailure(): void {
  put(failText(ctrl32(CTRL_FAIL_REASON)));
  const status = ctrl32(CTRL_FAIL_STATUS);
  if (status != 0) { put(": "); putStatus(status); }
}
