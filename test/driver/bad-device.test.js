// Devices that report nonsense: the driver must refuse what it cannot use with a clear line, never
// trap, never touch memory or registers outside what it was given. Each case is the model with one
// lie added (runSim's `model` option takes the controller class).
import { describe, it, expect } from "vitest";
import { drive } from "./helpers.js";
import { NvmeController } from "../../host/nvme/controller.js";
import { linesOf, errorLines } from "../lib/disk-images.js";

const CAP_HI = 0x04;
const PCI_COMMAND = 0x04;

function busMaster(r) {
  return (r.machine.controllers[0].configRead32(PCI_COMMAND) >>> 2) & 1;
}

describe("a device whose data cannot be trusted", () => {
  it("CAP.DSTRD so large the doorbells fall outside BAR0: bring-up refused, no MMIO outside the BAR", async () => {
    class HugeStride extends NvmeController {
      mmioRead32(bar, off) {
        const v = super.mmioRead32(bar, off);
        return bar === 0 && off === CAP_HI ? ((v & ~0xf) | 0xf) >>> 0 : v;
      }
    }
    const r = await drive({ model: HugeStride, disks: ["mem:1M"], cmd: "info; crc nvme0n1 0 1; poweroff" });
    expect(r.output, r.why).not.toMatch(/^trap:/m);
    expect(errorLines(r.output)[0]).toBe("error: nvme0: CAP.DSTRD puts the doorbells outside BAR0");
    expect(linesOf(r.output, "ctrl")[0].fields.state).toBe("failed");
    expect(busMaster(r)).toBe(0);
    expect(r.code).not.toBe(0);
  });

  it("an MSI-X table offset outside its BAR: MSI-X is not used, INTx takes over, IO works", async () => {
    class BadTable extends NvmeController {
      configRead32(off) {
        const v = super.configRead32(off);
        // The dword after the MSI-X capability header: Table Offset / BIR.
        const cap = findCap(this, 0x11);
        return cap && off === cap + 4 ? (0x7ff0_0000 | (v & 7)) >>> 0 : v;
      }
    }
    const r = await drive({
      model: BadTable,
      disks: ["mem:1M"],
      cmd: "info; fill nvme0n1 0 64 3; verify nvme0n1 0 64 3; poweroff",
    });
    expect(r.output, r.why).not.toMatch(/^trap:/m);
    expect(r.code, r.why).toBe(0);
    expect(linesOf(r.output, "ctrl")[0].fields.irq).toBe("intx");
  });

  it("Identify says 64-byte SQ entries are not supported: refused in words", async () => {
    class SmallEntries extends NvmeController {
      _identifyController() {
        const d = super._identifyController();
        d[512] = 0x55;
        return d;
      }
    }
    const r = await drive({ model: SmallEntries, disks: ["mem:1M"], cmd: "poweroff" });
    expect(r.output).not.toMatch(/^trap:/m);
    expect(errorLines(r.output)).toEqual(["error: nvme0: Identify: 64-byte SQ entries not supported"]);
    expect(busMaster(r)).toBe(0);
  });

  it("namespace formats that make no sense are listed and refused, never used", async () => {
    class OddFormats extends NvmeController {
      _identifyNamespace(ns) {
        const d = super._identifyNamespace(ns);
        if (ns.nsid === 1) d[26] = 0x0f; // FLBAS past NLBAF
        if (ns.nsid === 2) {
          d[26] = 0;
          d[128 + 2] = 30;
        } // LBADS 30: a 1 GiB block
        return d;
      }
    }
    const r = await drive({
      model: OddFormats,
      disks: ["mem:1M", "mem:1M", "mem:1M"],
      cmd: "info; crc nvme0n1 0 1; crc nvme0n2 0 1; crc nvme0n3 0 1; poweroff",
    });
    expect(r.output).not.toMatch(/^trap:/m);
    const ns = linesOf(r.output, "ns");
    expect(ns[0].fields).toMatchObject({
      name: "nvme0n1",
      usable: "no",
      reason: "FLBAS selects a format beyond NLBAF",
    });
    expect(ns[1].fields).toMatchObject({
      name: "nvme0n2",
      usable: "no",
      reason: "logical block size outside 512 B to 64 KiB",
    });
    expect(ns[2].fields).toMatchObject({ name: "nvme0n3", lba_bytes: "512" });
    expect(errorLines(r.output)).toEqual([
      "error: crc dev=nvme0n1: namespace not usable: FLBAS selects a format beyond NLBAF",
      "error: crc dev=nvme0n2: namespace not usable: logical block size outside 512 B to 64 KiB",
    ]);
    expect(linesOf(r.output, "crc")).toHaveLength(1);
  });

  it("an absurd NN on a 1.0 controller: probing is bounded, what is left out is said, bring-up completes", async () => {
    class ManyNamespaces extends NvmeController {
      _identifyController() {
        const d = super._identifyController();
        new DataView(d.buffer).setUint32(516, 0xffffffff, true);
        return d;
      }
    }
    const r = await drive({ model: ManyNamespaces, profile: "legacy", disks: ["mem:1M"], cmd: "info; poweroff" });
    expect(r.code, r.why).not.toBe(0);
    expect(errorLines(r.output)).toEqual([
      `error: nvme0: ${0xffffffff - 1024} namespaces not probed: the driver probes ids 1 to 1024`,
    ]);
    expect(linesOf(r.output, "ns").map((l) => l.fields.name)).toEqual(["nvme0n1"]);
    expect(r.machine.controllers[0].stats.admin.identify).toBeLessThanOrEqual(1 + 1024);
  });

  it("model, serial and firmware with quotes and control bytes cannot break the info line", async () => {
    class UglyStrings extends NvmeController {
      _identifyController() {
        const d = super._identifyController();
        d.set(Buffer.from('a"b\x01c\x7f', "latin1"), 24);
        return d;
      }
    }
    const r = await drive({ model: UglyStrings, disks: ["mem:1M"], cmd: "info; poweroff" });
    expect(r.code).toBe(0);
    const line = r.output.split("\n").find((l) => l.startsWith("ctrl "));
    expect(line).toMatch(/ model="a\?b\?c\?[^"]*" serial=/);
  });
});

// The offset of capability `id`, read through the honest base class.
function findCap(dev, id) {
  const read = (off) => NvmeController.prototype.configRead32.call(dev, off);
  let p = read(0x34) & 0xfc;
  for (let i = 0; i < 48 && p >= 0x40; i++) {
    const h = read(p);
    if ((h & 0xff) === id) return p;
    p = (h >>> 8) & 0xfc;
  }
  return 0;
}

describe("a device that floods the admin queue", () => {
  it("stray completions every 100 µs during an admin wait: each one reported, and the wait still ends at CAP.TO, in words", async () => {
    // Identify Controller is never answered; instead a completion for command id 0x7777, which the
    // driver never issued, arrives every 100 µs (as long as the driver rings the CQ head doorbell).
    class Flood extends NvmeController {
      _submit(sq, cmd) {
        if (sq.qid !== 0 || cmd.opcode !== 0x06 || (cmd.cdw10 & 0xff) !== 1) return super._submit(sq, cmd);
        const stray = () => {
          const cq = this.cqs.get(0);
          if (!cq) return;
          cq.posts.push({ rec: { sqhd: 0 }, sqid: 0, cid: 0x7777, dw0: 0, dw1: 0, status: 0 });
          this._drainCq(cq);
          this._at(100_000, stray);
        };
        this._at(100_000, stray);
      }
    }
    const r = await drive({ model: Flood, disks: ["mem:1M"], cmd: "info; poweroff", timeLimitNs: 60_000_000_000 });
    expect(r.output, r.why).not.toMatch(/^trap:/m);
    const errors = errorLines(r.output);
    expect(
      errors.filter((l) => l === "error: nvme0: completion for an unknown command id qid=0 cid=30583").length,
    ).toBeGreaterThan(1000);
    expect(errors).toContain("error: nvme0: Identify Controller failed: command timed out");
    expect(linesOf(r.output, "ctrl")[0].fields.state).toBe("failed");
    expect(busMaster(r)).toBe(0);
  });
});
