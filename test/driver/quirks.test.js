// The current driver against the profiles that reproduce real controllers' documented quirks
// (host/nvme/profiles.js, test/model/quirks.test.js). Every profile: bring-up, fill then verify,
// the image checked byte for byte, and a clean run. Where the driver must act differently
// (assembly/driver/nvme/quirks.ts, Linux's quirk table by vendor and device id) it does, and the
// trace shows where: a `quirk nvmeK NAME: …` line, at the moment it acts.
import { describe, it, expect, afterAll } from "vitest";
import { drive, expectClean } from "./helpers.js";
import { runSim } from "../../host/sim.js";
import { tempDir, writeImage, readImage, noiseBytes, patternBytes, linesOf, errorLines } from "../lib/disk-images.js";
import { profiles } from "../../host/nvme/profiles.js";
import { Machine, DMA_BASE } from "../../host/machine.js";
import { parseArgs } from "../../host/cli.js";

const MiB = 1 << 20;
const tmp = tempDir("nvme-quirks-");
afterAll(() => tmp.remove());
let n = 0;
const image = (bytes) => writeImage(tmp.path(`img${n++}.raw`), bytes);
const hex4 = (v) => "0x" + v.toString(16).padStart(4, "0");
const ABOVE_2_48 = "0x1000000000000"; // the DMA window at 2^48 (a string: the replay line is JSON)

// fill LBA 8.. with a seed, verify it, and check the image: the pattern where written, the noise
// it had everywhere else
async function fillVerify(opts, { lba = 8, count = 3000, seed = 7, extra = "" } = {}) {
  const noise = noiseBytes(4 * MiB, 21);
  const path = image(noise);
  const r = await drive({
    disks: [path],
    cmd: `info; fill nvme0n1 ${lba} ${count} ${seed}; verify nvme0n1 ${lba} ${count} ${seed};${extra} stats; poweroff`,
    ...opts,
  });
  const img = readImage(path);
  const want = Buffer.from(noise);
  patternBytes(seed, lba * 512, count * 512).copy(want, lba * 512);
  return { r, imageOk: img.equals(want) };
}

function expectVerified(r, imageOk) {
  expect(r.code, r.why).toBe(0);
  expect(errorLines(r.output), r.why).toEqual([]);
  expect(r.output, r.why).toMatch(/^verify dev=nvme0n1 lba=\d+ count=\d+ seed=\d+ ok$/m);
  expect(imageOk, r.why).toBe(true);
}

const QUIRK_PROFILES = Object.keys(profiles).filter(
  (p) => !["qemu", "strict", "legacy", "tiny", "msi-only"].includes(p),
);

describe("every real-controller profile: bring-up, fill, verify, the image", () => {
  it("covers every profile but the five invented ones", () => {
    expect(QUIRK_PROFILES).toEqual([
      "hgst-sn100",
      "qemu-2.0",
      "qemu-5.1",
      "apple-t2",
      "skhynix-pc400",
      "amazon-ebs",
      "samsung-pm981",
      "samsung-sm961",
      "skhynix-pc401",
    ]);
  });

  for (const name of QUIRK_PROFILES) {
    it(`${name}: clean, and info reports what the controller advertises`, async () => {
      const p = profiles[name];
      const { r, imageOk } = await fillVerify({ profile: name });
      expectVerified(r, imageOk);
      expectClean(r);
      const [ctrl] = linesOf(r.output, "ctrl");
      expect(ctrl.fields, r.why).toMatchObject({
        vid: hex4(p.vid),
        did: hex4(p.did),
        version: p.version,
        mqes: String(p.mqes),
        timeout_ms: String(p.timeout * 500),
        mdts_bytes: String(p.mdts === 0 ? 0 : 4096 * 2 ** p.mdts),
        model: p.model,
        state: "ready",
      });
      expect(r.output).toMatch(/^shutdown ctrl=nvme0 ok/m);
    });
  }
});

describe("hgst-sn100: NVME_QUIRK_DELAY_BEFORE_CHK_RDY", () => {
  // Bring-up never meets the quirk: the driver writes CC = 0 to a controller that is already
  // disabled (no 1 -> 0 transition). A recovery reset does: one IO command is dropped (dropAfter),
  // times out, the driver clears CC.EN, leaves CSTS alone for 2.3 s (a read before would wedge the
  // controller with RDY = 1, which the model records), then waits for RDY = 0.
  async function resetRun(opts) {
    const noise = noiseBytes(4 * MiB, 22);
    const path = image(noise);
    const r = await drive({
      disks: [path],
      faults: { dropAfter: 5, abortIgnored: 1 },
      cmd: "fill nvme0n1 0 3000 4; fill nvme0n1 0 3000 4; verify nvme0n1 0 3000 4; poweroff",
      ...opts,
    });
    const want = Buffer.from(noise);
    patternBytes(4, 0, 3000 * 512).copy(want, 0);
    return { r, imageOk: readImage(path).equals(want) };
  }
  function expectRecovered(r, imageOk) {
    // the dropped command fails (it overran CAP.TO), everything after it works
    expect(errorLines(r.output), r.why).toEqual([
      expect.stringMatching(/^error: fill dev=nvme0n1 lba=0 count=3000: at lba=\d+: command timed out$/),
    ]);
    expect(r.output, r.why).toMatch(/^nvme0 resetting after: command timed out$/m);
    expect(r.output, r.why).toMatch(/^nvme0 recovered$/m);
    expect(r.output, r.why).toMatch(/^verify dev=nvme0n1 lba=0 count=3000 seed=4 ok$/m);
    expect(imageOk, r.why).toBe(true);
    expectClean(r);
  }

  it("a recovery reset keeps its hands off CSTS for 2.3 s, then recovers; data intact", async () => {
    const { r, imageOk } = await resetRun({ profile: "hgst-sn100" });
    expectRecovered(r, imageOk);
    const resetUs = [...r.output.matchAll(/^nvme0 reset ok us=(\d+)$/gm)].map((m) => Number(m[1]));
    expect(resetUs.at(-1), r.why).toBeGreaterThanOrEqual(2_300_000);
  });

  it("the same reset on the same controller without the quirk recovers: the reset path itself is fine", async () => {
    const { r, imageOk } = await resetRun({ profile: "hgst-sn100", overrides: { rdyHandsOffNs: 0 } });
    expectRecovered(r, imageOk);
  });

  it("the trace shows the hands-off: the quirk line after CC.EN is cleared, the next CSTS read 2.3 s later", async () => {
    const records = [];
    const r = await runSim({
      profile: "hgst-sn100",
      disks: ["mem:4M"],
      faults: { dropAfter: 2, abortIgnored: 1 },
      cmd: "trace=regs; fill nvme0n1 0 64 1; fill nvme0n1 0 64 1; fill nvme0n1 0 64 1; poweroff",
      traceRecords: records,
    });
    const at = records.findIndex((x) => x.kind === "quirk");
    expect(at, r.output).toBeGreaterThan(0);
    expect(records[at].text).toBe("quirk nvme0 DELAY_BEFORE_CHK_RDY: CSTS left alone for 2300 ms after clearing CC.EN");
    expect(records[at - 1].text).toMatch(/^mmio 00:04\.0 write CC = 0x00000000 \(EN=0 /);
    const next = records.slice(at + 1).find((x) => x.kind === "mmio-read");
    expect(next.text).toMatch(/ read CSTS = /);
    expect(next.ns - records[at].ns).toBeGreaterThanOrEqual(2_300_000_000);
    expect(records.filter((x) => x.kind === "quirk").length).toBe(1); // bring-up's CC = 0 met a disabled controller
  });

  // Not the quirk, but met with it: any controller whose reset takes time, after a fatal status
  // (strict here; `npx nvme-wasm sim --profile strict --fault cfs=5`). CFS is the reason for the
  // reset and stays set until it is done, so the wait for RDY = 0 after clearing CC.EN does not
  // stop at CFS (it is bounded by CAP.TO).
  it("after CSTS.CFS, a controller whose reset takes milliseconds is recovered (strict)", async () => {
    const noise = noiseBytes(4 * MiB, 23);
    const path = image(noise);
    const r = await drive({
      profile: "strict",
      faults: { cfsAfter: 5 },
      disks: [path],
      cmd: "fill nvme0n1 0 3000 4; verify nvme0n1 0 3000 4; poweroff",
    });
    expect(r.output, r.why).toMatch(/^nvme0 recovered$/m);
    expect(r.code, r.why).toBe(0);
    expect(r.violations).toEqual([]);
  });
});

describe("NVME_QUIRK_IDENTIFY_CNS", () => {
  it("qemu-2.0 as it is (VS 0x00010001, which reads 1.0.1 today): the driver probes 1..NN and never asks CNS 02h", async () => {
    const { r, imageOk } = await fillVerify({ profile: "qemu-2.0" });
    expectVerified(r, imageOk);
    expectClean(r);
    expect(linesOf(r.output, "ctrl")[0].fields.version).toBe("1.0.1");
    expect(r.machine.controllers[0].stats.admin.identify, r.why).toBe(2); // controller, namespace 1
  });

  it("apple-t2's answer to CNS 02h (Invalid Namespace: CNS read as one bit) makes the driver probe 1..NN", async () => {
    const r = await drive({ profile: "apple-t2", disks: ["mem:1M"], cmd: "stage=3; poweroff" });
    expect(r.output, r.why).toMatch(/^nvme0n1 nsid=1 /m);
    expect(r.output, r.why).toMatch(/^nvme0 stopped at stage 3$/m);
    expectClean(r);
  });

  // What-if: the same boolean CNS handling behind a VS of 1.1 or later (QEMU 2.6-2.7 may have had
  // exactly that, VS 1.2 with the old Identify; not verified). By its id (8086:5845) the driver
  // knows not to ask CNS 02h (NVME_QUIRK_IDENTIFY_CNS), and the trace says so.
  it("qemu-2.0 with VS 1.2: the quirk keeps CNS 02h unasked, the namespace is found by probing, fill and verify clean", async () => {
    const { r, imageOk } = await fillVerify({ profile: "qemu-2.0", overrides: { version: "1.2.0" } });
    expect(r.output, r.why).toMatch(/^nvme0 ready namespaces=1$/m);
    expectVerified(r, imageOk);
    expectClean(r);
    expect(r.machine.controllers[0].stats.admin.identify, r.why).toBe(2); // controller, namespace 1
    const records = [];
    await runSim({
      profile: "qemu-2.0",
      overrides: { version: "1.2.0" },
      disks: ["mem:1M"],
      cmd: "trace=cmds; stage=3; poweroff",
      traceRecords: records,
    });
    const texts = records.map((x) => x.text);
    expect(texts).toContain(
      "quirk nvme0 IDENTIFY_CNS: CNS read as a boolean, so no CNS 02h/03h: namespaces probed 1..NN, NVM assumed",
    );
    expect(texts.filter((t) => /Identify CNS=02h/.test(t))).toEqual([]);
  });

  // The same device under an id the table does not know: CNS 02h is asked, answered with the
  // controller structure (ids 0x1af48086, then serial-number bytes), and the driver sees that it is
  // not a list of active ids (increasing, at most NN) and probes 1..NN instead, saying so.
  it("an unknown id with the same bug: the answer to CNS 02h is rejected as a list, in a line, and probing finds the namespace", async () => {
    const { r, imageOk } = await fillVerify({ profile: "qemu-2.0", overrides: { version: "1.2.0", did: 0x1234 } });
    expect(r.output, r.why).toMatch(
      /^nvme0 active namespace list rejected: id 0x1af48086 at entry 0, probing 1\.\.NN$/m,
    );
    expect(r.output, r.why).toMatch(/^nvme0 ready namespaces=1$/m);
    expectVerified(r, imageOk);
    expectClean(r);
    expect(r.machine.controllers[0].stats.admin.identify, r.why).toBe(3); // controller, the "list", namespace 1
  });
});

describe("qemu-5.1: NVME_QUIRK_BOGUS_NID", () => {
  // As 8086:5845 the driver never asks CNS 02h/03h (Linux lists IDENTIFY_CNS for the id, whichever
  // QEMU it is); as 1b36:0010, today's QEMU id, it asks CNS 03h for the command set only. Either way
  // the identifiers are never taken for a namespace's identity, so the same UUID on two controllers
  // changes nothing.
  for (const [label, overrides, identifies] of [
    ["8086:5845", {}, 2],
    ["1b36:0010", { vid: 0x1b36, did: 0x0010 }, 4],
  ]) {
    it(`two controllers whose namespace 1 has the same UUID (${label}): ${identifies} Identify commands each, both disks right`, async () => {
      const a = image(noiseBytes(2 * MiB, 3));
      const b = image(noiseBytes(2 * MiB, 4));
      const r = await drive({
        profile: "qemu-5.1",
        overrides,
        disks: [a, `${b},ctrl=1`],
        cmd: "fill nvme0n1 0 100 1; fill nvme1n1 0 100 2; verify nvme0n1 0 100 1; verify nvme1n1 0 100 2; poweroff",
      });
      expect(r.code, r.why).toBe(0);
      expectClean(r);
      expect(
        r.machine.controllers.map((c) => c.stats.admin.identify),
        r.why,
      ).toEqual([identifies, identifies]);
      expect(
        readImage(a)
          .subarray(0, 51200)
          .equals(patternBytes(1, 0, 51200)),
      ).toBe(true);
      expect(
        readImage(b)
          .subarray(0, 51200)
          .equals(patternBytes(2, 0, 51200)),
      ).toBe(true);
    });
  }
});

describe("apple-t2: SINGLE_VECTOR, 128_BYTES_SQES, SHARED_TAGS, SKIP_CID_GEN", () => {
  // On 106b:2005 the driver writes IO SQ entries 128 bytes apart (CC.IOSQES stays 6, as Linux
  // leaves it), gives IO commands ids from 32 (admin ids stay below: the admin queue has at most
  // 32 entries) and below 128 (the IO ring is cut to 97 entries), and uses one MSI-X vector, as
  // it always does. SKIP_CID_GEN needs nothing: the driver's ids carry no generation bits.
  it("bring-up, fill, verify, clean; the trace shows both quirks and every IO id in 32..127", async () => {
    const { r, imageOk } = await fillVerify({ profile: "apple-t2" });
    expectVerified(r, imageOk);
    expectClean(r);
    expect(linesOf(r.output, "ctrl")[0].fields).toMatchObject({ irq: "msix", queues: "1" });
    const records = [];
    const t = await runSim({
      profile: "apple-t2",
      disks: ["mem:4M"],
      cmd: "trace=cmds; fill nvme0n1 0 4000 5; verify nvme0n1 0 4000 5; poweroff",
      traceRecords: records,
    });
    expect(t.code, t.stdout).toBe(0);
    const texts = records.map((x) => x.text);
    expect(texts).toContain("quirk nvme0 128_BYTES_SQES: IO submission queue entries 128 bytes apart");
    expect(texts).toContain("quirk nvme0 SHARED_TAGS: one command id space, IO ids from 32 and below 128");
    expect(
      texts.some((x) => /Create I\/O Submission Queue qid=1 qsize=97 /.test(x)),
      texts.join("\n"),
    ).toBe(true);
    const ioIds = texts.filter((x) => /^cmd nvme0 SQ1 /.test(x)).map((x) => Number(/cid=(\d+)/.exec(x)[1]));
    expect(ioIds.length).toBeGreaterThanOrEqual(4); // 4,000 blocks are 4 writes and 4 reads at its MDTS, and a flush
    for (const id of ioIds) {
      expect(id).toBeGreaterThanOrEqual(32);
      expect(id).toBeLessThan(128);
    }
    const adminIds = texts.filter((x) => /^cmd nvme0 SQ0 /.test(x)).map((x) => Number(/cid=(\d+)/.exec(x)[1]));
    for (const id of adminIds) expect(id).toBeLessThan(32);
  });
});

describe("skhynix-pc400: NVME_QUIRK_DISABLE_WRITE_ZEROES", () => {
  it("fill, verify and flush never meet the broken Write Zeroes", async () => {
    const { r, imageOk } = await fillVerify({ profile: "skhynix-pc400" }, { extra: " flush nvme0n1;" });
    expectVerified(r, imageOk);
    expectClean(r);
    expect(r.machine.controllers[0].stats.io["write-zeroes"]).toBeUndefined();
  });

  // ONCS bit 3 says Write Zeroes is there, but by its id (1c5c:1504, as Linux's table has it, with
  // Linux's other DISABLE_WRITE_ZEROES ids) the driver answers OP_WRITE_ZEROES with ERR_UNSUPPORTED
  // and sends nothing; the shell's `zero` then writes zero-filled buffers. The model records every
  // Write Zeroes this profile gets as a violation, and zeroes the block after the range too.
  it("zero: no Write Zeroes sent (a quirk line says why), zeroes written instead; the block after the range untouched", async () => {
    const noise = noiseBytes(4 * MiB, 24);
    const path = image(noise);
    const records = [];
    const r = await drive({
      profile: "skhynix-pc400",
      disks: [path],
      traceRecords: records,
      cmd: "trace=cmds; zero nvme0n1 100 3000; zero nvme0n1 8190 2; trim nvme0n1 5000 8; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expect(errorLines(r.output), r.why).toEqual([]);
    expect(r.output, r.why).toMatch(/^zero dev=nvme0n1 lba=100 count=3000 ok method=write$/m);
    expect(r.output, r.why).toMatch(/^zero dev=nvme0n1 lba=8190 count=2 ok method=write$/m);
    expect(r.output, r.why).toMatch(/^trim dev=nvme0n1 lba=5000 count=8 ok$/m);
    const ctrl = r.machine.controllers[0];
    expect(ctrl.p.writeZeroes && ctrl.p.version !== "1.0.0", "ONCS bit 3 is advertised").toBe(true);
    expect(ctrl.stats.io["write-zeroes"], r.why).toBeUndefined();
    const want = Buffer.from(noise);
    want.fill(0, 100 * 512, 3100 * 512);
    want.fill(0, 8190 * 512, 8192 * 512);
    want.fill(0, 5000 * 512, 5008 * 512); // this profile's deallocated blocks read as zeroes
    expect(readImage(path).equals(want), r.why).toBe(true);
    expectClean(r);
    // each refusal is in the trace where it happens, and writes follow it
    const at = records.map((x, i) => (x.kind === "quirk" ? i : -1)).filter((i) => i >= 0);
    expect(at.length).toBe(2);
    for (const i of at) {
      expect(records[i].text).toMatch(/^quirk nvme0 /);
      expect(records[i + 1].text).toMatch(/^cmd nvme0 SQ1 cid=\d+ Write nsid=1 /);
    }
  });
});

describe("amazon-ebs: NVME_QUIRK_DMA_ADDRESS_BITS_48, with the DMA window above 2^48", () => {
  it("the window above 2^48 on a 64-bit controller: the driver's addresses work (qemu profile)", async () => {
    const { r, imageOk } = await fillVerify({ profile: "qemu", dmaBase: ABOVE_2_48 });
    expectVerified(r, imageOk);
    expectClean(r);
    expect(r.machine.dmaBase).toBe(1n << 48n);
  });

  // Every bus address the driver has is in its window, so with the window above 2^48 nothing can
  // work on this controller: on 1d0f:{0061,0065,8061,cd00,cd01,cd02} the driver checks the window's
  // last byte before touching the controller and refuses it in words, bus mastering left off.
  it("the controller is refused before any DMA, in words; no DMA fault", async () => {
    const r = await drive({
      profile: "amazon-ebs",
      dmaBase: ABOVE_2_48,
      disks: ["mem:1M"],
      cmd: "info; crc nvme0n1 0 1; poweroff",
    });
    expect(r.dmaFaults, r.why).toEqual([]);
    expectClean(r);
    expect(errorLines(r.output)[0], r.why).toBe(
      "error: nvme0: the DMA window is beyond the controller's 48-bit DMA addressing",
    );
    expect(linesOf(r.output, "ctrl")[0].fields.state, r.why).toBe("failed");
    expect(r.machine.controllers[0].configRead32(4) & 4, r.why).toBe(0);
  });
});

describe("the DMA window's bus address (Machine dmaBase, sim --dma-base)", () => {
  it("dma_address, inDmaWindow and device DMA follow the machine's base; DMA_BASE stays the default", () => {
    expect(new Machine({ platform: false }).dmaBase).toBe(DMA_BASE);
    const m = new Machine({ platform: false, dmaBase: 1n << 48n });
    expect(m.dmaAddress(0x2000, 16)).toBe((1n << 48n) + 0x2000n);
    expect(m.inDmaWindow((1n << 48n) + 0x2000n, 16)).toBe(true);
    expect(m.inDmaWindow(DMA_BASE + 0x2000n, 16)).toBe(false);
    expect(m.dmaAddress(16 << 20, 1)).toBe(0n); // past the window, as before
    for (const bad of [0n, 0x1234n, (1n << 64n) - 4096n])
      expect(() => new Machine({ platform: false, dmaBase: bad })).toThrow(/dmaBase/);
  });

  it("--dma-base HEX reaches runSim; bad values are usage errors", () => {
    expect(parseArgs(["sim", "--dma-base", "0x1000000000000"]).dmaBase).toBe(1n << 48n);
    expect(parseArgs(["sim", "--dma-base=123456000"]).dmaBase).toBe(0x123456000n);
    expect(() => parseArgs(["sim", "--dma-base", "12zz"])).toThrow(/hex bus address/);
    expect(() => parseArgs(["sim", "--dma-base", "0x1001"])).toThrow(/4 KiB-aligned/);
  });
});
