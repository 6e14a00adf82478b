// Damaged disks for the fs module's hostile-input tests: good images made by the Debian tools
// (fat-images.js), then broken in one named way each, by offsets computed here from the on-disk
// formats (the FAT specification's BPB and directory entries, UEFI's GPT header, the MBR).
import { writeFileSync, readFileSync, copyFileSync } from "node:fs";
import { blankImage, mkfsFat, mtools, sfdiskPartitions, tool, MiB } from "./fat-images.js";
import { execFileSync } from "node:child_process";

const SECTOR = 512;

// A FAT16 volume's geometry, from its BPB (the volume at byte `base` of `img`).
export function fat16(buf, base) {
  const bps = buf.readUInt16LE(base + 11),
    spc = buf[base + 13],
    rsvd = buf.readUInt16LE(base + 14);
  const fats = buf[base + 16],
    rootEnt = buf.readUInt16LE(base + 17),
    fatSz = buf.readUInt16LE(base + 22);
  const fatOff = base + rsvd * bps;
  const rootOff = fatOff + fats * fatSz * bps;
  return {
    bps,
    spc,
    fatOff,
    rootOff,
    fats,
    fatBytes: fatSz * bps,
    // The root entry with this 11-byte 8.3 name: { offset, cluster }.
    entry(name83) {
      for (let i = 0; i < rootEnt; i++) {
        const o = rootOff + i * 32;
        if (buf.toString("latin1", o, o + 11) === name83) return { offset: o, cluster: buf.readUInt16LE(o + 26) };
      }
      throw new Error(`no root entry ${name83}`);
    },
    setFat(cluster, value) {
      for (let k = 0; k < fats; k++) buf.writeUInt16LE(value, fatOff + k * fatSz * bps + cluster * 2);
    },
    getFat(cluster) {
      return buf.readUInt16LE(fatOff + cluster * 2);
    },
  };
}

// An MBR disk with one FAT16 partition (2 KiB clusters) holding files for each kind of damage.
export function damageBase(dir) {
  const img = blankImage(`${dir}/damage-base.img`, 24 * MiB);
  execFileSync(tool("sfdisk"), [img], { input: "label: dos\n2048,40000,6\n", stdio: ["pipe", "pipe", "pipe"] });
  const [p] = sfdiskPartitions(img);
  mkfsFat(img, 16, p.start, p.size, { clusterSectors: 4 });
  const base = p.start * SECTOR;
  const put = (name, bytes) => {
    const f = `${dir}/damage-src`;
    writeFileSync(f, bytes);
    mtools("mcopy", img, base, f, `::${name}`);
  };
  for (const n of ["loop.bin", "past.bin", "free.bin", "bad.bin", "start.bin"])
    put(`/${n}`, Buffer.alloc(6000, n.charCodeAt(0)));
  put("/ok.txt", Buffer.from("still readable\n"));
  put("/Long Name Here.txt", Buffer.from("long\n"));
  mtools("mmd", img, base, "::/sub");
  put("/sub/inner.txt", Buffer.from("inner\n"));
  return { img, part: p, base };
}

// A copy of the base image with `damage(buf, volume)` applied.
export function damaged(baseInfo, path, damage) {
  copyFileSync(baseInfo.img, path);
  const buf = readFileSync(path);
  damage(buf, fat16(buf, baseInfo.base), baseInfo.base);
  writeFileSync(path, buf);
  return path;
}

// The damage cases: name, what to break, the commands, and the error lines they must give.
export const FAT_CASES = [
  {
    name: "a FAT cycle in a file's chain",
    damage: (buf, v) => {
      const c = v.entry("LOOP    BIN").cluster;
      v.setFat(c + 2, c);
    },
    commands: ["sum nvme0n1p1 /loop.bin", "sum nvme0n1p1 /ok.txt"],
    errors: [
      "error: sum dev=nvme0n1p1 path=/loop.bin: the cluster chain is longer than the file's 3 clusters (a cycle?)",
    ],
  },
  {
    name: "a FAT cycle in a directory's chain",
    damage: (buf, v) => {
      const c = v.entry("SUB        ").cluster;
      v.setFat(c, c);
    },
    commands: ["ls nvme0n1p1 /sub", "cat nvme0n1p1 /sub/inner.txt", "ls nvme0n1p1 /ok.txt"],
    errors: [
      "error: ls dev=nvme0n1p1 path=/sub: a directory's cluster chain does not end within 1024 clusters (a cycle?)",
      "error: cat dev=nvme0n1p1 path=/sub/inner.txt: a directory's cluster chain does not end within 1024 clusters (a cycle?)",
    ],
  },
  {
    name: "a cluster past the end of the volume",
    damage: (buf, v) => {
      const c = v.entry("PAST    BIN").cluster;
      v.setFat(c, 0xfff0);
    },
    commands: ["sum nvme0n1p1 /past.bin"],
    errors: ["error: sum dev=nvme0n1p1 path=/past.bin: cluster {c} leads to cluster 65520, past the end of the volume"],
    cluster: "PAST    BIN",
  },
  {
    name: "a free cluster in a chain",
    damage: (buf, v) => {
      const c = v.entry("FREE    BIN").cluster;
      v.setFat(c + 1, 0);
    },
    commands: ["cat nvme0n1p1 /free.bin"],
    errors: ["error: cat dev=nvme0n1p1 path=/free.bin: cluster {c+1} leads to a free cluster"],
    cluster: "FREE    BIN",
  },
  {
    name: "a cluster marked bad in a chain",
    damage: (buf, v) => {
      const c = v.entry("BAD     BIN").cluster;
      v.setFat(c, 0xfff7);
    },
    commands: ["sum nvme0n1p1 /bad.bin"],
    errors: ["error: sum dev=nvme0n1p1 path=/bad.bin: cluster {c} leads to a cluster marked bad"],
    cluster: "BAD     BIN",
  },
  {
    name: "a file starting past the end",
    damage: (buf, v) => {
      const e = v.entry("START   BIN");
      buf.writeUInt16LE(0xfff0, e.offset + 26);
    },
    commands: ["sum nvme0n1p1 /start.bin"],
    errors: ["error: sum dev=nvme0n1p1 path=/start.bin: the file starts at cluster 65520, outside the volume"],
  },
  {
    name: "a bad BPB: 1000 bytes per sector",
    damage: (buf, v, base) => buf.writeUInt16LE(1000, base + 11),
    commands: ["ls nvme0n1p1 /"],
    errors: ["error: ls dev=nvme0n1p1 path=/: bad BPB: bytes per sector 1000"],
  },
  {
    name: "a bad BPB: 3 sectors per cluster",
    damage: (buf, v, base) => {
      buf[base + 13] = 3;
    },
    commands: ["ls nvme0n1p1 /"],
    errors: ["error: ls dev=nvme0n1p1 path=/: bad BPB: sectors per cluster 3"],
  },
  {
    name: "a bad BPB: no reserved sectors",
    damage: (buf, v, base) => buf.writeUInt16LE(0, base + 14),
    commands: ["ls nvme0n1p1 /"],
    errors: ["error: ls dev=nvme0n1p1 path=/: bad BPB: no reserved sectors"],
  },
  {
    name: "a bad BPB: a volume larger than its partition",
    damage: (buf, v, base) => {
      buf.writeUInt16LE(0, base + 19);
      buf.writeUInt32LE(80000, base + 32);
    },
    commands: ["ls nvme0n1p1 /"],
    errors: ["error: ls dev=nvme0n1p1 path=/: bad BPB: the volume is larger than its partition (or empty)"],
  },
  {
    name: "a long name with a wrong checksum (the 8.3 name is used, as Windows does)",
    damage: (buf, v) => {
      const e = v.entry("LONGNA~1TXT");
      buf[e.offset - 32 + 13] ^= 0x55;
    },
    commands: ["ls nvme0n1p1 /LONGNA~1.TXT", 'ls nvme0n1p1 "/Long Name Here.txt"'],
    errors: ['error: ls dev=nvme0n1p1 path="/Long Name Here.txt": no such file or directory'],
    lines: ["file path=/LONGNA~1.TXT bytes=5"],
  },
];

// The expected lines of a case, with {c} and {c+1} replaced by its file's first cluster.
export function expectedErrors(c, buf, base) {
  if (!c.cluster) return c.errors;
  const first = fat16(buf, base).entry(c.cluster).cluster;
  return c.errors.map((l) => l.replace("{c+1}", String(first + 1)).replace("{c}", String(first)));
}

// Partition tables broken by hand: raw MBRs on a blank disk of `blocks` blocks.
export function mbrDisk(path, blocks, entries, ebrs = []) {
  const buf = Buffer.alloc(blocks * SECTOR);
  const write = (at, list) => {
    list.forEach((e, i) => {
      const o = at + 446 + i * 16;
      buf[o] = e.boot ?? 0;
      buf[o + 4] = e.type;
      buf.writeUInt32LE(e.start, o + 8);
      buf.writeUInt32LE(e.size, o + 12);
    });
    buf[at + 510] = 0x55;
    buf[at + 511] = 0xaa;
  };
  write(0, entries);
  for (const { lba, list } of ebrs) write(lba * SECTOR, list);
  writeFileSync(path, buf);
  return path;
}

export const MBR_CASES = [
  {
    name: "overlapping primaries",
    entries: [
      { type: 0x83, start: 2048, size: 4096 },
      { type: 0x83, start: 4000, size: 1000 },
    ],
    error: "error: parts dev=nvme0n1: partitions 1 and 2 overlap",
  },
  {
    name: "a partition past the end of the disk",
    entries: [{ type: 0x0c, start: 2048, size: 1000000 }],
    error: "error: parts dev=nvme0n1: partition 1 (blocks 2048+1000000) is empty or outside blocks 1..16383",
  },
  {
    name: "an extended partition whose EBR chain loops",
    entries: [{ type: 0x05, start: 2048, size: 8192 }],
    ebrs: [
      {
        lba: 2048,
        list: [
          { type: 0x83, start: 63, size: 100 },
          { type: 0x05, start: 1024, size: 200 },
        ],
      },
      {
        lba: 3072,
        list: [
          { type: 0x83, start: 63, size: 100 },
          { type: 0x05, start: 0, size: 200 },
        ],
      },
    ],
    error: "error: parts dev=nvme0n1: the extended partition's EBR chain loops back to block 2048",
  },
  {
    name: "a boot indicator that is neither 00h nor 80h (not a partition table)",
    entries: [{ type: 0x83, start: 2048, size: 100, boot: 0x12 }],
    error: "error: parts dev=nvme0n1: MBR entry 1: boot indicator is neither 00h nor 80h: not a partition table",
  },
];
