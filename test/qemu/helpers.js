// Boots the bare-metal kernel in QEMU for tests: builds the QEMU command line for the
// configurations the project must work with and runs it through boot/qemu.sh (which picks
// TCG/KVM, adds the serial console and isa-debug-exit, and maps the exit code back to the
// guest's poweroff code: 0 ok, 125 trap, 126 CPU exception, 1 QEMU failure).
//
//   const r = await bootQemu({
//     disks: [                                  // one NVMe controller per entry, unless `ctrl` says otherwise
//       { path: "a.img" },                      // controller nvmeN with this drive as namespace 1
//       { path: "b.img", lbaBytes: 4096 },      // logical/physical block size
//       { path: "c.img", readonly: true },      // -drive readonly=on
//       { path: "g.img", discard: "unmap" },    // -drive discard=unmap (QEMU's default: ignore)
//       { path: "d.img", ctrl: 0 },             // another namespace (nvme-ns) on controller 0
//       { ns: [{ path: "e.img" }, { path: "f.img", lbaBytes: 4096 }] },  // one controller, these namespaces
//     ],
//     machine: "pc" | "q35",                    // default "pc" ("q35" with iommu)
//     iommu: true,                              // -device intel-iommu before the NVMe devices (q35)
//     rootPort: true,                           // controllers behind a bridge (bus > 0): pcie-root-port on
//                                               //   q35, pci-bridge on pc
//     controllers: 3,                           // at least this many controllers (extra ones have no namespace)
//     mdts: 5, maxIoqpairs: 1,                  // nvme device properties, for every controller
//     highBars: true,                           // BAR0 above 4 GiB (see HIGH_BAR_ARGS)
//     cmd: "info; poweroff",                    // the guest's command line (-append)
//     input: "info\r",                          // bytes typed on the serial console (optional)
//     stallReaderMs: 1500,                      // stop reading QEMU's output that long after its first bytes
//     onOutput: (output, { type }) => {},       // called with all output so far on each chunk; type(bytes)
//                                               //   writes to the serial console (for input that must wait)
//     qmp: "/tmp/x.sock",                       // a QMP socket (-qmp unix:…,server=on,wait=off): see qmpCommands
//     timeoutMs: 60000, extraArgs: [], kernel: "build/kernel.elf", memory: "256M",
//   });
//   r -> { code, output, lines, ms, timedOut, args }
//
// Nothing here writes into build/: boot/qemu.sh's KVM probe verdict goes to a file in the OS's
// temporary directory (NVME_WASM_ACCEL_CACHE), not build/.accel.
//
// A controller with several namespaces is `-device nvme,id=nvmeK,serial=nvmewasmK` plus one
// `-device nvme-ns,drive=dI,bus=nvmeK,nsid=N,...` per namespace; a single-drive controller is
// the same (so every layout exercises the same QEMU code path).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const QEMU_SH = join(ROOT, "boot", "qemu.sh");
export const KERNEL = join(ROOT, "build", "kernel.elf");

// QEMU 7.2 with its SeaBIOS puts every BAR below 4 GiB unless the 32-bit PCI window is too
// small for them; a test device with a 64-bit 4 GiB BAR overflows it, so SeaBIOS moves all
// 64-bit BARs, the NVMe BAR0 included, into the 64-bit window above RAM. (Checked in
// test/qemu/kernel.test.js, which reads BAR0 back from config space.)
export const HIGH_BAR_ARGS = ["-device", "pci-testdev,membar=4G"];

export function hasQemu() {
  const paths = (process.env.PATH ?? "").split(":");
  return paths.some((p) => p && existsSync(join(p, "qemu-system-x86_64")));
}

function normalizeControllers(disks = [], count = 0) {
  const ctrls = [];
  const ensure = (k) => {
    while (ctrls.length <= k) ctrls.push([]);
    return ctrls[k];
  };
  let next = 0;
  for (const d of disks) {
    if (d.ns) {
      ensure(next).push(...d.ns);
      next = ctrls.length;
      continue;
    }
    if (d.ctrl !== undefined) {
      ensure(d.ctrl).push(d);
      next = Math.max(next, ctrls.length);
      continue;
    }
    ensure(next).push(d);
    next = ctrls.length;
  }
  while (ctrls.length < count) ctrls.push([]);
  return ctrls;
}

export function qemuArgs(opts = {}) {
  const {
    iommu = false,
    machine = iommu ? "q35" : "pc",
    rootPort = false,
    controllers = 0,
    mdts,
    maxIoqpairs,
    highBars = false,
    cmd,
    kernel = KERNEL,
    memory,
    extraArgs = [],
  } = opts;
  const qs = ["--quiet", "--kernel", kernel, "--machine", machine];
  if (iommu) qs.push("--iommu");
  if (memory) qs.push("--memory", memory);
  if (cmd !== undefined) qs.push("--cmd", cmd);
  const dev = [];
  let driveNo = 0;
  normalizeControllers(opts.disks, controllers).forEach((namespaces, k) => {
    let bus = "";
    if (rootPort) {
      if (machine === "q35") dev.push("-device", `pcie-root-port,id=rp${k},chassis=${k + 1},slot=${k + 1}`);
      else dev.push("-device", `pci-bridge,id=rp${k},chassis_nr=${k + 1}`);
      bus = `,bus=rp${k}${machine === "q35" ? "" : ",addr=0x1"}`;
    }
    let props = `nvme,id=nvme${k},serial=nvmewasm${k}${bus}`;
    if (mdts !== undefined) props += `,mdts=${mdts}`;
    if (maxIoqpairs !== undefined) props += `,max_ioqpairs=${maxIoqpairs}`;
    dev.push("-device", props);
    namespaces.forEach((ns, i) => {
      const id = `d${driveNo++}`;
      dev.push(
        "-drive",
        `file=${ns.path},format=raw,if=none,id=${id}${ns.readonly ? ",readonly=on" : ""}${ns.discard ? `,discard=${ns.discard}` : ""}`,
      );
      let nsp = `nvme-ns,drive=${id},bus=nvme${k},nsid=${ns.nsid ?? i + 1}`;
      if (ns.lbaBytes) nsp += `,logical_block_size=${ns.lbaBytes},physical_block_size=${ns.lbaBytes}`;
      dev.push("-device", nsp);
    });
  });
  if (highBars) dev.push(...HIGH_BAR_ARGS);
  return [...qs, "--", ...dev, ...extraArgs];
}

export async function bootQemu(opts = {}) {
  const { timeoutMs = 120000, input, stallReaderMs = 0, onOutput, qmp } = opts;
  const extraArgs = [...(opts.extraArgs ?? []), ...(qmp ? ["-qmp", `unix:${qmp},server=on,wait=off`] : [])];
  const args = opts.args ?? qemuArgs({ ...opts, extraArgs }); // opts.args: boot/qemu.sh's arguments as they are
  const piped = input !== undefined || onOutput !== undefined;
  const t0 = Date.now();
  const env = { ...process.env, NVME_WASM_ACCEL_CACHE: join(tmpdir(), "nvme-wasm-accel") };
  const child = spawn(QEMU_SH, args, {
    cwd: ROOT,
    env,
    detached: true,
    stdio: [piped ? "pipe" : "ignore", "pipe", "pipe"],
  });
  const type = (bytes) => {
    if (!child.stdin.destroyed) child.stdin.write(bytes);
  };
  let output = "";
  let stalled = false;
  child.stdout.on("data", (b) => {
    output += b.toString("latin1");
    if (onOutput) onOutput(output, { type });
    if (stallReaderMs && !stalled) {
      stalled = true;
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), stallReaderMs);
    }
  });
  // QEMU's and boot/qemu.sh's own messages are kept apart and put after the serial output: written
  // as they came, one (QEMU's "aio failed", say) could land inside a line the kernel was printing.
  let stderr = "";
  child.stderr.on("data", (b) => {
    stderr += b.toString("latin1");
  });
  if (input) child.stdin.write(input);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }, timeoutMs);
  const code = await new Promise((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(timer);
  if (piped) child.stdin.destroy();
  const ms = Date.now() - t0;
  if (stderr) output += (output === "" || output.endsWith("\n") ? "" : "\n") + stderr;
  if (timedOut) output += `\n[bootQemu: QEMU killed after ${timeoutMs} ms]\n`;
  const lines = output
    .replace(/\r/g, "")
    .split("\n")
    .filter((l, i, a) => l !== "" || i < a.length - 1);
  return { code: timedOut ? null : code, output, stderr, lines, ms, timedOut, args };
}

// Every import a probe guest may use: the driver's hardware ABI plus console input and poweroff, as
// AssemblyScript declarations to put at the top of a probe's source.
export const PROBE_IMPORTS = `@external("env", "console_write") declare function console_write(ptr: usize, len: i32): void;
@external("env", "console_read") declare function console_read(ptr: usize, cap: i32, timeout_ns: u64): i32;
@external("env", "cmdline") declare function cmdline(ptr: usize, cap: i32): i32;
@external("env", "now_ns") declare function now_ns(): u64;
@external("env", "relax") declare function relax(): void;
@external("env", "pci_read32") declare function pci_read32(bdf: u32, off: u32): u32;
@external("env", "pci_write32") declare function pci_write32(bdf: u32, off: u32, value: u32): void;
@external("env", "mmio_map") declare function mmio_map(bdf: u32, bar: u32): i32;
@external("env", "mmio_size") declare function mmio_size(handle: i32): u32;
@external("env", "mmio_read32") declare function mmio_read32(handle: i32, off: u32): u32;
@external("env", "mmio_write32") declare function mmio_write32(handle: i32, off: u32, value: u32): void;
@external("env", "dma_address") declare function dma_address(ptr: usize, len: u32): u64;
@external("env", "irq_attach") declare function irq_attach(bdf: u32, mode: u32): i32;
@external("env", "irq_msi_address") declare function irq_msi_address(line: i32): u64;
@external("env", "irq_msi_data") declare function irq_msi_data(line: i32): u32;
@external("env", "irq_wait") declare function irq_wait(timeout_ns: u64): u32;
@external("env", "irq_ack") declare function irq_ack(line: i32): void;
@external("env", "poweroff") declare function poweroff(code: i32): void;
`;

// Runs QMP commands ({ execute, arguments }) one after another on a booted QEMU's socket (bootQemu's
// `qmp`), after the capabilities handshake; resolves to their answers (`return` or `error`).
export async function qmpCommands(path, commands) {
  const { createConnection } = await import("node:net");
  const sock = createConnection(path);
  const answers = [];
  let buffered = "";
  const wanted = commands.length + 1; // the handshake's answer first
  await new Promise((resolve, reject) => {
    sock.on("error", reject);
    sock.on("data", (b) => {
      buffered += b.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop();
      for (const l of lines) {
        const m = l.trim() ? JSON.parse(l) : null;
        if (!m || m.QMP || m.event) {
          if (m?.QMP) sock.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
          continue;
        }
        answers.push(m);
        if (answers.length === wanted) resolve();
        else sock.write(JSON.stringify(commands[answers.length - 1]) + "\n");
      }
    });
  });
  sock.end();
  return answers.slice(1);
}
