import { describe, it, expect } from "vitest";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSim, parseFaults } from "../../host/sim.js";
import { bdfOf } from "../../host/pci.js";
import { FakeDevice, guestWasm } from "./guest.js";

// A stand-in for NvmeController with its constructor interface.
class StubController extends FakeDevice {
  constructor({ host, profile, namespaces, faults, name }) {
    super(host);
    Object.assign(this, { profile, namespaces, faultOpts: faults, ctrlName: name });
  }
}
const sim = async (opts) => runSim({ model: StubController, wasm: await guestWasm(), cmd: "h", ...opts });

describe("runSim", () => {
  it("puts one controller at 00:04.0 by default, with the disks as its namespaces", async () => {
    const { code, output, machine } = await sim({
      disks: ["mem:1M", "mem:2M,lba=4096,ms=8,ro"],
      profile: "strict",
      overrides: "mdts=2",
    });
    expect(code).toBe(0);
    expect(output).toBe("hello\n");
    expect(machine.controllers).toHaveLength(1);
    const c = machine.controllers[0];
    expect(c.ctrlName).toBe("nvme0");
    expect(c.profile).toMatchObject({ name: "strict", mdts: 2 });
    expect(c.namespaces.map((n) => [n.disk.size, n.lbaBytes, n.ms, n.readonly])).toEqual([
      [1n << 20n, 512, 0, false],
      [2n << 20n, 4096, 8, true],
    ]);
    expect(machine.bus.resolve(bdfOf(0, 4, 0)).func).toBe(c);
  });

  it("spreads namespaces over controllers with ctrl=K, at 00:04.0, 00:05.0…", async () => {
    const { machine } = await sim({ disks: ["mem:1M,ctrl=2", "mem:1M", "mem:4M,ctrl=2"] });
    const [c0, c1, c2] = machine.controllers;
    expect(machine.controllers.map((c) => c.ctrlName)).toEqual(["nvme0", "nvme1", "nvme2"]);
    expect([c0.namespaces.length, c1.namespaces.length, c2.namespaces.length]).toEqual([1, 0, 2]);
    expect(c2.namespaces[1].disk.size).toBe(4n << 20n);
    expect(machine.bus.resolve(bdfOf(0, 6, 0)).func).toBe(c2);
  });

  it("puts controllers behind a root port with bridge, as functions of one device with multifunction", async () => {
    const b = (await sim({ bridge: true, controllers: 2 })).machine;
    expect(b.bus.resolve(bdfOf(1, 0, 0)).func).toBe(b.controllers[0]);
    expect(b.bus.resolve(bdfOf(1, 1, 0)).func).toBe(b.controllers[1]);
    expect(b.bus.configRead32(bdfOf(0, 3, 0), 8) >>> 8).toBe(0x060400);
    const mf = (await sim({ multifunction: true })).machine;
    expect(mf.controllers).toHaveLength(2);
    expect(mf.bus.resolve(bdfOf(0, 4, 1)).func).toBe(mf.controllers[1]);
    expect(mf.bus.configRead32(bdfOf(0, 4, 0), 0x0c) & 0x00800000).toBeTruthy();
  });

  it("passes faults parsed, and writes file disks back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nvme-sim-"));
    try {
      const p = join(dir, "a.raw");
      writeFileSync(p, Buffer.alloc(8192));
      const { machine } = await sim({ disks: [`${p},lba=4096`], faults: "error=0.01,cfs=500" });
      expect(machine.controllers[0].faultOpts).toEqual({ error: 0.01, cfs: 500 });
      expect(machine.controllers[0].namespaces[0].disk.fd).toBe(-1); // closed after the run
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => parseFaults("error")).toThrow(/name=number/);
  });

  it("rejects unknown profiles and bad disk specs", async () => {
    await expect(sim({ profile: "nope" })).rejects.toThrow(/unknown controller profile "nope"/);
    await expect(sim({ disks: ["mem:1M,lba=3"] })).rejects.toThrow(/power of two/);
  });
});

// The real driver (build/nvme.wasm, built when stale) against the real model: a smoke test of the path
// the CLI takes. The driver's own behaviour is tested elsewhere.
describe("runSim with the driver and the model", () => {
  it("brings a controller up, writes through to a file image, and powers off with 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nvme-sim-"));
    try {
      const p = join(dir, "img.raw");
      writeFileSync(p, Buffer.alloc(1 << 20));
      const { code, output, machine } = await runSim({
        disks: [`${p},lba=4096`],
        cmd: "info; fill nvme0n1 1 2 9; poweroff",
        seed: 3,
      });
      expect(output).toMatch(/^ctrl name=nvme0 pci=00:04\.0 /m);
      expect(output).toMatch(/^fill dev=nvme0n1 lba=1 count=2 seed=9 ok$/m);
      expect(code).toBe(0);
      expect(machine.dmaFaults).toEqual([]);
      const img = (await import("node:fs")).readFileSync(p);
      const M = (1n << 64n) - 1n;
      const mix = (x) => {
        let z = (x + 0x9e3779b97f4a7c15n) & M;
        z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
        z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
        return z ^ (z >> 31n);
      };
      expect(img.readBigUInt64LE(4096)).toBe(mix((9n << 40n) ^ 512n));
      expect(img.readBigUInt64LE(3 * 4096)).toBe(0n);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);

  it("the CLI exits with the guest's code", async () => {
    const { spawnSync } = await import("node:child_process");
    const { ROOT } = await import("../../host/build.js");
    const cli = (cmd) =>
      spawnSync(process.execPath, [join(ROOT, "host/cli.js"), "sim", "--disk", "mem:1M", "--cmd", cmd], {
        encoding: "utf8",
        input: "",
      });
    const ok = cli("info; poweroff");
    expect(ok.stdout).toMatch(/ns name=nvme0n1 nsid=1 lba_bytes=512 blocks=2048/);
    expect(ok.status).toBe(0);
    expect(cli("read nvme0n1 4096 1; poweroff").status).not.toBe(0);
  }, 60000);
});
