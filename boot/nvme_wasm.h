/* nvme_wasm.h: hosting the nvme-wasm driver (build/nvme.wasm) in your own kernel, in C.
 *
 * The driver is a WebAssembly module turned into C by wabt's wasm2c:
 *
 *     wasm2c -n nvme build/nvme.wasm -o nvme.c      (gives nvme.c and nvme.h)
 *
 * Your kernel provides:
 *   - the driver's `env` imports, declared below: the hardware ABI of docs/abi.md (PCI
 *     configuration space, MMIO, DMA addresses, interrupts, time, console), env.request_done,
 *     and env.trace_begin / env.trace_event (which may do nothing);
 *   - its linear memory (env.memory): 256 pages (16 MiB), initial = maximum, never grown, zeroed.
 *     It is the DMA window: queues, PRP lists and data buffers live in it, so put it where
 *     devices can reach it, and make env.dma_address return the bus address of a range of it;
 *   - calls to the driver's exports (the nvme_* inline functions below), one at a time.
 *
 * A request's life, as boot/host.c lives it:
 *
 *     static nvme_instance_t nvme;                       // the struct of the generated nvme.h
 *     nvme_instantiate(&nvme, &my_env);
 *     nvme_start(&nvme, NVME_IRQ_AUTO, NVME_STAGE_ALL, NVME_LOG_NORMAL, 8 << 20);
 *     ... copy data into the driver's memory at nvme_buffer_base(&nvme) ...
 *     nvme_submit(&nvme, tag, NVME_OP_WRITE, ns, lba, blocks, nvme_buffer_base(&nvme));
 *     while (the request is not done) {                  // request_done(tag, status, lba) says so
 *       nvme_poll(&nvme);
 *       if (nvme_wait_hint(&nvme) == NVME_WAIT_POLL) cpu_relax();
 *       else if ((lines = my_irq_wait(2 ms)) != 0) nvme_interrupt(&nvme, lines);
 *       every millisecond: nvme_tick(&nvme);             // finds lost commands, resets
 *     }
 *
 * A kernel that runs separate client modules (boot/host.c runs build/shell.wasm) also implements
 * the `blk` client interface declared at the end: the host copies between the client's memory
 * and the driver's buffer memory, so a client never sees a driver address.
 * docs/block-interface.md is the prose for all of it. Every number here is from
 * assembly/common/abi.ts (the FAIL_ and REFUSED_ codes from assembly/common/words.ts), under the
 * same name with an NVME_ prefix.
 *
 * Generated names depend on the wabt release: Z_nvmeZ_start, Z_envZ_pci_read32, struct
 * Z_env_instance_t up to 1.0.32; w2c_nvme_start, w2c_env_pci_read32, struct w2c_env from 1.0.33.
 * Define W2C_NEW_NAMES to 1 for the second scheme (boot/build.sh does it from `wasm2c --version`).
 * Include the generated nvme.h too, for the instance struct; the declarations here are
 * compatible with it, so a driver whose exports changed does not compile against this header.
 *
 * Records live in the driver's memory, little-endian; an export that returns a record returns
 * its offset in that memory (0 = none), valid until the next call into the driver.
 */
#ifndef NVME_WASM_H
#define NVME_WASM_H
#include <stdint.h>
#include <stddef.h>

#ifndef W2C_NEW_NAMES
#define W2C_NEW_NAMES 0
#endif

/* ==== numbers ================================================================================== */

/* ---- request operations: submit's `op` ---- */
#define NVME_OP_READ 1          /* blocks from the namespace into the buffer */
#define NVME_OP_WRITE 2         /* blocks from the buffer to the namespace */
#define NVME_OP_FLUSH 3         /* commit the volatile write cache (lba, blocks, buffer ignored) */
#define NVME_OP_WRITE_ZEROES 4  /* the blocks read as zeroes afterwards: Write Zeroes (buffer ignored) */
#define NVME_OP_DEALLOCATE 5    /* deallocate (trim) the blocks: Dataset Management (buffer ignored) */
#define NVME_OP_LOG_PAGE 6      /* Get Log Page of controller `ns`: LID lba 7:0, offset lba 63:32, `blocks` bytes */
#define NVME_OP_MASK 0xff
#define NVME_OP_FLAG_MORE 0x100 /* more submissions follow at once: the SQ doorbell may wait */

/* ---- status codes: a completion's status, and submit's answer ----
 * 0 is success (for submit: queued). Below 0x10000: the NVMe Status Field of the completion
 * (NVMe 1.4 4.6.1: SC 7:0, SCT 10:8, CRD 12:11, M 13, DNR 14), without the phase tag. From 0x10000:
 * the driver's own. */
#define NVME_STATUS_OK 0
#define NVME_ERR_TIMEOUT 0x10000          /* no completion within CAP.TO; the controller was reset */
#define NVME_ERR_CONTROLLER_FATAL 0x10001 /* CSTS.CFS was set; the controller was reset */
#define NVME_ERR_NOT_READY 0x10002        /* the controller failed, is not brought up, or shut down */
#define NVME_ERR_BAD_COMPLETION 0x10003   /* a completion for a command id not issued (log only) */
#define NVME_ERR_BUSY 0x10004             /* submit: no queue slot, command id or request record now */
#define NVME_ERR_NO_NAMESPACE 0x10005     /* submit: no namespace with that index */
#define NVME_ERR_RANGE 0x10006            /* submit: no blocks, or the range passes the end */
#define NVME_ERR_READ_ONLY 0x10007        /* submit: write to a write-protected namespace */
#define NVME_ERR_BAD_BUFFER 0x10008       /* submit: buffer outside the buffer memory, or not 4-byte aligned */
#define NVME_ERR_BAD_OP 0x10009           /* submit: unknown operation or flag */
#define NVME_ERR_UNUSABLE 0x1000a         /* submit: the driver refused this namespace at bring-up */
#define NVME_ERR_UNSUPPORTED 0x1000b      /* submit: the controller does not offer this op (ONCS, or a quirk) */
#define NVME_DRIVER_STATUS_BASE 0x10000

/* ---- start's options ---- */
#define NVME_IRQ_AUTO 0 /* MSI-X, else MSI, else INTx, else polling */
#define NVME_IRQ_POLL 1
#define NVME_IRQ_INTX 2
#define NVME_IRQ_MSIX 3
#define NVME_IRQ_MSI 4  /* plain MSI (PCI capability 05h), one message */
#define NVME_LOG_ERRORS 0 /* only error lines */
#define NVME_LOG_NORMAL 1 /* bring-up and shutdown lines too */
/* Bring-up stages; start stops after the one asked for. */
#define NVME_STAGE_RESET 1      /* map BAR0, dump CAP/VS/CSTS, reset */
#define NVME_STAGE_IDENTIFY 2   /* admin queue, first command: Identify Controller */
#define NVME_STAGE_NAMESPACES 3 /* decode Identify, find and identify the namespaces */
#define NVME_STAGE_IO_QUEUES 4  /* Number of Queues, interrupts, IO CQ/SQ */
#define NVME_STAGE_ALL 7        /* everything */
/* start's answer when it cannot run at all (otherwise the number of controllers found). */
#define NVME_START_AGAIN (-1)      /* already started */
#define NVME_START_BAD_OPTION (-2) /* an option out of range */
#define NVME_START_NO_MEMORY (-3)  /* the buffer does not fit in the DMA window */

/* ---- io_queues (before start): IO queue pairs asked of each controller ----
 * Client c's requests go to IO queue pair (c % pairs in use) + 1, c being the tag's bits 63:32. */
#define NVME_IO_QUEUES_MAX 8

/* ---- controller state (CTRL_STATE) and interrupt mode (CTRL_IRQ) ---- */
#define NVME_STATE_ABSENT 0    /* not brought up (yet) */
#define NVME_STATE_FAILED 1    /* bring-up or recovery failed: fail_reason says why */
#define NVME_STATE_STOPPED 2   /* bring-up stopped at the requested stage */
#define NVME_STATE_READY 3     /* IO queues exist: requests go */
#define NVME_STATE_SHUT_DOWN 4
#define NVME_IRQ_MODE_POLL 0
#define NVME_IRQ_MODE_INTX 1
#define NVME_IRQ_MODE_MSIX 2
#define NVME_IRQ_MODE_MSI 3

/* ---- wait_hint: what the host may do while requests are outstanding ---- */
#define NVME_WAIT_NOTHING 0   /* no request outstanding: nothing will complete */
#define NVME_WAIT_INTERRUPT 1 /* every outstanding request is on an interrupt-driven controller */
#define NVME_WAIT_POLL 2      /* some are on a polled controller: keep calling poll */

/* ==== records ================================================================================== */

/* ---- controller record: describe_controller ---- */
#define NVME_CTRL_INDEX 0          /* u32 n of nvmeN */
#define NVME_CTRL_BDF 4            /* u32 bus << 8 | dev << 3 | fn */
#define NVME_CTRL_VID 8            /* u16 PCI vendor id */
#define NVME_CTRL_DID 10           /* u16 PCI device id */
#define NVME_CTRL_STATE 12         /* u32 NVME_STATE_* */
#define NVME_CTRL_STAGE 16         /* u32 the stage bring-up stopped after (STAGE_ALL when complete) */
#define NVME_CTRL_IRQ 20           /* u32 NVME_IRQ_MODE_* */
#define NVME_CTRL_VERSION 24       /* u32 VS: major 31:16, minor 15:8, tertiary 7:0 */
#define NVME_CTRL_MQES 28          /* u32 CAP.MQES as read (0-based) */
#define NVME_CTRL_DSTRD 32         /* u32 CAP.DSTRD as read */
#define NVME_CTRL_TIMEOUT_MS 36    /* u32 CAP.TO in milliseconds (at least 500) */
#define NVME_CTRL_MDTS_BYTES 40    /* u64 MDTS in bytes, 0 = no limit */
#define NVME_CTRL_MAX_TRANSFER 48  /* u32 bytes the driver puts in one command */
#define NVME_CTRL_FLAGS 52         /* u32 NVME_CTRL_FLAG_* */
#define NVME_CTRL_QUEUES 56        /* u32 IO queue pairs granted (Number of Queues) */
#define NVME_CTRL_IO_ENTRIES 60    /* u32 entries of the IO queue pair in use */
#define NVME_CTRL_NAMESPACES 64    /* u32 namespaces found */
#define NVME_CTRL_FAIL_REASON 68   /* u32 NVME_FAIL_* when NVME_STATE_FAILED */
#define NVME_CTRL_FAIL_STATUS 72   /* u32 the status behind the failure, or 0 */
#define NVME_CTRL_ONCS 76          /* u32 ONCS (Identify Controller) */
#define NVME_CTRL_SERIAL 80        /* 20 bytes SN, as the device gave them (space-padded) */
#define NVME_CTRL_MODEL 100        /* 40 bytes MN */
#define NVME_CTRL_FIRMWARE 140     /* 8 bytes FR */
#define NVME_CTRL_IO_QUEUES 148    /* u32 IO queue pairs in use: min(the wish, IO_QUEUES_MAX, granted) */
#define NVME_CTRL_VECTORS 152      /* u32 interrupt vectors in use (1 + one per IO CQ with its own; 0 polled) */
#define NVME_CONTROLLER_RECORD_BYTES 156
#define NVME_CTRL_FLAG_IDENTIFIED 1 /* Identify Controller was read: the fields from it are valid */
#define NVME_CTRL_FLAG_SGL 2        /* SGLS says SGLs are supported */
#define NVME_CTRL_FLAG_VWC 4        /* a volatile write cache is present */
#define NVME_CTRL_FLAG_CAP 8        /* CAP was read: the fields from it are valid */

struct __attribute__((packed)) nvme_controller_record {
  uint32_t index, bdf;
  uint16_t vid, did;
  uint32_t state, stage, irq, version, mqes, dstrd, timeout_ms;
  uint64_t mdts_bytes;
  uint32_t max_transfer, flags, queues, io_entries, namespaces, fail_reason, fail_status, oncs;
  char serial[20], model[40], firmware[8];
  uint32_t io_queues, vectors;
};

/* ---- namespace record: describe_namespace ---- */
#define NVME_NS_CTRL 0       /* u32 controller index */
#define NVME_NS_NSID 4       /* u32 namespace id */
#define NVME_NS_BLOCKS 8     /* u64 NSZE */
#define NVME_NS_LBA_SHIFT 16 /* u32 log2 of the block size (valid unless refused for its format) */
#define NVME_NS_METADATA 20  /* u32 metadata bytes per block of the format in use */
#define NVME_NS_READONLY 24  /* u32 1 when NSATTR says write protected */
#define NVME_NS_REFUSED 28   /* u32 NVME_REFUSED_*, 0 when usable */
#define NVME_NS_FORMAT 32    /* u32 the LBA format in use (FLBAS) */
#define NVME_NAMESPACE_RECORD_BYTES 36

struct __attribute__((packed)) nvme_namespace_record {
  uint32_t ctrl, nsid;
  uint64_t blocks;
  uint32_t lba_shift, metadata, readonly, refused, format;
};

/* ---- stats record: controller_stats, u64 counters ---- */
#define NVME_STAT_COMMANDS 0
#define NVME_STAT_COMPLETIONS 8
#define NVME_STAT_ERRORS 16
#define NVME_STAT_RETRIES 24
#define NVME_STAT_READ_BYTES 32
#define NVME_STAT_WRITE_BYTES 40
#define NVME_STAT_INTERRUPTS 48
#define NVME_STAT_POLLS 56
#define NVME_STAT_TIMEOUTS 64
#define NVME_STAT_RESETS 72
#define NVME_STAT_DEVICE_NS 80       /* sum over IO commands of doorbell rung -> completion seen */
#define NVME_STAT_DEVICE_COMMANDS 88 /* IO commands in that sum */
#define NVME_STAT_EVENTS_ARMED 96    /* Asynchronous Event Requests outstanding (0 or 1) */
#define NVME_STATS_RECORD_BYTES 104

struct __attribute__((packed)) nvme_stats_record {
  uint64_t commands, completions, errors, retries, read_bytes, write_bytes, interrupts, polls,
      timeouts, resets, device_ns, device_commands, events_armed;
};

/* ---- completion record: what blk.complete writes to a client's memory ---- */
#define NVME_DONE_TAG 0       /* u32 the client's tag */
#define NVME_DONE_STATUS 4    /* u32 status code */
#define NVME_DONE_ERROR_LBA 8 /* u64 first block that failed (when status != 0) */
#define NVME_DONE_RECORD_BYTES 16

struct __attribute__((packed)) nvme_done_record {
  uint32_t tag, status;
  uint64_t error_lba;
};

/* ---- identify_data: Identify Controller as the device returned it ---- */
#define NVME_IDENTIFY_BYTES 4096
#define NVME_LOG_PAGE_BYTES_MAX 4096 /* OP_LOG_PAGE: at most this many bytes per request */
#define NVME_LID_ERROR_INFO 0x01     /* NVMe 1.4 5.14.1.1 Error Information */
#define NVME_LID_SMART 0x02          /* 5.14.1.2 SMART / Health Information */

/* ---- trace (the trace= boot option, the trace export; docs/trace.md) ----
 * What to trace, a mask the driver passes to env.trace_begin; the host traces the register and
 * configuration accesses and the interrupts it sees, the driver reports through env.trace_event. */
#define NVME_TRACE_REGS 1       /* every MMIO access, every configuration-space write */
#define NVME_TRACE_CMDS 2       /* every command submitted, every completion consumed */
#define NVME_TRACE_IRQ 4        /* every interrupt delivered */
#define NVME_TRACE_ALL 7
/* env.trace_event kinds; `where` is controller index << 16 | queue id (or | stage for STAGE). */
#define NVME_EVENT_COMMAND 1    /* ptr: the 64-byte submission queue entry just written */
#define NVME_EVENT_COMPLETION 2 /* ptr: the 16-byte completion queue entry just consumed */
#define NVME_EVENT_STAGE 3      /* a bring-up stage begun; no data */
#define NVME_EVENT_QUIRK 4      /* the driver acting on a controller quirk (where: index << 16 | quirk bit); no data */
#define NVME_EVENT_REAP 5       /* IO completion entries one reap consumed (where: index << 16 | CQ id << 12 | count); no data; under NVME_TRACE_IRQ */
#define NVME_REAP_QID_SHIFT 12

/* ---- why a controller failed (CTRL_FAIL_REASON) ---- */
#define NVME_FAIL_NONE 0
#define NVME_FAIL_BAR0_MAP 1            /* BAR0 cannot be mapped */
#define NVME_FAIL_BAR0_SMALL 2          /* BAR0 is too small for the NVMe registers */
#define NVME_FAIL_CSS 3                 /* CAP.CSS: no NVM command set */
#define NVME_FAIL_MQES 4                /* CAP.MQES below 2 entries */
#define NVME_FAIL_DSTRD 5               /* CAP.DSTRD puts the doorbells outside BAR0 */
#define NVME_FAIL_MPS 6                 /* no usable memory page size */
#define NVME_FAIL_QUEUE_MEMORY 7        /* out of DMA memory for queues */
#define NVME_FAIL_PRP_MEMORY 8          /* out of DMA memory for PRP lists */
#define NVME_FAIL_RESET_RDY_STAYS 9     /* reset: CSTS.RDY stays 1 */
#define NVME_FAIL_RESET_RDY 10          /* reset: CSTS.RDY did not clear */
#define NVME_FAIL_ENABLE_RDY 11         /* enable: CSTS.RDY did not become 1 */
#define NVME_FAIL_IDENTIFY 12           /* Identify Controller failed */
#define NVME_FAIL_SQES 13               /* 64-byte SQ entries not supported */
#define NVME_FAIL_CQES 14               /* 16-byte CQ entries not supported */
#define NVME_FAIL_CNTRLTYPE 15          /* not an IO controller */
#define NVME_FAIL_NS_LIST 16            /* Identify active namespace list failed */
#define NVME_FAIL_IDENTIFY_NS 17        /* Identify Namespace failed */
#define NVME_FAIL_NUMBER_OF_QUEUES 18   /* Set Features Number of Queues failed */
#define NVME_FAIL_CREATE_CQ 19
#define NVME_FAIL_CREATE_SQ 20
#define NVME_FAIL_DELETE_SQ 21
#define NVME_FAIL_DELETE_CQ 22
#define NVME_FAIL_SHUTDOWN 23           /* CSTS.SHST did not report complete */
#define NVME_FAIL_MEMORY 24             /* out of DMA memory for a controller */
#define NVME_FAIL_DRAIN 25              /* shutdown: requests did not complete */

/* ---- why a namespace was refused (NS_REFUSED) ---- */
#define NVME_REFUSED_NONE 0
#define NVME_REFUSED_METADATA 1   /* the format in use carries metadata */
#define NVME_REFUSED_BLOCK_SIZE 2 /* block size outside 512 B .. 64 KiB */
#define NVME_REFUSED_BAD_FORMAT 3 /* FLBAS points past NLBAF */
#define NVME_REFUSED_EMPTY 4      /* NSZE is 0 */
#define NVME_REFUSED_OVER_MDTS 5  /* one block is more than the controller moves in a command */

/* The structs and the offsets must describe the same bytes. */
#define NVME_CHECK_FIELD(s, f, off) _Static_assert(offsetof(struct s, f) == (off), #s "." #f " is at " #off)
NVME_CHECK_FIELD(nvme_controller_record, bdf, NVME_CTRL_BDF);
NVME_CHECK_FIELD(nvme_controller_record, vid, NVME_CTRL_VID);
NVME_CHECK_FIELD(nvme_controller_record, did, NVME_CTRL_DID);
NVME_CHECK_FIELD(nvme_controller_record, state, NVME_CTRL_STATE);
NVME_CHECK_FIELD(nvme_controller_record, stage, NVME_CTRL_STAGE);
NVME_CHECK_FIELD(nvme_controller_record, irq, NVME_CTRL_IRQ);
NVME_CHECK_FIELD(nvme_controller_record, version, NVME_CTRL_VERSION);
NVME_CHECK_FIELD(nvme_controller_record, timeout_ms, NVME_CTRL_TIMEOUT_MS);
NVME_CHECK_FIELD(nvme_controller_record, mdts_bytes, NVME_CTRL_MDTS_BYTES);
NVME_CHECK_FIELD(nvme_controller_record, max_transfer, NVME_CTRL_MAX_TRANSFER);
NVME_CHECK_FIELD(nvme_controller_record, flags, NVME_CTRL_FLAGS);
NVME_CHECK_FIELD(nvme_controller_record, namespaces, NVME_CTRL_NAMESPACES);
NVME_CHECK_FIELD(nvme_controller_record, fail_reason, NVME_CTRL_FAIL_REASON);
NVME_CHECK_FIELD(nvme_controller_record, oncs, NVME_CTRL_ONCS);
NVME_CHECK_FIELD(nvme_controller_record, serial, NVME_CTRL_SERIAL);
NVME_CHECK_FIELD(nvme_controller_record, model, NVME_CTRL_MODEL);
NVME_CHECK_FIELD(nvme_controller_record, firmware, NVME_CTRL_FIRMWARE);
NVME_CHECK_FIELD(nvme_controller_record, io_queues, NVME_CTRL_IO_QUEUES);
NVME_CHECK_FIELD(nvme_controller_record, vectors, NVME_CTRL_VECTORS);
_Static_assert(sizeof(struct nvme_controller_record) == NVME_CONTROLLER_RECORD_BYTES, "controller record size");
NVME_CHECK_FIELD(nvme_namespace_record, blocks, NVME_NS_BLOCKS);
NVME_CHECK_FIELD(nvme_namespace_record, lba_shift, NVME_NS_LBA_SHIFT);
NVME_CHECK_FIELD(nvme_namespace_record, refused, NVME_NS_REFUSED);
NVME_CHECK_FIELD(nvme_namespace_record, format, NVME_NS_FORMAT);
_Static_assert(sizeof(struct nvme_namespace_record) == NVME_NAMESPACE_RECORD_BYTES, "namespace record size");
NVME_CHECK_FIELD(nvme_stats_record, interrupts, NVME_STAT_INTERRUPTS);
NVME_CHECK_FIELD(nvme_stats_record, resets, NVME_STAT_RESETS);
NVME_CHECK_FIELD(nvme_stats_record, device_ns, NVME_STAT_DEVICE_NS);
NVME_CHECK_FIELD(nvme_stats_record, device_commands, NVME_STAT_DEVICE_COMMANDS);
NVME_CHECK_FIELD(nvme_stats_record, events_armed, NVME_STAT_EVENTS_ARMED);
_Static_assert(sizeof(struct nvme_stats_record) == NVME_STATS_RECORD_BYTES, "stats record size");
NVME_CHECK_FIELD(nvme_done_record, status, NVME_DONE_STATUS);
NVME_CHECK_FIELD(nvme_done_record, error_lba, NVME_DONE_ERROR_LBA);
_Static_assert(sizeof(struct nvme_done_record) == NVME_DONE_RECORD_BYTES, "completion record size");

/* ==== the generated names ====================================================================== */

#if W2C_NEW_NAMES
#define NVME_EXPORT(name) w2c_nvme_##name /* the driver's exports */
#define NVME_ENV(name) w2c_env_##name     /* `env` imports: your kernel defines them */
#define NVME_BLK(name) w2c_blk_##name     /* a client's `blk` imports: your kernel defines them */
#define NVME_INSTANCE_STRUCT w2c_nvme     /* the driver instance (generated nvme.h) */
#define NVME_ENV_STRUCT w2c_env           /* yours: what every env import receives */
#define NVME_BLK_STRUCT w2c_blk           /* yours: what every blk import receives */
#else
#define NVME_EXPORT(name) Z_nvmeZ_##name
#define NVME_ENV(name) Z_envZ_##name
#define NVME_BLK(name) Z_blkZ_##name
#define NVME_INSTANCE_STRUCT Z_nvme_instance_t
#define NVME_ENV_STRUCT Z_env_instance_t
#define NVME_BLK_STRUCT Z_blk_instance_t
#endif

typedef struct NVME_INSTANCE_STRUCT nvme_instance_t;

/* ---- the driver's `env` imports (docs/abi.md): your kernel defines these ----
 * wasm2c passes each the env instance the driver was instantiated with; wasm i32 arguments
 * arrive as uint32_t. Also env.memory: NVME_ENV(memory)(env) returns the wasm_rt_memory_t * of
 * the driver's 16 MiB (wasm-rt.h). */
typedef struct NVME_ENV_STRUCT nvme_env_t;
void NVME_ENV(abort)(nvme_env_t *, uint32_t msg, uint32_t file, uint32_t line, uint32_t col);
void NVME_ENV(console_write)(nvme_env_t *, uint32_t ptr, uint32_t len);
uint32_t NVME_ENV(cmdline)(nvme_env_t *, uint32_t ptr, uint32_t cap); /* the full length */
uint64_t NVME_ENV(now_ns)(nvme_env_t *);
void NVME_ENV(relax)(nvme_env_t *);                                   /* one busy-wait step */
void NVME_ENV(fence)(nvme_env_t *);                        /* full memory barrier (x86: mfence) */
uint32_t NVME_ENV(pci_read32)(nvme_env_t *, uint32_t bdf, uint32_t off);
void NVME_ENV(pci_write32)(nvme_env_t *, uint32_t bdf, uint32_t off, uint32_t value);
uint32_t NVME_ENV(mmio_map)(nvme_env_t *, uint32_t bdf, uint32_t bar); /* handle >= 1, or < 0 */
uint32_t NVME_ENV(mmio_size)(nvme_env_t *, uint32_t handle);
uint32_t NVME_ENV(mmio_read32)(nvme_env_t *, uint32_t handle, uint32_t off);
void NVME_ENV(mmio_write32)(nvme_env_t *, uint32_t handle, uint32_t off, uint32_t value);
uint64_t NVME_ENV(dma_address)(nvme_env_t *, uint32_t ptr, uint32_t len); /* 0 if outside */
uint32_t NVME_ENV(irq_attach)(nvme_env_t *, uint32_t bdf, uint32_t mode); /* 0 INTx, 1 MSI-X */
/* For an MSI-X line the driver attached; boot/host.c traps any other line, and refuses MSI-X table
 * writes of addresses or data other than these (boot/README.md, "The sandbox"). */
uint64_t NVME_ENV(irq_msi_address)(nvme_env_t *, uint32_t line);
uint32_t NVME_ENV(irq_msi_data)(nvme_env_t *, uint32_t line);
uint32_t NVME_ENV(irq_wait)(nvme_env_t *, uint64_t timeout_ns);      /* the lines that fired */
void NVME_ENV(irq_ack)(nvme_env_t *, uint32_t line);                  /* unmask an INTx line */
/* Once per finished request, only from inside poll/interrupt/tick/shutdown. Do not call the
 * driver from here: queue the completion, and act on it after the export returns. */
void NVME_ENV(request_done)(nvme_env_t *, uint64_t tag, uint32_t status, uint64_t error_lba);
/* Tracing (the trace= boot option or nvme_trace; docs/trace.md). The driver calls trace_begin
 * with the NVME_TRACE_* mask it wants (0: off) before anything it traces; from then on the host
 * traces what only it sees, while the mask asks: with NVME_TRACE_REGS every MMIO access (reads
 * with the value read) and configuration write it performs for the driver, with NVME_TRACE_IRQ
 * every interrupt line irq_wait returns. trace_event is the driver's report of what only it sees,
 * called only while its mask asks: kind NVME_EVENT_COMMAND or NVME_EVENT_COMPLETION with the
 * entry at [ptr, ptr + len) of its memory (len <= 64), or NVME_EVENT_STAGE / NVME_EVENT_QUIRK /
 * NVME_EVENT_REAP (no data); `where` is controller index << 16 | queue id (or | stage, | quirk
 * bit, | entries reaped). A host that does not trace makes both do nothing. boot/host.c (like
 * host/trace.js under Node) hands all of it to the decoder module build/trace.wasm (wasm2c -n
 * trace: its own env instance and 4-page memory; exports buffer, mmio, config, irq, command,
 * completion, stage, quirk, reap), which prints one line per event. */
void NVME_ENV(trace_begin)(nvme_env_t *, uint32_t mask);
void NVME_ENV(trace_event)(nvme_env_t *, uint32_t kind, uint32_t where, uint32_t ptr, uint32_t len);

/* ---- the driver's exports, as wasm2c generates them (use the nvme_* functions below) ---- */
#if W2C_NEW_NAMES
void wasm2c_nvme_instantiate(nvme_instance_t *, nvme_env_t *);
#else
void Z_nvme_init_module(void);
void Z_nvme_instantiate(nvme_instance_t *, nvme_env_t *);
#endif
uint32_t NVME_EXPORT(start)(nvme_instance_t *, uint32_t irq, uint32_t stage, uint32_t log, uint32_t buffer_bytes);
uint32_t NVME_EXPORT(start_cmdline)(nvme_instance_t *, uint32_t buffer_bytes);
uint32_t NVME_EXPORT(io_queues)(nvme_instance_t *, uint32_t pairs);
uint32_t NVME_EXPORT(controller_count)(nvme_instance_t *);
uint32_t NVME_EXPORT(namespace_count)(nvme_instance_t *);
uint32_t NVME_EXPORT(describe_controller)(nvme_instance_t *, uint32_t index);
uint32_t NVME_EXPORT(describe_namespace)(nvme_instance_t *, uint32_t index);
uint32_t NVME_EXPORT(controller_stats)(nvme_instance_t *, uint32_t index);
uint32_t NVME_EXPORT(identify_data)(nvme_instance_t *, uint32_t index);
uint32_t NVME_EXPORT(buffer_base)(nvme_instance_t *);
uint32_t NVME_EXPORT(buffer_bytes)(nvme_instance_t *);
uint32_t NVME_EXPORT(submit)(nvme_instance_t *, uint64_t tag, uint32_t op, uint32_t ns, uint64_t lba, uint32_t blocks, uint32_t buffer);
uint32_t NVME_EXPORT(poll)(nvme_instance_t *);
uint32_t NVME_EXPORT(interrupt)(nvme_instance_t *, uint32_t lines);
uint32_t NVME_EXPORT(tick)(nvme_instance_t *);
uint32_t NVME_EXPORT(wait_hint)(nvme_instance_t *);
uint32_t NVME_EXPORT(outstanding)(nvme_instance_t *);
uint32_t NVME_EXPORT(log_errors)(nvme_instance_t *);
uint32_t NVME_EXPORT(shutdown)(nvme_instance_t *);
uint32_t NVME_EXPORT(trace)(nvme_instance_t *, uint32_t mask);

/* ---- the same, under names that do not change with wabt ---- */

/* Sets up a driver instance over `env` (whose memory import is the 16 MiB DMA window). */
static inline void nvme_instantiate(nvme_instance_t *d, nvme_env_t *env) {
#if W2C_NEW_NAMES
  wasm2c_nvme_instantiate(d, env);
#else
  Z_nvme_init_module();
  Z_nvme_instantiate(d, env);
#endif
}

/* Once: enumerate PCI and bring every NVMe controller up. irq NVME_IRQ_*, stage NVME_STAGE_*,
 * log NVME_LOG_*; buffer_bytes of the DMA window become the buffer memory requests move data
 * through. Returns the number of controllers found, or NVME_START_* (< 0). */
static inline int32_t nvme_start(nvme_instance_t *d, uint32_t irq, uint32_t stage, uint32_t log, uint32_t buffer_bytes) {
  return (int32_t)NVME_EXPORT(start)(d, irq, stage, log, buffer_bytes);
}
/* Before start: IO queue pairs to ask each controller for, 1..NVME_IO_QUEUES_MAX (1 if never
 * called): the number of client modules you link, so that each has a pair of its own. 0, or
 * NVME_START_AGAIN (already started), NVME_START_BAD_OPTION (out of range). */
static inline int32_t nvme_io_queues(nvme_instance_t *d, uint32_t pairs) {
  return (int32_t)NVME_EXPORT(io_queues)(d, pairs);
}
/* nvme_start with irq=, stage=, log=, trace=, queues= read from the boot command line (env.cmdline);
 * queues= overrides nvme_io_queues. */
static inline int32_t nvme_start_cmdline(nvme_instance_t *d, uint32_t buffer_bytes) {
  return (int32_t)NVME_EXPORT(start_cmdline)(d, buffer_bytes);
}

static inline uint32_t nvme_controller_count(nvme_instance_t *d) { return NVME_EXPORT(controller_count)(d); }
static inline uint32_t nvme_namespace_count(nvme_instance_t *d) { return NVME_EXPORT(namespace_count)(d); }
/* Offsets of records in the driver's memory (struct nvme_*_record); 0 when there is no such thing. */
static inline uint32_t nvme_describe_controller(nvme_instance_t *d, uint32_t i) { return NVME_EXPORT(describe_controller)(d, i); }
static inline uint32_t nvme_describe_namespace(nvme_instance_t *d, uint32_t i) { return NVME_EXPORT(describe_namespace)(d, i); }
static inline uint32_t nvme_controller_stats(nvme_instance_t *d, uint32_t i) { return NVME_EXPORT(controller_stats)(d, i); }
static inline uint32_t nvme_identify_data(nvme_instance_t *d, uint32_t i) { return NVME_EXPORT(identify_data)(d, i); }
/* The buffer memory: [nvme_buffer_base, + nvme_buffer_bytes) of the driver's memory. */
static inline uint32_t nvme_buffer_base(nvme_instance_t *d) { return NVME_EXPORT(buffer_base)(d); }
static inline uint32_t nvme_buffer_bytes(nvme_instance_t *d) { return NVME_EXPORT(buffer_bytes)(d); }

/* Queues a request; never waits. op NVME_OP_* (| NVME_OP_FLAG_MORE), ns the namespace index,
 * buffer an offset inside the buffer memory. 0 = queued (its completion comes through
 * env.request_done with this tag), NVME_ERR_BUSY = no room now, other NVME_ERR_* = nothing sent. */
static inline uint32_t nvme_submit(nvme_instance_t *d, uint64_t tag, uint32_t op, uint32_t ns, uint64_t lba, uint32_t blocks, uint32_t buffer) {
  return NVME_EXPORT(submit)(d, tag, op, ns, lba, blocks, buffer);
}
/* Completions (each delivered once through env.request_done); each returns how many finished.
 * poll: reap every controller. interrupt: `lines` is the mask env.irq_wait returned.
 * tick: find lost commands and failed controllers; call it every millisecond or so while
 * requests are outstanding. */
static inline uint32_t nvme_poll(nvme_instance_t *d) { return NVME_EXPORT(poll)(d); }
static inline uint32_t nvme_interrupt(nvme_instance_t *d, uint32_t lines) { return NVME_EXPORT(interrupt)(d, lines); }
static inline uint32_t nvme_tick(nvme_instance_t *d) { return NVME_EXPORT(tick)(d); }
/* NVME_WAIT_*: whether the host may sleep in irq_wait while requests are outstanding. */
static inline uint32_t nvme_wait_hint(nvme_instance_t *d) { return NVME_EXPORT(wait_hint)(d); }
static inline uint32_t nvme_outstanding(nvme_instance_t *d) { return NVME_EXPORT(outstanding)(d); }
/* Error lines the driver has printed so far. */
static inline uint32_t nvme_log_errors(nvme_instance_t *d) { return NVME_EXPORT(log_errors)(d); }
/* Orderly shutdown of every controller (outstanding requests finish first); returns the error
 * lines it printed. */
static inline uint32_t nvme_shutdown(nvme_instance_t *d) { return NVME_EXPORT(shutdown)(d); }
/* What to trace from now on (NVME_TRACE_* bits, 0 stops it; the driver calls env.trace_begin
 * with it); returns the previous mask. The trace= boot option does the same from start_cmdline. */
static inline uint32_t nvme_trace(nvme_instance_t *d, uint32_t mask) { return NVME_EXPORT(trace)(d, mask); }

/* ==== the `blk` client interface: what a host gives a client module ============================
 * A client has its own memory and a share of the driver's buffer memory (offsets 0 .. share - 1).
 * ptr arguments are offsets in the client's memory; the host checks every range. */
typedef struct NVME_BLK_STRUCT nvme_blk_t;
uint32_t NVME_BLK(controller_count)(nvme_blk_t *);
uint32_t NVME_BLK(namespace_count)(nvme_blk_t *);
/* Copy a record to the client: its byte count, or -1 (no such thing, or ptr range outside). */
uint32_t NVME_BLK(describe_controller)(nvme_blk_t *, uint32_t index, uint32_t ptr);
uint32_t NVME_BLK(describe_namespace)(nvme_blk_t *, uint32_t index, uint32_t ptr);
uint32_t NVME_BLK(controller_stats)(nvme_blk_t *, uint32_t index, uint32_t ptr);
uint32_t NVME_BLK(identify_data)(nvme_blk_t *, uint32_t index, uint32_t ptr);
/* The share's size, and copies between the client's memory and the share: 0, or -1 if either
 * range is outside. */
uint32_t NVME_BLK(buffer_bytes)(nvme_blk_t *);
uint32_t NVME_BLK(buffer_write)(nvme_blk_t *, uint32_t offset, uint32_t ptr, uint32_t len);
uint32_t NVME_BLK(buffer_read)(nvme_blk_t *, uint32_t offset, uint32_t ptr, uint32_t len);
/* nvme_submit with tag (client id << 32) | tag and buffer share base + offset, once the blocks
 * are known to fit the share (else NVME_ERR_BAD_BUFFER; NVME_ERR_NO_NAMESPACE without a
 * namespace to size them by). Only reads and writes carry data and are checked; the other
 * operations get the share's base, whatever the offset. */
uint32_t NVME_BLK(submit)(nvme_blk_t *, uint32_t tag, uint32_t op, uint32_t ns, uint64_t lba, uint32_t blocks, uint32_t offset);
/* Waits up to timeout_ns until this client has completions or nothing in flight; writes up to
 * cap struct nvme_done_record at ptr and returns how many (-1 if the ptr range is outside). */
uint32_t NVME_BLK(complete)(nvme_blk_t *, uint32_t ptr, uint32_t cap, uint64_t timeout_ns);
uint32_t NVME_BLK(driver_errors)(nvme_blk_t *); /* nvme_log_errors */
uint32_t NVME_BLK(shutdown)(nvme_blk_t *);      /* nvme_shutdown */

#endif
