// The shell of docs/shell.md against the model: every command, its exact output lines, and every
// kind of bad input (an error line, nothing issued to the device, the next command still runs).
import { describe, it, expect, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { drive, expectClean } from "./helpers.js";
import { ROOT } from "../../host/build.js";
import {
  tempDir,
  writeImage,
  readImage,
  noiseBytes,
  patternBytes,
  crcHex,
  linesOf,
  errorLines,
} from "../lib/disk-images.js";

const MiB = 1 << 20;
const tmp = tempDir("nvme-shell-");
afterAll(() => tmp.remove());
let n = 0;
function image(bytes) {
  return writeImage(tmp.path(`img${n++}.raw`), bytes);
}

// `hexdump -C` of bytes shown at device offset `base`, from its definition.
function hexdumpC(bytes, base) {
  const out = [];
  let starred = false;
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    if (off >= 16 && off + 16 < bytes.length && row.equals(bytes.subarray(off - 16, off))) {
      if (!starred) out.push("*");
      starred = true;
      continue;
    }
    starred = false;
    let hex = "";
    for (let i = 0; i < 16; i++)
      hex += (i === 8 ? " " : "") + (i < row.length ? " " + row[i].toString(16).padStart(2, "0") : "   ");
    const ascii = [...row].map((c) => (c >= 32 && c < 127 ? String.fromCharCode(c) : ".")).join("");
    out.push(`${(base + off).toString(16).padStart(8, "0")} ${hex}  |${ascii}|`);
  }
  out.push((base + bytes.length).toString(16).padStart(8, "0"));
  return out;
}

describe("the shell", () => {
  it("help lists every command", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "help; poweroff" });
    expect(r.code).toBe(0);
    for (const c of [
      "help",
      "info",
      "read DEV LBA COUNT",
      "crc DEV LBA COUNT",
      "fill DEV LBA COUNT SEED",
      "verify DEV LBA COUNT SEED",
      "flush DEV",
      "bench DEV",
      "stats",
      "poweroff",
    ]) {
      expect(r.output).toContain(`  ${c}`);
    }
  });

  it("read prints the blocks as hexdump -C would, offsets from the device start", async () => {
    const bytes = noiseBytes(1 * MiB, 1);
    bytes.fill(0xab, 3 * 512, 3 * 512 + 200); // a run of equal lines, shown as '*'
    bytes.write("nvme-wasm shell test", 2 * 512 + 5, "latin1");
    const path = image(bytes);
    const r = await drive({ disks: [path], cmd: "read nvme0n1 2 3; poweroff" });
    expect(r.code, r.why).toBe(0);
    const got = r.output.split("\n");
    const want = hexdumpC(bytes.subarray(1024, 2560), 1024);
    const start = got.indexOf(want[0]);
    expect(start, r.why).toBeGreaterThan(0);
    expect(got.slice(start, start + want.length)).toEqual(want);
  });

  it("crc, fill, verify and flush print exactly the lines docs/shell.md specifies", async () => {
    const path = image(noiseBytes(1 * MiB, 2));
    const r = await drive({
      disks: [path],
      cmd: "fill nvme0n1 0 2048 0x2a; verify nvme0n1 0 2048 42; crc nvme0n1 0 2048; flush nvme0n1; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.output).toContain("fill dev=nvme0n1 lba=0 count=2048 seed=42 ok\n");
    expect(r.output).toContain("verify dev=nvme0n1 lba=0 count=2048 seed=42 ok\n");
    expect(r.output).toContain(`crc dev=nvme0n1 lba=0 count=2048 crc32=${crcHex(patternBytes(42, 0, MiB))}\n`);
    expect(r.output).toContain("flush dev=nvme0n1 ok\n");
  });

  it("verify names the first block and byte that differ from the pattern", async () => {
    const bytes = patternBytes(9, 0, 1 * MiB);
    bytes[700 * 512 + 77] ^= 0x10;
    bytes[900 * 512] ^= 1;
    const path = image(bytes);
    const r = await drive({
      disks: [path],
      cmd: "verify nvme0n1 0 2048 9; verify nvme0n1 701 100 9; verify nvme0n1 0 2048 8; poweroff",
    });
    expect(r.code).not.toBe(0);
    expect(linesOf(r.output, "verify").map((l) => l.text)).toEqual([
      "verify dev=nvme0n1 lba=0 count=2048 seed=9 mismatch lba=700 offset=77",
      "verify dev=nvme0n1 lba=701 count=100 seed=9 ok",
      "verify dev=nvme0n1 lba=0 count=2048 seed=8 mismatch lba=0 offset=0",
    ]);
  });

  it("stats counts commands, bytes and completions", async () => {
    const r = await drive({ profile: "qemu", disks: ["mem:4M"], cmd: "crc nvme0n1 0 4096; stats; poweroff" });
    const s = linesOf(r.output, "stats")[0].fields;
    expect(s).toMatchObject({
      ctrl: "nvme0",
      read_bytes: String(2 * MiB),
      write_bytes: "0",
      bytes: String(2 * MiB),
      errors: "0",
      retries: "0",
      timeouts: "0",
      resets: "0",
    });
    // The Asynchronous Event Request is a command whose completion comes only with an event: with no
    // IO in flight, completions + events_armed == commands.
    expect(s.events_armed).toBe("1");
    expect(Number(s.completions) + Number(s.events_armed)).toBe(Number(s.commands));
    // Bring-up (identify controller, namespace list, namespace, its descriptors; set features, two
    // creates for each of the two IO queue pairs, one per client module: the shell and fs.wasm; no
    // Doorbell Buffer Config, off by default), once ready Asynchronous Event Configuration and the
    // event request, + 2 MiB in 512 KiB commands.
    expect(Number(s.commands)).toBe(5 + 2 * 2 + 2 + 4);
  });

  it("bad input: one error line each, no IO issued, later commands still run, exit code non-zero", async () => {
    const path = image(noiseBytes(1 * MiB, 3));
    const bad = [
      [
        "crc nvme0n1 2040 9",
        /^error: crc dev=nvme0n1 lba=2040 count=9: range past the end of the namespace \(blocks=2048\)$/,
      ],
      ["crc nvme0n1 2048 1", /range past the end/],
      ["crc nvme0n1 0 0", /^error: crc dev=nvme0n1 lba=0 count=0: COUNT must be at least 1$/],
      ["read nvme0n1 0 2049", /^error: read dev=nvme0n1 lba=0 count=2049: range past the end/],
      ["read nvme0n1 0 4000", /past the end|too large/],
      ["crc nvme3n1 0 1", /^error: crc: unknown device "nvme3n1"$/],
      ["crc nvme0n9 0 1", /unknown device "nvme0n9"/],
      ["crc sda 0 1", /unknown device "sda"/],
      ["crc nvme0n1 12abc 1", /^error: crc: LBA is not a number: "12abc"$/],
      ["crc nvme0n1 0 -1", /COUNT is not a number: "-1"/],
      ["crc nvme0n1 0 99999999999999999999999", /COUNT is not a number/],
      ["crc nvme0n1 0x 1", /LBA is not a number: "0x"/],
      ["fill nvme0n1 0 1", /^error: fill: usage: fill DEV LBA COUNT SEED$/],
      ["fill nvme0n1 0 1 seedy", /SEED is not a number: "seedy"/],
      ["crc nvme0n1 0", /usage: crc DEV LBA COUNT/],
      ["info now", /^error: info: takes no arguments$/],
      ["flush", /usage: flush DEV/],
      ["dd if=/dev/zero", /^error: shell: unknown command "dd" \(try help\)$/],
      ["crc a b c d e f g h i", /too many words/],
      ["bench nvme0n1 sideways", /expected read or write/],
    ];
    const cmd = bad.map(([c]) => c).join("; ") + "; crc nvme0n1 0x10 0x10; poweroff";
    const r = await drive({ disks: [path], cmd });
    expect(r.code, r.why).not.toBe(0);
    expectClean(r);
    const errors = errorLines(r.output);
    expect(errors, r.why).toHaveLength(bad.length);
    bad.forEach(([c, re], i) => expect(errors[i], c).toMatch(re));
    expect(linesOf(r.output, "crc").map((l) => l.text)).toEqual([
      `crc dev=nvme0n1 lba=16 count=16 crc32=${crcHex(readImage(path).subarray(16 * 512, 32 * 512))}`,
    ]);
    expect(r.machine.controllers[0].stats.io.read).toBe(1); // only the good crc reached the device
  });

  it("a write-protected namespace: fill refused before any IO, reads go on", async () => {
    const bytes = noiseBytes(1 * MiB, 4);
    const path = image(bytes);
    const r = await drive({
      disks: [`${path},ro`],
      cmd: "info; fill nvme0n1 0 8 1; bench nvme0n1 write; crc nvme0n1 0 2048; poweroff",
    });
    expect(r.code).not.toBe(0);
    expect(linesOf(r.output, "ns")[0].fields.readonly).toBe("yes");
    expect(errorLines(r.output)).toEqual([
      "error: fill dev=nvme0n1 lba=0 count=8: namespace is write protected (NSATTR)",
      "error: bench dev=nvme0n1: namespace is write protected (NSATTR)",
    ]);
    expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
    expect(r.machine.controllers[0].stats.io.write ?? 0).toBe(0);
    expect(readImage(path).equals(bytes)).toBe(true);
  });

  it("commands after poweroff are not run", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "poweroff; info" });
    expect(r.code).toBe(0);
    expect(linesOf(r.output, "ctrl")).toHaveLength(0);
  });

  it("interactive: the prompt, echo, line editing, ^C, then end of input shuts down in order", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "", input: "infx\x7fo\rcrc nvme0n1 0 1\x03stats\r" });
    expect(r.code, r.why).toBe(0);
    // DEL erases on the terminal with backspace, space, backspace; the command run is "info".
    expect(r.output).toContain("nvme> infx\b \bo\n");
    expect(linesOf(r.output, "ctrl")).toHaveLength(1);
    expect(r.output).toContain("nvme> crc nvme0n1 0 1^C\n");
    expect(linesOf(r.output, "crc")).toHaveLength(0);
    expect(linesOf(r.output, "stats")).toHaveLength(1);
    expect(r.output).toMatch(/shutdown ctrl=nvme0 ok/);
  });

  it("the CLI exits 0 only when every command succeeded, and writes the image file back", () => {
    const path = image(noiseBytes(2 * MiB, 5));
    const cli = join(ROOT, "host", "cli.js");
    const ok = spawnSync(
      process.execPath,
      [cli, "sim", "--disk", path, "--profile", "strict", "--seed", "4", "--cmd", "fill nvme0n1 100 1000 77; poweroff"],
      { encoding: "utf8" },
    );
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    const after = readImage(path);
    expect(after.subarray(100 * 512, 1100 * 512).equals(patternBytes(77, 100 * 512, 1000 * 512))).toBe(true);
    const bad = spawnSync(process.execPath, [cli, "sim", "--disk", path, "--cmd", "crc nvme0n1 0 999999; poweroff"], {
      encoding: "utf8",
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/^error: crc dev=nvme0n1 lba=0 count=999999: range past the end/m);
  });
});
