// Interrupts: MSI-X (table, masks, PBA) and INTx (level, INTMS/INTMC, the INTx-disable bit).
import { describe, it, expect } from "vitest";
import { TestDriver, BAR0 } from "./harness.js";
import { REG } from "../../host/nvme/constants.js";

function msixSetup(profile = "qemu") {
  const d = new TestDriver({ profile });
  const capAt = 0x50;
  const tableReg = d.ctrl.configRead32(capAt + 4);
  const pbaReg = d.ctrl.configRead32(capAt + 8);
  const bar = tableReg & 7;
  const table = tableReg & ~7;
  const pba = pbaReg & ~7;
  d.ctrl.configWrite32(capAt, 0x8000 << 16); // Message Control: MSI-X enable
  const entry = (v, { addr = 0xfee00000 + v * 0x1000, data = 0x40 + v, masked = false } = {}) => {
    d.w32(table + v * 16, addr, bar);
    d.w32(table + v * 16 + 4, 0, bar);
    d.w32(table + v * 16 + 8, data, bar);
    d.w32(table + v * 16 + 12, masked ? 1 : 0, bar);
  };
  return { d, bar, table, pba, entry, capAt };
}

describe("MSI-X", () => {
  it.each(["qemu", "strict"])("%s: a completion on a CQ with IEN sends its vector's message", (profile) => {
    const { d, entry } = msixSetup(profile);
    entry(0);
    entry(1);
    d.enable();
    expect(d.host.msi).toHaveLength(0); // nothing completed yet
    d.admin({ opcode: 0x0a, cdw10: 0x07 });
    expect(d.host.msi.map((m) => m.data)).toEqual([0x40]); // admin CQ uses vector 0
    const q = d.createQueuePair(1, 8, { vector: 1 });
    d.host.msi.length = 0;
    d.cmd(q, { opcode: 0x00, nsid: 1 });
    expect(d.host.msi).toHaveLength(1);
    expect(d.host.msi[0]).toMatchObject({ address: 0xfee01000n, data: 0x41 });
    expect(d.ctrl.stats.msix).toBeGreaterThan(1);
    expect(d.host.intx).toBe(false);
  });

  it("entries start masked (vector control bit 0 = 1 after reset)", () => {
    const { d, bar, table } = msixSetup();
    expect(d.r32(table + 12, bar)).toBe(1);
    expect(d.r32(table + 16 * 64 + 12, bar)).toBe(1);
  });

  it("a masked vector sets its PBA bit instead, and fires when unmasked", () => {
    const { d, bar, table, pba, entry } = msixSetup();
    entry(0);
    entry(2, { masked: true });
    d.enable();
    const q = d.createQueuePair(1, 8, { vector: 2 });
    d.host.msi.length = 0;
    d.submit(q, { opcode: 0x00, nsid: 1 });
    d.settle();
    expect(d.host.msi).toHaveLength(0);
    expect(d.r32(pba, bar)).toBe(1 << 2);
    d.w32(table + 2 * 16 + 12, 0, bar); // unmask
    expect(d.host.msi).toHaveLength(1);
    expect(d.host.msi[0].data).toBe(0x42);
    expect(d.r32(pba, bar)).toBe(0);
  });

  it("the function mask (Message Control bit 14) holds every vector pending", () => {
    const { d, entry, capAt } = msixSetup();
    entry(0);
    d.ctrl.configWrite32(capAt, 0xc000 << 16); // enable + function mask
    d.enable();
    d.submit(d.aq, { opcode: 0x0a, cdw10: 0x07 });
    d.settle();
    expect(d.host.msi).toHaveLength(0);
    d.ctrl.configWrite32(capAt, 0x8000 << 16);
    expect(d.host.msi).toHaveLength(1);
  });

  it("a vector with address 0 (never programmed) is a violation", () => {
    const { d, table } = msixSetup();
    d.w32(table + 12, 0); // unmask vector 0 without an address
    d.enable();
    d.submit(d.aq, { opcode: 0x0a, cdw10: 0x07 });
    d.settle();
    expect(d.ctrl.violations.join("\n")).toMatch(/MSI-X vector 0 fired with message address 0/);
  });

  it("INTMS/INTMC must not be used while MSI-X is enabled", () => {
    const { d } = msixSetup();
    d.w32(REG.INTMS, 1);
    expect(d.ctrl.violations.at(-1)).toMatch(/INTMS while MSI-X is enabled/);
  });

  it("a write to the PBA is recorded; the table of the strict profile is in BAR4, not BAR0", () => {
    const { d, bar, pba } = msixSetup("strict");
    expect(bar).toBe(4);
    d.w32(pba, 1, 4);
    expect(d.ctrl.violations.at(-1)).toMatch(/PBA/);
    expect(d.ctrl.bars.find((b) => b.index === 4).size).toBeGreaterThanOrEqual(0x1000);
    void BAR0;
  });
});

describe("INTx", () => {
  it("asserted while an IEN CQ has entries the host has not consumed; deasserted when the head doorbell catches up", () => {
    const d = new TestDriver({ profile: "legacy" });
    d.enable();
    const aq = d.aq;
    const cid = d.submit(aq, { opcode: 0x0a, cdw10: 0x07 });
    d.settle();
    expect(d.host.intx).toBe(true);
    expect((d.ctrl.configRead32(4) >>> 16) & 0x08).toBe(0x08); // PCI status: interrupt status
    const es = d.reap(aq);
    expect(es[0].cid).toBe(cid);
    d.run(10_000);
    expect(d.host.intx).toBe(true); // reaping alone does not lower it
    d.ringCq(aq);
    expect(d.host.intx).toBe(false);
    expect((d.ctrl.configRead32(4) >>> 16) & 0x08).toBe(0);
  });

  it("INTMS masks the pin, INTMC unmasks it", () => {
    const d = new TestDriver({ profile: "legacy" });
    d.enable();
    d.submit(d.aq, { opcode: 0x0a, cdw10: 0x07 });
    d.settle();
    expect(d.host.intx).toBe(true);
    d.w32(REG.INTMS, 1);
    expect(d.host.intx).toBe(false);
    expect(d.r32(REG.INTMS)).toBe(1);
    d.w32(REG.INTMC, 1);
    expect(d.host.intx).toBe(true);
    expect(d.r32(REG.INTMC)).toBe(0);
  });

  it("the command register INTx-disable bit keeps the pin low", () => {
    const d = new TestDriver({ profile: "legacy" });
    d.ctrl.configWrite32(4, 0x0406);
    d.enable();
    d.submit(d.aq, { opcode: 0x0a, cdw10: 0x07 });
    d.settle();
    expect(d.host.intx).toBe(false);
    d.ctrl.configWrite32(4, 0x0006);
    expect(d.host.intx).toBe(true);
  });

  it("a CQ created without IEN never raises the pin", () => {
    const d = new TestDriver({ profile: "legacy" });
    d.enable();
    const q = d.createQueuePair(1, 8, { ien: false });
    d.submit(q, { opcode: 0x00, nsid: 1 });
    d.settle();
    expect(d.reap(q)).toHaveLength(1);
    expect(d.host.intx).toBe(false);
  });

  it("legacy (no MSI-X): a CQ with interrupt vector 1 -> Invalid Interrupt Vector", () => {
    const d = new TestDriver({ profile: "legacy" });
    d.enable();
    expect(() => d.createQueuePair(1, 8, { vector: 1 })).toThrow(/sc 8/);
  });
});

// Plain MSI (PCI 3.0 §6.8.1) on the msi-only profile: the capability at PCI.MSI_CAP (0xa0), 64-bit
// address, per-vector masking: control, address, upper address, data, mask bits, pending bits.
describe("MSI (msi-only profile)", () => {
  const CAP = 0xa0;
  function msiSetup({ enable = true, profile = "msi-only", overrides } = {}) {
    const d = new TestDriver({ profile, overrides });
    if (enable) {
      d.ctrl.configWrite32(CAP + 4, 0xfee00000);
      d.ctrl.configWrite32(CAP + 8, 0);
      d.ctrl.configWrite32(CAP + 12, 0x45);
      d.ctrl.configWrite32(CAP + 16, 0); // unmasked
      d.ctrl.configWrite32(CAP, 1 << 16); // Message Control: enable, MME 0
    }
    return d;
  }

  it("the capability: id 05h, last in the list after PCI Express, MMC 0 (one message), 64-bit and masking capable; no MSI-X", () => {
    const d = msiSetup({ enable: false });
    const pcie = d.ctrl.configRead32(0x60);
    expect((pcie >>> 8) & 0xff).toBe(CAP);
    const h = d.ctrl.configRead32(CAP);
    expect(h & 0xff).toBe(0x05);
    expect((h >>> 8) & 0xff).toBe(0);
    expect((h >>> 16) & 0x1ff).toBe((1 << 7) | (1 << 8)); // 64-bit, per-vector masking, MMC 0, disabled
    expect((d.ctrl.configRead32(0x40) >>> 8) & 0xff).toBe(0x60); // PM -> PCIe: no MSI-X capability
    expect(d.ctrl.configRead32(CAP + 16)).toBe(0);
  });

  it("a completion sends the message written into the capability; INTx stays low while MSI is enabled", () => {
    const d = msiSetup();
    d.enable();
    d.admin({ opcode: 0x0a, cdw10: 0x07 });
    expect(d.host.msi.map((m) => [m.address, m.data])).toEqual([[0xfee00000n, 0x45]]);
    const q = d.createQueuePair(1, 8, { vector: 0 });
    d.host.msi.length = 0;
    d.cmd(q, { opcode: 0x00, nsid: 1 });
    expect(d.host.msi).toHaveLength(1);
    expect(d.host.intx).toBe(false);
    expect(d.ctrl.stats.msi).toBeGreaterThan(1);
  });

  it("disabled: no message, the pin instead", () => {
    const d = msiSetup({ enable: false });
    d.enable();
    d.ctrl.configWrite32(0x04, 0x6); // memory, bus master; INTx not disabled
    d.submit(d.aq, { opcode: 0x0a, cdw10: 0x07 });
    d.settle();
    expect(d.host.msi).toHaveLength(0);
    expect(d.host.intx).toBe(true);
  });

  it("a masked vector (Mask Bits) sets its Pending Bit and fires when unmasked; INTMS masks it too", () => {
    const d = msiSetup();
    d.enable();
    d.ctrl.configWrite32(CAP + 16, 1);
    d.submit(d.aq, { opcode: 0x0a, cdw10: 0x07 });
    d.settle();
    expect(d.host.msi).toHaveLength(0);
    expect(d.ctrl.configRead32(CAP + 20)).toBe(1);
    d.ctrl.configWrite32(CAP + 16, 0);
    expect(d.host.msi).toHaveLength(1);
    expect(d.ctrl.configRead32(CAP + 20)).toBe(0);
    d.w32(REG.INTMS, 1);
    d.submit(d.aq, { opcode: 0x0a, cdw10: 0x07 });
    d.settle();
    expect(d.host.msi).toHaveLength(1);
    d.w32(REG.INTMC, 1);
    expect(d.host.msi).toHaveLength(2);
    expect(d.ctrl.violations).toEqual([]);
  });

  it("an unprogrammed address is a violation; MME above MMC is refused; a CQ vector beyond the one message -> Invalid Interrupt Vector", () => {
    const d = msiSetup({ enable: false });
    d.ctrl.configWrite32(CAP, (1 << 16) | (1 << 20)); // MME 1 (two messages) on a one-message function
    expect(d.ctrl.violations.at(-1)).toMatch(/Multiple Message Enable 1 .* above Multiple Message Capable \(1\)/);
    d.ctrl.configWrite32(CAP, 1 << 16);
    d.enable();
    d.admin({ opcode: 0x0a, cdw10: 0x07 });
    expect(d.ctrl.violations.at(-1)).toMatch(/MSI vector 0 fired with message address 0/);
    expect(() => d.createQueuePair(1, 8, { vector: 1 })).toThrow("Create IO CQ 1 failed: sct 1 sc 8"); // Invalid Interrupt Vector
  });
});
