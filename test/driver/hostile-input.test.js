// Input that must never be read as something else: over-long lines, control bytes, aliases of device
// names and seeds, numbers in any valid spelling, unknown boot options, interrupt modes that cannot
// be had, device parameters the driver cannot honour. Each is refused whole with an error line (or
// accepted exactly as written), and nothing is issued to the device for a refused command.
import { describe, it, expect } from "vitest";
import { drive, expectClean } from "./helpers.js";
import { linesOf, errorLines } from "../lib/disk-images.js";

const commands = (r) => r.machine.controllers[0].stats.io.read ?? 0;

describe("the shell refuses what it would otherwise misread", () => {
  it("a command with a control or non-ASCII byte is not run; the others are", async () => {
    const r = await drive({
      disks: ["mem:1M"],
      cmd: "crc nvme0n1 1\x002 1; crc nvme0n1 0 1\x7f; crc nvme0n1 0 \xe91; crc nvme0n1 0\t1; poweroff",
    });
    expect(errorLines(r.output)).toEqual([
      "error: shell: control byte 0x00 in the command, not run",
      "error: shell: control byte 0x7f in the command, not run",
      "error: shell: control byte 0xc3 in the command, not run", // é arrives as UTF-8: 0xc3 0xa9
    ]);
    expect(linesOf(r.output, "crc")).toHaveLength(1); // the tab is a blank
    expect(commands(r)).toBe(1);
    expect(r.code).not.toBe(0);
  });

  it("at the prompt: a line with a control byte, or longer than 512 bytes, is refused whole", async () => {
    const long = "crc nvme0n1 0 1" + " ".repeat(600) + "\r";
    const r = await drive({ disks: ["mem:1M"], cmd: "", input: "crc nvme0n1 1\x002 1\r" + long + "crc nvme0n1 0 2\r" });
    expect(errorLines(r.output)).toEqual([
      "error: shell: control byte 0x00 in the line, ignored",
      "error: shell: line longer than 512 bytes, ignored",
    ]);
    expect(linesOf(r.output, "crc").map((l) => l.fields.count)).toEqual(["2"]);
    expect(commands(r)).toBe(1);
  });

  it("at the prompt: arrow keys ring the bell and leave the line alone; Tab is a blank; a last line without newline runs", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "", input: "crc\x1b[A\x1b[D nvme0n1\t0 1\rstats" });
    expect(errorLines(r.output), r.output).toEqual([]);
    expect(r.output).toContain("\x07");
    expect(linesOf(r.output, "crc")).toHaveLength(1);
    expect(linesOf(r.output, "stats")).toHaveLength(1);
    expect(r.code).toBe(0);
  });

  it("device names are canonical only: nvme00n1 and nvme0n01 are not nvme0n1", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "crc nvme00n1 0 1; crc nvme0n01 0 1; crc nvme0n1 0 1; poweroff" });
    expect(errorLines(r.output)).toEqual([
      'error: crc: unknown device "nvme00n1"',
      'error: crc: unknown device "nvme0n01"',
    ]);
    expect(linesOf(r.output, "crc")).toHaveLength(1);
  });

  it("any valid number is accepted, however many leading zeros; past 2^64 - 1 it is not a number", async () => {
    const zeros = "0".repeat(40);
    const r = await drive({
      disks: ["mem:1M"],
      cmd: `crc nvme0n1 ${zeros}7 0x${zeros}1; crc nvme0n1 0 18446744073709551616; crc nvme0n1 0x10000000000000000 1; crc nvme0n1 0x 1; poweroff`,
    });
    expect(linesOf(r.output, "crc")[0].fields).toMatchObject({ lba: "7", count: "1" });
    expect(errorLines(r.output)).toEqual([
      'error: crc: COUNT is not a number: "18446744073709551616"',
      'error: crc: LBA is not a number: "0x10000000000000000"',
      'error: crc: LBA is not a number: "0x"',
    ]);
  });

  it("seeds are what the pattern distinguishes: 0..16777215; a larger one is refused, not aliased", async () => {
    const r = await drive({
      disks: ["mem:1M"],
      cmd: "fill nvme0n1 0 8 16777215; verify nvme0n1 0 8 16777215; verify nvme0n1 0 8 33554431; fill nvme0n1 0 8 16777216; poweroff",
    });
    expect(linesOf(r.output, "verify")[0].fields).toMatchObject({ seed: "16777215" });
    expect(errorLines(r.output)).toEqual([
      'error: verify: SEED must be 0..16777215 (the pattern uses 24 bits of it): "33554431"',
      'error: fill: SEED must be 0..16777215 (the pattern uses 24 bits of it): "16777216"',
    ]);
  });
});

describe("the driver says what it cannot do", () => {
  it("every boot option it does not understand is an error line, the run goes on", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "stage=10; irq=; stage=0; log=loud; speed=fast; info; poweroff" });
    expect(errorLines(r.output)).toEqual(
      ["stage=10", "irq=", "stage=0", "log=loud", "speed=fast"].map((o) => `error: boot option not understood: ${o}`),
    );
    expect(linesOf(r.output, "ctrl")[0].fields.state).toBe("ready");
    expect(r.code).not.toBe(0);
  });

  it("irq=msix on a function without MSI-X is said, and it polls; IO works", async () => {
    const r = await drive({ profile: "legacy", disks: ["mem:1M"], cmd: "irq=msix; info; crc nvme0n1 0 8; poweroff" });
    expect(errorLines(r.output)).toEqual([
      "error: nvme0: irq=msix asked for, but the function has no MSI-X the host can route; polling instead",
    ]);
    expect(linesOf(r.output, "ctrl")[0].fields.irq).toBe("poll");
    expect(linesOf(r.output, "crc")).toHaveLength(1);
    expectClean(r);
  });

  it("namespaces beyond the driver's 64 are reported in one line", async () => {
    const disks = Array.from({ length: 70 }, () => "mem:64K");
    const r = await drive({ disks, cmd: "info; poweroff" });
    expect(errorLines(r.output)).toEqual(["error: nvme0: 6 namespaces ignored: more than the driver's 64"]);
    expect(linesOf(r.output, "ns")).toHaveLength(64);
  });

  it("a controller with 16 KiB pages (CAP.MPSMIN = 2) is brought up on 16 KiB bus boundaries, and IO works", async () => {
    const r = await drive({
      profile: "strict",
      overrides: { mpsmin: 2, mpsmax: 4 },
      disks: ["mem:4M"],
      cmd: "fill nvme0n1 1 4000 3; verify nvme0n1 1 4000 3; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
  });

  it("a block larger than MDTS: refused at bring-up with the reason; the other namespace works", async () => {
    const r = await drive({
      profile: "tiny",
      disks: ["mem:1M,lba=64K", "mem:1M"],
      cmd: "info; crc nvme0n1 0 1; crc nvme0n2 0 1; poweroff",
    });
    const ns = linesOf(r.output, "ns").map((l) => [l.fields.name, l.fields.usable ?? "yes", l.fields.reason ?? ""]);
    expect(ns).toEqual([
      ["nvme0n1", "no", "logical block larger than the controller's MDTS"],
      ["nvme0n2", "yes", ""],
    ]);
    expect(errorLines(r.output)).toEqual([
      "error: crc dev=nvme0n1: namespace not usable: logical block larger than the controller's MDTS",
    ]);
    expect(linesOf(r.output, "crc")).toHaveLength(1);
    expectClean(r);
  });

  it("a zoned namespace (its Command Set Identifier, CNS 03h): refused at bring-up with the reason", async () => {
    const r = await drive({
      profile: "qemu",
      disks: ["mem:1M,zoned", "mem:1M"],
      cmd: "info; fill nvme0n1 0 1 1; crc nvme0n2 0 1; poweroff",
    });
    const ns = linesOf(r.output, "ns").map((l) => [l.fields.name, l.fields.usable ?? "yes", l.fields.reason ?? ""]);
    expect(ns).toEqual([
      ["nvme0n1", "no", "not an NVM command set namespace (e.g. zoned): its rules are not kept"],
      ["nvme0n2", "yes", ""],
    ]);
    expect(errorLines(r.output)).toEqual([
      "error: fill dev=nvme0n1: namespace not usable: not an NVM command set namespace (e.g. zoned): its rules are not kept",
    ]);
    expect(r.machine.controllers[0].stats.io.write ?? 0).toBe(0);
    expectClean(r);
  });

  it("bench with more blocks than MDTS: each request split, never an over-MDTS command", async () => {
    const r = await drive({ profile: "strict", disks: ["mem:8M"], cmd: "bench nvme0n1 read 1024 2 20; poweroff" }); // 512 KiB against MDTS 128 KiB
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.machine.controllers[0].stats.io.read).toBe(20 * 4);
  });
});
