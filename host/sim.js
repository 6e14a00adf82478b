// The programmatic way to run the guest against simulated NVMe controllers (used by the CLI and tests).
//
//   const { code, output, machine } = await runSim({
//     disks: ["mem:64M", "img.raw,lba=4096,ctrl=1"],   // specs (strings) or parsed objects, or opened disks
//     profile: "strict", overrides: "mdts=2", seed: 7,
//     cmd: "info; crc nvme0n1 0 8; poweroff",
//     dmaBase: 0x1_0000_0000_0000n,   // optional: the DMA window's bus address (Machine option)
//   });
//   const { machine, opened } = await buildMachine({ … });   // the same machine, not yet running
import { readFileSync } from "node:fs";
import { Machine } from "./machine.js";
import { parseDiskSpec, openDisk } from "./disk.js";
import { Rng } from "./rng.js";

// Parsed fault options: "error=0.01,drop=0.001,cfs=500" -> { error: 0.01, drop: 0.001, cfs: 500 }
export function parseFaults(text) {
  const out = {};
  if (!text) return out;
  if (typeof text === "object") return { ...text };
  for (const part of String(text).split(",")) {
    const s = part.trim();
    if (!s) continue;
    const m = /^([a-zA-Z_][\w-]*)=([0-9.eE+-]+)$/.exec(s);
    if (!m || !Number.isFinite(Number(m[2])))
      throw new Error(`fault option "${s}": expected name=number (e.g. error=0.01,drop=0.001,cfs=500)`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

let controllerModule = null;
let profilesModule = null;
async function loadModel(profilesOnly = false) {
  if (!profilesModule) profilesModule = await import("./nvme/profiles.js");
  if (profilesOnly) return { profiles: profilesModule };
  if (!controllerModule) controllerModule = await import("./nvme/controller.js");
  const NvmeController = controllerModule.NvmeController ?? controllerModule.default;
  if (!NvmeController) throw new Error("host/nvme/controller.js exports no NvmeController");
  return { NvmeController, profiles: profilesModule };
}

function resolveProfile(profiles, name, overrides) {
  if (typeof profiles.makeProfile === "function") return profiles.makeProfile(name, overrides ?? {});
  const table = profiles.profiles ?? profiles.default;
  if (!table[name]) throw new Error(`unknown controller profile "${name}" (have: ${Object.keys(table).join(", ")})`);
  return { ...table[name], ...(overrides ?? {}) };
}

// Returns the NVMe slots: [{ segment, dev, fn }] for `count` controllers under the given layout.
function slotsFor(machine, count, { bridge, multifunction }) {
  let segment = machine.root;
  if (bridge) segment = machine.addBridge({ dev: 3, name: "pcie-root-port" }).child;
  const slots = [];
  for (let i = 0; i < count; i++) {
    if (multifunction) slots.push({ segment, dev: bridge ? Math.floor(i / 8) : 4 + Math.floor(i / 8), fn: i % 8 });
    else slots.push({ segment, dev: bridge ? i : 4 + i, fn: 0 }); // bus 0: 00:04.0, 00:05.0, …
  }
  return slots;
}

// The simulated machine with its controllers, not yet running: { machine, opened } (opened: the
// disks it opened, to flush and close). Options as runSim's.
export async function buildMachine({
  disks = ["mem:16M"],
  profile = "qemu",
  overrides = {},
  seed = 1,
  cmd = "",
  input = "",
  bridge = false,
  multifunction = false,
  controllers,
  faults = {},
  trace = false,
  stdout = null,
  stderr = null,
  timeLimitNs,
  platform = true,
  model,
  capture = true,
  traceRecords = null,
  dmaBase,
} = {}) {
  // `model` (tests only): a controller class to use instead of host/nvme/controller.js
  const loaded = await loadModel(!!model);
  // Errors in the options (disks, profile, faults, layout) are marked `setup`: the CLI exits 2 for them.
  const setup = (fn) => {
    try {
      return fn();
    } catch (e) {
      e.setup = true;
      throw e;
    }
  };
  const NvmeController = model ?? loaded.NvmeController;
  const profiles = loaded.profiles;
  const specs = setup(() => disks.map((d) => (typeof d === "string" ? parseDiskSpec(d) : d)));
  const count = Math.max(controllers ?? 1, multifunction ? 2 : 1, ...specs.map((s) => (s.ctrl ?? 0) + 1));
  if (count > 16)
    setup(() => {
      throw new Error(`${count} controllers: at most 16`);
    });
  const machine = setup(
    () =>
      new Machine({
        cmdline: cmd,
        input,
        stdout,
        stderr,
        trace,
        timeLimitNs,
        platform,
        capture,
        traceRecords,
        dmaBase,
      }),
  );
  const opened = [];
  try {
    const perCtrl = Array.from({ length: count }, () => []);
    for (const s of specs) {
      const disk = s.disk ?? setup(() => openDisk(s));
      if (!s.disk) opened.push(disk);
      perCtrl[s.ctrl ?? 0].push({
        disk,
        lbaBytes: s.lbaBytes ?? 512,
        ms: s.ms ?? 0,
        readonly: !!s.readonly,
        csi: s.csi ?? 0,
      });
    }
    const prof = setup(() => resolveProfile(profiles, profile, overrides));
    const faultOpts = setup(() => parseFaults(faults));
    const rootRng = new Rng(seed);
    const slots = slotsFor(machine, count, { bridge, multifunction });
    for (let i = 0; i < count; i++) {
      const name = `nvme${i}`;
      const rng = rootRng.fork(name);
      const ctrl = setup(() =>
        machine.addDevice(
          (host) =>
            new NvmeController({
              host,
              profile: structuredClone(prof),
              namespaces: perCtrl[i],
              faults: faultOpts,
              name,
              rng,
            }),
          { ...slots[i], name, rng },
        ),
      );
      machine.controllers.push(ctrl);
    }
  } catch (e) {
    closeDisks(opened);
    throw e;
  }
  return { machine, opened };
}

export function closeDisks(opened) {
  for (const d of opened) {
    try {
      d.flush();
    } catch {}
    d.close();
  }
}

// Runs the driver and the shell on a simulated machine: { code, output, reason, trap, guestCode, machine }.
// `wasm` (bytes or a path) replaces build/nvme.wasm, `shell` build/shell.wasm.
export async function runSim(opts = {}) {
  const { machine, opened } = await buildMachine(opts);
  try {
    const load = (b) => (typeof b === "string" ? readFileSync(b) : b);
    let bytes = load(opts.wasm);
    if (!bytes) {
      const { buildWasm } = await import("./build.js");
      bytes = readFileSync(await buildWasm({ quiet: true }));
    }
    const r = await machine.run(bytes, load(opts.shell));
    return { ...r, machine };
  } finally {
    closeDisks(opened);
  }
}
