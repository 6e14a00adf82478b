// The shell's commands that describe (docs/shell.md): help, info, stats, and what a stopped bring-up
// saw. The IO commands are io-commands.ts. Every one reaches the devices through the block interface.
import { identify_data, controller_stats } from "./client";
import { put, putLine, putDec, putHex, putBdf, putCtrlName, putNsName, putDeviceString, newline, putByte } from "../common/console";
import { refusedText } from "../common/words";
import {
  STATE_READY, STATE_STOPPED, STATE_FAILED,
  CTRL_BDF, CTRL_VID, CTRL_DID, CTRL_STATE, CTRL_STAGE, CTRL_IRQ, CTRL_VERSION, CTRL_MQES, CTRL_DSTRD, CTRL_TIMEOUT_MS,
  CTRL_MDTS_BYTES, CTRL_FLAGS, CTRL_QUEUES, CTRL_SERIAL, CTRL_MODEL, CTRL_FIRMWARE, CTRL_FLAG_IDENTIFIED,
  CTRL_FLAG_SGL, CTRL_FLAG_VWC, CTRL_FLAG_CAP, IRQ_MODE_MSIX, IRQ_MODE_MSI, IRQ_MODE_INTX, NS_METADATA,
  STAT_COMMANDS, STAT_COMPLETIONS, STAT_ERRORS, STAT_RETRIES, STAT_READ_BYTES, STAT_WRITE_BYTES, STAT_INTERRUPTS,
  STAT_POLLS, STAT_TIMEOUTS, STAT_RESETS, STAT_DEVICE_NS, STAT_DEVICE_COMMANDS, STAT_EVENTS_ARMED, STATS_RECORD_BYTES, IDENTIFY_BYTES,
} from "../common/abi";
import {
  loadController, loadNamespace, ctrl32, ctrl64, nsCtrl, nsId, nsBlocks, nsShift, nsReadonly, nsRefused,
  controllerCount, namespaceCount, putFailure, ns32, ctrlRecord,
} from "./devices";
import { hexdump } from "./hexdump";
import { stage } from "./io-commands";

// ---- help, info, stats ----

export function cmdHelp(): void {
  putLine("commands:");
  putLine("  help                          this list");
  putLine("  info                          controllers and namespaces");
  putLine("  read DEV LBA COUNT            hex dump of COUNT blocks (at most 1 MiB)");
  putLine("  crc DEV LBA COUNT             CRC-32 (zlib) of COUNT blocks");
  putLine("  fill DEV LBA COUNT SEED       write the seeded pattern");
  putLine("  verify DEV LBA COUNT SEED     check the seeded pattern");
  putLine("  zero DEV LBA COUNT            set the blocks to zeroes (Write Zeroes, else writes)");
  putLine("  trim DEV LBA COUNT            deallocate the blocks (Dataset Management)");
  putLine("  flush DEV                     flush the volatile write cache");
  putLine("  bench DEV [read|write] [BLOCKS] [QD] [IOS]   random IO, IOPS and MiB/s");
  putLine("  iochk DEV IOS SEED [QD]       random reads and writes, every block checked");
  putLine("  smart CTRL                    SMART / Health log (nvme-cli smart-log)");
  putLine("  errors CTRL                   Error Information log (nvme-cli error-log)");
  putLine("  stats                         counters per controller");
  putLine("  parts DEV                     partitions (MBR, GPT): nvme0n1p1, ...");
  putLine("  ls DEV PATH                   a FAT directory's entries, or one file");
  putLine("  cat DEV PATH                  a FAT file's bytes");
  putLine("  sum DEV PATH                  a FAT file's size and CRC-32 (zlib)");
  putLine("  poweroff                      orderly shutdown, then exit");
  putLine("DEV is a namespace such as nvme0n1 or a partition such as nvme0n1p1, CTRL a controller such as nvme0;");
  putLine("numbers are decimal or 0x-hex; a PATH with blanks goes in double quotes.");
}

function putVersion(vs: u32): void {
  putDec(<u64>(vs >> 16)); putByte(46); putDec(<u64>((vs >> 8) & 0xff)); putByte(46); putDec(<u64>(vs & 0xff));
}

function irqName(mode: u32): string {
  return mode == IRQ_MODE_MSIX ? "msix" : mode == IRQ_MODE_MSI ? "msi" : mode == IRQ_MODE_INTX ? "intx" : "poll";
}

function infoController(i: u32): void {
  const flags = ctrl32(CTRL_FLAGS);
  put("ctrl name="); putCtrlName(i);
  put(" pci="); putBdf(ctrl32(CTRL_BDF));
  put(" vid="); putHex(<u64>load<u16>(ctrlRecordField(CTRL_VID)), 4);
  put(" did="); putHex(<u64>load<u16>(ctrlRecordField(CTRL_DID)), 4);
  const state = ctrl32(CTRL_STATE);
  if (state == STATE_FAILED && (flags & CTRL_FLAG_CAP) == 0) {
    put(" state=failed reason=\""); putFailure(); put("\""); newline();
    return;
  }
  put(" version="); putVersion(ctrl32(CTRL_VERSION));
  put(" mqes="); putDec(<u64>ctrl32(CTRL_MQES));
  put(" dstrd="); putDec(<u64>ctrl32(CTRL_DSTRD));
  put(" timeout_ms="); putDec(<u64>ctrl32(CTRL_TIMEOUT_MS));
  if ((flags & CTRL_FLAG_IDENTIFIED) != 0) {
    put(" mdts_bytes="); putDec(ctrl64(CTRL_MDTS_BYTES));
    put(" sgl="); put((flags & CTRL_FLAG_SGL) != 0 ? "yes" : "no");
    put(" vwc="); put((flags & CTRL_FLAG_VWC) != 0 ? "yes" : "no");
    put(" queues="); putDec(<u64>ctrl32(CTRL_QUEUES));
    put(" model=\""); putDeviceString(ctrlRecordField(CTRL_MODEL), 40);
    put("\" serial=\""); putDeviceString(ctrlRecordField(CTRL_SERIAL), 20);
    put("\" firmware=\""); putDeviceString(ctrlRecordField(CTRL_FIRMWARE), 8);
    put("\"");
  }
  put(" irq="); put(irqName(ctrl32(CTRL_IRQ)));
  put(" state=");
  if (state == STATE_READY) put("ready");
  else if (state == STATE_STOPPED) put("stopped");
  else if (state == STATE_FAILED) { put("failed reason=\""); putFailure(); put("\""); }
  else put("shut-down");
  newline();
}

function ctrlRecordField(field: u32): usize {
  return ctrlRecord + <usize>field;
}

function infoNamespace(): void {
  put("ns name="); putNsName(nsCtrl(), nsId());
  put(" nsid="); putDec(<u64>nsId());
  const refused = nsRefused();
  const shift = nsShift();
  if (refused == 0 || shift <= 16) { put(" lba_bytes="); putDec(<u64>1 << shift); }
  put(" blocks="); putDec(nsBlocks());
  if (refused == 0) { put(" bytes="); putDec(nsBlocks() << shift); }
  put(" readonly="); put(nsReadonly() ? "yes" : "no");
  const metadata = ns32(NS_METADATA);
  if (metadata != 0) { put(" metadata_bytes="); putDec(<u64>metadata); }
  if (refused != 0) { put(" usable=no reason=\""); put(refusedText(refused)); put("\""); }
  newline();
}

export function cmdInfo(): void {
  const n = controllerCount();
  if (n == 0) putLine("info: no NVMe controller");
  for (let i: u32 = 0; i < n; i++) {
    if (!loadController(i)) continue;
    infoController(i);
    for (let k: u32 = 0; k < namespaceCount(); k++) {
      if (loadNamespace(k) && nsCtrl() == i) infoNamespace();
    }
  }
}

const statsRecord: usize = memory.data(<i32>STATS_RECORD_BYTES, 8);
function stat(field: u32): u64 { return load<u64>(statsRecord + <usize>field); }

export function cmdStats(): void {
  const n = controllerCount();
  if (n == 0) putLine("stats: no NVMe controller");
  for (let i: u32 = 0; i < n; i++) {
    if (controller_stats(i, statsRecord) != <i32>STATS_RECORD_BYTES) continue;
    put("stats ctrl="); putCtrlName(i);
    put(" commands="); putDec(stat(STAT_COMMANDS));
    put(" completions="); putDec(stat(STAT_COMPLETIONS));
    put(" errors="); putDec(stat(STAT_ERRORS));
    put(" retries="); putDec(stat(STAT_RETRIES));
    put(" bytes="); putDec(stat(STAT_READ_BYTES) + stat(STAT_WRITE_BYTES));
    put(" read_bytes="); putDec(stat(STAT_READ_BYTES));
    put(" write_bytes="); putDec(stat(STAT_WRITE_BYTES));
    put(" interrupts="); putDec(stat(STAT_INTERRUPTS));
    put(" polls="); putDec(stat(STAT_POLLS));
    put(" timeouts="); putDec(stat(STAT_TIMEOUTS));
    put(" resets="); putDec(stat(STAT_RESETS));
    put(" device_ns="); putDec(stat(STAT_DEVICE_NS));
    put(" device_commands="); putDec(stat(STAT_DEVICE_COMMANDS));
    put(" events_armed="); putDec(stat(STAT_EVENTS_ARMED));
    newline();
  }
}

// What a bring-up stopped by `stage=N` saw: for stage 2 the first 256 bytes of Identify
// Controller, then, for every stopped controller, the stage it stopped at.
export function showStoppedControllers(): void {
  for (let i: u32 = 0; i < controllerCount(); i++) {
    if (!loadController(i) || ctrl32(CTRL_STATE) != STATE_STOPPED) continue;
    const stageReached = ctrl32(CTRL_STAGE);
    if (stageReached == 2 && identify_data(i, stage) == <i32>IDENTIFY_BYTES) {
      putCtrlName(i); putLine(" identify controller, first 256 bytes:");
      hexdump(stage, 256, 0);
    }
    putCtrlName(i); put(" stopped at stage "); putDec(<u64>stageReached); newline();
  }
}
