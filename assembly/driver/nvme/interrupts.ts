// Interrupts for a controller: MSI-X (PCI 3.0 section 6.8.2) when the function has it and the host
// can route it, else plain MSI (6.8.1), else legacy INTx, else none (the driver polls). The host routes lines; the guest
// programs its own device: the MSI-X table entry, the enable bits, INTx disable, INTMC.
// Vector 0 serves the admin CQ (always vector 0, NVMe 1.4 section 3.1.1) and, unless MSI-X gives
// each IO CQ a vector of its own (attachQueueVectors), the IO CQs.
import { pci_read32, pci_write32, mmio_map, mmio_size, mmio_write32, irq_attach, irq_msi_address, irq_msi_data, ATTACH_MSIX, ATTACH_MSI, ATTACH_INTX } from "../imports";
import { findCapability, CAP_ID_MSIX, CAP_ID_MSI, updateCommand, PCI_CMD_INTX_DISABLE, PCI_INTERRUPT } from "../pci";
import { REG_INTMC } from "./registers";
import { Controller } from "./controller";
import { IRQ_AUTO, IRQ_POLL, IRQ_INTX, IRQ_MSIX, IRQ_MSI, IRQ_MODE_POLL, IRQ_MODE_INTX, IRQ_MODE_MSIX, IRQ_MODE_MSI } from "../../common/abi";
import { put, putLine, putCtrlName, putError, Text, ascii } from "../../common/console";

// 6.8.2.3 MSI-X capability: Message Control in bits 31:16 of the first dword.
const MSIX_CTRL_ENABLE: u32 = 1 << 31;        // Message Control bit 15
const MSIX_CTRL_FUNCTION_MASK: u32 = 1 << 30; // Message Control bit 14
const MSIX_TABLE_OFFSET: u32 = 4;             // Table Offset / BIR dword
const MSIX_BIR_MASK: u32 = 7;
// 6.8.2.6 Table entry: address low, address high, data, vector control (bit 0 mask).
const MSIX_ENTRY_ADDR_LO: u32 = 0;
const MSIX_ENTRY_ADDR_HI: u32 = 4;
const MSIX_ENTRY_DATA: u32 = 8;
const MSIX_ENTRY_VECTOR_CONTROL: u32 = 12;
const MSIX_ENTRY_BYTES: u32 = 16;

const MSIX_TABLE_SIZE_SHIFT: u32 = 16;         // Message Control bits 10:0: Table Size, 0-based
const MSIX_TABLE_SIZE_MASK: u32 = 0x7ff;

function setupMsix(c: Controller): bool {
  const cap = findCapability(c.bdf, CAP_ID_MSIX);
  if (cap == 0) return false;
  const header = pci_read32(c.bdf, cap);
  const tableWord = pci_read32(c.bdf, cap + MSIX_TABLE_OFFSET);
  const bir = tableWord & MSIX_BIR_MASK;
  const tableOffset = tableWord & ~MSIX_BIR_MASK;
  const handle = bir == 0 ? c.mmio : mmio_map(c.bdf, bir);
  if (handle < 0) return false;
  // The entries we program must lie inside their BAR, whatever the capability says: only those count.
  const barBytes = <u64>mmio_size(handle);
  if (<u64>tableOffset + <u64>MSIX_ENTRY_BYTES > barBytes) return false;
  const room = <u32>((barBytes - <u64>tableOffset) / <u64>MSIX_ENTRY_BYTES);
  const size = ((header >> MSIX_TABLE_SIZE_SHIFT) & MSIX_TABLE_SIZE_MASK) + 1;
  const line = irq_attach(c.bdf, ATTACH_MSIX);
  if (line < 0) return false;
  c.msixHandle = handle;
  c.msixTable = tableOffset;
  c.msixEntries = size < room ? size : room;
  // Program and unmask entry 0 while the function is masked, then enable MSI-X.
  pci_write32(c.bdf, cap, (header | MSIX_CTRL_FUNCTION_MASK) & ~MSIX_CTRL_ENABLE & 0xffff0000);
  programEntry(c, 0, line);
  pci_write32(c.bdf, cap, (header | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_FUNCTION_MASK & 0xffff0000);
  updateCommand(c.bdf, PCI_CMD_INTX_DISABLE, 0);
  useLine(c, IRQ_MODE_MSIX, line);
  return true;
}

// MSI-X table entry `entry` with the host's message for `line`, then unmasked (6.8.2.6).
function programEntry(c: Controller, entry: u32, line: i32): void {
  const at = c.msixTable + entry * MSIX_ENTRY_BYTES;
  const addr = irq_msi_address(line);
  mmio_write32(c.msixHandle, at + MSIX_ENTRY_ADDR_LO, <u32>addr);
  mmio_write32(c.msixHandle, at + MSIX_ENTRY_ADDR_HI, <u32>(addr >> 32));
  mmio_write32(c.msixHandle, at + MSIX_ENTRY_DATA, irq_msi_data(line));
  mmio_write32(c.msixHandle, at + MSIX_ENTRY_VECTOR_CONTROL, 0);
}

// Vector 0 on `line`: the admin CQ's, and every IO CQ's until attachQueueVectors gives them their own.
function useLine(c: Controller, mode: u32, line: i32): void {
  c.irqMode = mode;
  c.irqLine = line;
  c.irqMask = <u32>1 << line;
  c.vectors = 1;
}

// Once the IO queue pairs are known (stage 4, first bring-up): with MSI-X and several pairs, IO CQ
// k gets vector k and a host line of its own when the table has an entry for every CQ (a partial
// spread would leave some CQs sharing anyway); otherwise, or as soon as the host has no line left,
// the rest share vector 0. Kept across resets (a controller reset leaves the MSI-X table alone).
export function attachQueueVectors(c: Controller): void {
  for (let i: u32 = 0; i < c.ioQueues; i++) {
    c.ioQueue(i).vector = 0;
    c.ioQueue(i).irqLine = c.irqLine;
  }
  if (c.irqMode != IRQ_MODE_MSIX || c.ioQueues < 2 || c.msixEntries < c.ioQueues + 1) return;
  for (let i: u32 = 0; i < c.ioQueues; i++) {
    const line = irq_attach(c.bdf, ATTACH_MSIX);
    if (line < 0) return;
    programEntry(c, i + 1, line);
    const q = c.ioQueue(i);
    q.vector = i + 1;
    q.irqLine = line;
    c.irqMask |= <u32>1 << line;
    c.vectors++;
  }
}

// 6.8.1 MSI capability: Message Control in bits 31:16 of the first dword; then the message address,
// with a 64-bit capable function the upper address, the data (16 bits), and with per-vector masking
// the Mask Bits.
const MSI_CTRL_ENABLE: u32 = 1 << 16;         // Message Control bit 0
const MSI_CTRL_MME_MASK: u32 = 7 << 20;       // Multiple Message Enable, bits 6:4: 0 = one message
const MSI_CTRL_64BIT: u32 = 1 << 23;          // bit 7
const MSI_CTRL_MASKING: u32 = 1 << 24;        // bit 8: per-vector masking capable
const MSI_ADDRESS: u32 = 4;
const MSI_ADDRESS_UPPER: u32 = 8;             // 64-bit capable only
const MSI_DATA_32: u32 = 8;
const MSI_DATA_64: u32 = 12;
const MSI_MASK_32: u32 = 12;
const MSI_MASK_64: u32 = 16;

// Plain MSI, one message (MME = 0): every CQ on vector 0. A host address above 4 GiB cannot go into
// a 32-bit capability: then no MSI. Vector 0 is unmasked in the capability (when it can mask) and
// in INTMC (NVMe 1.4 section 3.1.4: INTMS/INTMC mask MSI vectors too).
function setupMsi(c: Controller): bool {
  const cap = findCapability(c.bdf, CAP_ID_MSI);
  if (cap == 0) return false;
  const header = pci_read32(c.bdf, cap);
  const is64 = (header & MSI_CTRL_64BIT) != 0;
  const line = irq_attach(c.bdf, ATTACH_MSI);
  if (line < 0) return false;
  const addr = irq_msi_address(line);
  if (!is64 && (addr >> 32) != 0) return false;
  pci_write32(c.bdf, cap, header & ~(MSI_CTRL_ENABLE | MSI_CTRL_MME_MASK) & 0xffff0000);
  pci_write32(c.bdf, cap + MSI_ADDRESS, <u32>addr);
  if (is64) pci_write32(c.bdf, cap + MSI_ADDRESS_UPPER, <u32>(addr >> 32));
  pci_write32(c.bdf, cap + (is64 ? MSI_DATA_64 : MSI_DATA_32), irq_msi_data(line));
  if ((header & MSI_CTRL_MASKING) != 0) pci_write32(c.bdf, cap + (is64 ? MSI_MASK_64 : MSI_MASK_32), 0);
  pci_write32(c.bdf, cap, (header | MSI_CTRL_ENABLE) & ~MSI_CTRL_MME_MASK & 0xffff0000);
  updateCommand(c.bdf, PCI_CMD_INTX_DISABLE, 0);
  mmio_write32(c.mmio, REG_INTMC, 1);
  useLine(c, IRQ_MODE_MSI, line);
  return true;
}

// The irq= word of a mode, for the bring-up line.
export function irqWord(mode: u32): Text {
  if (mode == IRQ_MODE_MSIX) return ascii("msix");
  if (mode == IRQ_MODE_MSI) return ascii("msi");
  return mode == IRQ_MODE_INTX ? ascii("intx") : ascii("poll");
}

function setupIntx(c: Controller): bool {
  const pin = (pci_read32(c.bdf, PCI_INTERRUPT) >> 8) & 0xff;
  if (pin == 0) return false;
  const line = irq_attach(c.bdf, ATTACH_INTX);
  if (line < 0) return false;
  updateCommand(c.bdf, 0, PCI_CMD_INTX_DISABLE);
  // 3.1.4: clear the mask of vector 0 (INTMS/INTMC are only for INTx and MSI, never MSI-X).
  mmio_write32(c.mmio, REG_INTMC, 1);
  useLine(c, IRQ_MODE_INTX, line);
  return true;
}

// `preference` is start's irq option (IRQ_AUTO, IRQ_POLL, IRQ_INTX, IRQ_MSIX of common/abi.ts).
// A mode asked for by name that cannot be had is an error line; the controller then polls.
export function setupInterrupts(c: Controller, preference: u32): void {
  c.irqMode = IRQ_MODE_POLL;
  c.irqLine = -1;
  c.irqMask = 0;
  c.vectors = 0;
  if (preference == IRQ_POLL) return;
  const any = preference == IRQ_AUTO;
  if ((any || preference == IRQ_MSIX) && setupMsix(c)) return;
  if ((any || preference == IRQ_MSI) && setupMsi(c)) return;
  if ((any || preference == IRQ_INTX) && setupIntx(c)) return;
  if (any) return;
  putError(); putCtrlName(c.index);
  put(": irq="); put(irqWord(preference == IRQ_MSIX ? IRQ_MODE_MSIX : preference == IRQ_MSI ? IRQ_MODE_MSI : IRQ_MODE_INTX));
  put(" asked for, but the function has no ");
  put(preference == IRQ_MSIX ? "MSI-X" : preference == IRQ_MSI ? "MSI" : "INTx pin");
  putLine(" the host can route; polling instead");
}
