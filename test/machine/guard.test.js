// The host's refusals of MMIO writes that would make a device write outside the driver's window
// (host/guard.js; boot/host.c refuses the same with the same words): exercised through the env
// imports, as a hostile driver would call them, against the NVMe controller model.
import { describe, it, expect } from "vitest";
import { buildMachine } from "../../host/sim.js";
import { DMA_BASE, Machine } from "../../host/machine.js";
import { PciFunction } from "../../host/pci.js";

const BDF = 4 << 3; // 00:04.0, the first controller
const u32 = (v) => v >>> 0;

async function setup() {
  const { machine } = await buildMachine({ disks: ["mem:1M"], stdout: null, stderr: null });
  machine.firmware();
  const e = machine.imports().env;
  e.pci_read32(BDF, 0); // claim the function, as enumeration does
  e.pci_write32(BDF, 4, u32(e.pci_read32(BDF, 4)) | 6);
  return { machine, e, bar0: e.mmio_map(BDF, 0) };
}

// The MSI-X table of 00:04.0 as its capability says: [handle, offset of entry 0].
function msixTable(e) {
  let p = u32(e.pci_read32(BDF, 0x34)) & 0xfc;
  for (let i = 0; i < 48 && p; i++) {
    const h = u32(e.pci_read32(BDF, p));
    if ((h & 0xff) === 0x11) {
      const t = u32(e.pci_read32(BDF, p + 4));
      return [e.mmio_map(BDF, t & 7), t & ~7];
    }
    p = (h >>> 8) & 0xfc;
  }
  throw new Error("no MSI-X capability");
}

describe("the host refuses what would aim a device outside the window", () => {
  it("irq_msi_address / irq_msi_data only for this guest's MSI-X and MSI lines", async () => {
    const { e } = await setup();
    expect(() => e.irq_msi_address(3)).toThrow(
      "irq: irq_msi_address of line 3: not an MSI-X or MSI line of this guest",
    );
    const intx = e.irq_attach(BDF, 0);
    expect(() => e.irq_msi_data(intx)).toThrow(
      `irq: irq_msi_data of line ${intx}: not an MSI-X or MSI line of this guest`,
    );
    expect(() => e.irq_msi_data(-1)).toThrow("irq: irq_msi_data of line -1: not an MSI-X or MSI line of this guest");
  });

  it("irq_attach: INTx one line per function, MSI-X a new line per call (a vector each), MSI -1 without the capability", async () => {
    const { e } = await setup();
    expect(e.irq_attach(BDF, 0)).toBe(e.irq_attach(BDF, 0));
    const a = e.irq_attach(BDF, 1),
      b = e.irq_attach(BDF, 1);
    expect(b).not.toBe(a);
    expect(e.irq_msi_data(b)).not.toBe(e.irq_msi_data(a));
    expect(e.irq_attach(BDF, 2)).toBe(-1); // the qemu profile has MSI-X, not MSI
    expect(e.irq_attach(BDF, 3)).toBe(-1);
  });

  it("an MSI-X table entry takes only the message address and data the host handed out", async () => {
    const { e } = await setup();
    const line = e.irq_attach(BDF, 1);
    const address = BigInt.asUintN(64, e.irq_msi_address(line));
    const data = u32(e.irq_msi_data(line));
    const [h, t] = msixTable(e);
    expect(() => e.mmio_write32(h, t + 16, 0x0010_0000)).toThrow(
      "msi-x: 00:04.0 table entry 1: message address low 0x00100000 is not one the host handed out",
    );
    expect(() => e.mmio_write32(h, t + 4, 1)).toThrow(
      "msi-x: 00:04.0 table entry 0: message address high 0x00000001 is not one the host handed out",
    );
    expect(() => e.mmio_write32(h, t + 8, data + 1)).toThrow(
      `msi-x: 00:04.0 table entry 0: message data 0x${(data + 1).toString(16).padStart(8, "0")} is not one the host handed out`,
    );
    e.mmio_write32(h, t, Number(address & 0xffff_ffffn));
    e.mmio_write32(h, t + 4, Number(address >> 32n));
    e.mmio_write32(h, t + 8, data);
    e.mmio_write32(h, t + 12, 0); // vector control: free
    e.mmio_write32(h, t + 12, 1);
  });

  it("CC.EN is refused while ASQ or ACQ lies outside the window", async () => {
    const { machine, e, bar0 } = await setup();
    const size = BigInt(machine.memory.buffer.byteLength);
    const set64 = (reg, v) => {
      e.mmio_write32(bar0, reg, Number(v & 0xffff_ffffn));
      e.mmio_write32(bar0, reg + 4, Number(v >> 32n));
    };
    e.mmio_write32(bar0, 0x24, (31 << 16) | 31); // AQA: 32 entries each
    set64(0x28, DMA_BASE + size - 1024n); // ASQ: 2 KiB ring, only 1 KiB of window left
    set64(0x30, DMA_BASE + 0x2000n);
    expect(() => e.mmio_write32(bar0, 0x14, 0x460001)).toThrow(
      `nvme: 00:04.0 CC.EN=1 with ASQ 0x${(DMA_BASE + size - 1024n).toString(16).padStart(16, "0")} (+2048 bytes) outside the DMA window`,
    );
    set64(0x28, DMA_BASE + 0x1000n);
    set64(0x30, 0x1000n); // ACQ: not a window address at all
    expect(() => e.mmio_write32(bar0, 0x14, 0x460001)).toThrow(
      "nvme: 00:04.0 CC.EN=1 with ACQ 0x0000000000001000 (+512 bytes) outside the DMA window",
    );
    set64(0x30, DMA_BASE + 0x2000n);
    e.mmio_write32(bar0, 0x14, 0x460001); // inside: enabled
    e.mmio_write32(bar0, 0x14, 0x460001); // EN already set: not checked again
  });

  it("BPMBL, CMBMSC and PMRMSC take only 0", async () => {
    const { e, bar0 } = await setup();
    for (const [off, name] of [
      [0x48, "BPMBL"],
      [0x54, "CMBMSC"],
      [0xe14, "PMRMSC"],
    ]) {
      expect(() => e.mmio_write32(bar0, off, 0x1000)).toThrow(
        `nvme: 00:04.0 write of 0x00001000 to ${name} refused: only 0 (disabled) is allowed`,
      );
      e.mmio_write32(bar0, off, 0);
    }
  });
});

describe("configuration space", () => {
  it("a plain MSI capability takes only the message of an MSI line the host handed out; a bridge's memory windows are kept where firmware put them", async () => {
    const m = new Machine({ stdout: null, stderr: null });
    const f = new PciFunction({ vendor: 0x8086, device: 0x1234, classCode: 0x010601, name: "msi-device" });
    f.view.setUint16(0x06, 0x10, true); // a capability list
    f.space[0x34] = 0x50;
    f.view.setUint32(0x50, 0x05, true); // MSI, end of list
    m.addFunction(f, { dev: 5 });
    const br = m.addBridge({ dev: 6 });
    m.firmware();
    const e = m.imports().env;
    const bdf = 5 << 3,
      bridge = 6 << 3;
    e.pci_read32(bdf, 0);
    expect(() => e.pci_write32(bdf, 0x54, 0x00100000)).toThrow(
      "msi: 00:05.0 message address low 0x00100000 at offset 0x54 of its MSI capability is not one the host handed out",
    );
    expect(() => e.pci_write32(bdf, 0x58, 0x41)).toThrow(
      "msi: 00:05.0 message data 0x00000041 at offset 0x58 of its MSI capability is not one the host handed out",
    ); // 32-bit: data at +8
    e.pci_write32(bdf, 0x50, 0x00010005); // Message Control: free
    const line = e.irq_attach(bdf, 2);
    expect(line).toBeGreaterThanOrEqual(0);
    const address = BigInt.asUintN(64, e.irq_msi_address(line));
    e.pci_write32(bdf, 0x54, Number(address & 0xffffffffn)); // the handed-out message: accepted
    e.pci_write32(bdf, 0x58, e.irq_msi_data(line));
    expect(() => e.pci_write32(bdf, 0x58, e.irq_msi_data(line) + 1)).toThrow(
      /message data .* is not one the host handed out/,
    );
    e.pci_read32(bridge, 0);
    const window = u32(br.configRead32(0x20));
    e.pci_write32(bridge, 0x20, 0x0000ffff);
    expect(u32(br.configRead32(0x20))).toBe(window);
    expect(m.refusedConfigWrites.at(-1).why).toMatch(/ignored/);
  });
});
