// NVMe controller registers (BAR0), their bit fields, and the command set's opcodes.
// Section numbers are the NVMe Base Specification 1.4 (2.0 where it differs says so).

// 3.1 Controller registers: offsets in BAR0.
export const REG_CAP: u32 = 0x00;    // 3.1.1 Controller Capabilities (64-bit)
export const REG_VS: u32 = 0x08;     // 3.1.2 Version
export const REG_INTMS: u32 = 0x0c;  // 3.1.3 Interrupt Mask Set
export const REG_INTMC: u32 = 0x10;  // 3.1.4 Interrupt Mask Clear
export const REG_CC: u32 = 0x14;     // 3.1.5 Controller Configuration
export const REG_CSTS: u32 = 0x1c;   // 3.1.6 Controller Status
export const REG_AQA: u32 = 0x24;    // 3.1.8 Admin Queue Attributes
export const REG_ASQ: u32 = 0x28;    // 3.1.9 Admin Submission Queue Base Address (64-bit)
export const REG_ACQ: u32 = 0x30;    // 3.1.10 Admin Completion Queue Base Address (64-bit)
export const REG_DOORBELL_BASE: u32 = 0x1000; // 3.1.24/25 SQ y Tail / CQ y Head doorbells

// 3.1.1 CAP fields (bit positions in the 64-bit register).
export const CAP_MQES_MASK: u64 = 0xffff;      // bits 15:0 Maximum Queue Entries Supported, 0-based
export const CAP_CQR: u64 = 1 << 16;           // bit 16 Contiguous Queues Required
export const CAP_TO_SHIFT: u64 = 24;           // bits 31:24 Timeout, in 500 ms units
export const CAP_TO_MASK: u64 = 0xff;
export const CAP_DSTRD_SHIFT: u64 = 32;        // bits 35:32 Doorbell Stride: 2^(2+DSTRD) bytes
export const CAP_DSTRD_MASK: u64 = 0xf;
export const CAP_CSS_SHIFT: u64 = 37;          // bits 44:37 Command Sets Supported
export const CAP_CSS_NVM: u64 = 1;             //   bit 0 of CSS: the NVM command set
export const CAP_MPSMIN_SHIFT: u64 = 48;       // bits 51:48 Memory Page Size Minimum: 2^(12+MPSMIN)
export const CAP_MPSMAX_SHIFT: u64 = 52;       // bits 55:52 Memory Page Size Maximum
export const CAP_MPS_MASK: u64 = 0xf;

// 3.1.5 CC fields.
export const CC_EN: u32 = 1 << 0;              // Enable
export const CC_CSS_SHIFT: u32 = 4;            // bits 6:4 I/O Command Set Selected (000b = NVM)
export const CC_CSS_NVM: u32 = 0;
export const CC_MPS_SHIFT: u32 = 7;            // bits 10:7 Memory Page Size: 2^(12+MPS)
export const CC_AMS_SHIFT: u32 = 11;           // bits 13:11 Arbitration (000b = round robin)
export const CC_SHN_SHIFT: u32 = 14;           // bits 15:14 Shutdown Notification
export const CC_SHN_MASK: u32 = 3 << 14;
export const CC_SHN_NORMAL: u32 = 1 << 14;     //   01b normal shutdown
export const CC_IOSQES_SHIFT: u32 = 16;        // bits 19:16 I/O SQ Entry Size: 2^n bytes
export const CC_IOCQES_SHIFT: u32 = 20;        // bits 23:20 I/O CQ Entry Size: 2^n bytes

// 3.1.6 CSTS fields.
export const CSTS_RDY: u32 = 1 << 0;           // Ready
export const CSTS_CFS: u32 = 1 << 1;           // Controller Fatal Status
export const CSTS_SHST_SHIFT: u32 = 2;         // bits 3:2 Shutdown Status
export const CSTS_SHST_MASK: u32 = 3 << 2;
export const CSTS_SHST_COMPLETE: u32 = 2 << 2; //   10b shutdown processing complete

// 3.1.8 AQA: ASQS bits 11:0, ACQS bits 27:16, both 0-based.
export const AQA_ACQS_SHIFT: u32 = 16;

// 4.2 / 4.6 Queue entry sizes: 64-byte submission, 16-byte completion entries.
export const SQE_BYTES: u32 = 64;
export const CQE_BYTES: u32 = 16;
export const SQES_LOG2: u32 = 6;
export const CQES_LOG2: u32 = 4;

// 4.2 Submission queue entry (64 bytes): the common command format.
@unmanaged
export class SubmissionEntry {
  cdw0: u32;   // opcode 7:0, FUSE 9:8, PSDT 15:14, CID 31:16
  nsid: u32;
  cdw2: u32;
  cdw3: u32;
  mptr: u64;   // metadata pointer
  prp1: u64;   // data pointer: PRP entry 1
  prp2: u64;   //   PRP entry 2, or the PRP list
  cdw10: u32;
  cdw11: u32;
  cdw12: u32;
  cdw13: u32;
  cdw14: u32;
  cdw15: u32;
}

// 4.6 Completion queue entry (16 bytes).
@unmanaged
export class CompletionEntry {
  dw0: u32;    // command specific
  dw1: u32;
  sqhd: u16;   // SQ Head Pointer: how far the controller has fetched
  sqid: u16;   // SQ Identifier
  cid: u16;    // Command Identifier
  status: u16; // bit 0 Phase Tag, 15:1 Status Field
}
export const CQE_PHASE: u32 = 1;
// The layouts above are the spec's (checked when compiling).
if (offsetof<SubmissionEntry>() != SQE_BYTES || offsetof<SubmissionEntry>("prp1") != 24 || offsetof<SubmissionEntry>("cdw10") != 40) ERROR("SubmissionEntry is not the 4.2 layout");
if (offsetof<CompletionEntry>() != CQE_BYTES || offsetof<CompletionEntry>("cid") != 12 || offsetof<CompletionEntry>("status") != 14) ERROR("CompletionEntry is not the 4.6 layout");

// 5 Admin command set opcodes.
export const ADMIN_DELETE_IO_SQ: u32 = 0x00;   // 5.6
export const ADMIN_CREATE_IO_SQ: u32 = 0x01;   // 5.4
export const ADMIN_GET_LOG_PAGE: u32 = 0x02;   // 5.14
export const ADMIN_DELETE_IO_CQ: u32 = 0x04;   // 5.5
export const ADMIN_CREATE_IO_CQ: u32 = 0x05;   // 5.3
export const ADMIN_IDENTIFY: u32 = 0x06;       // 5.15
export const ADMIN_ABORT: u32 = 0x08;          // 5.1
export const ABORT_CID_SHIFT: u32 = 16;        // 5.1 Abort CDW10: SQID 15:0, CID 31:16
export const ADMIN_SET_FEATURES: u32 = 0x09;   // 5.21
export const ADMIN_GET_FEATURES: u32 = 0x0a;   // 5.9
export const ADMIN_ASYNC_EVENT_REQUEST: u32 = 0x0c; // 5.2
export const ADMIN_DOORBELL_BUFFER_CONFIG: u32 = 0x7c; // 5.10 (NVMe 1.3+): PRP1 shadow doorbells, PRP2 EventIdx

// 5.2.1 Asynchronous Event Request completion DW0: event type 2:0, event information 15:8, the log
// page to read (LID) 23:16.
export const AER_TYPE_MASK: u32 = 0x7;
export const AER_INFO_SHIFT: u32 = 8;
export const AER_LID_SHIFT: u32 = 16;

// 5.14 Get Log Page: CDW10 LID 7:0, RAE bit 15 (Retain Asynchronous Event), NUMDL 31:16 (dwords,
// 0-based, low half); CDW11 NUMDU 15:0; CDW12/13 LPOL/LPOU (byte offset, dword-aligned).
export const GLP_RAE: u32 = 1 << 15;
export const GLP_NUMDL_SHIFT: u32 = 16;
// 5.14: the controller as a whole (a namespace-wide log such as SMART is asked with this NSID).
export const NSID_ALL: u32 = 0xffffffff;

// 6 NVM command set opcodes.
export const NVM_FLUSH: u32 = 0x00;            // 6.8
export const NVM_WRITE: u32 = 0x01;            // 6.15
export const NVM_READ: u32 = 0x02;             // 6.9
export const NVM_WRITE_ZEROES: u32 = 0x08;     // 6.16 (ONCS bit 3)
export const NVM_DATASET_MANAGEMENT: u32 = 0x09; // 6.7 (ONCS bit 2)

// 6.9 / 6.15 / 6.16 CDW12: NLB bits 15:0, 0-based, so one command covers at most 65,536 blocks.
export const NLB_MAX_BLOCKS: u32 = 65536;

// 6.7 Dataset Management: CDW10 NR bits 7:0 (ranges, 0-based), CDW11 bit 2 AD (deallocate); the
// range list is 16-byte ranges (Figure "Dataset Management - Range Definition"): context
// attributes bytes 3:0, length in logical blocks bytes 7:4 (32 bits, 1-based), starting LBA 15:8.
export const DSM_ATTRIBUTE_DEALLOCATE: u32 = 1 << 2;
export const DSM_RANGE_BYTES: u32 = 16;
export const DSM_RANGE_LENGTH: u32 = 4;
export const DSM_RANGE_SLBA: u32 = 8;

// 5.15 Identify: CNS values (CDW10 bits 7:0).
export const CNS_NAMESPACE: u32 = 0x00;
export const CNS_CONTROLLER: u32 = 0x01;
export const CNS_ACTIVE_NSID_LIST: u32 = 0x02; // since NVMe 1.1
export const CNS_NS_DESCRIPTORS: u32 = 0x03;   // 5.15.2.3 Namespace Identification Descriptor list, since 1.3
// 5.15.2.3 Namespace Identification Descriptor: NIDT (type) byte 0, NIDL (length) byte 1, NID from byte 4.
export const NIDT_CSI: u32 = 0x04;             // Command Set Identifier (NVMe 2.0): 0 NVM, 2 zoned
export const NID_HEADER_BYTES: u32 = 4;

// 5.21.1 Feature identifiers.
export const FEATURE_VOLATILE_WRITE_CACHE: u32 = 0x06; // 5.21.1.6
export const FEATURE_NUMBER_OF_QUEUES: u32 = 0x07;     // 5.21.1.7
export const NOQ_NCQR_SHIFT: u32 = 16;                 // 5.21.1.7: CDW11 NCQR 31:16, NSQR 15:0, both 0-based; DW0 NCQA/NSQA alike
export const NOQ_COUNT_MASK: u32 = 0xffff;
export const FEATURE_ASYNC_EVENT_CONFIG: u32 = 0x0b;   // 5.21.1.11
export const AEC_SMART_CRITICAL_WARNINGS: u32 = 0xff;  //   bits 7:0: an event for each SMART critical warning bit

// 5.3 / 5.4 Create I/O queue flags (CDW11).
export const QUEUE_PHYS_CONTIG: u32 = 1 << 0;  // PC
export const CQ_IRQ_ENABLED: u32 = 1 << 1;     // IEN (Create I/O CQ)
export const CQ_IV_SHIFT: u32 = 16;            // Interrupt Vector (Create I/O CQ)
export const SQ_CQID_SHIFT: u32 = 16;          // CQ identifier (Create I/O SQ)

// 5.15.2.1 Identify Controller data structure: byte offsets.
export const IDC_VID: u32 = 0;
export const IDC_SN: u32 = 4;       // 20 ASCII bytes
export const IDC_MN: u32 = 24;      // 40 ASCII bytes
export const IDC_FR: u32 = 64;      // 8 ASCII bytes
export const IDC_MDTS: u32 = 77;    // 2^MDTS units of CAP.MPSMIN; 0 = no limit
export const IDC_CNTLID: u32 = 78;
export const IDC_VER: u32 = 80;
export const IDC_OACS: u32 = 256;   // Optional Admin Command Support
export const OACS_DOORBELL_BUFFER_CONFIG: u32 = 1 << 8; // OACS bit 8: Doorbell Buffer Config (1.3+)
export const IDC_ACL: u32 = 258;    // Abort Command Limit, 0-based (at most ACL + 1 Aborts outstanding)
export const IDC_CNTRLTYPE: u32 = 111; // 1.4: 0 not reported, 1 IO, 2 discovery, 3 administrative
export const IDC_SQES: u32 = 512;   // required (3:0) and maximum (7:4) SQ entry size, log2
export const IDC_CQES: u32 = 513;
export const IDC_NN: u32 = 516;     // Number of Namespaces
export const IDC_LPA: u32 = 261;    // Log Page Attributes
export const LPA_EXTENDED: u32 = 1 << 2;            // LPA bit 2: extended data (NUMDU, LPO) for Get Log Page
export const IDC_ONCS: u32 = 520;   // Optional NVM Command Support
export const ONCS_DATASET_MANAGEMENT: u32 = 1 << 2; // ONCS bit 2: Dataset Management
export const ONCS_WRITE_ZEROES: u32 = 1 << 3;       // ONCS bit 3: Write Zeroes (since 1.1)
export const IDC_VWC: u32 = 525;    // bit 0: a volatile write cache is present
export const IDC_SGLS: u32 = 536;   // bits 1:0 non-zero: SGLs supported
export const SGLS_SUPPORT_MASK: u32 = 3;            //   01b: any alignment, 10b: data blocks dword-aligned, 11b reserved
export const SGLS_DWORD_ALIGNED: u32 = 2;

// 5.15.2.2 Identify Namespace data structure: byte offsets.
export const IDNS_NSZE: u32 = 0;    // size in logical blocks (u64)
export const IDNS_NCAP: u32 = 8;
export const IDNS_NLBAF: u32 = 25;  // number of LBA formats, 0-based
export const IDNS_FLBAS: u32 = 26;  // bits 3:0 the format in use (bits 6:5 its upper bits, 2.0)
export const IDNS_NSATTR: u32 = 99; // bit 0: write protected
export const IDNS_LBAF0: u32 = 128; // LBA formats, 4 bytes each: MS 15:0, LBADS 23:16, RP 25:24

// 4.3 PRP entries are 8 bytes; a list page holds pageSize / 8 of them.
export const PRP_ENTRY_BYTES: u32 = 8;

// 4.4 Scatter Gather Lists: with PSDT = 01b (CDW0 bits 15:14) the 16 bytes of PRP1/PRP2 hold SGL
// descriptor 1 (address, length, identifier in byte 15: type 7:4, subtype 3:0), and MPTR is a
// contiguous metadata buffer (none here).
export const PSDT_SGL: u32 = 1 << 14;
export const SGL_DESCRIPTOR_BYTES: u32 = 16;
export const SGL_LENGTH: u32 = 8;               // bytes 11:8 of a descriptor
export const SGL_IDENTIFIER: u32 = 15;          // byte 15
export const SGL_DATA_BLOCK: u32 = 0x00;        // type 0h Data Block, subtype 0h address
