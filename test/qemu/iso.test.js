// The bootable ISO (make iso, boot/iso.sh) in QEMU, under a BIOS (SeaBIOS, QEMU's default) and
// under UEFI (OVMF): GRUB boots the kernel, the driver comes up, commands typed on the PS/2
// keyboard (QMP send-key) run, and the screen shows what the serial console shows — read from
// the VGA text buffer under the BIOS (QMP pmemsave of 0xB8000) and decoded from a screen dump of
// the framebuffer under UEFI (QMP screendump, matched against the console font's glyphs). The
// same image booted as a USB stick under both. And the kernel on a PC without a keyboard
// controller or without COM1.
//
// The ISO is built with GRUB's timeout 0 (boot/iso.sh --timeout 0): the menu is boot/grub.cfg's,
// its first entry boots at once. Nothing here waits a fixed time: each step waits for what it
// needs (serial output, or the screen showing it), with generous bounds.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { createConnection } from "node:net";
import { hasQemu, KERNEL, ROOT } from "./helpers.js";
import { tempDir, writeImage, noiseBytes } from "../lib/disk-images.js";
import { parsePsf, consoleGlyphs, DEFAULT_FONT, FIRST_CHAR, LAST_CHAR } from "../../boot/font.js";

const MiB = 1 << 20;
const OVMF_PAIRS = [
  ["/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"],
  ["/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"],
];
const OVMF = OVMF_PAIRS.find(([code, vars]) => existsSync(code) && existsSync(vars));
const haveGrub = existsSync("/usr/lib/grub/i386-pc/moddep.lst") && existsSync("/usr/lib/grub/x86_64-efi/moddep.lst");
const enabled = (hasQemu() && haveGrub && !!OVMF) || !!process.env.CI;
const BOOT_MS = 180000; // to the first prompt, OVMF under TCG on a busy machine included
const STEP_MS = 60000; // one typed command's output, or the screen showing it
const VGA_TEXT = 0xb8000,
  VGA_COLUMNS = 80,
  VGA_ROWS = 25;

// ---- QEMU with a QMP socket ------------------------------------------------------------------

class Machine {
  constructor(args, qmpPath) {
    this.output = ""; // the serial port (QEMU's stdout)
    this.stderr = ""; // QEMU's own messages, apart: one written mid-line would split a serial line
    this.qmpPath = qmpPath;
    this.child = spawn("qemu-system-x86_64", [...args, "-qmp", `unix:${qmpPath},server=on,wait=off`], {
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout.on("data", (b) => {
      this.output += b.toString("latin1");
    });
    this.child.stderr.on("data", (b) => {
      this.stderr += b.toString("latin1");
    });
    this.exit = new Promise((resolve) => this.child.on("close", (code) => resolve(code)));
    this.answers = [];
    this.waiting = [];
  }

  kill() {
    try {
      process.kill(-this.child.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }

  // Resolves once `test(output)` holds; rejects after ms with the output so far.
  async waitFor(test, what, ms = STEP_MS) {
    const t0 = Date.now();
    for (;;) {
      if (test(this.output)) return;
      if (Date.now() - t0 > ms)
        throw new Error(
          `no ${what} after ${ms} ms\n--- serial output ---\n${this.output}\n--- QEMU's messages ---\n${this.stderr}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async connect() {
    const t0 = Date.now();
    while (!existsSync(this.qmpPath)) {
      if (Date.now() - t0 > STEP_MS) throw new Error("QEMU made no QMP socket");
      await new Promise((r) => setTimeout(r, 50));
    }
    this.sock = createConnection(this.qmpPath);
    let buffered = "";
    this.sock.on("data", (b) => {
      buffered += b.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop();
      for (const l of lines) {
        if (!l.trim()) continue;
        const m = JSON.parse(l);
        if (m.event || m.QMP) continue;
        this.waiting.shift()?.(m);
      }
    });
    await this.qmp("qmp_capabilities");
  }

  qmp(execute, args) {
    return new Promise((resolve, reject) => {
      this.waiting.push((m) => (m.error ? reject(new Error(`QMP ${execute}: ${m.error.desc}`)) : resolve(m.return)));
      this.sock.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + "\n");
    });
  }

  // Types keys on the PS/2 keyboard: each an array of QEMU key codes pressed together.
  async keys(list) {
    for (const k of list) {
      await this.qmp("send-key", { keys: k.map((data) => ({ type: "qcode", data })), "hold-time": 20 });
    }
  }

  async type(text) {
    await this.keys(keysFor(text));
  }
}

// US layout: a character as the QEMU key codes that type it.
const NAMED = {
  " ": "spc",
  "\n": "ret",
  "-": "minus",
  "=": "equal",
  ",": "comma",
  ".": "dot",
  "/": "slash",
  ";": "semicolon",
  "'": "apostrophe",
  "`": "grave_accent",
  "[": "bracket_left",
  "]": "bracket_right",
  "\\": "backslash",
};
const SHIFTED = {
  "!": "1",
  "@": "2",
  "#": "3",
  $: "4",
  "%": "5",
  "^": "6",
  "&": "7",
  "*": "8",
  "(": "9",
  ")": "0",
  _: "minus",
  "+": "equal",
  "<": "comma",
  ">": "dot",
  "?": "slash",
  ":": "semicolon",
  '"': "apostrophe",
  "~": "grave_accent",
  "{": "bracket_left",
  "}": "bracket_right",
  "|": "backslash",
};
function keysFor(text) {
  return [...text].map((c) => {
    if (/[a-z0-9]/.test(c)) return [c];
    if (/[A-Z]/.test(c)) return ["shift", c.toLowerCase()];
    if (NAMED[c]) return [NAMED[c]];
    if (SHIFTED[c]) return ["shift", SHIFTED[c]];
    throw new Error(`no key for ${JSON.stringify(c)}`);
  });
}

// ---- reading the screen ------------------------------------------------------------------------

// VGA text mode: the character bytes of the text buffer, row by row.
async function vgaText(m, file) {
  await m.qmp("pmemsave", { val: VGA_TEXT, size: VGA_COLUMNS * VGA_ROWS * 2, filename: file });
  const b = readFileSync(file);
  const rows = [];
  for (let r = 0; r < VGA_ROWS; r++) {
    let line = "";
    for (let c = 0; c < VGA_COLUMNS; c++) line += String.fromCharCode(b[(r * VGA_COLUMNS + c) * 2]);
    rows.push(line.trimEnd());
  }
  rows.columns = VGA_COLUMNS;
  return rows;
}

// A framebuffer: QEMU's screen dump (PPM), each 8x16 cell matched against the console font's
// glyphs (the cursor's cell is drawn inverted); a cell matching none reads as "\u25a1".
const font = parsePsf(readFileSync(DEFAULT_FONT));
const glyphText = new Map();
consoleGlyphs(font).forEach((g, i) => {
  if (FIRST_CHAR + i > LAST_CHAR) return; // the replacement glyph: not expected on the screen
  const ch = String.fromCharCode(FIRST_CHAR + i);
  for (const bits of [g, Buffer.from(g.map((x) => x ^ 0xff))]) {
    const key = bits.toString("hex");
    if (!glyphText.has(key)) glyphText.set(key, ch);
  }
});
async function framebufferText(m, file) {
  await m.qmp("screendump", { filename: file });
  const ppm = readFileSync(file);
  const h = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(ppm.subarray(0, 64).toString("latin1"));
  if (!h) throw new Error("screendump: not a P6 PPM with 8-bit samples");
  const width = Number(h[1]),
    height = Number(h[2]),
    px = ppm.subarray(h[0].length);
  const rows = [];
  for (let r = 0; r < Math.floor(height / font.height); r++) {
    let line = "";
    for (let c = 0; c < Math.floor(width / 8); c++) {
      const cell = Buffer.alloc(font.height);
      for (let y = 0; y < font.height; y++) {
        for (let x = 0; x < 8; x++) {
          const o = ((r * font.height + y) * width + c * 8 + x) * 3;
          if (px[o] + px[o + 1] + px[o + 2] > 3 * 0x55) cell[y] |= 0x80 >> x;
        }
      }
      line += glyphText.get(cell.toString("hex")) ?? "\u25a1";
    }
    rows.push(line.trimEnd());
  }
  rows.columns = Math.floor(width / 8);
  return rows;
}

// Waits until the screen's rows satisfy `test`; the last rows read are in the error.
async function waitScreen(m, read, test, what) {
  const t0 = Date.now();
  let rows = [];
  for (;;) {
    rows = await read();
    if (test(rows)) return rows;
    if (Date.now() - t0 > STEP_MS) {
      throw new Error(
        `the screen never showed ${what} in ${STEP_MS} ms; it shows:\n${rows.join("\n")}\n--- serial ---\n${m.output}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

// The last non-empty rows of the screen, in order.
const shownLines = (rows) => {
  let end = rows.length;
  while (end > 0 && rows[end - 1] === "") end--;
  return rows.slice(0, end);
};
const count = (s, sub) => s.split(sub).length - 1;
// A line as the screen shows it: cut into rows of the screen's width.
const wrapped = (line, columns) => line.match(new RegExp(`.{1,${columns}}`, "g"));

// ---- the scenario, under either firmware ------------------------------------------------------

const LEFT = ["left"],
  HOME = ["home"],
  BACKSPACE = ["backspace"],
  DELETE = ["delete"];

async function scenario(m, readScreen) {
  await m.connect();
  await m.waitFor((o) => /ns name=nvme0n1 [^\n]*\n[^]*nvme> $/.test(o), "prompt after bring-up and info", BOOT_MS);

  await m.type("flush nvme0n1\n");
  await m.waitFor((o) => /flush dev=nvme0n1 ok\r?\nnvme> $/.test(o), "flush typed on the keyboard");
  await m.type("Nope!\n"); // Shift: capitals and punctuation
  await m.waitFor(
    (o) => o.includes('error: shell: unknown command "Nope!" (try help)') && o.endsWith("nvme> "),
    "the error line of a typed typo",
  );
  // Editing keys: Backspace, Left, Delete, Home, then the line runs as it reads.
  await m.type("rc nvme0n1 0 88x");
  await m.keys([BACKSPACE, LEFT, DELETE, HOME]);
  await m.type("c\n");
  await m.waitFor(
    (o) => /crc dev=nvme0n1 lba=0 count=8 crc32=0x[0-9a-f]{8}\r?\nnvme> $/.test(o),
    "the crc line of the edited command",
  );
  const crcLine = /crc dev=nvme0n1 lba=0 count=8 crc32=0x[0-9a-f]{8}/.exec(m.output)[0];

  // The screen: the same lines as a terminal on the serial port shows, the edits applied.
  const screen = await waitScreen(
    m,
    readScreen,
    (rows) => {
      const s = shownLines(rows);
      return s.at(-1) === "nvme>" && s.includes(crcLine);
    },
    "the crc line and the prompt",
  );
  const s = shownLines(screen);
  const expected = [
    "nvme> flush nvme0n1",
    "flush dev=nvme0n1 ok",
    "nvme> Nope!",
    'error: shell: unknown command "Nope!" (try help)',
    "nvme> crc nvme0n1 0 8",
    crcLine,
    "nvme>",
  ];
  expect(s.slice(-expected.length), screen.join("\n")).toEqual(expected);
  expect(
    s.some((l) => l.startsWith("ns name=nvme0n1 nsid=1 lba_bytes=512")),
    screen.join("\n"),
  ).toBe(true);

  // Ctrl-C on the keyboard stops a long bench at a request boundary; its progress line, rewritten
  // in place on both consoles, is erased before the result line.
  await m.type("bench nvme0n1 read 1 1 100000000\n");
  await m.waitFor((o) => /\rbench \d+\/100000000 ios[^\n]*$/.test(o), "the bench's progress line");
  await m.keys([["ctrl", "c"]]);
  await m.waitFor(
    (o) => / ios=100000000 stopped at ios=\d+ \(Ctrl-C\)\r?\nnvme> $/.test(o),
    "the bench stopped by Ctrl-C",
  );
  const stopped = /(bench dev=nvme0n1 op=read [^\r\n\x1b]* stopped at ios=\d+ \(Ctrl-C\))\r?\nnvme> $/.exec(
    m.output,
  )[1];
  const afterStop = await waitScreen(
    m,
    readScreen,
    (rows) => shownLines(rows).at(-1) === "nvme>",
    "the prompt after the stopped bench",
  );
  const stoppedRows = wrapped(stopped, afterStop.columns);
  expect(shownLines(afterStop).slice(-2 - stoppedRows.length), afterStop.join("\n")).toEqual([
    "nvme> bench nvme0n1 read 1 1 100000000",
    ...stoppedRows,
    "nvme>",
  ]);

  // A hex dump longer than the screen: it scrolls, and its last lines are the serial console's.
  await m.type("read nvme0n1 0 1\n");
  await m.waitFor((o) => /\n00000200\r?\nnvme> $/.test(o), "the hex dump of LBA 0");
  const serialTail = m.output
    .slice(m.output.lastIndexOf("nvme> read nvme0n1 0 1"))
    .replace(/\r/g, "")
    .split("\n")
    .map((l) => l.trimEnd());
  expect(serialTail.length, m.output).toBe(1 + 32 + 1 + 1); // the command, 32 rows of 16 bytes, the end offset, the prompt
  const dump = await waitScreen(
    m,
    readScreen,
    (rows) => shownLines(rows).at(-2) === "00000200" && shownLines(rows).at(-1) === "nvme>",
    "the end of the hex dump and the prompt",
  );
  const d = shownLines(dump);
  const n = Math.min(d.length, serialTail.length);
  expect(n, dump.join("\n")).toBeGreaterThanOrEqual(VGA_ROWS - 1);
  expect(d.slice(-n), dump.join("\n")).toEqual(serialTail.slice(-n));

  // Ctrl-L clears the screen (ESC [ H ESC [ 2 J) and redraws the line being typed at the top.
  await m.type("xyz");
  await m.keys([["ctrl", "l"]]);
  const cleared = await waitScreen(
    m,
    readScreen,
    (rows) => rows[0] === "nvme> xyz",
    "the line alone at the top after Ctrl-L",
  );
  expect(shownLines(cleared), cleared.join("\n")).toEqual(["nvme> xyz"]);
  await m.keys([["ctrl", "u"]]); // Ctrl-U: the line is dropped
  await m.type("poweroff\n");
  const code = await Promise.race([m.exit, new Promise((r) => setTimeout(() => r("timeout"), STEP_MS))]);
  expect(code, m.output).toBe(0);
  expect(m.output).toContain("poweroff code=0");
  expect(count(m.output, "ctrl name=nvme0 "), m.output).toBe(1); // the boot line's info, nothing typed twice
}

describe.skipIf(!enabled)("the ISO in QEMU: BIOS and UEFI, screen and PS/2 keyboard", () => {
  let tmp, iso, disk;
  const running = [];
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    tmp = tempDir("nvme-qemu-iso-");
    iso = tmp.path("test.iso");
    const r = spawnSync(join(ROOT, "boot", "iso.sh"), ["--kernel", KERNEL, "--out", iso, "--timeout", "0"], {
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`boot/iso.sh failed (${r.status}):\n${r.stdout}${r.stderr}`);
    disk = writeImage(tmp.path("disk.img"), noiseBytes(16 * MiB, 11));
  });
  afterAll(() => {
    for (const m of running) m.kill();
    tmp?.remove();
  });

  const common = () => [
    "-accel",
    "tcg",
    "-m",
    "256M",
    "-display",
    "none",
    "-serial",
    "stdio",
    "-net",
    "none",
    "-device",
    "isa-debug-exit,iobase=0xf4,iosize=4",
    "-cdrom",
    iso,
    "-drive",
    `file=${disk},format=raw,if=none,id=d0`,
    "-device",
    "nvme,drive=d0,serial=nvmewasm0",
  ];

  it("BIOS (SeaBIOS): GRUB boots it in VGA text mode; typed commands run and the text buffer shows them", async () => {
    const m = new Machine(["-machine", "pc", ...common()], tmp.path("bios.qmp"));
    running.push(m);
    try {
      await scenario(m, () => vgaText(m, tmp.path("vga.bin")));
    } finally {
      m.kill();
    }
    expect(m.output).not.toMatch(/error: (?!shell: unknown command "Nope!")/);
  });

  // pc: OVMF puts the ACPI PM registers at 0xB000 there, not at 0x600 where the kernel's poweroff
  // writes when it finds no ACPI tables; GRUB's multiboot does not hand the RSDP over under UEFI, so
  // a poweroff that exits 0 shows the kernel found the tables itself, in the memory map's ACPI
  // regions (arch.c find_rsdp).
  it("UEFI (OVMF): GRUB boots it on a framebuffer; typed commands run, the screen dump shows them, poweroff finds ACPI", async () => {
    const vars = tmp.path("OVMF_VARS.fd");
    copyFileSync(OVMF[1], vars);
    const m = new Machine(
      [
        "-machine",
        "pc",
        "-drive",
        `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF[0]}`,
        "-drive",
        `if=pflash,format=raw,unit=1,file=${vars}`,
        ...common(),
      ],
      tmp.path("uefi.qmp"),
    );
    running.push(m);
    try {
      await scenario(m, () => framebufferText(m, tmp.path("screen.ppm")));
    } finally {
      m.kill();
    }
    expect(m.output).not.toMatch(/error: (?!shell: unknown command "Nope!")/);
    expect(m.output).not.toMatch(/^screen: /m);
  });

  it("written to a USB stick (QEMU usb-storage on xHCI): the same image boots under SeaBIOS and OVMF", async () => {
    const vars = tmp.path("OVMF_VARS_usb.fd");
    copyFileSync(OVMF[1], vars);
    const firmware = {
      seabios: ["-machine", "pc"],
      ovmf: [
        "-machine",
        "q35",
        "-drive",
        `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF[0]}`,
        "-drive",
        `if=pflash,format=raw,unit=1,file=${vars}`,
      ],
    };
    for (const [name, args] of Object.entries(firmware)) {
      const m = new Machine(
        [
          ...args,
          "-accel",
          "tcg",
          "-m",
          "256M",
          "-display",
          "none",
          "-serial",
          "stdio",
          "-net",
          "none",
          "-device",
          "isa-debug-exit,iobase=0xf4,iosize=4",
          "-drive",
          `file=${iso},format=raw,if=none,id=stick,readonly=on`,
          "-device",
          "qemu-xhci",
          "-device",
          "usb-storage,drive=stick",
          "-drive",
          `file=${disk},format=raw,if=none,id=d0`,
          "-device",
          "nvme,drive=d0,serial=nvmewasm0",
        ],
        tmp.path(`usb-${name}.qmp`),
      );
      running.push(m);
      try {
        await m.connect();
        await m.waitFor(
          (o) => /ns name=nvme0n1 [^\n]*\n[^]*nvme> $/.test(o),
          `${name}: the prompt after booting from the stick`,
          BOOT_MS,
        );
        await m.type("poweroff\n");
        const code = await Promise.race([m.exit, new Promise((r) => setTimeout(() => r("timeout"), STEP_MS))]);
        expect(code, `${name}\n${m.output}`).toBe(0);
      } finally {
        m.kill();
      }
    }
  });

  it("no keyboard controller (i8042=off) and no COM1 (-serial none): the kernel neither hangs nor reads phantom keys", async () => {
    // No i8042: serial input still works, nothing else is read as typed.
    const a = new Machine(
      [
        "-machine",
        "pc,i8042=off",
        "-accel",
        "tcg",
        "-m",
        "128M",
        "-kernel",
        KERNEL,
        "-append",
        "console=tty",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-net",
        "none",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=4",
        "-drive",
        `file=${disk},format=raw,if=none,id=d0`,
        "-device",
        "nvme,drive=d0,serial=nvmewasm0",
      ],
      tmp.path("nokbd.qmp"),
    );
    running.push(a);
    try {
      await a.waitFor((o) => o.endsWith("nvme> "), "the prompt without a keyboard controller", BOOT_MS);
      a.child.stdin.write("flush nvme0n1\r");
      await a.waitFor((o) => /flush dev=nvme0n1 ok\r?\nnvme> $/.test(o), "flush typed on the serial console");
      a.child.stdin.write("poweroff\r");
      expect(await a.exit, a.output).toBe(0);
      expect(a.output).not.toMatch(/error:/);
    } finally {
      a.kill();
    }
    // No COM1, as on most PCs now: the screen and the keyboard are the console. Output must not
    // stall on the missing UART (its ports read 0xFF) nor read phantom input from it.
    const b = new Machine(
      [
        "-machine",
        "pc",
        "-accel",
        "tcg",
        "-m",
        "128M",
        "-kernel",
        KERNEL,
        "-append",
        "flush nvme0n1; console=tty",
        "-display",
        "none",
        "-serial",
        "none",
        "-net",
        "none",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=4",
        "-drive",
        `file=${disk},format=raw,if=none,id=d0`,
        "-device",
        "nvme,drive=d0,serial=nvmewasm0",
      ],
      tmp.path("nocom.qmp"),
    );
    running.push(b);
    try {
      await b.connect();
      const read = () => vgaText(b, tmp.path("nocom.bin"));
      const shown = (rows) => shownLines(rows);
      await waitScreen(
        b,
        read,
        (rows) => shown(rows).at(-2) === "flush dev=nvme0n1 ok" && shown(rows).at(-1) === "nvme>",
        "the command line's flush and the prompt",
      );
      await b.type("zero nvme0n1 8 8\n");
      await waitScreen(
        b,
        read,
        (rows) => shown(rows).at(-2) === "zero dev=nvme0n1 lba=8 count=8 ok" && shown(rows).at(-1) === "nvme>",
        "the zero typed on the keyboard",
      );
      await b.type("poweroff\n");
      const code = await Promise.race([b.exit, new Promise((r) => setTimeout(() => r("timeout"), STEP_MS))]);
      expect(code, b.output).toBe(0);
    } finally {
      b.kill();
    }
  });
});
