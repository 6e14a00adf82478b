// NVMe constants: register offsets and fields, opcodes, status codes, feature ids, identify CNS.
// Section numbers: NVM Express Base Specification 1.3/1.4 (same numbering for these parts) unless
// marked "2.0". Registers: §3.1. Completion status: §4.6.1. Admin commands: §5. NVM commands: §6.

// ---- Controller registers (1.4 §3.1, Figure 66 "Controller Registers") -------------------------
export const REG = {
  CAP: 0x00, // §3.1.1 Controller Capabilities (64-bit, read-only)
  VS: 0x08, // §3.1.2 Version
  INTMS: 0x0c, // §3.1.3 Interrupt Mask Set (INTx/MSI only, not MSI-X)
  INTMC: 0x10, // §3.1.4 Interrupt Mask Clear
  CC: 0x14, // §3.1.5 Controller Configuration
  RSVD: 0x18,
  CSTS: 0x1c, // §3.1.6 Controller Status
  NSSR: 0x20, // §3.1.7 NVM Subsystem Reset (optional; not supported: CAP.NSSRS=0)
  AQA: 0x24, // §3.1.8 Admin Queue Attributes
  ASQ: 0x28, // §3.1.9 Admin Submission Queue Base Address (64-bit)
  ACQ: 0x30, // §3.1.10 Admin Completion Queue Base Address (64-bit)
  CMBLOC: 0x38, // §3.1.11
  CMBSZ: 0x3c, // §3.1.12
  DOORBELL_BASE: 0x1000, // §3.1.24/25: SQyTDBL at 0x1000 + (2y) * (4 << CAP.DSTRD), CQyHDBL at (2y + 1)
};

// CAP fields (§3.1.1): [shift, width]; CAP is 64-bit, so shifts are over a BigInt.
export const CAP = {
  MQES: [0, 16], // Maximum Queue Entries Supported, 0-based (MQES 2047 = 2048 entries)
  CQR: [16, 1], // Contiguous Queues Required
  AMS: [17, 2], // Arbitration Mechanism Supported (bit 17 WRR, bit 18 vendor)
  TO: [24, 8], // Timeout, in 500 ms units: worst case time for CSTS.RDY to follow CC.EN
  DSTRD: [32, 4], // Doorbell Stride: doorbells are (4 << DSTRD) bytes apart
  NSSRS: [36, 1], // NVM Subsystem Reset Supported
  CSS: [37, 8], // Command Sets Supported: bit 37 = NVM command set
  BPS: [45, 1], // Boot Partition Support
  MPSMIN: [48, 4], // Memory Page Size Minimum: 2^(12 + MPSMIN)
  MPSMAX: [52, 4], // Memory Page Size Maximum
  PMRS: [56, 1],
  CMBS: [57, 1],
};

// CC fields (§3.1.5)
export const CC = {
  EN: [0, 1], // Enable
  CSS: [4, 3], // I/O Command Set Selected: 000b = NVM
  MPS: [7, 4], // Memory Page Size: 2^(12 + MPS)
  AMS: [11, 3], // Arbitration Mechanism Selected: 000b round robin
  SHN: [14, 2], // Shutdown Notification: 01b normal, 10b abrupt
  IOSQES: [16, 4], // I/O Submission Queue Entry Size, 2^n: must be 6 (64 bytes)
  IOCQES: [20, 4], // I/O Completion Queue Entry Size, 2^n: must be 4 (16 bytes)
};

// CSTS fields (§3.1.6)
export const CSTS = {
  RDY: 1 << 0, // Ready
  CFS: 1 << 1, // Controller Fatal Status
  SHST_SHIFT: 2, // Shutdown Status, 2 bits
  SHST_MASK: 3 << 2,
  NSSRO: 1 << 4,
  PP: 1 << 5,
};
export const SHST = { NORMAL: 0, OCCURRING: 1, COMPLETE: 2 }; // §3.1.6 CSTS.SHST
export const SHN = { NONE: 0, NORMAL: 1, ABRUPT: 2 }; // §3.1.5 CC.SHN

// AQA (§3.1.8): ASQS bits 11:0, ACQS bits 27:16, both 0-based
export const AQA = { ASQS: [0, 12], ACQS: [16, 12] };

export function field(value, [shift, width]) {
  if (typeof value === "bigint") return Number((value >> BigInt(shift)) & ((1n << BigInt(width)) - 1n));
  return (value >>> shift) & ((1 << width) - 1);
}

// ---- Admin command opcodes (1.3 §5, Figure 40 "Opcodes for Admin Commands") --------------------
export const ADMIN = {
  DELETE_IO_SQ: 0x00, // §5.6
  CREATE_IO_SQ: 0x01, // §5.4
  GET_LOG_PAGE: 0x02, // §5.14
  DELETE_IO_CQ: 0x04, // §5.5
  CREATE_IO_CQ: 0x05, // §5.3
  IDENTIFY: 0x06, // §5.15
  ABORT: 0x08, // §5.1
  SET_FEATURES: 0x09, // §5.21
  GET_FEATURES: 0x0a, // §5.9 (1.3 §5.13)
  ASYNC_EVENT_REQUEST: 0x0c, // §5.2
  NS_MANAGEMENT: 0x0d, // §5.20
  FIRMWARE_COMMIT: 0x10, // §5.11
  FIRMWARE_DOWNLOAD: 0x11, // §5.12
  DEVICE_SELF_TEST: 0x14, // §5.7
  NS_ATTACHMENT: 0x15, // §5.19
  KEEP_ALIVE: 0x18, // §5.16
  DIRECTIVE_SEND: 0x19, // §5.9
  DIRECTIVE_RECEIVE: 0x1a, // §5.8
  VIRTUALIZATION_MGMT: 0x1c, // §5.22
  NVME_MI_SEND: 0x1d,
  NVME_MI_RECEIVE: 0x1e,
  DOORBELL_BUFFER_CONFIG: 0x7c, // §5.10
  FORMAT_NVM: 0x80, // §5.23
  SECURITY_SEND: 0x81, // §5.26
  SECURITY_RECEIVE: 0x82, // §5.25
  SANITIZE: 0x84, // §5.24
};

// ---- NVM command set opcodes (1.3 §6, Figure 346 "Opcodes for NVM Commands") -------------------
export const IO = {
  FLUSH: 0x00, // §6.8
  WRITE: 0x01, // §6.15
  READ: 0x02, // §6.9
  WRITE_UNCORRECTABLE: 0x04,
  COMPARE: 0x05, // §6.6
  WRITE_ZEROES: 0x08, // §6.16
  DATASET_MANAGEMENT: 0x09, // §6.7
  RESERVATION_REGISTER: 0x0d,
  RESERVATION_REPORT: 0x0e,
  RESERVATION_ACQUIRE: 0x11,
  RESERVATION_RELEASE: 0x15,
};

const nameOf = (table) =>
  Object.fromEntries(Object.entries(table).map(([k, v]) => [v, k.toLowerCase().replace(/_/g, "-")]));
export const ADMIN_NAMES = nameOf(ADMIN);
export const IO_NAMES = nameOf(IO);
export function opcodeName(admin, opcode) {
  return (
    (admin ? ADMIN_NAMES : IO_NAMES)[opcode] ?? `${admin ? "admin" : "io"}-0x${opcode.toString(16).padStart(2, "0")}`
  );
}

// ---- Command dword 0 (§4.2, Figure 104 "Command Dword 0") -------------------------------------
// opcode bits 7:0, FUSE bits 9:8, PSDT bits 15:14 (00b PRP, 01b/10b SGL), CID bits 31:16

// ---- Identify CNS values (1.3 §5.15, Figure 106) -----------------------------------------------
export const CNS = {
  NAMESPACE: 0x00, // Identify Namespace data structure for NSID
  CONTROLLER: 0x01, // Identify Controller data structure
  ACTIVE_NS_LIST: 0x02, // Active Namespace ID list, NSIDs greater than CDW1.NSID (1.1+)
  NS_ID_DESCRIPTORS: 0x03, // Namespace Identification Descriptor list (1.3+)
  NVM_SET_LIST: 0x04, // 1.4
  ALLOCATED_NS_LIST: 0x10,
  ALLOCATED_NS: 0x11,
  CONTROLLER_LIST_NS: 0x12,
  CONTROLLER_LIST: 0x13,
};

// ---- Feature identifiers (1.3 §5.21.1, Figure 177 "Feature Identifiers") ------------------------
export const FEAT = {
  ARBITRATION: 0x01, // §5.21.1.1
  POWER_MANAGEMENT: 0x02, // §5.21.1.2
  LBA_RANGE_TYPE: 0x03, // §5.21.1.3 (NVM command set specific)
  TEMPERATURE_THRESHOLD: 0x04, // §5.21.1.4
  ERROR_RECOVERY: 0x05, // §5.21.1.5
  VOLATILE_WRITE_CACHE: 0x06, // §5.21.1.6
  NUMBER_OF_QUEUES: 0x07, // §5.21.1.7
  INTERRUPT_COALESCING: 0x08, // §5.21.1.8
  INTERRUPT_VECTOR_CONFIG: 0x09, // §5.21.1.9
  WRITE_ATOMICITY: 0x0a, // §5.21.1.10
  ASYNC_EVENT_CONFIG: 0x0b, // §5.21.1.11
  AUTONOMOUS_POWER_STATE: 0x0c, // §5.21.1.12
  HOST_MEMORY_BUFFER: 0x0d,
  TIMESTAMP: 0x0e,
  KEEP_ALIVE_TIMER: 0x0f,
};

// ---- Log page identifiers (1.3 §5.14.1, Figure 78) ---------------------------------------------
export const LOG = {
  ERROR_INFO: 0x01, // §5.14.1.1: 64-byte entries, newest first
  SMART: 0x02, // §5.14.1.2 SMART / Health Information, 512 bytes
  FIRMWARE_SLOT: 0x03, // §5.14.1.3, 512 bytes
  CHANGED_NS_LIST: 0x04,
  COMMAND_EFFECTS: 0x05,
};

// ---- Asynchronous events (1.3 §5.2.1, Figures 45-49) -------------------------------------------
export const AER_TYPE = { ERROR: 0, SMART: 1, NOTICE: 2, IO_CMD_SPECIFIC: 6, VENDOR: 7 };
export const AER_ERROR_INFO = {
  INVALID_DOORBELL_REGISTER: 0x00, // Write to Invalid Doorbell Register
  INVALID_DOORBELL_VALUE: 0x01, // Invalid Doorbell Write Value
  DIAGNOSTIC_FAILURE: 0x02,
  PERSISTENT_INTERNAL_ERROR: 0x03,
  TRANSIENT_INTERNAL_ERROR: 0x04,
  FIRMWARE_IMAGE_LOAD_ERROR: 0x05,
};

// ---- Completion status (1.3 §4.6.1) ------------------------------------------------------------
// Status Code Type (§4.6.1.1, Figure 124)
export const SCT = { GENERIC: 0, COMMAND_SPECIFIC: 1, MEDIA: 2, PATH: 3, VENDOR: 7 };

// Generic Command Status (§4.6.1.2.1, Figures 126/127), SCT 0
export const SC = {
  SUCCESS: 0x00,
  INVALID_OPCODE: 0x01,
  INVALID_FIELD: 0x02,
  CID_CONFLICT: 0x03,
  DATA_TRANSFER_ERROR: 0x04,
  ABORTED_POWER_LOSS: 0x05,
  INTERNAL_ERROR: 0x06,
  ABORT_REQUESTED: 0x07,
  ABORTED_SQ_DELETION: 0x08,
  ABORTED_FAILED_FUSED: 0x09,
  ABORTED_MISSING_FUSED: 0x0a,
  INVALID_NAMESPACE: 0x0b,
  COMMAND_SEQUENCE_ERROR: 0x0c,
  INVALID_SGL_SEGMENT: 0x0d,
  INVALID_SGL_COUNT: 0x0e,
  INVALID_SGL_DATA_LENGTH: 0x0f,
  INVALID_SGL_METADATA_LENGTH: 0x10,
  INVALID_SGL_TYPE: 0x11,
  INVALID_CMB_USE: 0x12,
  INVALID_PRP_OFFSET: 0x13,
  ATOMIC_WRITE_UNIT_EXCEEDED: 0x14,
  OPERATION_DENIED: 0x15,
  INVALID_SGL_OFFSET: 0x16,
  HOST_ID_INCONSISTENT: 0x18,
  KEEP_ALIVE_EXPIRED: 0x19,
  KEEP_ALIVE_INVALID: 0x1a,
  ABORTED_PREEMPT: 0x1b,
  SANITIZE_FAILED: 0x1c,
  SANITIZE_IN_PROGRESS: 0x1d,
  INVALID_SGL_BLOCK_GRANULARITY: 0x1e,
  NOT_SUPPORTED_IN_CMB: 0x1f,
  NS_WRITE_PROTECTED: 0x20, // 1.4: Namespace is Write Protected (generic, not command specific)
  COMMAND_INTERRUPTED: 0x21,
  TRANSIENT_TRANSPORT_ERROR: 0x22,
  // NVM command set generic status (§4.6.1.2.1, Figure 127)
  LBA_OUT_OF_RANGE: 0x80,
  CAPACITY_EXCEEDED: 0x81,
  NS_NOT_READY: 0x82,
  RESERVATION_CONFLICT: 0x83,
  FORMAT_IN_PROGRESS: 0x84,
};

// Command Specific Status (§4.6.1.2.2, Figures 128/129), SCT 1
export const CSS = {
  INVALID_CQ: 0x00, // Completion Queue Invalid (Create I/O SQ: the CQID)
  INVALID_QID: 0x01, // Invalid Queue Identifier
  INVALID_QUEUE_SIZE: 0x02, // Invalid Queue Size (1.0: Maximum Queue Size Exceeded)
  ABORT_LIMIT_EXCEEDED: 0x03, // Abort Command Limit Exceeded
  AER_LIMIT_EXCEEDED: 0x05, // Asynchronous Event Request Limit Exceeded
  INVALID_FIRMWARE_SLOT: 0x06,
  INVALID_FIRMWARE_IMAGE: 0x07,
  INVALID_INTERRUPT_VECTOR: 0x08,
  INVALID_LOG_PAGE: 0x09,
  INVALID_FORMAT: 0x0a,
  FIRMWARE_ACTIVATION_RESET: 0x0b,
  INVALID_QUEUE_DELETION: 0x0c,
  FEATURE_NOT_SAVEABLE: 0x0d,
  FEATURE_NOT_CHANGEABLE: 0x0e,
  FEATURE_NOT_NS_SPECIFIC: 0x0f,
  // NVM command set specific (Figure 129)
  CONFLICTING_ATTRIBUTES: 0x80,
  INVALID_PROTECTION_INFO: 0x81,
  WRITE_TO_READ_ONLY_RANGE: 0x82,
};

// Media and Data Integrity Errors (§4.6.1.2.3, Figure 130), SCT 2
export const MEDIA = {
  WRITE_FAULT: 0x80,
  UNRECOVERED_READ_ERROR: 0x81,
  GUARD_CHECK_ERROR: 0x82,
  APP_TAG_CHECK_ERROR: 0x83,
  REF_TAG_CHECK_ERROR: 0x84,
  COMPARE_FAILURE: 0x85,
  ACCESS_DENIED: 0x86,
  DEALLOCATED_OR_UNWRITTEN: 0x87,
};

const GENERIC_NAMES = {
  0x00: "Successful Completion",
  0x01: "Invalid Command Opcode",
  0x02: "Invalid Field in Command",
  0x03: "Command ID Conflict",
  0x04: "Data Transfer Error",
  0x05: "Commands Aborted due to Power Loss Notification",
  0x06: "Internal Error",
  0x07: "Command Abort Requested",
  0x08: "Command Aborted due to SQ Deletion",
  0x09: "Command Aborted due to Failed Fused Command",
  0x0a: "Command Aborted due to Missing Fused Command",
  0x0b: "Invalid Namespace or Format",
  0x0c: "Command Sequence Error",
  0x0d: "Invalid SGL Segment Descriptor",
  0x0e: "Invalid Number of SGL Descriptors",
  0x0f: "Data SGL Length Invalid",
  0x10: "Metadata SGL Length Invalid",
  0x11: "SGL Descriptor Type Invalid",
  0x12: "Invalid Use of Controller Memory Buffer",
  0x13: "PRP Offset Invalid",
  0x14: "Atomic Write Unit Exceeded",
  0x15: "Operation Denied",
  0x16: "SGL Offset Invalid",
  0x18: "Host Identifier Inconsistent Format",
  0x19: "Keep Alive Timer Expired",
  0x1a: "Keep Alive Timeout Invalid",
  0x1b: "Command Aborted due to Preempt and Abort",
  0x1c: "Sanitize Failed",
  0x1d: "Sanitize In Progress",
  0x1e: "SGL Data Block Granularity Invalid",
  0x1f: "Command Not Supported for Queue in CMB",
  0x20: "Namespace is Write Protected",
  0x21: "Command Interrupted",
  0x22: "Transient Transport Error",
  0x80: "LBA Out of Range",
  0x81: "Capacity Exceeded",
  0x82: "Namespace Not Ready",
  0x83: "Reservation Conflict",
  0x84: "Format In Progress",
};
const COMMAND_SPECIFIC_NAMES = {
  0x00: "Completion Queue Invalid",
  0x01: "Invalid Queue Identifier",
  0x02: "Invalid Queue Size",
  0x03: "Abort Command Limit Exceeded",
  0x05: "Asynchronous Event Request Limit Exceeded",
  0x06: "Invalid Firmware Slot",
  0x07: "Invalid Firmware Image",
  0x08: "Invalid Interrupt Vector",
  0x09: "Invalid Log Page",
  0x0a: "Invalid Format",
  0x0b: "Firmware Activation Requires Conventional Reset",
  0x0c: "Invalid Queue Deletion",
  0x0d: "Feature Identifier Not Saveable",
  0x0e: "Feature Not Changeable",
  0x0f: "Feature Not Namespace Specific",
  0x80: "Conflicting Attributes",
  0x81: "Invalid Protection Information",
  0x82: "Attempted Write to Read Only Range",
};
const MEDIA_NAMES = {
  0x80: "Write Fault",
  0x81: "Unrecovered Read Error",
  0x82: "End-to-end Guard Check Error",
  0x83: "End-to-end Application Tag Check Error",
  0x84: "End-to-end Reference Tag Check Error",
  0x85: "Compare Failure",
  0x86: "Access Denied",
  0x87: "Deallocated or Unwritten Logical Block",
};

// The spec's words for a status: statusName(0, 0x02) === 'Invalid Field in Command'.
export function statusName(sct, sc) {
  const table =
    sct === SCT.GENERIC
      ? GENERIC_NAMES
      : sct === SCT.COMMAND_SPECIFIC
        ? COMMAND_SPECIFIC_NAMES
        : sct === SCT.MEDIA
          ? MEDIA_NAMES
          : null;
  const name = table?.[sc];
  if (name) return name;
  const hex = (v) => "0x" + v.toString(16).padStart(2, "0");
  if (sct === SCT.VENDOR) return `Vendor Specific ${hex(sc)}`;
  return `Unknown Status (SCT ${sct}, SC ${hex(sc)})`;
}

// Completion queue entry DW3 (§4.6, Figure 121): CID bits 15:0, Phase Tag bit 16,
// Status Field bits 31:17 = SC 7:0, SCT 10:8, CRD 12:11, More 13, DNR 14.
export function packStatus({ sct = 0, sc = 0, more = false, dnr = false }) {
  return (sc & 0xff) | ((sct & 7) << 8) | (more ? 1 << 13 : 0) | (dnr ? 1 << 14 : 0);
}
export function unpackStatus(sf) {
  return { sc: sf & 0xff, sct: (sf >> 8) & 7, crd: (sf >> 11) & 3, more: !!(sf & (1 << 13)), dnr: !!(sf & (1 << 14)) };
}

// ---- PCI (PCI Local Bus 3.0 §6) -----------------------------------------------------------------
export const PCI = {
  VENDOR_ID: 0x00,
  COMMAND: 0x04, // bit 1 memory space, bit 2 bus master, bit 10 INTx disable
  STATUS: 0x06, // bit 3 interrupt status, bit 4 capabilities list
  CLASS_REV: 0x08,
  HEADER_TYPE: 0x0e,
  BAR0: 0x10,
  SUBSYSTEM: 0x2c,
  CAP_PTR: 0x34,
  INTERRUPT: 0x3c,
  CMD_MEMORY: 1 << 1,
  CMD_BUS_MASTER: 1 << 2,
  CMD_INTX_DISABLE: 1 << 10,
  CAP_ID_PM: 0x01,
  CAP_ID_MSI: 0x05,
  CAP_ID_PCIE: 0x10,
  CAP_ID_MSIX: 0x11,
  CLASS_NVME: 0x010802, // mass storage / NVM / NVMe
  MSIX_CTRL_ENABLE: 1 << 15, // Message Control bit 15
  MSIX_CTRL_FUNCTION_MASK: 1 << 14, // bit 14
  // MSI (PCI 3.0 §6.8.1): Message Control, bits 31:16 of the capability's first dword
  MSI_CTRL_ENABLE: 1 << 0,
  MSI_CTRL_MMC_SHIFT: 1, // Multiple Message Capable, log2, bits 3:1 (read-only)
  MSI_CTRL_MME_SHIFT: 4, // Multiple Message Enable, log2, bits 6:4
  MSI_CTRL_64BIT: 1 << 7,
  MSI_CTRL_MASKING: 1 << 8, // per-vector masking capable
  MSI_CAP: 0xa0, // where the model puts it, after the PCI Express capability
};
