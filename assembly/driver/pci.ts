// PCI configuration space: enumeration (every bus reachable through bridges, every function of
// multi-function devices), command register, capability list. PCI Local Bus Spec 3.0, 6.x.
import { pci_read32, pci_write32 } from "./imports";
import { put, putBdf, putHex, putHexDigits, putByte } from "../common/console";

// 6.1 Configuration header offsets.
export const PCI_VENDOR_DEVICE: u32 = 0x00;
export const PCI_COMMAND_STATUS: u32 = 0x04;
export const PCI_CLASS_REVISION: u32 = 0x08;  // class 31:24, subclass 23:16, prog-if 15:8
export const PCI_HEADER_TYPE_DWORD: u32 = 0x0c; // header type in bits 23:16
export const PCI_BAR0: u32 = 0x10;
// 6.2.5.1 BAR bits: 0 = I/O space; 2:1 = type (10b: 64-bit memory).
export const BAR_IO: u32 = 1;
export const BAR_TYPE_MASK: u32 = 0x6;
export const BAR_TYPE_64: u32 = 0x4;
export const PCI_BRIDGE_BUSES: u32 = 0x18;    // type 1: primary 7:0, secondary 15:8, subordinate 23:16
export const PCI_CAP_POINTER: u32 = 0x34;
export const PCI_INTERRUPT: u32 = 0x3c;       // line 7:0, pin 15:8

// 6.2.2 Command register bits.
export const PCI_CMD_MEMORY: u32 = 1 << 1;
export const PCI_CMD_BUS_MASTER: u32 = 1 << 2;
export const PCI_CMD_INTX_DISABLE: u32 = 1 << 10;
// 6.2.3 Status register bit 4 (register bit 20 of the dword): a capability list exists.
export const PCI_STATUS_CAP_LIST: u32 = 1 << 20;

export const HEADER_MULTIFUNCTION: u32 = 0x80;
export const HEADER_TYPE_BRIDGE: u32 = 0x01;

// Class codes: 01/08/02 is an NVM Express controller; 06/04 a PCI-to-PCI bridge.
export const CLASS_STORAGE: u32 = 0x01;
export const SUBCLASS_NVM: u32 = 0x08;
export const PROGIF_NVME: u32 = 0x02;
export const CLASS_BRIDGE: u32 = 0x06;
export const SUBCLASS_PCI_BRIDGE: u32 = 0x04;

// Capability ids (PCI Code and ID Assignment Spec).
export const CAP_ID_MSIX: u32 = 0x11;
export const CAP_ID_MSI: u32 = 0x05;   // PCI 3.0 section 6.8.1
export const CAP_ID_PCIE: u32 = 0x10;

export const MAX_NVME: u32 = 8;
const found: usize = memory.data(<i32>MAX_NVME * 4);
let foundCount: u32 = 0;
let skippedCount: u32 = 0; // NVMe functions beyond MAX_NVME
const scannedBuses: usize = memory.data(32); // one bit per bus number

export function bdfOf(bus: u32, dev: u32, fn: u32): u32 {
  return (bus << 8) | (dev << 3) | fn;
}

function markScanned(bus: u32): bool {
  const byte = scannedBuses + <usize>(bus >> 3);
  const bit = <u8>(<u32>1 << (bus & 7));
  const seen = (load<u8>(byte) & bit) != 0;
  store<u8>(byte, load<u8>(byte) | bit);
  return seen;
}

function scanFunction(bdf: u32, depth: u32): void {
  const cls = pci_read32(bdf, PCI_CLASS_REVISION);
  const classCode = cls >> 24;
  const subclass = (cls >> 16) & 0xff;
  const progIf = (cls >> 8) & 0xff;
  if (classCode == CLASS_STORAGE && subclass == SUBCLASS_NVM && progIf == PROGIF_NVME) {
    if (foundCount < MAX_NVME) {
      store<u32>(found + <usize>(foundCount * 4), bdf);
      foundCount++;
    } else {
      skippedCount++;
    }
    return;
  }
  const header = (pci_read32(bdf, PCI_HEADER_TYPE_DWORD) >> 16) & 0x7f;
  if (classCode == CLASS_BRIDGE && subclass == SUBCLASS_PCI_BRIDGE && header == HEADER_TYPE_BRIDGE) {
    const secondary = (pci_read32(bdf, PCI_BRIDGE_BUSES) >> 8) & 0xff;
    // Firmware numbers buses; an unconfigured bridge (secondary 0) leads nowhere we can reach.
    if (secondary != 0 && depth < 16) scanBus(secondary, depth + 1);
  }
}

function scanBus(bus: u32, depth: u32): void {
  if (markScanned(bus)) return;
  for (let dev: u32 = 0; dev < 32; dev++) {
    const id0 = pci_read32(bdfOf(bus, dev, 0), PCI_VENDOR_DEVICE);
    if ((id0 & 0xffff) == 0xffff) continue;
    const header = (pci_read32(bdfOf(bus, dev, 0), PCI_HEADER_TYPE_DWORD) >> 16) & 0xff;
    const functions: u32 = (header & HEADER_MULTIFUNCTION) != 0 ? 8 : 1;
    for (let fn: u32 = 0; fn < functions; fn++) {
      const bdf = bdfOf(bus, dev, fn);
      if ((pci_read32(bdf, PCI_VENDOR_DEVICE) & 0xffff) == 0xffff) continue;
      scanFunction(bdf, depth);
    }
  }
}

// Walks the hierarchy from bus 0, depth-first (a bridge's bus is scanned when the bridge is met, before
// the next slot), and records every NVMe function in the order met.
export function enumerate(): u32 {
  foundCount = 0;
  skippedCount = 0;
  memory.fill(scannedBuses, 0, 32);
  scanBus(0, 0);
  return foundCount;
}

export function nvmeFunction(i: u32): u32 {
  return load<u32>(found + <usize>(i * 4));
}

export function nvmeSkipped(): u32 {
  return skippedCount;
}

export function vendorId(bdf: u32): u32 {
  return pci_read32(bdf, PCI_VENDOR_DEVICE) & 0xffff;
}

export function deviceId(bdf: u32): u32 {
  return pci_read32(bdf, PCI_VENDOR_DEVICE) >> 16;
}

// Sets and clears bits of the command register (the status half is write-1-to-clear: written as 0).
export function updateCommand(bdf: u32, set: u32, clear: u32): void {
  const cmd = pci_read32(bdf, PCI_COMMAND_STATUS) & 0xffff;
  pci_write32(bdf, PCI_COMMAND_STATUS, (cmd | set) & ~clear & 0xffff);
}

// Offset of the first capability with this id, or 0. Bounded: a looping list ends the walk.
export function findCapability(bdf: u32, id: u32): u32 {
  if ((pci_read32(bdf, PCI_COMMAND_STATUS) & PCI_STATUS_CAP_LIST) == 0) return 0;
  let ptr = pci_read32(bdf, PCI_CAP_POINTER) & 0xfc;
  for (let steps = 0; steps < 48 && ptr >= 0x40; steps++) {
    const header = pci_read32(bdf, ptr);
    if ((header & 0xff) == id) return ptr;
    ptr = (header >> 8) & 0xfc;
  }
  return 0;
}

// "pci 00:04.0 nvme vid=0x1b36 did=0x0010 class=01/08/02"
export function printFunction(bdf: u32): void {
  const cls = pci_read32(bdf, PCI_CLASS_REVISION);
  put("pci ");
  putBdf(bdf);
  put(" vid=");
  putHex(<u64>vendorId(bdf), 4);
  put(" did=");
  putHex(<u64>deviceId(bdf), 4);
  put(" class=");
  putHexDigits(<u64>(cls >> 24), 2);
  putByte(47);
  putHexDigits(<u64>((cls >> 16) & 0xff), 2);
  putByte(47);
  putHexDigits(<u64>((cls >> 8) & 0xff), 2);
  // What firmware assigned, as lspci shows it; the driver itself only ever uses mmio_map's handle.
  const bar = pci_read32(bdf, PCI_BAR0);
  if ((bar & BAR_IO) == 0) {
    let addr = <u64>(bar & ~0xf);
    if ((bar & BAR_TYPE_MASK) == BAR_TYPE_64) addr |= <u64>pci_read32(bdf, PCI_BAR0 + 4) << 32;
    put(" bar0="); putHex(addr, 8);
  }
}
