// Partitioned disk images with FAT filesystems, made with Debian's own tools (sgdisk or sfdisk,
// mkfs.fat, mtools), and what those tools say about them: the partitions (`sfdisk --json`), the
// tree (`mdir -/ -b`) and every file's bytes (`mtype`), so the fs module's answers are checked
// against tools that share no code with it.
import { execFileSync } from "node:child_process";
import { writeFileSync, truncateSync, openSync, closeSync } from "node:fs";
import { crc32 } from "node:zlib";
import { noiseBytes } from "./disk-images.js";

// Noise of any length (noiseBytes makes whole 4-byte words).
const noise = (length, seed) => Buffer.from(noiseBytes((length + 3) & ~3, seed).subarray(0, length));
const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { stdio: [opts.input ? "pipe" : "ignore", "pipe", "pipe"], ...opts });
export const MiB = 1 << 20;

export function hasTools() {
  try {
    for (const t of ["sgdisk", "sfdisk", "mkfs.fat", "mcopy", "mdir", "mtype", "mmd", "mdel"])
      run("sh", ["-c", `command -v ${t} || test -x /usr/sbin/${t} || test -x /sbin/${t}`]);
    return true;
  } catch {
    return false;
  }
}
// A tool's path: Debian puts the partitioning and mkfs tools in /usr/sbin, which a user's PATH may lack.
export const tool = (t) => {
  for (const d of ["/usr/sbin/", "/sbin/", ""]) {
    try {
      run("sh", ["-c", `test -x ${d}${t}`]);
      if (d) return d + t;
    } catch {
      /* next */
    }
  }
  return t;
};

// mtools' -i image@@offset: the FAT volume at byte `offset` of the image.
const at = (img, offset) => `${img}@@${offset}`;
const mtoolsEnv = { ...process.env, MTOOLS_SKIP_CHECK: "1", MTOOLS_NO_VFAT: "", MTOOLS_LOWER_CASE: "0" };
export function mtools(cmd, img, offset, ...args) {
  return run(cmd, ["-i", at(img, offset), ...args], { env: mtoolsEnv });
}

// A FAT filesystem of `type` (12, 16, 32) on blocks [start, start + blocks) of 512 bytes.
export function mkfsFat(img, type, start, blocks, { sectorBytes = 512, clusterSectors = 0, label = "NVMEWASM" } = {}) {
  const args = [
    "-F",
    String(type),
    "-n",
    label,
    "--offset",
    String((start * 512) / sectorBytes),
    "-S",
    String(sectorBytes),
  ];
  if (clusterSectors) args.push("-s", String(clusterSectors));
  run(tool("mkfs.fat"), [...args, img, String((blocks * 512) / 1024)]);
}

// The files every test volume gets: long names, names with spaces, lower/upper/mixed case,
// subdirectories three deep, an empty file, files spanning many clusters, and a fragmented file
// (written into the hole a deleted file left, then continued after the other files).
export function fillVolume(img, offset, dir, seed = 1) {
  const put = (name, bytes) => {
    const p = `${dir}/src-${seed}-${put.n++}`;
    writeFileSync(p, bytes);
    mtools("mcopy", img, offset, p, `::${name}`);
  };
  put.n = 0;
  for (const d of ["/docs", "/My Documents", "/docs/deep", "/docs/deep/er", "/a.dir"])
    mtools("mmd", img, offset, `::${d}`);
  put("/readme.txt", Buffer.from("hello from the fs module\n"));
  put("/UPPER.TXT", Buffer.from("UPPER CASE 8.3 NAME\n"));
  put("/MixedCase.Txt", Buffer.from("mixed\n"));
  put("/A long file name with spaces.text", noise(5000, seed + 1));
  put("/empty", Buffer.alloc(0));
  put("/docs/many-clusters.bin", noise(300_000, seed + 2));
  put("/docs/deep/er/bottom.txt", Buffer.from("three levels down\n"));
  put("/My Documents/Notes 2026 - final (v2).md", Buffer.from("# notes\n"));
  put("/a.dir/x", noise(1, seed + 3));
  put("/hole1.bin", noise(20_000, seed + 4));
  put("/keep.bin", noise(20_000, seed + 5));
  mtools("mdel", img, offset, "::/hole1.bin");
  put("/fragmented.bin", noise(90_000, seed + 6));
  for (let i = 0; i < 20; i++)
    put(`/docs/file number ${String(i).padStart(2, "0")}.dat`, noise(100 + i * 37, seed + 10 + i));
}

// The tree as mdir lists it: [{ path: "/docs/x", dir: bool }], paths as mtools prints them.
export function mdirTree(img, offset) {
  const out = mtools("mdir", img, offset, "-/", "-b", "::/").toString("utf8");
  return out
    .split("\n")
    .filter((l) => l.startsWith("::/"))
    .map((l) => {
      const dir = l.endsWith("/");
      return { path: l.slice(2, dir ? -1 : undefined), dir };
    });
}

// A file's bytes as mtype prints them (no text conversion).
export function mtype(img, offset, path) {
  return mtools("mtype", img, offset, `::${path}`);
}

// The partitions as sfdisk reports them (its JSON): [{ node, start, size, type, name }].
export function sfdiskPartitions(img) {
  const j = JSON.parse(run(tool("sfdisk"), ["--json", img]).toString("utf8"));
  return j.partitiontable.partitions.map((p) => ({ number: Number(/(\d+)$/.exec(p.node)[1]), ...p }));
}

export function crcHexOf(buf) {
  return "0x" + (crc32(buf) >>> 0).toString(16).padStart(8, "0");
}

export function blankImage(path, bytes) {
  closeSync(openSync(path, "w"));
  truncateSync(path, bytes);
  return path;
}

// A GPT disk: p1 FAT16 (16 MiB), p2 FAT12 (4 MiB), p3 FAT32 (40 MiB, 512-byte clusters: more than
// 65,524 clusters, so FAT32 by the count), p4 not formatted; labels with spaces and a quote.
export function gptImage(dir) {
  const img = blankImage(`${dir}/gpt.img`, 80 * MiB);
  run(tool("sgdisk"), [
    "-n",
    "1:2048:+16M",
    "-t",
    "1:0700",
    "-c",
    "1:fat sixteen",
    "-n",
    "2:0:+4M",
    "-t",
    "2:ef00",
    "-c",
    '2:EFI "boot"',
    "-n",
    "3:0:+40M",
    "-t",
    "3:0700",
    "-c",
    "3:thirty-two",
    "-n",
    "4:0:+1M",
    "-t",
    "4:8300",
    "-c",
    "4:",
    img,
  ]);
  const parts = sfdiskPartitions(img);
  const [p1, p2, p3] = parts;
  mkfsFat(img, 16, p1.start, p1.size);
  mkfsFat(img, 12, p2.start, p2.size);
  mkfsFat(img, 32, p3.start, p3.size, { clusterSectors: 1 });
  fillVolume(img, p1.start * 512, dir, 1);
  fillVolume(img, p2.start * 512, dir, 2);
  fillVolume(img, p3.start * 512, dir, 3);
  return { img, parts, volumes: [1, 2, 3] };
}

// An MBR disk: p1 FAT16 primary, p2 an extended partition holding p5 (FAT12) and p6 (FAT32).
export function mbrImage(dir) {
  const img = blankImage(`${dir}/mbr.img`, 80 * MiB);
  run(tool("sfdisk"), [img], { input: "label: dos\n2048,32768,6\n,,5\n,8192,1\n,,c\n" });
  const parts = sfdiskPartitions(img);
  const byNumber = Object.fromEntries(parts.map((p) => [p.number, p]));
  mkfsFat(img, 16, byNumber[1].start, byNumber[1].size);
  mkfsFat(img, 12, byNumber[5].start, byNumber[5].size);
  mkfsFat(img, 32, byNumber[6].start, byNumber[6].size, { clusterSectors: 1 });
  for (const n of [1, 5, 6]) fillVolume(img, byNumber[n].start * 512, dir, n + 10);
  return { img, parts, volumes: [1, 5, 6] };
}
