// bench/plot.js: the sweep's lines drawn as an SVG, read back with a real XML parser — every point
// where its figures put it, the axes labelled, a legend entry per series, the floor as a line and a
// timed-out Linux point as a cross, not a figure.
import { describe, it, expect } from "vitest";
import { DOMParser } from "@xmldom/xmldom";
import { parseSweep, renderSvg, fieldsOf } from "../../bench/plot.js";

const SWEEP = `# sweep: a comment line, skipped
floor driver=nvme-wasm irq=poll op=read block_bytes=4096 qd=1 iops=30000 device_us_avg=28.50 floor_iops=35087 runs=3
floor driver=nvme-wasm irq=poll op=read block_bytes=131072 qd=1 iops=20000 device_us_avg=40.00 floor_iops=25000 runs=3
sweep driver=nvme-wasm irq=msix op=read block_bytes=4096 qd=1 ios=20000 iops=30871 mib_s=120 device_us_avg=28.11 host_us_avg=4.20 floor_ratio=0.88
sweep driver=nvme-wasm irq=msix op=read block_bytes=4096 qd=8 ios=20000 iops=120000 mib_s=468 device_us_avg=40.00 host_us_avg=26.00 floor_ratio=3.42
sweep driver=nvme-wasm irq=msix op=read block_bytes=4096 qd=64 ios=20000 iops=200000 mib_s=781 device_us_avg=200.00 host_us_avg=120.00 floor_ratio=5.70
sweep driver=nvme-wasm irq=msix op=read block_bytes=131072 qd=1 ios=4000 iops=15000 mib_s=1875 device_us_avg=55.00 host_us_avg=11.00 floor_ratio=0.60
sweep driver=nvme-wasm irq=msix op=read block_bytes=131072 qd=64 ios=4000 iops=50000 mib_s=6250 device_us_avg=900.00 host_us_avg=380.00 floor_ratio=2.00
sweep driver=linux engine=io_uring op=read block_bytes=4096 qd=1 iops=7178 mib_s=28 floor_ratio=0.20
sweep driver=linux engine=io_uring op=read block_bytes=4096 qd=8 iops=9232 mib_s=36 floor_ratio=0.26
sweep driver=linux engine=io_uring op=read block_bytes=4096 qd=64 timed-out io_timeouts=4
sweep driver=linux engine=io_uring op=read block_bytes=4096 qd=32 error (linux job=x error="fio: no device")
`;

function parse(svg) {
  const errors = [];
  const doc = new DOMParser({ onError: (level, msg) => errors.push(`${level}: ${msg}`) }).parseFromString(
    svg,
    "image/svg+xml",
  );
  expect(errors).toEqual([]);
  expect(doc.documentElement.tagName).toBe("svg");
  return doc;
}

const all = (doc, tag) => Array.from(doc.getElementsByTagName(tag));
const byClass = (doc, tag, cls) =>
  all(doc, tag).filter((e) => (e.getAttribute("class") ?? "").split(" ").includes(cls));
const texts = (doc, cls) => byClass(doc, "text", cls).map((t) => t.textContent);

describe("bench/plot.js", () => {
  it("parses the sweep's lines: points, floors, timed-out points; comments and errors skipped", () => {
    expect(fieldsOf("sweep a=1 timed-out b=x")).toEqual({ a: "1", "timed-out": true, b: "x" });
    const d = parseSweep(SWEEP);
    expect(d.floors).toEqual([
      { blockBytes: 4096, iops: 35087, deviceUs: 28.5 },
      { blockBytes: 131072, iops: 25000, deviceUs: 40 },
    ]);
    expect(d.points.length).toBe(8);
    expect(d.points.filter((p) => p.timedOut)).toEqual([
      { driver: "linux", engine: "io_uring", irq: undefined, blockBytes: 4096, qd: 64, iops: null, timedOut: true },
    ]);
  });

  it("draws every point where its figures put it, on a log2 x axis and a log y axis", () => {
    const doc = parse(renderSvg(parseSweep(SWEEP)));
    const points = byClass(doc, "circle", "point").map((c) => ({
      driver: c.getAttribute("data-driver"),
      bytes: Number(c.getAttribute("data-block-bytes")),
      qd: Number(c.getAttribute("data-qd")),
      iops: Number(c.getAttribute("data-iops")),
      x: Number(c.getAttribute("cx")),
      y: Number(c.getAttribute("cy")),
    }));
    expect(points.map((p) => `${p.driver} ${p.bytes} ${p.qd} ${p.iops}`).sort()).toEqual(
      [
        "linux 4096 1 7178",
        "linux 4096 8 9232",
        "nvme-wasm 131072 1 15000",
        "nvme-wasm 131072 64 50000",
        "nvme-wasm 4096 1 30871",
        "nvme-wasm 4096 64 200000",
        "nvme-wasm 4096 8 120000",
      ].sort(),
    );
    const at = (driver, bytes, qd) => points.find((p) => p.driver === driver && p.bytes === bytes && p.qd === qd);
    // log2 x: QD 1 -> 8 is three steps, 8 -> 64 three more, the same distance.
    const x1 = at("nvme-wasm", 4096, 1).x,
      x8 = at("nvme-wasm", 4096, 8).x,
      x64 = at("nvme-wasm", 4096, 64).x;
    expect(x8 - x1).toBeGreaterThan(50);
    expect(Math.abs(x64 - x8 - (x8 - x1))).toBeLessThan(0.5);
    expect(at("linux", 4096, 1).x).toBeCloseTo(x1, 1);
    // log y: more IOPS is higher up; equal ratios are equal distances.
    const y = (driver, bytes, qd) => at(driver, bytes, qd).y;
    expect(y("nvme-wasm", 4096, 64)).toBeLessThan(y("nvme-wasm", 4096, 8));
    expect(y("linux", 4096, 1)).toBeGreaterThan(y("nvme-wasm", 4096, 1));
    const perDecade = (a, b) => (a.y - b.y) / Math.log10(b.iops / a.iops);
    expect(perDecade(at("linux", 4096, 1), at("nvme-wasm", 4096, 64))).toBeCloseTo(
      perDecade(at("nvme-wasm", 131072, 1), at("nvme-wasm", 4096, 8)),
      0,
    );
  });

  it("labels the axes, ticks QD 1 to 64, lists each series and the floor in the legend", () => {
    const doc = parse(renderSvg(parseSweep(SWEEP)));
    expect(texts(doc, "x-label")[0]).toMatch(/queue depth.*log2/);
    expect(texts(doc, "y-label")[0]).toMatch(/IOPS/);
    expect(texts(doc, "x-tick")).toEqual(["1", "2", "4", "8", "16", "32", "64"]);
    expect(texts(doc, "y-tick")).toEqual(expect.arrayContaining(["1k", "10k", "100k"]));
    expect(texts(doc, "legend-entry")).toEqual([
      "nvme-wasm (MSI-X), 4 KiB",
      "nvme-wasm (MSI-X), 128 KiB",
      "Linux 6.1 + fio (io_uring), 4 KiB",
      "device floor (QD1 polled, 4 KiB)",
    ]);
    expect(byClass(doc, "g", "series").map((g) => g.getAttribute("data-label"))).toEqual(
      texts(doc, "legend-entry").slice(0, 3),
    );
    expect(texts(doc, "title")[0]).toMatch(/queue depth/);
  });

  it("draws the 4 KiB floor as a dashed line at its IOPS, and a timed-out point as a cross, not a figure", () => {
    const doc = parse(renderSvg(parseSweep(SWEEP)));
    const [floor] = byClass(doc, "g", "floor");
    expect(floor.getAttribute("data-iops")).toBe("35087");
    const line = floor.getElementsByTagName("line")[0];
    expect(line.getAttribute("stroke-dasharray")).toBeTruthy();
    expect(line.getAttribute("y1")).toBe(line.getAttribute("y2"));
    const y = Number(line.getAttribute("y1"));
    const points = byClass(doc, "circle", "point");
    const cy = (iops) => Number(points.find((c) => c.getAttribute("data-iops") === String(iops)).getAttribute("cy"));
    expect(y).toBeLessThan(cy(30871)); // 35,087 is above 30,871 ...
    expect(y).toBeGreaterThan(cy(50000)); // ... and below 50,000
    expect(floor.textContent).toMatch(/35087 IOPS/);
    const crosses = byClass(doc, "path", "timed-out");
    expect(crosses.map((c) => c.getAttribute("data-qd"))).toEqual(["64"]);
    expect(doc.documentElement.toString()).toMatch(/timed out/);
  });
});
