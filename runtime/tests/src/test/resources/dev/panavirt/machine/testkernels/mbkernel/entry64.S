/*
 * Entry code of panavirt's 64-bit multiboot test kernels, built the way kvm-unit-tests build theirs: a
 * 64-bit ELF whose entry is 32-bit code, converted with objcopy -O elf32-i386 so a multiboot loader takes it.
 *
 * _start (32-bit, from the loader): our GDT, identity page tables for the first 4 GiB (2 MiB pages), PAE,
 * EFER.LME, paging, then a far jump to 64-bit code that calls kmain(magic, info) and writes its result to
 * the debug-exit port.
 *
 * ap_trampoline .. ap_trampoline_end: the AP start-up code (16-bit) the kernel copies below 1 MiB; it enters
 * protected mode, takes a 4 KiB stack, switches to long mode like the BSP and calls ap_main().
 */
#define MB_HEADER_MAGIC 0x1BADB002
#define STACK_SIZE 0x4000
#define AP_STACK_SIZE 0x1000
#define MAX_APS 8
#define CODE32 0x08
#define DATA 0x10
#define CODE64 0x18

    .section .multiboot, "a"
    .align 4
    .long MB_HEADER_MAGIC, 0, -MB_HEADER_MAGIC

    .section .text.entry, "ax"
    .code32
    .globl _start
_start:
    mov $boot_stack_top, %esp
    mov %eax, mb_magic
    mov %ebx, mb_info
    call enter_long_mode
    ljmp $CODE64, $start64

/* Loads our GDT and data segments, then turns on PAE, long mode and paging (still 32-bit code after). */
enter_long_mode:
    lgdt gdt_desc
    mov $DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    mov %cr4, %eax
    or $0x20, %eax                  /* PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx           /* EFER */
    rdmsr
    or $0x100, %eax                 /* LME */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax            /* PG, PE */
    mov %eax, %cr0
    ret

    .code16
    .globl ap_trampoline, ap_trampoline_end
ap_trampoline:
    cli
    mov %cs, %ax
    mov %ax, %ds
    lgdtl (ap_gdt_desc - ap_trampoline)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $CODE32, $ap_entry32
    .align 4
ap_gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
ap_trampoline_end:

    .code32
ap_entry32:
    mov $DATA, %ax
    mov %ax, %ds                    /* the real-mode descriptors are still cached: 64 KiB limits */
    mov %ax, %es
    mov %ax, %ss
    mov $-AP_STACK_SIZE, %esp
    lock xadd %esp, ap_stack_next
    call enter_long_mode
    ljmp $CODE64, $ap_start64

    .code64
start64:
    mov mb_magic, %edi
    mov mb_info, %esi
    call kmain
    out %eax, $0xf4
1:  cli
    hlt
    jmp 1b

ap_start64:
    mov %esp, %esp                  /* zero-extends into RSP */
    call ap_main
2:  cli
    hlt
    jmp 2b

    .section .rodata
    .align 8
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff        /* 0x08: flat 32-bit code */
    .quad 0x00cf93000000ffff        /* 0x10: flat data */
    .quad 0x00af9b000000ffff        /* 0x18: 64-bit code */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt

    .data
    .align 4096
pml4:
    .quad pdpt + 3
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x0003, pd + 0x1003, pd + 0x2003, pd + 0x3003
    .fill 508, 8, 0
pd:
    i = 0
    .rept 2048
    .quad (i << 21) | 0x83          /* present, writable, 2 MiB page */
    i = i + 1
    .endr
    .align 4
    .globl ap_stack_next
ap_stack_next:
    .long ap_stacks_top
mb_magic:
    .long 0
mb_info:
    .long 0

    .bss
    .align 16
    .skip STACK_SIZE
boot_stack_top:
    .skip AP_STACK_SIZE * MAX_APS
ap_stacks_top:

    .section .note.GNU-stack, "", @progbits
