import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../../host/build.js";
import { parseArgs, bootCommandLine } from "../../host/cli.js";

const CLI = join(ROOT, "host", "cli.js");
const cli = (...args) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", input: "", timeout: 30000 });

describe("CLI arguments", () => {
  it("parses the sim options", () => {
    const o = parseArgs([
      "sim",
      "--disk",
      "a.img,lba=4096",
      "--disk=mem:8M,ctrl=1",
      "--profile",
      "strict",
      "--set",
      "mdts=2,mqes=15",
      "--seed",
      "42",
      "--bridge",
      "--multifunction",
      "--fault",
      "error=0.01,cfs=500",
      "--trace",
      "--cmd",
      "info; poweroff",
    ]);
    expect(o).toMatchObject({
      disks: ["a.img,lba=4096", "mem:8M,ctrl=1"],
      profile: "strict",
      overrides: { mdts: "2", mqes: "15" },
      seed: 42,
      bridge: true,
      multifunction: true,
      faults: { error: "0.01", cfs: "500" },
      trace: true,
      cmd: "info; poweroff",
    });
    expect(parseArgs(["sim"]).disks).toEqual(["mem:16M"]);
    expect(parseArgs(["--help"])).toEqual({ help: true });
    expect(parseArgs(["sim", "-h"])).toEqual({ help: true });
  });

  it("rejects bad arguments", () => {
    expect(() => parseArgs([])).toThrow(/missing command/);
    expect(() => parseArgs(["run"])).toThrow(/unknown command "run"/);
    expect(() => parseArgs(["sim", "--disk"])).toThrow(/--disk needs a value/);
    expect(() => parseArgs(["sim", "--seed", "x"])).toThrow(/--seed wants/);
    expect(() => parseArgs(["sim", "--set", "mdts"])).toThrow(/not KEY=VALUE/);
    expect(() => parseArgs(["sim", "--frobnicate"])).toThrow(/unknown option --frobnicate/);
    expect(() => parseArgs(["sim", "stray"])).toThrow(/unexpected argument "stray"/);
    expect(() => parseArgs(["sim", "--controllers", "0"])).toThrow(/--controllers/);
  });

  it("parses with node:util: --opt=value, repeated options in order, --console", () => {
    const o = parseArgs([
      "sim",
      "--set=mdts=2",
      "--set",
      "mqes=15",
      "--fault",
      "error=0.1",
      "--fault=drop=0.2",
      "--console",
      "tty",
      "--dma-base",
      "0x1000000000000",
    ]);
    expect(o).toMatchObject({
      overrides: { mdts: "2", mqes: "15" },
      faults: { error: "0.1", drop: "0.2" },
      console: "tty",
      dmaBase: 0x1000000000000n,
    });
    expect(() => parseArgs(["sim", "--console", "vt100"])).toThrow(/--console wants/);
    expect(() => parseArgs(["sim", "--bridge=1"])).toThrow(/--bridge takes no value/);
    expect(() => parseArgs(["sim", "--disk", "--cmd", "x"])).toThrow(/--disk needs a value/);
  });

  it("console=tty joins the boot command line when a person types (docs/shell.md)", () => {
    expect(bootCommandLine("info", "auto", true)).toBe("info; console=tty");
    expect(bootCommandLine(null, "auto", true)).toBe("console=tty");
    expect(bootCommandLine("info", "auto", false)).toBe("info");
    expect(bootCommandLine(null, "tty", false)).toBe("console=tty");
    expect(bootCommandLine("info", "script", true)).toBe("info");
  });

  it("exits 2 with a message on usage errors, 0 for --help", () => {
    const bad = cli("sim", "--bogus");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/nvme-wasm: unknown option --bogus/);
    const spec = cli("sim", "--disk", "x.img,lba=1000");
    expect(spec.status).toBe(2);
    expect(spec.stderr).toMatch(/power of two/);
    const fault = cli("sim", "--fault", "error=lots");
    expect(fault.status).toBe(2);
    expect(fault.stderr).toMatch(/error=lots/);
    const help = cli("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: nvme-wasm sim/);
  });
});
