// The prompt on an interactive console (console=tty, docs/shell.md "Keys at the prompt"): keys fed
// through the Node host's console as a terminal would send them — editing, history, Tab completion,
// Ctrl-U/W, escape sequences cut short or unknown, Ctrl-C at the prompt and during long commands
// (every request completes once, the medium is as it must be), type-ahead, the exit-code rule. And
// that scripted input (no console=tty) is read as it always was.
import { describe, it, expect } from "vitest";
import { drive, expectClean } from "./helpers.js";

const ESC = "\x1b";
const LEFT = `${ESC}[D`,
  RIGHT = `${ESC}[C`,
  UP = `${ESC}[A`,
  DOWN = `${ESC}[B`;
const HOME = `${ESC}[H`,
  END = `${ESC}[F`,
  DELETE = `${ESC}[3~`;
const CTRL_A = "\x01",
  CTRL_C = "\x03",
  CTRL_E = "\x05",
  CTRL_U = "\x15",
  CTRL_W = "\x17",
  CTRL_L = "\x0c";
const BS = "\x7f",
  TAB = "\t",
  BELL = "\x07";

const tty = (input, extra = {}) => drive({ disks: ["mem:1M"], cmd: "console=tty", input, ...extra });

// The lines a run printed that start with `word` (echoed prompt lines excluded).
const resultLines = (out, word) => out.split("\n").filter((l) => l.startsWith(`${word} `) || l === word);
const errors = (out) => out.split("\n").filter((l) => l.startsWith("error: "));

// Every request the shell sent completed, and each once: none left in flight or waiting in the link
// (a second completion of a tag would have stopped the shell: requests.ts asserts it), the driver
// shut down in order, and the device saw nothing wrong.
function expectEveryRequestOnce(r) {
  const client = r.machine.link.clients[0];
  expect(client.inFlight, r.why).toBe(0);
  expect(client.done, r.why).toEqual([]);
  expect(r.output, r.why).toMatch(/shutdown ctrl=nvme0 ok/);
  expectClean(r);
}

describe("prompt on an interactive console (console=tty)", () => {
  it("Left/Right, Home/End in every form, Backspace and Delete anywhere in the line", async () => {
    // "inxfo": Left x3 and Delete removes the x; "crc nvme0n1 0 1" typed as "rc nvme0n1 0 1", Home, c;
    // "stats" from "statsXY" with Ctrl-A, Ctrl-E, BS BS; ESC [ 1 ~ and ESC [ 4 ~ are Home/End too.
    const r = await tty(
      `inxfo${LEFT}${LEFT}${LEFT}${DELETE}\r` +
        `rc nvme0n1 0 1${HOME}c\r` +
        `statsXY${CTRL_A}${CTRL_E}${BS}${BS}\r` +
        `nfo${ESC}[1~i${ESC}[4~\r` +
        `hep${LEFT}l${END}${RIGHT}\rpoweroff\r`,
    );
    expect(r.code, r.why).toBe(0);
    expect(errors(r.output), r.why).toEqual([]);
    expect(resultLines(r.output, "ctrl"), r.why).toHaveLength(2); // info, twice
    expect(resultLines(r.output, "crc"), r.why).toHaveLength(1);
    expect(resultLines(r.output, "stats"), r.why).toHaveLength(1);
    expect(r.output, r.why).toContain("commands:"); // help
    // Redraws are plain VT100: the insertion in the middle rewrites the tail, erases, moves back.
    expect(r.output, r.why).toContain(`nvme> inxfo${ESC}[1D${ESC}[1D${ESC}[1Dfo${ESC}[K${ESC}[2D`);
    expect(r.output, r.why).toContain(BELL); // Right at the end of the line
  });

  it("history: Up/Down recall lines, the line being typed comes back, duplicates of the last line are not stored", async () => {
    const r = await tty(
      `crc nvme0n1 0 1\rcrc nvme0n1 0 1\rstats\r` + `half${UP}${UP}${DOWN}${DOWN}${UP}${UP}${UP}\r` + "poweroff\r",
    );
    expect(r.code, r.why).toBe(0);
    // Up, Up = "crc nvme0n1 0 1" (stored once), Down, Down = the draft "half", Up x3: stats, crc, then the bell.
    expect(r.output, r.why).toContain(`\rnvme> half${ESC}[K`);
    expect(resultLines(r.output, "crc"), r.why).toHaveLength(3);
    const afterHalf = r.output.slice(r.output.indexOf("half"));
    expect(afterHalf.indexOf(BELL), r.why).toBeGreaterThan(0);
  });

  it("history keeps the last 16 lines", async () => {
    const typed = Array.from({ length: 20 }, (_, i) => `crc nvme0n1 ${i} 1\r`).join("");
    const r = await tty(typed + UP.repeat(17) + "\rpoweroff\r");
    expect(r.code, r.why).toBe(0);
    const crcs = resultLines(r.output, "crc").map((l) => /lba=(\d+)/.exec(l)[1]);
    expect(crcs.slice(20), r.why).toEqual(["4"]); // 16 back from lba 19 is lba 4; the 17th Up rings
  });

  it("Ctrl-U kills to the start, Ctrl-W the word before the cursor, Ctrl-L redraws", async () => {
    const r = await tty(`garbage${CTRL_U}info\r` + `crc nvme0n1 0 99${CTRL_W}1\r` + `sta${CTRL_L}ts\rpoweroff\r`);
    expect(r.code, r.why).toBe(0);
    expect(errors(r.output), r.why).toEqual([]);
    expect(resultLines(r.output, "crc")[0], r.why).toMatch(/^crc dev=nvme0n1 lba=0 count=1 crc32=/);
    expect(r.output, r.why).toContain(`${ESC}[H${ESC}[2J\rnvme> sta${ESC}[K`);
    expect(resultLines(r.output, "stats"), r.why).toHaveLength(1);
  });

  it("Tab completes a unique command or device name, lists several and redraws the line", async () => {
    const r = await tty(`cr${TAB}nv${TAB}0 1\r` + `f${TAB}\x15` + `s${TAB}${CTRL_U}poweroff\r`, {
      disks: ["mem:1M", "mem:1M,ctrl=0"],
    });
    expect(r.code, r.why).toBe(0);
    // "cr" -> "crc ", "nv" with two namespaces -> "nvme0n", then "1"? no: two candidates, common part added.
    expect(r.output, r.why).toContain("nvme> crc nvme0n");
    expect(r.output, r.why).toContain("fill  flush\n\rnvme> f"); // two candidates: listed, line redrawn
    expect(r.output, r.why).toContain("smart  stats  sum\n\rnvme> s");
  });

  it("Tab: the command list is help's, device names come from the driver, controllers after smart/errors", async () => {
    const help = await drive({ disks: ["mem:1M"], cmd: "help; poweroff" });
    const commands = help.output
      .split("\n")
      .filter((l) => /^ {2}[a-z]/.test(l))
      .map((l) => l.trim().split(/\s+/)[0]);
    const r = await tty(`${TAB}${CTRL_U}crc ${TAB}${TAB}${CTRL_U}crc nvme1${TAB}${CTRL_U}poweroff\r`, {
      disks: ["mem:1M", "mem:1M,ctrl=1"],
    });
    expect(r.code, r.why).toBe(0);
    expect(r.output, r.why).toContain(`nvme> \n${commands.join("  ")}\n`);
    expect(r.output, r.why).toContain("crc nvme\nnvme0n1  nvme1n1\n\rnvme> crc nvme"); // the common part, then the list
    expect(r.output, r.why).toContain("crc nvme1n1 \x1b[12D"); // Tab added "n1 "; Ctrl-U then moved back 12
    if (commands.includes("smart")) {
      const s = await tty(`smart ${TAB}${TAB}${CTRL_U}poweroff\r`, { disks: ["mem:1M", "mem:1M,ctrl=1"] });
      expect(s.output, s.why).toContain("smart nvme\nnvme0  nvme1\n");
    }
  });

  it("escape sequences cut short, unknown, over-long; control and non-ASCII bytes: the bell, the line unchanged", async () => {
    const cut = `${ESC}[`; // then Enter: a sequence cut short by a control byte
    const r = await tty(
      `in${ESC}[1;5${CTRL_A}fo\r` +
        `${ESC}[99~${ESC}[Z${ESC}O${ESC}[${"1".repeat(40)}Ainfo\r` +
        `st\x00\x02\x80\xffats\r` +
        `${ESC}x${cut}\rpoweroff\r`,
    );
    expect(r.code, r.why).toBe(0);
    // "in", a sequence cut by Ctrl-A (the bell, then Ctrl-A is Home), "fo" typed at the start: "foin".
    expect(errors(r.output)[0], r.why).toBe('error: shell: unknown command "foin" (try help)');
    expect(resultLines(r.output, "ctrl"), r.why).toHaveLength(1); // the second line ran as info
    // Ctrl-B is Left: "st" + Left + "ats" = "satst"
    expect(errors(r.output)[1], r.why).toBe('error: shell: unknown command "satst" (try help)');
    expect(errors(r.output), r.why).toHaveLength(3); // "x", then ESC [ cut by Enter
    expect(errors(r.output)[2], r.why).toBe('error: shell: unknown command "x" (try help)');
    expect(r.output.split(BELL).length - 1, r.why).toBeGreaterThanOrEqual(8);
  });

  it("a line over 512 bytes is refused whole, and the rest of the session goes on", async () => {
    const r = await tty(`${"x".repeat(600)}\rinfo\rpoweroff\r`);
    expect(errors(r.output), r.why).toEqual(["error: shell: line longer than 512 bytes, ignored"]);
    expect(resultLines(r.output, "ctrl"), r.why).toHaveLength(1);
    expect(r.code, r.why).toBe(0); // typed at an interactive console: not a failure
  });

  it("Ctrl-C at the prompt discards the line and prints a new prompt", async () => {
    const r = await tty(`crc nvme0n1 0 1${LEFT}${CTRL_C}stats\rpoweroff\r`);
    expect(r.code, r.why).toBe(0);
    expect(r.output, r.why).toContain("^C\nnvme> stats\n");
    expect(resultLines(r.output, "crc"), r.why).toHaveLength(0);
  });
});

describe("Ctrl-C during a long command (console=tty)", () => {
  // Every request takes 2 ms of the model's clock, so the shell's look at the console (every 10 ms)
  // comes while the command runs.
  const slow = { faults: { slowRate: 1, slowNs: 2_000_000 } };

  it("crc stops at a request boundary: one line says where, every request completed once, the rest of the line is not run", async () => {
    const r = await drive({
      ...slow,
      disks: ["mem:64M"],
      cmd: "console=tty",
      input: `crc nvme0n1 0 131072; info\r${CTRL_C}stats\rpoweroff\r`,
    });
    expect(r.code, r.why).toBe(0);
    const stopped = resultLines(r.output, "crc");
    expect(stopped, r.why).toHaveLength(1);
    const m = /^crc dev=nvme0n1 lba=0 count=131072 stopped at lba=(\d+) \(Ctrl-C\)$/.exec(stopped[0]);
    expect(m, r.why).not.toBe(null);
    expect(Number(m[1]) > 0 && Number(m[1]) < 131072, r.why).toBe(true);
    expect(resultLines(r.output, "ctrl"), r.why).toHaveLength(0); // "; info" was not run
    expect(resultLines(r.output, "stats"), r.why).toHaveLength(1); // the next line was
    expectEveryRequestOnce(r);
    expect(r.output, r.why).toMatch(/shutdown ctrl=nvme0 ok/);
  });

  it("fill stops: the blocks before the line's lba hold the pattern, the others are untouched; type-ahead is kept", async () => {
    const r = await drive({
      ...slow,
      disks: ["mem:64M"],
      cmd: "console=tty",
      input: `fill nvme0n1 0 131072 9\r${CTRL_C}verify nvme0n1 0 8 9\r`,
    });
    const m = /^fill dev=nvme0n1 lba=0 count=131072 seed=9 stopped at lba=(\d+) \(Ctrl-C\)$/.exec(
      resultLines(r.output, "fill")[0] ?? "",
    );
    expect(m, r.why).not.toBe(null);
    const at = Number(m[1]);
    expect(resultLines(r.output, "verify")[0], r.why).toMatch(/ok$/);
    const after = await drive({
      ...slow,
      disks: ["mem:64M"],
      cmd: "console=tty",
      input: `fill nvme0n1 0 131072 9\r${CTRL_C}verify nvme0n1 0 ${at} 9\rverify nvme0n1 ${at} 8 9\r`,
    });
    expect(resultLines(after.output, "verify")[0], after.why).toMatch(/ok$/);
    expect(resultLines(after.output, "verify")[1], after.why).toMatch(/mismatch lba=\d+ offset=0$/);
    expect(after.code, after.why).toBe(0); // a mismatch typed at an interactive console does not fail the run
    expectEveryRequestOnce(after);
  });

  it("iochk and bench stop too; what was written checks out", async () => {
    const r = await drive({
      ...slow,
      disks: ["mem:16M"],
      cmd: "console=tty",
      input: `iochk nvme0n1 100000 4\r${CTRL_C}bench nvme0n1 read 8 4 100000\r${CTRL_C}poweroff\r`,
    });
    expect(r.code, r.why).toBe(0);
    expect(resultLines(r.output, "iochk")[0], r.why).toMatch(
      /^iochk dev=nvme0n1 ios=100000 seed=4 qd=8 stopped at ios=\d+ \(Ctrl-C\)$/,
    );
    expect(resultLines(r.output, "bench")[0], r.why).toMatch(
      /^bench dev=nvme0n1 op=read block_bytes=4096 qd=4 ios=100000 stopped at ios=\d+ \(Ctrl-C\)$/,
    );
    expectEveryRequestOnce(r);
  });

  it("bytes typed during a command are the next line's (type-ahead)", async () => {
    const r = await drive({
      ...slow,
      disks: ["mem:64M"],
      cmd: "console=tty",
      input: "crc nvme0n1 0 131072\rinfo\rpoweroff\r",
    });
    expect(r.code, r.why).toBe(0);
    expect(resultLines(r.output, "crc")[0], r.why).toMatch(/crc32=0x[0-9a-f]{8}$/);
    expect(resultLines(r.output, "ctrl"), r.why).toHaveLength(1);
  });

  it("progress in place for crc on an interactive console, never in scripted input", async () => {
    const slower = { faults: { slowRate: 1, slowNs: 40_000_000 } }; // 16 chunks of 4 MiB, 40 ms each
    const typed = await drive({
      ...slower,
      disks: ["mem:64M"],
      cmd: "console=tty",
      input: "crc nvme0n1 0 131072\rpoweroff\r",
    });
    expect(typed.output, typed.why).toMatch(/\rcrc \d+\/131072 blocks/);
    expect(typed.output, typed.why).toMatch(/\r\x1b\[Kcrc dev=nvme0n1 lba=0 count=131072 crc32=/);
    const scripted = await drive({
      ...slow,
      disks: ["mem:64M"],
      cmd: "",
      input: `crc nvme0n1 0 131072\r${CTRL_C}poweroff\r`,
    });
    expect(scripted.output.includes("\rcrc"), scripted.why).toBe(false);
    expect(resultLines(scripted.output, "crc")[0], scripted.why).toMatch(/crc32=/); // no Ctrl-C check: it ran whole
  });
});

describe("the exit code rule", () => {
  it("errors typed at an interactive console do not fail a session ended with poweroff", async () => {
    const r = await tty("frobnicate\rcrc nvme9n1 0 1\rpoweroff\r");
    expect(errors(r.output), r.why).toHaveLength(2);
    expect(r.code, r.why).toBe(0);
    expect(r.output, r.why).toContain("poweroff code=0");
  });

  it("scripted input and the boot command line keep the rule: any error line fails the run", async () => {
    const piped = await drive({ disks: ["mem:1M"], cmd: "", input: "frobnicate\rpoweroff\r" });
    expect(piped.code, piped.why).toBe(1);
    const boot = await tty("poweroff\r", { cmd: "frobnicate; console=tty" });
    expect(boot.code, boot.why).toBe(1);
    const script = await drive({ disks: ["mem:1M"], cmd: "console=script", input: "frobnicate\rpoweroff\r" });
    expect(script.code, script.why).toBe(1);
  });

  it("console= takes tty or script only", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "console=vt100; poweroff" });
    expect(errors(r.output), r.why).toEqual(["error: boot option not understood: console=vt100"]);
  });
});

describe("scripted input is read as it always was", () => {
  it("escape sequences ring the bell and leave the line, Tab is a blank, control bytes refuse the line", async () => {
    const r = await drive({
      disks: ["mem:1M"],
      cmd: "",
      input: `inf${ESC}[Do\rcrc\tnvme0n1 0 1\rst\x01ats\rpoweroff\r`,
    });
    expect(r.output, r.why).toContain(`nvme> inf${BELL}o\n`);
    expect(resultLines(r.output, "ctrl"), r.why).toHaveLength(1);
    expect(resultLines(r.output, "crc"), r.why).toHaveLength(1);
    expect(errors(r.output), r.why).toEqual(["error: shell: control byte 0x01 in the line, ignored"]);
    expect(r.code, r.why).toBe(1);
  });
});

describe("hostile keys on an interactive console", () => {
  it("random key bytes (escape sequences, control bytes, Tab, history) never trap or hang, and the session ends in order", async () => {
    const pieces = [
      "\x1b",
      "\x1b[",
      "\x1bO",
      "[",
      "A",
      "B",
      "C",
      "D",
      "H",
      "F",
      "~",
      "1",
      "3",
      "4",
      ";",
      "\t",
      "\x7f",
      "\x08",
      "\x01",
      "\x02",
      "\x05",
      "\x06",
      "\x0b",
      "\x0c",
      "\x0e",
      "\x10",
      "\x15",
      "\x17",
      "\x00",
      "\x80",
      "\xff",
      " ",
      "crc",
      "nv",
      "0",
      "info",
      "x".repeat(200),
      "\r",
      ";",
    ];
    let state = 12345;
    const next = (n) => {
      state = (state * 1103515245 + 12345) >>> 0;
      return state % n;
    };
    for (let run = 0; run < 12; run++) {
      let input = "";
      for (let i = 0; i < 300; i++) input += pieces[next(pieces.length)];
      const r = await drive({
        disks: ["mem:1M"],
        cmd: "console=tty",
        input: Buffer.from(input + "\x03poweroff\r", "latin1"),
        timeLimitNs: 60_000_000_000,
      });
      expect(r.output, r.why).toMatch(/poweroff code=[01]\n/);
      expectEveryRequestOnce(r);
    }
  });
});
