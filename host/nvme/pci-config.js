// The controller's PCI configuration space (NvmeController methods, installed by controller.js):
// the type 0 header (IDs, command/status, class code, BARs, interrupt line/pin) and the
// capability list: power management (PCI PM 1.2), MSI-X (PCI 3.0 §6.8.2; the table and PBA
// themselves are in interrupts.js), PCI Express (PCIe base spec §7.5.3, endpoint) and, on profiles
// that have it, plain MSI (PCI 3.0 §6.8.1).
// NVMe 1.4 §2 "System Bus (PCI Express) Registers".

import { PCI } from "./constants.js";

export const pciConfigMethods = {
  // ======================= PCI configuration space ============================================

  configRead32(off) {
    const p = this.p;
    switch (off) {
      case 0x00:
        return ((p.did << 16) | p.vid) >>> 0;
      case 0x04: {
        const status = (1 << 4) | (this.intxLevel ? 1 << 3 : 0); // capabilities list, interrupt status
        return ((status << 16) | this.pciCommand) >>> 0;
      }
      case 0x08:
        return ((PCI.CLASS_NVME << 8) | p.revision) >>> 0;
      case 0x0c:
        return this.cacheLine & 0xff; // header type 0, single function
      case 0x2c:
        return ((p.ssid << 16) | p.ssvid) >>> 0;
      case 0x34:
        return 0x40;
      case 0x3c:
        return ((p.intx ? 1 : 0) << 8) | this.interruptLine;
      // Power management capability (PCI PM 1.2): version 3
      case 0x40:
        return ((0x0003 << 16) | ((this.capMsix || this.capPcie) << 8) | PCI.CAP_ID_PM) >>> 0;
      case 0x44:
        return this.pmcsr | (1 << 3); // No_Soft_Reset
    }
    if (off >= 0x10 && off < 0x28) return this._barRead(off);
    if (this.capMsix && off >= this.capMsix && off < this.capMsix + 12) {
      const m = this.msix;
      const r = off - this.capMsix;
      if (r === 0)
        return (((m.control | (this.p.msixVectors - 1)) << 16) | (this.capPcie << 8) | PCI.CAP_ID_MSIX) >>> 0;
      if (r === 4) return (m.tableOff | m.bar) >>> 0;
      return (m.pbaOff | m.bar) >>> 0;
    }
    if (this.capMsi && off >= this.capMsi && off < this.capMsi + this._msiBytes())
      return this._msiConfigRead(off - this.capMsi);
    if (off >= this.capPcie && off < this.capPcie + 0x3c) {
      const r = off - this.capPcie;
      if (r === 0) return ((0x0002 << 16) | (this.capMsi << 8) | PCI.CAP_ID_PCIE) >>> 0; // version 2, PCI Express endpoint
      if (r === 4) return 0x00008000 | 0x1; // device capabilities: role-based error reporting, 256 B payload
      if (r === 8) return this.pcieDevCtl;
      if (r === 0x0c) return 0x00400000 | (4 << 4) | 3; // link capabilities: x4, 8 GT/s
      if (r === 0x10) return ((4 << 4) | 3) << 16; // link status: x4, 8 GT/s
      return 0;
    }
    return 0;
  },

  // ---- MSI (PCI 3.0 §6.8.1): 32-bit layout: control, address, data, mask, pending; 64-bit: control,
  // address, upper address, data, mask, pending. Mask and pending only when per-vector masking. ----

  _msiBytes() {
    return (this.p.msi64 ? 16 : 12) + (this.p.msiMasking ? 8 : 0);
  },

  _msiMessageControl() {
    const p = this.p;
    return (
      this.msi.control |
      (Math.log2(p.msiVectors) << PCI.MSI_CTRL_MMC_SHIFT) |
      (p.msi64 ? PCI.MSI_CTRL_64BIT : 0) |
      (p.msiMasking ? PCI.MSI_CTRL_MASKING : 0)
    );
  },

  // The register at byte r of the capability: 'control', 'addrLo', 'addrHi', 'data', 'mask', 'pending'.
  _msiRegister(r) {
    const names = this.p.msi64
      ? ["control", "addrLo", "addrHi", "data", "mask", "pending"]
      : ["control", "addrLo", "data", "mask", "pending"];
    return names[r >> 2];
  },

  _msiConfigRead(r) {
    const m = this.msi;
    const reg = this._msiRegister(r);
    if (reg === "control") return ((this._msiMessageControl() << 16) | PCI.CAP_ID_MSI) >>> 0; // the last capability
    return m[reg] >>> 0;
  },

  _msiConfigWrite(r, value) {
    const m = this.msi;
    const reg = this._msiRegister(r);
    if (reg === "control") {
      const ctl = value >>> 16;
      const mme = (ctl >> PCI.MSI_CTRL_MME_SHIFT) & 7;
      if (1 << mme > this.p.msiVectors) {
        this._violation(
          `MSI Multiple Message Enable ${mme} (${1 << mme} messages) above Multiple Message Capable (${this.p.msiVectors}): ignored`,
        );
        return;
      }
      const was = m.control & PCI.MSI_CTRL_ENABLE;
      m.control = ctl & (PCI.MSI_CTRL_ENABLE | (7 << PCI.MSI_CTRL_MME_SHIFT));
      if (m.control & PCI.MSI_CTRL_ENABLE && this._msixEnabled())
        this._violation("MSI enabled while MSI-X is enabled (PCI 3.0: at most one of them)");
      if (was !== (m.control & PCI.MSI_CTRL_ENABLE)) {
        this._log(`MSI ${m.control & PCI.MSI_CTRL_ENABLE ? `enabled, ${1 << mme} message(s)` : "disabled"}`);
        this._msiDeliverPending();
        this._updateIntx();
      }
      return;
    }
    if (reg === "pending") return; // read-only
    if (reg === "addrLo") value &= ~3; // dword-aligned: bits 1:0 are reserved
    if (reg === "data") value &= 0xffff;
    m[reg] = value >>> 0;
    if (reg === "mask") this._msiDeliverPending();
  },

  _barRead(off) {
    for (const b of this.bars) {
      const lo = 0x10 + b.index * 4;
      const addr = this.barAddr.get(b.index);
      if (off === lo) return (Number(addr & 0xfffffff0n) | (b.is64 ? 0x4 : 0) | (b.prefetchable ? 0x8 : 0)) >>> 0;
      if (b.is64 && off === lo + 4) return Number(addr >> 32n) >>> 0;
    }
    return 0;
  },

  configWrite32(off, value) {
    value >>>= 0;
    if (off === 0x04) {
      const old = this.pciCommand;
      this.pciCommand = value & (PCI.CMD_MEMORY | PCI.CMD_BUS_MASTER | PCI.CMD_INTX_DISABLE | (1 << 6) | (1 << 8));
      if ((old ^ this.pciCommand) & PCI.CMD_BUS_MASTER)
        this._log(`bus mastering ${this.pciCommand & PCI.CMD_BUS_MASTER ? "on" : "off"}`);
      this._updateIntx();
      return;
    }
    if (off === 0x0c) {
      this.cacheLine = value & 0xff;
      return;
    }
    if (off === 0x3c) {
      this.interruptLine = value & 0xff;
      return;
    }
    if (off === 0x44) {
      this.pmcsr = value & 3;
      return;
    }
    if (this.capMsix && off === this.capMsix) {
      const m = this.msix;
      const old = m.control;
      m.control = (value >>> 16) & (PCI.MSIX_CTRL_ENABLE | PCI.MSIX_CTRL_FUNCTION_MASK);
      if (old !== m.control) {
        this._log(
          `MSI-X ${m.control & PCI.MSIX_CTRL_ENABLE ? "enabled" : "disabled"}${m.control & PCI.MSIX_CTRL_FUNCTION_MASK ? " (function masked)" : ""}`,
        );
        this._msixDeliverPending();
        this._updateIntx();
      }
      return;
    }
    if (off === this.capPcie + 8) {
      this.pcieDevCtl = value & 0xffff;
      return;
    }
    if (this.capMsi && off >= this.capMsi && off < this.capMsi + this._msiBytes()) {
      this._msiConfigWrite(off - this.capMsi, value);
      return;
    }
    // BARs are placed by the host; everything else is read-only
  },
};
