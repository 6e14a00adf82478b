// Interrupts (NvmeController methods, installed by controller.js): the MSI-X table and Pending Bit
// Array in BAR0 or BAR4 (PCI 3.0 §6.8.2), per-vector and function masking, and the INTx level
// with INTMS/INTMC (NVMe 1.4 §3.1.3/§3.1.4). NVMe 1.4 §7.5 "Interrupts".

import { PCI } from "./constants.js";
import { U64, hex } from "./common.js";

export const interruptMethods = {
  // ======================= interrupts ==========================================================

  _msixEnabled() {
    return !!this.msix && (this.msix.control & PCI.MSIX_CTRL_ENABLE) !== 0;
  },

  _msiEnabled() {
    return !!this.msi && (this.msi.control & PCI.MSI_CTRL_ENABLE) !== 0;
  },

  _interrupt(cq) {
    if (!cq.ien) return;
    if (this._msixEnabled()) this._msixSignal(cq.vector);
    else if (this._msiEnabled()) this._msiSignal(cq.vector);
    else this._updateIntx();
  },

  // MSI (PCI 3.0 §6.8.1): vector v's message is the capability's address with its data, the low
  // MME bits replaced by v. Held pending while masked: per-vector (Mask Bits) or by INTMS (NVMe 1.4
  // §3.1.3 masks MSI vectors too), and sent when unmasked if still pending.
  _msiSignal(v) {
    const m = this.msi;
    const bit = 1 << (v & 31);
    if (m.mask & bit || this.intms & bit) {
      m.pending = (m.pending | bit) >>> 0;
      return;
    }
    m.pending = (m.pending & ~bit) >>> 0;
    const addr = this.p.msi64 ? U64(m.addrLo, m.addrHi) : BigInt(m.addrLo);
    if (addr === 0n) {
      this._violation(`MSI vector ${v} fired with message address 0 (capability not programmed): interrupt lost`);
      return;
    }
    const mme = (m.control >> PCI.MSI_CTRL_MME_SHIFT) & 7;
    const low = (1 << mme) - 1;
    this.stats.msi = (this.stats.msi ?? 0) + 1;
    this.stats.interrupts++;
    this.host.msiWrite(addr, (m.data & ~low) | (v & low));
  },

  _msiDeliverPending() {
    if (!this._msiEnabled()) return;
    const m = this.msi;
    for (let v = 0; v < 32; v++) {
      const bit = 1 << v;
      if (m.pending & bit && !(m.mask & bit) && !(this.intms & bit)) this._msiSignal(v);
    }
  },

  _msixSignal(v) {
    const m = this.msix;
    if (m.control & PCI.MSIX_CTRL_FUNCTION_MASK || m.table[v * 4 + 3] & 1) {
      m.pending[v] = 1;
      return;
    }
    m.pending[v] = 0;
    const addr = U64(m.table[v * 4], m.table[v * 4 + 1]);
    const data = m.table[v * 4 + 2];
    if (addr === 0n) {
      this._violation(`MSI-X vector ${v} fired with message address 0 (table entry not programmed): interrupt lost`);
      return;
    }
    this.stats.msix++;
    this.stats.interrupts++;
    this.host.msiWrite(addr, data);
  },

  _msixDeliverPending() {
    if (!this._msixEnabled() || this.msix.control & PCI.MSIX_CTRL_FUNCTION_MASK) return;
    for (let v = 0; v < this.msix.pending.length; v++) {
      if (this.msix.pending[v] && !(this.msix.table[v * 4 + 3] & 1)) this._msixSignal(v);
    }
  },

  _msixRead(off) {
    const m = this.msix;
    if (off >= m.pbaOff) {
      const bit0 = ((off - m.pbaOff) >> 2) * 32;
      let w = 0;
      for (let i = 0; i < 32 && bit0 + i < m.pending.length; i++) if (m.pending[bit0 + i]) w |= 1 << i;
      return w >>> 0;
    }
    const i = (off - m.tableOff) >> 2;
    return i < m.table.length ? m.table[i] : 0;
  },

  _msixWrite(off, value) {
    const m = this.msix;
    if (off >= m.pbaOff) {
      this._violation(`write of ${hex(value)} to the MSI-X PBA (read-only) at ${hex(off)}: ignored`);
      return;
    }
    const i = (off - m.tableOff) >> 2;
    if (i >= m.table.length) return;
    const wasMasked = (m.table[i] & 1) === 1;
    m.table[i] = (i & 3) === 3 ? value & 1 : value;
    if ((i & 3) === 3 && wasMasked && !(value & 1)) {
      const v = i >> 2;
      if (m.pending[v] && this._msixEnabled() && !(m.control & PCI.MSIX_CTRL_FUNCTION_MASK)) this._msixSignal(v);
    }
  },

  _updateIntx() {
    let level = false;
    if (this.p.intx && !this._msixEnabled() && !this._msiEnabled() && !(this.pciCommand & PCI.CMD_INTX_DISABLE)) {
      for (const cq of this.cqs.values()) {
        if (cq.ien && cq.head !== cq.tail && !(this.intms & (1 << (cq.vector & 31)))) {
          level = true;
          break;
        }
      }
    }
    if (level !== this.intxLevel) {
      this.intxLevel = level;
      if (level) {
        this.stats.intx++;
        this.stats.interrupts++;
      }
      this.host.setIntx?.(level);
    }
  },
};
