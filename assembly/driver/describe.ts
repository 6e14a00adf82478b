// The describe records: what the driver found, in the layouts of common/abi.ts, written into a
// record area of this module's memory that the host copies out (to a client, or to its own use).
import { Controller } from "./nvme/controller";
import { Namespace } from "./nvme/namespace";
import { vendorId, deviceId } from "./pci";
import { CAP_DSTRD_MASK } from "./nvme/registers";
import { IDC_SN, IDC_MN, IDC_FR } from "./nvme/registers";
import {
  CTRL_INDEX, CTRL_BDF, CTRL_VID, CTRL_DID, CTRL_STATE, CTRL_STAGE, CTRL_IRQ, CTRL_VERSION, CTRL_MQES,
  CTRL_DSTRD, CTRL_TIMEOUT_MS, CTRL_MDTS_BYTES, CTRL_MAX_TRANSFER, CTRL_FLAGS, CTRL_QUEUES, CTRL_IO_ENTRIES,
  CTRL_NAMESPACES, CTRL_FAIL_REASON, CTRL_FAIL_STATUS, CTRL_ONCS, CTRL_IO_QUEUES, CTRL_VECTORS, CTRL_SERIAL, CTRL_MODEL, CTRL_FIRMWARE,
  CONTROLLER_RECORD_BYTES, CTRL_FLAG_IDENTIFIED, CTRL_FLAG_SGL, CTRL_FLAG_VWC, CTRL_FLAG_CAP,
  NS_CTRL, NS_NSID, NS_BLOCKS, NS_LBA_SHIFT, NS_METADATA, NS_READONLY, NS_REFUSED, NS_FORMAT, NAMESPACE_RECORD_BYTES,
  STAT_COMMANDS, STAT_COMPLETIONS, STAT_ERRORS, STAT_RETRIES, STAT_READ_BYTES, STAT_WRITE_BYTES, STAT_INTERRUPTS,
  STAT_POLLS, STAT_TIMEOUTS, STAT_RESETS, STAT_DEVICE_NS, STAT_DEVICE_COMMANDS, STAT_EVENTS_ARMED, STATS_RECORD_BYTES,
} from "../common/abi";

const record: usize = memory.data(256, 16);

export function fillController(c: Controller): usize {
  memory.fill(record, 0, <usize>CONTROLLER_RECORD_BYTES);
  store<u32>(record + <usize>CTRL_INDEX, c.index);
  store<u32>(record + <usize>CTRL_BDF, c.bdf);
  store<u16>(record + <usize>CTRL_VID, <u16>vendorId(c.bdf));
  store<u16>(record + <usize>CTRL_DID, <u16>deviceId(c.bdf));
  store<u32>(record + <usize>CTRL_STATE, c.state);
  store<u32>(record + <usize>CTRL_STAGE, c.stage);
  store<u32>(record + <usize>CTRL_IRQ, c.irqMode);
  store<u32>(record + <usize>CTRL_VERSION, c.version);
  store<u32>(record + <usize>CTRL_MQES, c.mqes == 0 ? 0 : c.mqes - 1);
  store<u32>(record + <usize>CTRL_DSTRD, c.strideBytes == 0 ? 0 : <u32>(ctz(c.strideBytes) - 2) & <u32>CAP_DSTRD_MASK);
  store<u32>(record + <usize>CTRL_TIMEOUT_MS, c.timeoutMs);
  store<u64>(record + <usize>CTRL_MDTS_BYTES, c.mdtsBytes);
  store<u32>(record + <usize>CTRL_MAX_TRANSFER, c.maxCommandBytes);
  const identified = c.maxCommandBytes != 0;
  store<u32>(record + <usize>CTRL_FLAGS, (identified ? CTRL_FLAG_IDENTIFIED : 0) | (c.sgl != 0 ? CTRL_FLAG_SGL : 0) | (c.vwc != 0 ? CTRL_FLAG_VWC : 0) | (c.mqes != 0 ? CTRL_FLAG_CAP : 0));
  store<u32>(record + <usize>CTRL_QUEUES, c.queuesGranted);
  store<u32>(record + <usize>CTRL_IO_ENTRIES, c.ioEntries);
  store<u32>(record + <usize>CTRL_NAMESPACES, c.namespaces);
  store<u32>(record + <usize>CTRL_FAIL_REASON, c.failReason);
  store<u32>(record + <usize>CTRL_FAIL_STATUS, c.failStatus);
  store<u32>(record + <usize>CTRL_ONCS, c.oncs);
  store<u32>(record + <usize>CTRL_IO_QUEUES, c.ioQueues);
  store<u32>(record + <usize>CTRL_VECTORS, c.vectors);
  if (identified) {
    memory.copy(record + <usize>CTRL_SERIAL, c.idctrl + <usize>IDC_SN, 20);
    memory.copy(record + <usize>CTRL_MODEL, c.idctrl + <usize>IDC_MN, 40);
    memory.copy(record + <usize>CTRL_FIRMWARE, c.idctrl + <usize>IDC_FR, 8);
  }
  return record;
}

export function fillNamespace(ns: Namespace): usize {
  memory.fill(record, 0, <usize>NAMESPACE_RECORD_BYTES);
  store<u32>(record + <usize>NS_CTRL, ns.ctrl);
  store<u32>(record + <usize>NS_NSID, ns.nsid);
  store<u64>(record + <usize>NS_BLOCKS, ns.blocks);
  store<u32>(record + <usize>NS_LBA_SHIFT, ns.lbaShift);
  store<u32>(record + <usize>NS_METADATA, ns.metadataBytes);
  store<u32>(record + <usize>NS_READONLY, ns.readonly);
  store<u32>(record + <usize>NS_REFUSED, ns.refused);
  store<u32>(record + <usize>NS_FORMAT, ns.lbaFormat);
  return record;
}

export function fillStats(c: Controller): usize {
  memory.fill(record, 0, <usize>STATS_RECORD_BYTES);
  store<u64>(record + <usize>STAT_COMMANDS, c.commands);
  store<u64>(record + <usize>STAT_COMPLETIONS, c.completions);
  store<u64>(record + <usize>STAT_ERRORS, c.errors);
  store<u64>(record + <usize>STAT_RETRIES, c.retries);
  store<u64>(record + <usize>STAT_READ_BYTES, c.bytesRead);
  store<u64>(record + <usize>STAT_WRITE_BYTES, c.bytesWritten);
  store<u64>(record + <usize>STAT_INTERRUPTS, c.interrupts);
  store<u64>(record + <usize>STAT_POLLS, c.polls);
  store<u64>(record + <usize>STAT_TIMEOUTS, c.timeouts);
  store<u64>(record + <usize>STAT_RESETS, c.resets);
  store<u64>(record + <usize>STAT_DEVICE_NS, c.deviceNs);
  store<u64>(record + <usize>STAT_DEVICE_COMMANDS, c.deviceCommands);
  store<u64>(record + <usize>STAT_EVENTS_ARMED, <u64>c.aerArmed);
  return record;
}
