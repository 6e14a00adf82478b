// Several IO queue pairs (docs/block-interface.md, "IO queue pairs and clients"): the io_queues wish
// before start, Number of Queues asking for it, min(wish, granted) pairs, each client's requests on
// pair (client % pairs) + 1 (the client is the tag's bits 63:32), an MSI-X vector per IO CQ when
// the table has room, and one client's deep backlog never making another client's submit busy.
// Driven through the driver's exports against the controller model; every failure message starts
// with its `replay:` line.
import { describe, it, expect } from "vitest";
import { driverAlone, OP_READ, OP_WRITE, ERR, MiB } from "./component.js";
import { expectClean, drive } from "./helpers.js";
import { NvmeController } from "../../host/nvme/controller.js";

const START_AGAIN = -1,
  START_BAD_OPTION = -2;
const ADMIN_SET_FEATURES = 0x09,
  FEATURE_NUMBER_OF_QUEUES = 0x07;

// The model, recording the SQ every IO command came from (with its starting LBA) and the CDW11 of
// each Number of Queues it was sent.
class Recording extends NvmeController {
  constructor(opts) {
    super(opts);
    this.ioSeen = [];
    this.numberOfQueues = [];
  }
  _io(rec) {
    this.ioSeen.push({
      sqid: rec.sqid,
      slba: BigInt(rec.cmd.cdw10 >>> 0) | (BigInt(rec.cmd.cdw11 >>> 0) << 32n),
      opcode: rec.cmd.opcode,
    });
    return super._io(rec);
  }
  _admin(rec) {
    if (rec.cmd.opcode === ADMIN_SET_FEATURES && (rec.cmd.cdw10 & 0xff) === FEATURE_NUMBER_OF_QUEUES)
      this.numberOfQueues.push(rec.cmd.cdw11 >>> 0);
    return super._admin(rec);
  }
}

// Recording, with transfers that take time: an IO command executes 1 ns per byte after it would
// have (commands run side by side, as on a device with many channels), so a 512 KiB read outlasts
// eight 64 KiB ones.
class Transfers extends Recording {
  _execute(rec) {
    if (rec.admin || rec.delayed || rec.state !== "pending") return super._execute(rec);
    rec.delayed = true;
    const bytes = ((rec.cmd.cdw12 & 0xffff) + 1) * 512;
    this._at(BigInt(bytes), () => super._execute(rec));
  }
}

async function started(opts = {}, startOpts = {}) {
  const h = await driverAlone({ disks: ["mem:8M"], model: Recording, ...opts });
  h.start(startOpts);
  h.why = `replay: ${JSON.stringify({ ...opts, model: (opts.model ?? Recording).name, start: startOpts })}`;
  return h;
}

function clean(h) {
  const violations = h.m.controllers.flatMap((c) => c.violations ?? []);
  expectClean({ violations, dmaFaults: h.m.dmaFaults, fatal: [], why: `${h.why}\n--- output ---\n${h.output()}` });
}

const tagOf = (client, n) => (BigInt(client) << 32n) | BigInt(n);
const noise = (n, seed) => {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
};

describe("the io_queues wish", () => {
  it("is taken before start only, 1..8: out of range START_BAD_OPTION, after start START_AGAIN", async () => {
    const h = await driverAlone({ disks: ["mem:1M"] });
    expect(h.d.io_queues(0)).toBe(START_BAD_OPTION);
    expect(h.d.io_queues(9)).toBe(START_BAD_OPTION);
    expect(h.d.io_queues(8)).toBe(0);
    h.start({ queues: 3 });
    expect(h.queuesAnswer).toBe(0);
    expect(h.controller(0).ioQueues).toBe(3);
    expect(h.d.io_queues(2)).toBe(START_AGAIN);
  });

  it("without it, one pair (the default): Number of Queues asks for 1 and the line says io_queues=1 vectors=1", async () => {
    const h = await started({ profile: "qemu" });
    expect(h.model().numberOfQueues, h.why).toEqual([0]);
    expect(h.controller(0), h.why).toMatchObject({ queues: 64, ioQueues: 1, vectors: 1 });
    expect(h.output(), h.why).toMatch(/^nvme0 queues granted=64 io_entries=256 irq=msix io_queues=1 vectors=1$/m);
    clean(h);
  });
});

describe("several IO queue pairs (qemu profile: 64 pairs granted, 65 MSI-X entries)", () => {
  it("Number of Queues asks for the wish (NCQR = NSQR = 3), four pairs, IO CQ k on MSI-X vector k, each on a host line of its own", async () => {
    const h = await started({ profile: "qemu" }, { queues: 4 });
    const m = h.model();
    expect(m.numberOfQueues, h.why).toEqual([(3 << 16) | 3]);
    expect(h.controller(0), h.why).toMatchObject({ queues: 64, ioQueues: 4, vectors: 5 });
    expect(h.output(), h.why).toMatch(/^nvme0 queues granted=64 io_entries=256 irq=msix io_queues=4 vectors=5$/m);
    for (let qid = 1; qid <= 4; qid++) {
      expect(m.cqs.get(qid)?.vector, `${h.why} CQ${qid}`).toBe(qid);
      expect(m.sqs.get(qid)?.cqid, `${h.why} SQ${qid}`).toBe(qid);
    }
    expect(m.cqs.has(5), h.why).toBe(false);
    const msixLines = h.m.lines.filter((l) => l.mode === "msix");
    expect(msixLines.length, h.why).toBe(5);
    clean(h);
  });

  it("client c's requests go to SQ (c % 4) + 1: six clients, the fifth and sixth share with the first two", async () => {
    const h = await started({ profile: "qemu" }, { queues: 4 });
    for (let client = 0; client < 6; client++)
      expect(h.submit(tagOf(client, 7), OP_READ, 0, client * 64, 8, client * 4096), h.why).toBe(0);
    h.pump();
    expect(h.completions().size, h.why).toBe(6);
    for (const t of h.completions().values()) expect(t.status, h.why).toBe(0);
    const reads = h.model().ioSeen.filter((s) => s.opcode === 0x02);
    for (let client = 0; client < 6; client++) {
      const seen = reads.filter((s) => s.slba === BigInt(client * 64));
      expect(
        seen.map((s) => s.sqid),
        `${h.why} client ${client}`,
      ).toEqual([(client % 4) + 1]);
    }
    clean(h);
  });

  for (const seed of [1, 2]) {
    it(`four clients interleaved at QD32 each, writes then reads: every tag once, every byte where it belongs, interrupts on every IO line (seed ${seed})`, async () => {
      const h = await started({ profile: "qemu", seed }, { queues: 4 });
      const blocks = 8,
        bytes = blocks * 512,
        qd = 32;
      const region = (client) => client * qd * blocks; // each client its own LBA range
      const slot = (client, i) => (client * qd + i) * bytes; // and its own buffer
      const data = noise(4 * qd * bytes, seed);
      h.mem().set(data, h.base);
      for (let i = 0; i < qd; i++) {
        for (let client = 0; client < 4; client++) {
          expect(
            h.submit(tagOf(client, i), OP_WRITE, 0, region(client) + i * blocks, blocks, slot(client, i)),
            h.why,
          ).toBe(0);
        }
      }
      h.pump();
      h.mem().fill(0, h.base, h.base + data.length);
      for (let i = 0; i < qd; i++) {
        for (let client = 0; client < 4; client++) {
          expect(
            h.submit(tagOf(client, 1000 + i), OP_READ, 0, region(client) + i * blocks, blocks, slot(client, i)),
            h.why,
          ).toBe(0);
        }
      }
      h.pump();
      const done = h.completions();
      expect(done.size, h.why).toBe(2 * 4 * qd);
      for (const c of done.values()) expect(c.status, h.why).toBe(0);
      expect(Buffer.from(h.mem().subarray(h.base, h.base + data.length)).equals(data), h.why).toBe(true);
      expect(Buffer.from(h.disk().read(0n, data.length)).equals(data), h.why).toBe(true);
      // each SQ carried exactly its client's 64 commands
      for (let qid = 1; qid <= 4; qid++)
        expect(h.model().ioSeen.filter((s) => s.sqid === qid).length, `${h.why} SQ${qid}`).toBe(2 * qd);
      const ioLines = h.m.lines
        .map((l, n) => [l, n])
        .filter(([l]) => l.mode === "msix")
        .map(([, n]) => n)
        .slice(1);
      for (const n of ioLines) expect(h.linesFired.get(n) ?? 0, `${h.why} line ${n}`).toBeGreaterThan(0);
      expect(h.d.shutdown(), h.why).toBe(0);
      clean(h);
    });
  }
});

describe("shadow doorbells with several pairs", () => {
  it("dbbuf=on queues=4: every IO queue pair has its own shadow entries; four clients at QD16, every byte right, one Doorbell Buffer Config", async () => {
    const h = await started({ profile: "qemu", seed: 3, cmd: "dbbuf=on; queues=4" }, { cmdline: true });
    expect(h.output(), h.why).toContain("nvme0 dbbuf=on sgl=on\n");
    expect(h.controller(0).ioQueues, h.why).toBe(4);
    expect(h.model().stats.admin["doorbell-buffer-config"], h.why).toBe(1);
    const blocks = 8,
      bytes = blocks * 512,
      qd = 16;
    const data = noise(4 * qd * bytes, 3);
    h.mem().set(data, h.base);
    for (let i = 0; i < qd; i++) {
      for (let client = 0; client < 4; client++) {
        const n = client * qd + i;
        expect(h.submit(tagOf(client, i), OP_WRITE, 0, n * blocks, blocks, n * bytes), h.why).toBe(0);
      }
    }
    h.pump();
    expect(Buffer.from(h.disk().read(0n, data.length)).equals(data), h.why).toBe(true);
    const model = h.model();
    for (let qid = 1; qid <= 4; qid++)
      expect(model.ioSeen.filter((s) => s.sqid === qid).length, `${h.why} SQ${qid}`).toBe(qd);
    // Every IO SQ's shadow entry holds its tail: the controller fetched all 16 commands of each
    // through it (a register-only queue would leave the shadow at 0).
    for (let qid = 1; qid <= 4; qid++) {
      const sq = model.sqs.get(qid);
      expect(sq.shadow, `${h.why} SQ${qid} shadow`).toBeTruthy();
      expect(
        new DataView(h.m.memory.buffer).getUint32(Number(sq.shadow - h.m.dmaBase), true),
        `${h.why} SQ${qid} shadow tail`,
      ).toBe(sq.tail);
    }
    expect(h.d.shutdown(), h.why).toBe(0);
    clean(h);
  });
});

describe("one client's deep queue does not starve another's", () => {
  // On a controller without SGLs (an SGL needs no list page), client 0 fills its pair with 1.5 MiB
  // reads (three 512 KiB commands each, one PRP list page each: MDTS is 512 KiB on qemu) until
  // submit is busy: its last request has pieces waiting on
  // its backlog (list pages or command ids ran out). Client 1 then sends 64 KiB reads (a PRP list
  // page each) at QD1, each after the previous one completed.
  async function contest(queues) {
    const h = await started(
      { profile: "qemu", disks: ["mem:64M"], model: Transfers, overrides: { sgl: false } },
      { queues },
    );
    let deep = 0;
    for (; deep < 64; deep++) {
      const status = h.submit(tagOf(0, deep), OP_READ, 0, deep * 3072, 3072, (deep % 4) * ((3 * MiB) / 2));
      if (status === ERR.BUSY) break;
      expect(status, h.why).toBe(0);
    }
    return { h, deep };
  }
  const shallow = (i) => [tagOf(1, i), OP_READ, 0, 120_000 + i * 128, 128, 6 * MiB + (i % 2) * 65536];

  it("with a pair each: all eight QD1 submits are accepted, and all eight complete while the deep client still waits for most of its own", async () => {
    const { h, deep } = await contest(2);
    expect(deep, `${h.why}: the deep client must have filled its share`).toBeGreaterThan(1);
    expect(deep, h.why).toBeLessThan(64);
    for (let i = 0; i < 8; i++) {
      expect(h.submit(...shallow(i)), `${h.why} (QD1 read ${i})`).toBe(0);
      h.pump(() => h.done.some((d) => d.tag === tagOf(1, i)));
    }
    const deepDone = h.done.filter((d) => d.tag >> 32n === 0n).length;
    expect(deepDone, `${h.why}: deep requests done when the eighth QD1 read completed (of ${deep})`).toBeLessThan(deep);
    h.pump();
    expect(h.completions().size, h.why).toBe(deep + 8);
    for (const c of h.completions().values()) expect(c.status, h.why).toBe(0);
    clean(h);
  });

  it("with one pair for both (more clients than pairs), the second client is busy until the first's backlog has gone: the documented limit", async () => {
    const { h, deep } = await contest(1);
    expect(deep, h.why).toBeGreaterThan(1);
    expect(h.submit(...shallow(0)), h.why).toBe(ERR.BUSY);
    h.pump();
    expect(h.completions().size, h.why).toBe(deep);
    expect(h.submit(...shallow(0)), h.why).toBe(0);
    h.pump();
    clean(h);
  });
});

describe("fewer pairs or vectors than wished", () => {
  it("tiny (one pair granted): queues=4 gives one pair, every client on SQ1", async () => {
    const h = await started({ profile: "tiny" }, { queues: 4 });
    expect(h.controller(0), h.why).toMatchObject({ queues: 1, ioQueues: 1 });
    for (let client = 0; client < 3; client++)
      expect(h.submit(tagOf(client, 1), OP_READ, 0, client * 16, 8, client * 4096), h.why).toBe(0);
    h.pump();
    expect(h.completions().size, h.why).toBe(3);
    expect(new Set(h.model().ioSeen.map((s) => s.sqid)), h.why).toEqual(new Set([1]));
    clean(h);
  });

  it("a controller granting 3 pairs (NSQA = NCQA = 2) when 8 are wished: 3 pairs, CQs 1..3 on vectors 1..3, clients 0 and 3 on SQ1", async () => {
    const h = await started({ profile: "qemu", overrides: { ioQueuePairs: 3 } }, { queues: 8 });
    expect(h.controller(0), h.why).toMatchObject({ queues: 3, ioQueues: 3, vectors: 4 });
    expect(h.model().numberOfQueues, h.why).toEqual([(7 << 16) | 7]);
    for (let qid = 1; qid <= 3; qid++) expect(h.model().cqs.get(qid)?.vector, h.why).toBe(qid);
    for (const client of [0, 3])
      expect(h.submit(tagOf(client, 1), OP_READ, 0, client * 8, 8, client * 4096), h.why).toBe(0);
    h.pump();
    expect(
      h.model().ioSeen.map((s) => s.sqid),
      h.why,
    ).toEqual([1, 1]);
    clean(h);
  });

  // Four pairs whose CQs all share vector 0: IO on each pair still completes.
  async function sharedVectorZero(opts, startOpts) {
    const h = await started(opts, startOpts);
    expect(h.controller(0), h.why).toMatchObject({ ioQueues: 4, vectors: 1 });
    for (let qid = 1; qid <= 4; qid++) expect(h.model().cqs.get(qid)?.vector, h.why).toBe(0);
    for (let client = 0; client < 4; client++)
      expect(h.submit(tagOf(client, 1), OP_READ, 0, client * 16, 8, client * 4096), h.why).toBe(0);
    h.pump();
    expect(h.completions().size, h.why).toBe(4);
    expect(
      [...h.completions().values()].every((c) => c.status === 0),
      h.why,
    ).toBe(true);
    clean(h);
  }

  it("INTx: four pairs, every IO CQ on vector 0 (one line); IO on all of them works", async () => {
    await sharedVectorZero({ profile: "qemu" }, { queues: 4, irq: 2 });
  });

  it("an MSI-X table with fewer entries than CQs: the IO CQs share vector 0", async () => {
    await sharedVectorZero({ profile: "qemu", overrides: { msixVectors: 4 } }, { queues: 4 });
  });
});

describe("recovery with several pairs", () => {
  it("a dropped command that Abort cannot free: the reset re-creates all four pairs on their vectors, the dropped one ERR_TIMEOUT, the others complete ok", async () => {
    const h = await started({ profile: "strict", faults: { drop_after: 5, abort_ignored: 1 } }, { queues: 4 });
    expect(h.controller(0).ioQueues, h.why).toBe(4);
    for (let i = 0; i < 4; i++)
      for (let client = 0; client < 4; client++) {
        expect(h.submit(tagOf(client, i), OP_READ, 0, (client * 4 + i) * 8, 8, (client * 4 + i) * 4096), h.why).toBe(0);
      }
    h.pump();
    const done = [...h.completions().values()];
    expect(done.length, h.why).toBe(16);
    expect(done.filter((c) => c.status === ERR.TIMEOUT).length, h.why).toBe(1);
    expect(done.filter((c) => c.status === 0).length, h.why).toBe(15);
    expect(h.stats(0).resets, h.why).toBe(1n);
    const m = h.model();
    for (let qid = 1; qid <= 4; qid++) expect(m.sqs.has(qid) && m.cqs.has(qid), `${h.why} pair ${qid}`).toBe(true);
    expect(m.numberOfQueues, h.why).toEqual([(3 << 16) | 3, (3 << 16) | 3]);
    for (let client = 0; client < 4; client++)
      expect(h.submit(tagOf(client, 99), OP_READ, 0, client * 8, 8, client * 4096), h.why).toBe(0);
    h.pump();
    expect(h.completions().size, h.why).toBe(20);
    expect(h.d.shutdown(), h.why).toBe(0);
    expect(m.sqs.size + m.cqs.size, `${h.why}: shutdown deletes every IO queue`).toBe(2);
    clean(h);
  });
});

describe("plain MSI (the msi-only profile: MSI and INTx, no MSI-X)", () => {
  const IRQ_MODE_MSI = 3,
    IRQ_MSI = 4;
  for (const [how, startOpts] of [
    ["irq=auto", { queues: 4 }],
    ["irq=msi", { queues: 2, irq: IRQ_MSI }],
  ]) {
    it(`${how}: MSI with one message, every CQ on vector 0, the capability holds the host's message; IO on every pair completes through interrupts`, async () => {
      const h = await started({ profile: "msi-only" }, startOpts);
      const pairs = startOpts.queues;
      expect(h.controller(0), h.why).toMatchObject({ irq: IRQ_MODE_MSI, ioQueues: pairs, vectors: 1 });
      expect(h.output(), h.why).toMatch(
        new RegExp(`^nvme0 queues granted=64 io_entries=256 irq=msi io_queues=${pairs} vectors=1$`, "m"),
      );
      const m = h.model();
      expect(m.msi.control & 1, h.why).toBe(1); // enabled, MME 0
      expect((m.msi.control >> 4) & 7, h.why).toBe(0);
      const line = h.m.lines.findIndex((l) => l.mode === "msi");
      expect(line, h.why).toBeGreaterThanOrEqual(0);
      expect(BigInt(m.msi.addrLo) | (BigInt(m.msi.addrHi) << 32n), h.why).toBe(h.m.msiAddressOf(line));
      expect(m.msi.data, h.why).toBe(h.m.msiDataOf(line));
      expect(m.msi.mask, h.why).toBe(0);
      for (let qid = 1; qid <= pairs; qid++) expect(m.cqs.get(qid)?.vector, h.why).toBe(0);
      for (let i = 0; i < 8; i++)
        for (let client = 0; client < pairs; client++) {
          expect(h.submit(tagOf(client, i), OP_READ, 0, (client * 8 + i) * 8, 8, (client * 8 + i) * 4096), h.why).toBe(
            0,
          );
        }
      h.pump();
      expect(h.completions().size, h.why).toBe(8 * pairs);
      expect(
        [...h.completions().values()].every((c) => c.status === 0),
        h.why,
      ).toBe(true);
      expect(h.linesFired.get(line) ?? 0, h.why).toBeGreaterThan(0);
      expect(m.stats.msi, h.why).toBeGreaterThan(0);
      expect(m.stats.intx, h.why).toBe(0);
      expect(h.d.shutdown(), h.why).toBe(0);
      clean(h);
    });
  }

  it("a 32-bit MSI capability without per-vector masking: address and data at their 32-bit offsets, IO through interrupts", async () => {
    const h = await started({ profile: "msi-only", overrides: { msi64: false, msiMasking: false } }, { queues: 2 });
    expect(h.controller(0), h.why).toMatchObject({ irq: IRQ_MODE_MSI, ioQueues: 2, vectors: 1 });
    const m = h.model();
    const line = h.m.lines.findIndex((l) => l.mode === "msi");
    expect(BigInt(m.msi.addrLo), h.why).toBe(h.m.msiAddressOf(line));
    expect([m.msi.addrHi, m.msi.data], h.why).toEqual([0, h.m.msiDataOf(line)]);
    for (let client = 0; client < 2; client++)
      expect(h.submit(tagOf(client, 1), OP_READ, 0, client * 8, 8, client * 4096), h.why).toBe(0);
    h.pump();
    expect(
      [...h.completions().values()].map((c) => c.status),
      h.why,
    ).toEqual([0, 0]);
    expect(h.linesFired.get(line) ?? 0, h.why).toBeGreaterThan(0);
    clean(h);
  });

  it("irq=msi on a function without MSI (qemu: MSI-X only): one error line, then polling", async () => {
    const h = await started({ profile: "qemu" }, { irq: IRQ_MSI });
    expect(h.output(), h.why).toMatch(
      /^error: nvme0: irq=msi asked for, but the function has no MSI the host can route; polling instead$/m,
    );
    expect(h.controller(0), h.why).toMatchObject({ irq: 0, vectors: 0 });
    expect(h.submit(tagOf(0, 1), OP_READ, 0, 0, 8, 0), h.why).toBe(0);
    h.pump();
    expect(h.completions().get(tagOf(0, 1)).status, h.why).toBe(0);
  });
});

describe("the queues= boot option (Node host: the shell linked as client 0, fs.wasm as client 1)", () => {
  it("queues=3 overrides the host's io_queues(2): three pairs, four vectors; the shell's IO on SQ1", async () => {
    const r = await drive({
      profile: "qemu",
      disks: ["mem:8M"],
      cmd: "queues=3; fill nvme0n1 0 64 2; verify nvme0n1 0 64 2; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expect(r.output, r.why).toMatch(/^nvme0 queues granted=64 io_entries=256 irq=msix io_queues=3 vectors=4$/m);
    expect(r.output, r.why).toMatch(/^verify dev=nvme0n1 lba=0 count=64 seed=2 ok$/m);
    expectClean(r);
  });

  for (const bad of ["queues=0", "queues=9", "queues=12", "queues=x"]) {
    it(`${bad} is refused in an error line and the host's two pairs are used`, async () => {
      const r = await drive({ profile: "qemu", disks: ["mem:8M"], cmd: `${bad}; poweroff` });
      expect(r.output, r.why).toMatch(new RegExp(`^error: boot option not understood: ${bad}$`, "m"));
      expect(r.output, r.why).toMatch(/^nvme0 queues granted=64 io_entries=256 irq=msix io_queues=2 vectors=3$/m);
    });
  }
});
