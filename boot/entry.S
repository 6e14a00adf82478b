/* Multiboot v1 entry: QEMU's -kernel loads this (as an ELF32, see build.sh) and jumps to
 * _start in 32-bit protected mode with paging off.  We build page tables that identity-map
 * the first 1 GiB with 2 MiB pages, enable PAE + long mode + paging, load a 64-bit GDT and
 * far-jump to 64-bit code, which sets the real stack and calls kmain(magic, info).
 * Also here: the interrupt stubs (one per vector, all funnelling into isr_common, which
 * saves every register including the SSE state and calls isr_dispatch(frame)), and
 * setjmp/longjmp for wasm2c's runtime. */

/* The multiboot header (Multiboot 0.6.96, 3.1). Flags: bit 0 page-align modules, bit 1 give us
 * memory information. Bit 2 (video mode fields valid) is clear here and set only in the ISO's copy
 * of the kernel (boot/mb-video.js, boot/iso.sh): QEMU's -kernel loader prints "multiboot knows
 * VBE. we don't" for it, while GRUB under UEFI, which has no text mode, passes a framebuffer only
 * to a kernel that sets it. The fields are here either way. */
#define MB_MAGIC  0x1BADB002
#define MB_FLAGS  0x00000003
#define MB_MODE_EGA_TEXT 1            /* mode_type: EGA text preferred; GRUB gives a framebuffer where there is none */
#define MB_TEXT_COLUMNS 80
#define MB_TEXT_ROWS 25

        .section .multiboot, "a"
        .balign 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)
        .long 0, 0, 0, 0, 0           /* header_addr .. entry_addr: flag bit 16 is clear, the ELF header says */
        .long MB_MODE_EGA_TEXT        /* mode_type */
        .long MB_TEXT_COLUMNS         /* width */
        .long MB_TEXT_ROWS            /* height */
        .long 0                       /* depth: none for text */

        .section .boot.text, "ax"
        .code32
        .globl _start
_start:
        cli
        cld
        movl $boot_stack32_top, %esp
        movl %eax, mb_magic
        movl %ebx, mb_info

        /* PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB, present|writable|huge. */
        movl $boot_pdpt, %eax
        orl  $0x3, %eax
        movl %eax, boot_pml4
        movl $boot_pd, %eax
        orl  $0x3, %eax
        movl %eax, boot_pdpt
        xorl %ecx, %ecx
1:      movl %ecx, %eax
        shll $21, %eax
        orl  $0x83, %eax
        movl %eax, boot_pd(,%ecx,8)
        movl $0, boot_pd+4(,%ecx,8)
        incl %ecx
        cmpl $512, %ecx
        jne 1b

        /* CR4: PAE (5), OSFXSR (9), OSXMMEXCPT (10): SSE is used by compiled C and wasm floats. */
        movl %cr4, %eax
        orl  $((1 << 5) | (1 << 9) | (1 << 10)), %eax
        movl %eax, %cr4
        movl $boot_pml4, %eax
        movl %eax, %cr3
        /* EFER.LME */
        movl $0xC0000080, %ecx
        rdmsr
        orl  $(1 << 8), %eax
        wrmsr
        /* CR0: PG (31), WP (16), MP (1); clear EM (2) */
        movl %cr0, %eax
        andl $~(1 << 2), %eax
        orl  $((1 << 31) | (1 << 16) | (1 << 1)), %eax
        movl %eax, %cr0

        lgdt gdt64_ptr
        ljmp $0x08, $long_entry

        .code64
long_entry:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw %ax, %fs
        movw %ax, %gs
        movabsq $kernel_stack_top, %rsp
        xorl %ebp, %ebp
        movl mb_magic, %edi
        movl mb_info, %esi
        call kmain
2:      cli
        hlt
        jmp 2b

        /* GDT: null, 64-bit code, data, then a 16-byte TSS descriptor filled in by C. */
        .section .data
        .balign 16
        .globl gdt64
gdt64:
        .quad 0
        .quad 0x00AF9A000000FFFF
        .quad 0x00CF92000000FFFF
        .quad 0, 0                       /* TSS (selector 0x18) */
gdt64_end:
        .globl gdt64_ptr
gdt64_ptr:
        .word gdt64_end - gdt64 - 1
        .quad gdt64

mb_magic: .long 0
mb_info:  .long 0

        .section .bss
        .balign 4096
        .globl boot_pml4, boot_pdpt, boot_pd
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4096
        .balign 16
        .skip 4096
boot_stack32_top:

        /* The kernel stack: the wasm2c code runs here.  The page below it is unmapped by
         * kmain (a guard), so an overflow page-faults onto the IST stack instead of
         * silently corrupting memory. */
        .balign 4096
        .globl kernel_stack_guard, kernel_stack_top
kernel_stack_guard: .skip 4096
        .skip 1024 * 1024
kernel_stack_top:

/* ---- interrupt stubs ----------------------------------------------------------------- */
        .text
        .code64
/* One 16-byte stub per vector at isr_stubs + 16 * v; vectors without a CPU error code
 * push a 0 so that every frame looks the same. */
        .balign 16
        .globl isr_stubs
isr_stubs:
        .set i, 0
        .rept 256
        .balign 16
        .if (i == 8) || (i == 10) || (i == 11) || (i == 12) || (i == 13) || (i == 14) || (i == 17) || (i == 21) || (i == 29) || (i == 30)
        .else
        pushq $0
        .endif
        pushq $i
        jmp isr_common
        .set i, i + 1
        .endr

isr_common:
        /* frame: [r15..rax][vector][error][rip][cs][rflags][rsp][ss] */
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        movq %rsp, %rdi            /* struct frame * */
        movq %rsp, %rbx            /* callee-saved: where to come back to */
        subq $512, %rsp
        andq $-16, %rsp
        fxsave (%rsp)
        cld
        call isr_dispatch
        fxrstor (%rsp)
        movq %rbx, %rsp
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
        addq $16, %rsp             /* vector, error code */
        iretq

/* ---- setjmp / longjmp (jmp_buf = 8 quadwords: rbx rbp r12 r13 r14 r15 rsp rip) -------- */
        .text
        .globl setjmp, longjmp
setjmp:
        movq %rbx, 0(%rdi)
        movq %rbp, 8(%rdi)
        movq %r12, 16(%rdi)
        movq %r13, 24(%rdi)
        movq %r14, 32(%rdi)
        movq %r15, 40(%rdi)
        leaq 8(%rsp), %rax
        movq %rax, 48(%rdi)
        movq (%rsp), %rax
        movq %rax, 56(%rdi)
        xorl %eax, %eax
        ret
longjmp:
        movl %esi, %eax
        testl %eax, %eax
        jnz 1f
        incl %eax
1:      movq 0(%rdi), %rbx
        movq 8(%rdi), %rbp
        movq 16(%rdi), %r12
        movq 24(%rdi), %r13
        movq 32(%rdi), %r14
        movq 40(%rdi), %r15
        movq 48(%rdi), %rsp
        jmpq *56(%rdi)
