import { describe, it, expect, beforeEach, afterEach } from "vitest";
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryDisk, FileDisk, parseDiskSpec, parseSize, openDisk } from "../../host/disk.js";

describe("disk specs", () => {
  it("parses files and memory disks with options", () => {
    expect(parseDiskSpec("disk.img")).toMatchObject({
      path: "disk.img",
      lbaBytes: 512,
      ms: 0,
      readonly: false,
      ctrl: 0,
    });
    expect(parseDiskSpec("a.raw,lba=4096,ms=8,ro,ctrl=1")).toMatchObject({
      path: "a.raw",
      lbaBytes: 4096,
      ms: 8,
      readonly: true,
      ctrl: 1,
    });
    expect(parseDiskSpec("mem:64M")).toMatchObject({ memSize: 64n << 20n, lbaBytes: 512 });
    expect(parseDiskSpec("mem:1G,lba=4K")).toMatchObject({ memSize: 1n << 30n, lbaBytes: 4096 });
    expect(parseSize("512K")).toBe(512n * 1024n);
    expect(parseSize("4096")).toBe(4096n);
    expect(parseSize("2g")).toBe(2n << 30n);
  });

  it("rejects bad specs with a message that names the problem", () => {
    expect(() => parseDiskSpec("")).toThrow(/empty/);
    expect(() => parseDiskSpec(",lba=512")).toThrow(/no file name/);
    expect(() => parseDiskSpec("x,lba=1000")).toThrow(/power of two/);
    expect(() => parseDiskSpec("x,lba=256")).toThrow(/power of two/);
    expect(() => parseDiskSpec("x,lba=abc")).toThrow(/lba wants a number/);
    expect(() => parseDiskSpec("x,speed=9")).toThrow(/unknown option "speed"/);
    expect(() => parseDiskSpec("x,ro=1")).toThrow(/ro takes no value/);
    expect(() => parseDiskSpec("mem:12Q")).toThrow(/bad size/);
    expect(() => parseDiskSpec("x,ctrl=99")).toThrow(/ctrl=99/);
  });
});

describe("disks", () => {
  let dir;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "nvme-disk-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("MemoryDisk reads back what was written and checks bounds", () => {
    const d = new MemoryDisk(8192);
    expect(d.size).toBe(8192n);
    d.write(4096n, new Uint8Array([9, 8, 7]));
    expect([...d.read(4095n, 5)]).toEqual([0, 9, 8, 7, 0]);
    expect(() => d.read(8190n, 4)).toThrow(RangeError);
    expect(() => d.write(-1n, new Uint8Array(1))).toThrow(RangeError);
  });

  it("FileDisk writes back to the image, positionally", () => {
    const p = join(dir, "img.raw");
    writeFileSync(p, Buffer.alloc(16384, 0xaa));
    const d = openDisk(parseDiskSpec(`${p},lba=4096`));
    expect(d.size).toBe(16384n);
    expect([...d.read(0n, 2)]).toEqual([0xaa, 0xaa]);
    d.write(8192n, new Uint8Array([1, 2, 3, 4]));
    d.flush();
    d.close();
    const img = readFileSync(p);
    expect(img.length).toBe(16384);
    expect([...img.subarray(8190, 8198)]).toEqual([0xaa, 0xaa, 1, 2, 3, 4, 0xaa, 0xaa]);
  });

  it("a read-only FileDisk refuses writes; size must be a multiple of the LBA size", () => {
    const p = join(dir, "ro.raw");
    writeFileSync(p, Buffer.alloc(4096 + 512));
    const ro = openDisk(parseDiskSpec(`${p},ro`));
    expect(() => ro.write(0n, new Uint8Array(1))).toThrow(/read-only/);
    ro.close();
    expect(() => openDisk(parseDiskSpec(`${p},lba=4096`))).toThrow(/not a multiple of lba=4096/);
    expect(() => new FileDisk(join(dir, "missing.raw"))).toThrow(/no such file/);
  });
});
