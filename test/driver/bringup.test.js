// Bring-up against the model: every profile, odd controller parameters, namespaces, layouts.
import { describe, it, expect } from "vitest";
import { drive, expectClean } from "./helpers.js";
import { linesOf, errorLines } from "../lib/disk-images.js";
import { profiles } from "../../host/nvme/profiles.js";

const PROFILES = ["qemu", "strict", "legacy", "tiny"];

describe("bring-up on every controller profile", () => {
  for (const name of PROFILES) {
    it(`${name}: info reports what the controller advertises, and shutdown is orderly`, async () => {
      const p = profiles[name];
      const r = await drive({ profile: name, disks: ["mem:8M"], cmd: "info; poweroff" });
      expect(r.code, r.why).toBe(0);
      expectClean(r);
      const [ctrl] = linesOf(r.output, "ctrl");
      expect(ctrl.fields, r.why).toMatchObject({
        name: "nvme0",
        pci: "00:04.0",
        vid: "0x" + p.vid.toString(16).padStart(4, "0"),
        did: "0x" + p.did.toString(16).padStart(4, "0"),
        version: p.version,
        mqes: String(p.mqes),
        dstrd: String(p.dstrd),
        timeout_ms: String(p.timeout * 500),
        mdts_bytes: String(p.mdts === 0 ? 0 : 4096 * 2 ** p.mdts),
        sgl: p.sgl ? "yes" : "no",
        vwc: p.vwc ? "yes" : "no",
        queues: String(p.ioQueuePairs),
        model: p.model,
        serial: p.serial,
        firmware: p.firmware,
        irq: p.msixVectors > 0 ? "msix" : "intx",
        state: "ready",
      });
      const [ns] = linesOf(r.output, "ns");
      expect(ns.fields).toMatchObject({
        name: "nvme0n1",
        nsid: "1",
        lba_bytes: "512",
        blocks: "16384",
        bytes: String(8 << 20),
        readonly: "no",
      });
      expect(r.output).toMatch(/^shutdown ctrl=nvme0 ok/m);
      expect(r.output).toMatch(/^poweroff code=0$/m);
    });
  }

  it("a 1.0 controller without CNS 02h: namespaces found by probing 1..NN", async () => {
    const r = await drive({ profile: "legacy", disks: ["mem:4M", "mem:2M,lba=4096", "mem:1M"], cmd: "info; poweroff" });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(linesOf(r.output, "ns").map((l) => [l.fields.name, l.fields.lba_bytes, l.fields.blocks])).toEqual([
      ["nvme0n1", "512", "8192"],
      ["nvme0n2", "4096", "512"],
      ["nvme0n3", "512", "2048"],
    ]);
  });

  it("the delay before CSTS.RDY follows CC.EN is waited for, bounded by CAP.TO", async () => {
    const r = await drive({
      profile: "strict",
      overrides: { rdyDelayNs: [40_000_000, 40_000_000] },
      disks: ["mem:1M"],
      cmd: "poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    const us = Number(/^nvme0 enable ok .* us=(\d+)$/m.exec(r.output)[1]);
    expect(us).toBeGreaterThanOrEqual(40_000);
  });

  it("a controller that never becomes ready fails bring-up with a clear line, bus mastering off", async () => {
    const r = await drive({
      profile: "strict",
      overrides: { rdyDelayNs: [30e9, 30e9] },
      disks: ["mem:1M"],
      cmd: "info; crc nvme0n1 0 1; poweroff",
    });
    expect(r.code, r.why).not.toBe(0);
    expect(errorLines(r.output)[0]).toBe("error: nvme0: enable: CSTS.RDY did not become 1: command timed out");
    expect(linesOf(r.output, "ctrl")[0].fields.state).toBe("failed");
    expect(errorLines(r.output)[1]).toMatch(
      /^error: crc dev=nvme0n1 lba=0 count=1: nvme0 is not ready|^error: crc: unknown device/,
    );
    const cmdReg = r.machine.controllers[0].configRead32(4) & 0xffff;
    expect(cmdReg & 4).toBe(0);
  });

  it("tiny queues (MQES 3): admin and IO queues of 4 entries", async () => {
    const r = await drive({ profile: "tiny", disks: ["mem:1M"], cmd: "poweroff" });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.output).toMatch(/^nvme0 enable ok admin_entries=4 /m);
    expect(r.output).toMatch(/^nvme0 queues granted=1 io_entries=4 /m);
  });

  it("a controller page minimum above 4 KiB (MPSMIN 1) is honoured for queues and PRPs", async () => {
    const r = await drive({
      profile: "qemu",
      overrides: { mpsmin: 1, mpsmax: 2 },
      disks: ["mem:4M"],
      cmd: "fill nvme0n1 3 1000 4; verify nvme0n1 3 1000 4; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.output).toMatch(/mps_min=8192/);
  });

  it("a namespace with metadata is listed and refused with its reason; the others work", async () => {
    const r = await drive({
      disks: ["mem:1M", "mem:1M,ms=8", "mem:1M,lba=4096"],
      cmd: "info; crc nvme0n2 0 1; crc nvme0n3 0 1; poweroff",
    });
    expect(r.code, r.why).not.toBe(0);
    expectClean(r);
    const ns = linesOf(r.output, "ns");
    expect(ns[1].fields).toMatchObject({
      name: "nvme0n2",
      usable: "no",
      reason: "metadata per block is not supported",
      metadata_bytes: "8",
    });
    expect(errorLines(r.output)).toEqual([
      "error: crc dev=nvme0n2: namespace not usable: metadata per block is not supported",
    ]);
    expect(linesOf(r.output, "crc")).toHaveLength(1);
  });

  it("several controllers behind a bridge, and two functions of one device", async () => {
    for (const layout of [{ bridge: true }, { multifunction: true }]) {
      const r = await drive({ ...layout, disks: ["mem:1M", "mem:2M,ctrl=1"], cmd: "info; poweroff" });
      expect(r.code, r.why).toBe(0);
      expectClean(r);
      const ctrls = linesOf(r.output, "ctrl").map((l) => l.fields.pci);
      expect(ctrls).toEqual(layout.bridge ? ["01:00.0", "01:01.0"] : ["00:04.0", "00:04.1"]);
      expect(linesOf(r.output, "ns").map((l) => l.fields.name)).toEqual(["nvme0n1", "nvme1n1"]);
    }
  });

  it("stage=1..4 stop bring-up where the seed write-up's steps end, and IO is refused after", async () => {
    const expectLast = {
      1: /^nvme0 reset ok/,
      2: /^nvme0 identify controller, first 256 bytes:/,
      3: /^nvme0n1 nsid=1/,
      4: /^nvme0 queues granted=/,
    };
    for (const stage of [1, 2, 3, 4]) {
      const r = await drive({ disks: ["mem:1M"], cmd: `stage=${stage}; crc nvme0n1 0 1; poweroff` });
      expectClean(r);
      expect(r.output).toMatch(new RegExp(`^nvme0 stopped at stage ${stage}$`, "m"));
      const before = r.output.split("\n");
      const i = before.indexOf(`nvme0 stopped at stage ${stage}`);
      expect(
        before.slice(0, i).some((l) => expectLast[stage].test(l)),
        r.why,
      ).toBe(true);
      expect(r.output).not.toMatch(/^crc dev=/m);
      if (stage >= 3)
        expect(errorLines(r.output)[0]).toMatch(/nvme0 is not ready: bring-up stopped at an earlier stage/);
      if (stage === 2) expect(r.output).toMatch(/^00000000  [0-9a-f]{2} /m);
    }
  });

  for (const mode of ["poll", "intx", "msix"]) {
    it(`irq=${mode}: completions noticed that way, data correct`, async () => {
      const r = await drive({
        profile: "strict",
        disks: ["mem:2M"],
        cmd: `irq=${mode}; info; fill nvme0n1 0 4096 1; verify nvme0n1 0 4096 1; stats; poweroff`,
      });
      expect(r.code, r.why).toBe(0);
      expectClean(r);
      expect(linesOf(r.output, "ctrl")[0].fields.irq).toBe(mode);
      const interrupts = Number(linesOf(r.output, "stats")[0].fields.interrupts);
      if (mode === "poll") expect(interrupts).toBe(0);
      else expect(interrupts).toBeGreaterThan(0);
    });
  }

  it("log=errors: the driver says only what went wrong; the shell's lines are as always", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "log=errors; info; poweroff" });
    expect(r.code, r.why).toBe(0);
    expect(r.output).not.toMatch(/^nvme0 (reset|enable|ready)|^nvme-wasm: NVMe driver|^shutdown ctrl=/m);
    expect(linesOf(r.output, "ctrl")).toHaveLength(1);
    expect(r.output).toMatch(/^poweroff code=0$/m);
  });

  it("an unknown boot option is an error line, and the run goes on", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "irq=sometimes; info; poweroff" });
    expect(r.code).not.toBe(0);
    expect(errorLines(r.output)).toEqual(["error: boot option not understood: irq=sometimes"]);
    expect(linesOf(r.output, "ctrl")).toHaveLength(1);
  });

  it("no NVMe controller at all: one error line, the shell still answers", async () => {
    const { Machine } = await import("../../host/machine.js");
    const { buildWasm } = await import("../../host/build.js");
    const { readFileSync } = await import("node:fs");
    let output = "";
    const m = new Machine({
      cmdline: "info; stats; poweroff",
      stdout: (s) => {
        output += s;
      },
    });
    const r = await m.run(readFileSync(await buildWasm({ quiet: true })));
    expect(r.code).not.toBe(0);
    expect(errorLines(r.output ?? output)).toEqual(["error: no NVMe controller (PCI class 01/08/02) found"]);
    expect(r.output ?? output).toMatch(/^info: no NVMe controller$/m);
  });
});
