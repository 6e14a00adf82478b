// What the host refuses of the driver's MMIO writes, beyond offsets outside a BAR (docs/abi.md, "Rules
// the hosts enforce"): values that would make a device write outside the driver's DMA window without
// any DMA the host can see. The bare-metal host (boot/host.c) refuses the same writes with the same
// words. Each refusal is a GuestTrap: the write is not performed and the driver is stopped.
//
//   - an MSI-X table entry's message address or data other than what irq_msi_address/irq_msi_data
//     handed out for one of the function's MSI-X lines (an MSI-X message is a memory write: a bad
//     address is a write anywhere);
//   - CC.EN set on an NVMe controller whose admin queues (ASQ, ACQ, sized by AQA) are not inside the
//     window (the controller fetches and posts there from then on);
//   - BPMBL, CMBMSC or PMRMSC of an NVMe controller set to anything but 0 (base registers the driver
//     never needs, each naming host memory for the controller);
//   - and in configuration space, a plain MSI capability's message address (low or high dword) or
//     data other than what irq_msi_address/irq_msi_data handed out for one of the function's MSI
//     lines (irq_attach mode 2): an MSI message is a memory write. Message Control, Mask Bits and
//     Pending Bits are free.
import { CFG, bdfName } from "./pci.js";

const CAP_ID_MSIX = 0x11;
const CAP_ID_MSI = 0x05;
const MSI_CAP_BYTES = 24; // the largest MSI capability: 64-bit address and per-vector masking
const MSI_CTRL_64BIT = 1 << 23; // Message Control bit 7, in the capability's first dword
const NVME_CLASS = 0x010802;
const REG_CC = 0x14;
const REG_AQA = 0x24;
const REG_ASQ = 0x28;
const REG_ACQ = 0x30;
const CC_EN = 1;
const BASE_REGISTERS = new Map([
  [0x48, "BPMBL"],
  [0x4c, "BPMBL"],
  [0x50, "CMBMSC"],
  [0x54, "CMBMSC"],
  [0xe14, "PMRMSC"],
  [0xe18, "PMRMSC"],
]);
const MSIX_ENTRY_BYTES = 16;
const MSIX_FIELDS = ["message address low", "message address high", "message data"];

const hex32 = (v) => "0x" + (v >>> 0).toString(16).padStart(8, "0");
const hex64 = (v) => "0x" + BigInt.asUintN(64, BigInt(v)).toString(16).padStart(16, "0");

// The offset of the function's first capability with this id, or 0 (a looping list ends the walk).
export function capability(func, id) {
  if (!((func.configRead32(CFG.COMMAND) >>> 16) & 0x10)) return 0;
  let p = func.configRead32(CFG.CAP_PTR) & 0xfc;
  for (let i = 0; p >= 0x40 && i < 48; i++) {
    const header = func.configRead32(p) >>> 0;
    if ((header & 0xff) === id) return p;
    p = (header >>> 8) & 0xfc;
  }
  return 0;
}

// The function's MSI-X table, { bar, start, end }, or null (PCI 3.0 section 6.8.2).
export function msixTable(func) {
  const p = capability(func, CAP_ID_MSIX);
  if (!p) return null;
  const entries = ((func.configRead32(p) >>> 16) & 0x7ff) + 1;
  const table = func.configRead32(p + 4) >>> 0;
  const start = table & ~7;
  return { bar: table & 7, start, end: start + entries * MSIX_ENTRY_BYTES };
}

// Throws `trap(message)` for a configuration write of a plain MSI capability's message address or
// data (PCI 3.0 section 6.8.1) that the host did not hand out for one of the function's MSI lines.
export function guardConfigWrite(func, bdf, off, value, trap, machine) {
  const p = capability(func, CAP_ID_MSI);
  if (!p || off < p || off >= p + MSI_CAP_BYTES) return;
  const is64 = (func.configRead32(p) & MSI_CTRL_64BIT) !== 0;
  const field = off === p + 4 ? 0 : off === p + 8 ? (is64 ? 1 : 2) : off === p + 12 && is64 ? 2 : -1;
  if (field < 0) return; // Message Control, Mask Bits, Pending Bits
  const want = (n) =>
    field === 0
      ? Number(machine.msiAddressOf(n) & 0xffff_ffffn)
      : field === 1
        ? Number(machine.msiAddressOf(n) >> 32n)
        : machine.msiDataOf(n);
  for (let n = 0; n < machine.lines.length; n++) {
    const l = machine.lines[n];
    if (l && l.mode === "msi" && l.func === func && want(n) >>> 0 === value >>> 0) return;
  }
  throw trap(
    `msi: ${bdfName(bdf)} ${MSIX_FIELDS[field]} ${hex32(value)} at offset 0x${off.toString(16).padStart(2, "0")} of its MSI capability is not one the host handed out`,
  );
}

// Throws `trap(message)` when the write must be refused; `m` is the machine's mapping of the BAR.
export function guardMmioWrite(machine, m, off, value, trap) {
  const where = bdfName(m.bdf);
  m.msix ??= { table: msixTable(m.func) };
  const t = m.msix.table;
  if (t && m.bar === t.bar && off >= t.start && off < t.end) {
    const field = ((off - t.start) % MSIX_ENTRY_BYTES) / 4;
    if (field < 3 && !handedOut(machine, m.func, field, value)) {
      const entry = Math.floor((off - t.start) / MSIX_ENTRY_BYTES);
      throw trap(
        `msi-x: ${where} table entry ${entry}: ${MSIX_FIELDS[field]} ${hex32(value)} is not one the host handed out`,
      );
    }
  }
  if (m.bar !== 0 || m.func.configRead32(CFG.CLASS) >>> 8 !== NVME_CLASS) return;
  const name = BASE_REGISTERS.get(off);
  if (name && value !== 0)
    throw trap(`nvme: ${where} write of ${hex32(value)} to ${name} refused: only 0 (disabled) is allowed`);
  if (off === REG_CC && value & CC_EN && !(m.func.mmioRead32(0, REG_CC) & CC_EN))
    checkAdminQueues(machine, m, where, trap);
}

// The dword `field` (0 address low, 1 address high, 2 data) of a message the host gave the function.
function handedOut(machine, func, field, value) {
  for (let n = 0; n < machine.lines.length; n++) {
    const l = machine.lines[n];
    if (!l || l.mode !== "msix" || l.func !== func) continue;
    const address = machine.msiAddressOf(n);
    const want =
      field === 0 ? Number(address & 0xffff_ffffn) : field === 1 ? Number(address >> 32n) : machine.msiDataOf(n);
    if (want >>> 0 === value >>> 0) return true;
  }
  return false;
}

function checkAdminQueues(machine, m, where, trap) {
  const read64 = (reg) =>
    BigInt(m.func.mmioRead32(0, reg) >>> 0) | (BigInt(m.func.mmioRead32(0, reg + 4) >>> 0) << 32n);
  const aqa = m.func.mmioRead32(0, REG_AQA) >>> 0;
  const rings = [
    ["ASQ", read64(REG_ASQ), ((aqa & 0xfff) + 1) * 64],
    ["ACQ", read64(REG_ACQ), (((aqa >>> 16) & 0xfff) + 1) * 16],
  ];
  for (const [name, base, bytes] of rings) {
    if (!machine.inDmaWindow(base, bytes))
      throw trap(`nvme: ${where} CC.EN=1 with ${name} ${hex64(base)} (+${bytes} bytes) outside the DMA window`);
  }
}
