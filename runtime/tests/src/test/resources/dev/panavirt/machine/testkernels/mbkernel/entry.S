/*
 * Entry code of panavirt's multiboot test kernels (32-bit, no paging).
 *
 * _start: the multiboot entry. Loads our own GDT and a stack, then calls kmain(eax, ebx); kmain's return
 * value is written to the isa-debug-exit port 0xf4, so the run ends with status (value << 1) | 1.
 *
 * ap_trampoline .. ap_trampoline_end: 16-bit code an AP runs after INIT/SIPI. The kernel copies it to a
 * page below 1 MiB and sends that page's number as the STARTUP vector. It switches to protected mode with
 * our GDT, takes a 4 KiB stack and calls ap_main().
 *
 * isr_timer / isr_spurious / exception stubs: see mbkernel.h.
 */
#define MB_HEADER_MAGIC 0x1BADB002
#ifndef MB_HEADER_FLAGS
#define MB_HEADER_FLAGS 0
#endif
#define STACK_SIZE 0x4000
#define AP_STACK_SIZE 0x1000
#define MAX_APS 8

    .section .multiboot, "a"
    .align 4
    .long MB_HEADER_MAGIC, MB_HEADER_FLAGS, -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

    .section .text.entry, "ax"
    .code32
    .globl _start
_start:
    mov %esp, entry_esp             /* moves leave EFLAGS as the loader set it */
    mov $boot_stack_top, %esp
    pushfl
    popl entry_eflags
    lgdt gdt_desc
    ljmp $0x08, $1f
1:  mov $0x10, %cx
    mov %cx, %ds
    mov %cx, %es
    mov %cx, %fs
    mov %cx, %gs
    mov %cx, %ss
    push %ebx
    push %eax
    call kmain
    out %eax, $0xf4
2:  cli
    hlt
    jmp 2b

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
    ljmpl $0x08, $ap_entry32
    .align 4
ap_gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
ap_trampoline_end:

    .code32
ap_entry32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    mov $-AP_STACK_SIZE, %esp
    lock xadd %esp, ap_stack_next
    call ap_main
3:  cli
    hlt
    jmp 3b

    .globl isr_timer, isr_spurious
isr_timer:
    pusha
    cld
    call timer_interrupt
    popa
    iret
isr_spurious:
    iret

    /* Exceptions 0-31: push a dummy error code where the CPU pushes none, then the vector. */
    .macro exc vec, has_error
    .globl exc\vec
exc\vec:
    .if \has_error == 0
    push $0
    .endif
    push $\vec
    jmp exc_common
    .endm
    exc 0,0; exc 1,0; exc 2,0; exc 3,0; exc 4,0; exc 5,0; exc 6,0; exc 7,0
    exc 8,1; exc 9,0; exc 10,1; exc 11,1; exc 12,1; exc 13,1; exc 14,1; exc 15,0
    exc 16,0; exc 17,1; exc 18,0; exc 19,0; exc 20,0; exc 21,1; exc 22,0; exc 23,0
    exc 24,0; exc 25,0; exc 26,0; exc 27,0; exc 28,0; exc 29,1; exc 30,1; exc 31,0
exc_common:
    cld
    push %esp                       /* -> vector, error code, eip, cs, eflags */
    call exception
4:  cli
    hlt
    jmp 4b

    .section .rodata
    .align 8
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff        /* 0x08: flat 32-bit code */
    .quad 0x00cf93000000ffff        /* 0x10: flat data */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt

    .data
    .align 4
    .globl ap_stack_next, entry_esp, entry_eflags
ap_stack_next:
    .long ap_stacks_top
entry_esp:
    .long 0
entry_eflags:
    .long 0

    .bss
    .align 16
    .skip STACK_SIZE
boot_stack_top:
    .skip AP_STACK_SIZE * MAX_APS
ap_stacks_top:

    .section .note.GNU-stack, "", @progbits
