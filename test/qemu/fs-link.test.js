// fs.wasm's message interface (docs/fs-interface.md) spoken directly, by a probe client of our own
// instead of the shell, through the host's fs.call in both hosts (host/module-link.js under Node,
// boot/host.c on bare metal): well-formed requests of every operation, requests in any order, and
// malformed ones — too short, a path length that does not add up, an unknown operation, a stale or
// unknown handle, a read too long, no such namespace — each answered in words; and the host's own
// refusals (-1) of ranges outside the caller's memory, a request longer than the inbox, a response
// longer than the caller's room. Both hosts must print the same lines.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { writeFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { bootQemu, hasQemu, ROOT } from "./helpers.js";
import { runSim } from "../../host/sim.js";
import { tempDir } from "../lib/disk-images.js";
import { hasTools, gptImage, mdirTree, mtype } from "../lib/fat-images.js";

const RUN = hasQemu() || !!process.env.CI;
const DRIVER = join(ROOT, "build", "nvme.wasm");

const PROBE = `// A probe of fs.wasm's messages: one line per request, status, fields and text.
@external("env", "console_write") declare function console_write(ptr: usize, len: i32): void;
@external("env", "poweroff") declare function poweroff(code: i32): void;
@external("blk", "shutdown") declare function shutdown(): u32;
@external("fs", "call") declare function fs_call(req: usize, reqLen: u32, resp: usize, cap: u32): i32;

const MEM: usize = 32 << 16;
const OUT = memory.data(16384);
const REQ = memory.data(8192, 8);
const RESP = memory.data(8256, 8);
let outLen = 0;
function put(s: string): void { for (let i = 0; i < s.length; i++) store<u8>(OUT + outLen++, <u8>s.charCodeAt(i)); }
function say(s: string): void { put(s); store<u8>(OUT + outLen++, 10); console_write(OUT, outLen); outLen = 0; }

function request(op: u32, part: u32, index: u32, offset: u64, length: u32, path: string, ns: u32 = 0): u32 {
  store<u32>(REQ, op); store<u32>(REQ + 4, ns); store<u32>(REQ + 8, part); store<u32>(REQ + 12, index);
  store<u64>(REQ + 16, offset); store<u32>(REQ + 24, length); store<u32>(REQ + 28, path.length);
  for (let i = 0; i < path.length; i++) store<u8>(REQ + 32 + i, <u8>path.charCodeAt(i));
  return 32 + path.length;
}

// The text as it is when printable ASCII, else as hex (file data).
function text(max: u32): string {
  const n = load<u32>(RESP + 4);
  let printable = true;
  for (let i: u32 = 0; i < n && i < max; i++) { const c = load<u8>(RESP + 64 + i); if (c < 32 || c > 126) printable = false; }
  let s = printable ? "" : "hex:";
  for (let i: u32 = 0; i < n && i < max; i++) {
    const c = load<u8>(RESP + 64 + i);
    s += printable ? String.fromCharCode(c) : (c < 16 ? "0" : "") + c.toString(16);
  }
  return s;
}

function call(name: string, len: u32, cap: u32 = 8256): i32 {
  const n = fs_call(REQ, len, RESP, cap);
  if (n < 0) { say(name + " n=" + n.toString()); return n; }
  say(name + " n=" + n.toString() + " status=" + load<u32>(RESP).toString() + " kind=" + load<u32>(RESP + 8).toString() +
    " type=" + load<u32>(RESP + 12).toString() + " start=" + load<u64>(RESP + 16).toString() + " blocks=" + load<u64>(RESP + 24).toString() +
    " number=" + load<u32>(RESP + 48).toString() + " text=" + text(200));
  return n;
}

export function main(): i32 {
  call("parts", request(1, 0, 0, 0, 0, ""));
  call("part3", request(2, 3, 0, 0, 0, ""));
  call("part-index1", request(2, 0, 1, 0, 0, ""));
  call("part-index9", request(2, 0, 9, 0, 0, ""));
  call("part9", request(2, 9, 0, 0, 0, ""));
  for (let i: u32 = 0; i < 4; i++) call("list" + i.toString(), request(4, 1, i, 0, 0, "/docs"));
  call("stat", request(3, 1, 0, 0, 0, "/docs"));
  call("list2-direct", request(4, 1, 2, 0, 0, "/docs"));
  call("list0-again", request(4, 1, 0, 0, 0, "/docs"));
  call("list-end", request(4, 1, 1000, 0, 0, "/docs"));
  call("list-file", request(4, 1, 0, 0, 0, "/readme.txt"));
  call("open", request(5, 1, 0, 0, 0, "/docs/many-clusters.bin"));
  const handle = load<u32>(RESP + 12);
  call("read-tail", request(6, 0, handle, 299990, 100, ""));
  call("read-past", request(6, 0, handle, 300000, 100, ""));
  call("read-long", request(6, 0, handle, 0, 9000, ""));
  call("stat-between", request(3, 1, 0, 0, 0, "/docs"));
  call("read-stale", request(6, 0, handle, 0, 16, ""));
  call("open-dir", request(5, 1, 0, 0, 0, "/docs"));
  call("open-missing", request(5, 1, 0, 0, 0, "/docs/none"));
  call("short", 10);
  request(3, 1, 0, 0, 0, "/docs");
  store<u32>(REQ + 28, 9);
  call("pathlen", 37);
  call("unknown-op", request(99, 1, 0, 0, 0, ""));
  call("no-ns", request(1, 0, 0, 0, 0, "", 7));
  call("whole-ns", request(3, 0, 0, 0, 0, "/"));
  // The host's refusals: nothing copied, -1.
  request(1, 0, 0, 0, 0, "");
  say("host cap=" + fs_call(REQ, 32, RESP, 10).toString() + " req=" + fs_call(MEM - 4, 32, RESP, 8256).toString() +
    " long=" + fs_call(REQ, 5000, RESP, 8256).toString() + " resp=" + fs_call(REQ, 32, MEM - 100, 8256).toString());
  say("end shutdown=" + shutdown().toString());
  poweroff(0);
  return 0;
}
`;

let tmp, kernel, probe, gpt;

async function buildProbe() {
  if (!existsSync(DRIVER)) throw new Error(`${DRIVER} missing: run make wasm (make test does)`);
  if (!hasTools()) throw new Error("sgdisk, sfdisk, mkfs.fat and mtools are needed (scripts/deps.sh installs them)");
  tmp = tempDir("nvme-wasm-fs-link-");
  gpt = gptImage(tmp.dir);
  writeFileSync(tmp.path("probe.ts"), PROBE);
  const asc = (await import("assemblyscript/asc")).default;
  let err = "";
  const { error } = await asc.main(
    [
      tmp.path("probe.ts"),
      "-o",
      tmp.path("probe.wasm"),
      "-O2",
      "--runtime",
      "stub",
      "--baseDir",
      tmp.dir,
      "--importMemory",
      "--initialMemory",
      "32",
      "--maximumMemory",
      "32",
    ],
    {
      stderr: {
        write: (s) => {
          err += s;
          return true;
        },
      },
      stdout: { write: () => true },
    },
  );
  if (error) throw new Error(`asc failed: ${err}`);
  execFileSync(join(ROOT, "boot", "build.sh"), [DRIVER, tmp.dir, tmp.path("probe.wasm")], { stdio: "pipe" });
  kernel = tmp.path("kernel.elf");
  probe = readFileSync(tmp.path("probe.wasm"));
}

const results = (output) =>
  output
    .replace(/\r/g, "")
    .split("\n")
    .filter((l) => /^[a-z0-9-]+ n=|^host |^end /.test(l));

describe.skipIf(!RUN)("fs.wasm's messages through fs.call, in both hosts", { timeout: 180_000 }, () => {
  beforeAll(buildProbe, 240_000);
  afterAll(() => tmp?.remove());

  it("every operation, any order, malformed requests in words, the host's -1: the same lines under Node and in QEMU", async () => {
    const s = await runSim({ disks: [gpt.img], shell: probe, stdout: null, stderr: null });
    const q = await bootQemu({ kernel, disks: [{ path: gpt.img }], timeoutMs: 60_000 });
    expect(s.code, s.output).toBe(0);
    expect(q.code, q.output).toBe(0);
    const r = results(s.output);
    expect(results(q.output)).toEqual(r);
    const line = (name) => r.find((l) => l.startsWith(`${name} n=`)) ?? `(no ${name})`;
    const docs = mdirTree(gpt.img, gpt.parts[0].start * 512).filter(
      (e) => e.path.startsWith("/docs/") && e.path.split("/").length === 3,
    );
    const p3 = gpt.parts[2];
    expect(line("parts")).toBe("parts n=64 status=0 kind=4 type=0 start=0 blocks=0 number=0 text=");
    expect(line("part3")).toBe(
      `part3 n=74 status=0 kind=2 type=0 start=${p3.start} blocks=${p3.size} number=3 text=thirty-two`,
    );
    expect(line("part-index1")).toMatch(/^part-index1 n=\d+ status=0 kind=2 .* number=2 text=EFI "boot"$/);
    expect(line("part-index9")).toBe("part-index9 n=64 status=2 kind=0 type=0 start=0 blocks=0 number=0 text=");
    expect(line("part9")).toBe("part9 n=78 status=1 kind=0 type=0 start=0 blocks=0 number=0 text=no partition 9");
    for (let i = 0; i < 4; i++)
      expect(line(`list${i}`)).toMatch(new RegExp(`text=${docs[i].path.slice(6).replace(/[.()]/g, "\\$&")}$`));
    expect(line("list2-direct").replace("list2-direct", "list2")).toBe(line("list2"));
    expect(line("list0-again").replace("list0-again", "list0")).toBe(line("list0"));
    expect(line("list-end")).toMatch(/^list-end n=64 status=2 /);
    expect(line("list-file")).toMatch(/status=1 .* text=not a directory$/);
    expect(line("open")).toMatch(/^open n=64 status=0 kind=1 type=\d+ start=300000 /);
    const tail = mtype(gpt.img, gpt.parts[0].start * 512, "/docs/many-clusters.bin").subarray(299990);
    expect(line("read-tail")).toBe(
      `read-tail n=74 status=0 kind=0 type=0 start=0 blocks=0 number=0 text=hex:${tail.toString("hex")}`,
    );
    expect(line("read-past")).toBe("read-past n=64 status=0 kind=0 type=0 start=0 blocks=0 number=0 text=");
    expect(line("read-long")).toMatch(/status=1 .* text=a read longer than 8192 bytes$/);
    expect(line("read-stale")).toMatch(/status=1 .* text=no such open file \(another request closed it\)$/);
    expect(line("open-dir")).toMatch(/status=1 .* text=is a directory$/);
    expect(line("open-missing")).toMatch(/status=1 .* text=no such file or directory$/);
    expect(line("short")).toMatch(/status=1 .* text=request of a wrong size$/);
    expect(line("pathlen")).toMatch(/status=1 .* text=request of a wrong size$/);
    expect(line("unknown-op")).toMatch(/status=1 .* text=unknown operation$/);
    expect(line("no-ns")).toMatch(/status=1 .* text=no such namespace$/);
    expect(line("whole-ns")).toMatch(/status=1 .* text=not a FAT filesystem: .*$/);
    expect(r).toContain("host cap=-1 req=-1 long=-1 resp=-1");
    expect(r).toContain("end shutdown=0");
  });
});
