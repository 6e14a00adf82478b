// The messages between a client and fs.wasm, the partition and FAT module (docs/fs-interface.md).
// A client builds a request in its own memory and calls the host's `fs.call`; the host copies the
// request into fs.wasm's inbox, runs its `fs_handle`, and copies the response back. The two modules
// never share memory. Compiled into both sides; host/module-link.js and boot/host.c only copy bytes
// and need none of these numbers but the sizes.

// ---- operations (request field FSQ_OP) ----
export const FS_OP_PARTS: u32 = 1;  // scan namespace FSQ_NS: FSR_COUNT partitions (a note in the text)
export const FS_OP_PART: u32 = 2;   // partition FSQ_PART (1-based, as in nvme0n1p1) of FSQ_NS; FSQ_PART 0: the
                                    // FSQ_INDEX-th in table order (0-based), FS_STATUS_END past the last
export const FS_OP_STAT: u32 = 3;   // what FSQ_PATH is on the FAT filesystem of that partition
export const FS_OP_LIST: u32 = 4;   // entry FSQ_INDEX of the directory FSQ_PATH (FS_STATUS_END past the last)
export const FS_OP_OPEN: u32 = 5;   // the file FSQ_PATH, its cluster chain checked: a handle
export const FS_OP_READ: u32 = 6;   // FSQ_LENGTH bytes from FSQ_OFFSET of the open file FSQ_INDEX (the handle)

// ---- request layout, little-endian ----
export const FSQ_OP: u32 = 0;           // u32 operation
export const FSQ_NS: u32 = 4;           // u32 namespace index, as blk.submit takes it
export const FSQ_PART: u32 = 8;         // u32 partition number, 1.. (nvme0n1p1 is 1); 0 the whole namespace
export const FSQ_INDEX: u32 = 12;       // u32 list index, or the handle for FS_OP_READ
export const FSQ_OFFSET: u32 = 16;      // u64 byte offset in the file (FS_OP_READ)
export const FSQ_LENGTH: u32 = 24;      // u32 bytes wanted (FS_OP_READ), at most FS_TEXT_BYTES_MAX
export const FSQ_PATH_BYTES: u32 = 28;  // u32 length of the path
export const FSQ_PATH: u32 = 32;        // the path, UTF-8, '/'-separated
export const FS_PATH_BYTES_MAX: u32 = 1024;
export const FS_REQUEST_BYTES_MAX: u32 = FSQ_PATH + FS_PATH_BYTES_MAX;

// ---- response layout, little-endian ----
export const FSR_STATUS: u32 = 0;       // u32 FS_STATUS_*
export const FSR_TEXT_BYTES: u32 = 4;   // u32 bytes at FSR_TEXT
export const FSR_KIND: u32 = 8;         // u32: FS_OP_PARTS the partition count; FS_OP_PART the scheme; else FS_KIND_*
export const FSR_TYPE: u32 = 12;        // u32: FS_OP_PART the MBR type byte; FS_OP_OPEN the handle
export const FSR_START: u32 = 16;       // u64: FS_OP_PART the first block; else the file's size in bytes
export const FSR_BLOCKS: u32 = 24;      // u64: FS_OP_PART its blocks
export const FSR_GUID: u32 = 32;        // 16 bytes: FS_OP_PART the GPT type GUID as stored on disk
export const FSR_NUMBER: u32 = 48;      // u32: FS_OP_PART the partition's number (the 1 of nvme0n1p1)
export const FSR_TEXT: u32 = 64;        // text: the error, the note, the label, the name, or file data
export const FS_TEXT_BYTES_MAX: u32 = 8192;
export const FS_RESPONSE_BYTES_MAX: u32 = FSR_TEXT + FS_TEXT_BYTES_MAX;

export const FS_STATUS_OK: u32 = 0;
export const FS_STATUS_ERROR: u32 = 1;  // the text says what, in words (no "error: ", no device name)
export const FS_STATUS_END: u32 = 2;    // FS_OP_LIST: no entry with that index

export const FS_KIND_FILE: u32 = 1;
export const FS_KIND_DIR: u32 = 2;
export const FS_SCHEME_MBR: u32 = 1;
export const FS_SCHEME_GPT: u32 = 2;
