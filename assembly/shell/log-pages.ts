// The shell's log page commands (docs/shell.md): `smart nvme0` and `errors nvme0`, nvme-cli's
// smart-log and error-log in the shell's key=value words. Each reads one log page through the block
// interface (OP_LOG_PAGE: Get Log Page, NVMe 1.4 section 5.14, on the controller's admin queue),
// into this client's share of the buffer memory, and decodes it here: the driver prints nothing.
import { buffer_read, identify_data } from "./client";
import { put, putLine, putDec, putHex, putCtrlName, newline } from "../common/console";
import { putStatus } from "../common/status-words";
import { OP_LOG_PAGE, LID_SMART, LID_ERROR_INFO, LOG_PAGE_BYTES_MAX, IDENTIFY_BYTES, CTRL_STATE, STATE_READY } from "../common/abi";
import { controllerByName, ctrl32, putNotReady } from "./devices";
import { wordCount, wordPtr, wordLen } from "./words";
import { run } from "./requests";
import { errorBegin, errorWord, stage } from "./io-commands";

// 5.14.1.2 SMART / Health Information (512 bytes): byte offsets. The counters are 16 bytes; their
// low 8 bytes are printed (2^64 of anything is beyond any device's life).
const SMART_BYTES: u32 = 512;
const SMART_CRITICAL_WARNING: u32 = 0;   // bits, below
const SMART_TEMPERATURE: u32 = 1;        // u16 composite temperature, kelvins
const SMART_AVAILABLE_SPARE: u32 = 3;    // %
const SMART_SPARE_THRESHOLD: u32 = 4;    // %
const SMART_PERCENTAGE_USED: u32 = 5;
const SMART_DATA_UNITS_READ: u32 = 32;   // thousands of 512-byte units
const SMART_DATA_UNITS_WRITTEN: u32 = 48;
const SMART_HOST_READS: u32 = 64;
const SMART_HOST_WRITES: u32 = 80;
const SMART_BUSY_TIME: u32 = 96;         // minutes
const SMART_POWER_CYCLES: u32 = 112;
const SMART_POWER_ON_HOURS: u32 = 128;
const SMART_UNSAFE_SHUTDOWNS: u32 = 144;
const SMART_MEDIA_ERRORS: u32 = 160;
const SMART_ERROR_ENTRIES: u32 = 176;
const WARNING_BITS: u32 = 6;             // 1.4 Figure 194: bits 5:0 defined
const KELVIN_AT_0_C: u32 = 273;          // as nvme-cli rounds it

// 5.14.1.1 Error Information: 64-byte entries, newest first; an entry with error count 0 is empty.
const ERROR_ENTRY_BYTES: u32 = 64;
const ERROR_COUNT: u32 = 0;              // u64
const ERROR_SQID: u32 = 8;               // u16
const ERROR_CID: u32 = 10;               // u16
const ERROR_STATUS: u32 = 12;            // u16: status field 15:1, phase tag 0
const ERROR_LBA: u32 = 16;               // u64
const ERROR_NSID: u32 = 24;              // u32
const IDC_ELPE: u32 = 262;               // Identify Controller: Error Log Page Entries, 0-based

function warningName(bit: u32): string {
  if (bit == 0) return "available_spare";   // below the threshold
  if (bit == 1) return "temperature";       // outside a temperature threshold
  if (bit == 2) return "reliability";       // NVM subsystem reliability degraded
  if (bit == 3) return "read_only";         // media placed in read-only mode
  if (bit == 4) return "volatile_backup";   // volatile memory backup device failed
  return "pmr_read_only";                   // persistent memory region read-only (1.4)
}

// CTRL: the controller's index, or -1 after an error line.
function controllerArgument(cmd: string): i32 {
  if (wordCount != 2) { errorBegin(cmd); put(": usage: "); put(cmd); putLine(" CTRL (a controller such as nvme0)"); return -1; }
  const c = controllerByName(wordPtr(1), wordLen(1));
  if (c < 0) { errorBegin(cmd); put(": unknown controller"); errorWord(1); newline(); return -1; }
  if (ctrl32(CTRL_STATE) != STATE_READY) {
    errorBegin(cmd); put(" ctrl="); putCtrlName(<u32>c); put(": not ready: "); putNotReady(); newline();
    return -1;
  }
  return c;
}

// Reads log page `lid` of the controller into `stage`; false after an error line.
function readLog(cmd: string, ctrl: u32, lid: u32, bytes: u32): bool {
  assert(bytes <= LOG_PAGE_BYTES_MAX, "log page: more than one request");
  const status = run(OP_LOG_PAGE, ctrl, <u64>lid, bytes, 0);
  if (status != 0) {
    errorBegin(cmd); put(" ctrl="); putCtrlName(ctrl); put(": log page "); putHex(<u64>lid, 2); put(": "); putStatus(status); newline();
    return false;
  }
  buffer_read(0, stage, bytes);
  return true;
}

@inline function u64At(off: u32): u64 { return load<u64>(stage + <usize>off); }

function putWarnings(bits: u32): void {
  put(" warnings=");
  if (bits == 0) { put("none"); return; }
  let first = true;
  for (let bit: u32 = 0; bit < WARNING_BITS; bit++) {
    if ((bits & (1 << bit)) == 0) continue;
    if (!first) put(",");
    put(warningName(bit));
    first = false;
  }
  if ((bits >> WARNING_BITS) != 0) { if (!first) put(","); put("reserved"); }
}

function putCounter(key: string, off: u32): void { put(" "); put(key); put("="); putDec(u64At(off)); }

export function cmdSmart(): void {
  const ctrl = controllerArgument("smart");
  if (ctrl < 0 || !readLog("smart", <u32>ctrl, LID_SMART, SMART_BYTES)) return;
  const warning = <u32>load<u8>(stage + <usize>SMART_CRITICAL_WARNING);
  const kelvin = <u32>load<u16>(stage + <usize>SMART_TEMPERATURE);
  put("smart ctrl="); putCtrlName(<u32>ctrl);
  put(" critical_warning="); putHex(<u64>warning, 2); putWarnings(warning);
  put(" temperature_k="); putDec(<u64>kelvin);
  put(" temperature_c=");
  if (kelvin < KELVIN_AT_0_C) { put("-"); putDec(<u64>(KELVIN_AT_0_C - kelvin)); } else putDec(<u64>(kelvin - KELVIN_AT_0_C));
  put(" available_spare="); putDec(<u64>load<u8>(stage + <usize>SMART_AVAILABLE_SPARE));
  put(" available_spare_threshold="); putDec(<u64>load<u8>(stage + <usize>SMART_SPARE_THRESHOLD));
  put(" percentage_used="); putDec(<u64>load<u8>(stage + <usize>SMART_PERCENTAGE_USED));
  putCounter("data_units_read", SMART_DATA_UNITS_READ);
  putCounter("data_units_written", SMART_DATA_UNITS_WRITTEN);
  putCounter("host_read_commands", SMART_HOST_READS);
  putCounter("host_write_commands", SMART_HOST_WRITES);
  putCounter("controller_busy_time", SMART_BUSY_TIME);
  putCounter("power_cycles", SMART_POWER_CYCLES);
  putCounter("power_on_hours", SMART_POWER_ON_HOURS);
  putCounter("unsafe_shutdowns", SMART_UNSAFE_SHUTDOWNS);
  putCounter("media_errors", SMART_MEDIA_ERRORS);
  putCounter("num_err_log_entries", SMART_ERROR_ENTRIES);
  newline();
}

// Entries the controller keeps (ELPE + 1), at most what one request reads.
function errorEntries(ctrl: u32): u32 {
  if (identify_data(ctrl, stage) != <i32>IDENTIFY_BYTES) return 1;
  const entries = <u32>load<u8>(stage + <usize>IDC_ELPE) + 1;
  const most = LOG_PAGE_BYTES_MAX / ERROR_ENTRY_BYTES;
  return entries < most ? entries : most;
}

export function cmdErrors(): void {
  const ctrl = controllerArgument("errors");
  if (ctrl < 0) return;
  const entries = errorEntries(<u32>ctrl);
  if (!readLog("errors", <u32>ctrl, LID_ERROR_INFO, entries * ERROR_ENTRY_BYTES)) return;
  let valid: u32 = 0;
  for (let i: u32 = 0; i < entries; i++) if (u64At(i * ERROR_ENTRY_BYTES + ERROR_COUNT) != 0) valid++;
  put("errors ctrl="); putCtrlName(<u32>ctrl); put(" entries="); putDec(<u64>entries); put(" valid="); putDec(<u64>valid); newline();
  for (let i: u32 = 0; i < entries; i++) {
    const e = stage + <usize>(i * ERROR_ENTRY_BYTES);
    if (load<u64>(e + <usize>ERROR_COUNT) == 0) continue;
    put("errors ctrl="); putCtrlName(<u32>ctrl);
    put(" entry="); putDec(<u64>i);
    put(" error_count="); putDec(load<u64>(e + <usize>ERROR_COUNT));
    put(" sqid="); putDec(<u64>load<u16>(e + <usize>ERROR_SQID));
    put(" cmdid="); putDec(<u64>load<u16>(e + <usize>ERROR_CID));
    put(" status=\""); putStatus(<u32>load<u16>(e + <usize>ERROR_STATUS) >> 1); put("\"");
    put(" lba="); putDec(load<u64>(e + <usize>ERROR_LBA));
    put(" nsid="); putDec(<u64>load<u32>(e + <usize>ERROR_NSID));
    newline();
  }
}
