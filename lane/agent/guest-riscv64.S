/*
 * The riscv64 agent's guest (VS-mode, copied to the start of guest RAM). It waits in a loop for the
 * agent: each KVM_RUN reads the command word guest_cmd and ends with a store to the unbacked address
 * 0x10000000 (a KVM_EXIT_MMIO whose value says what happened). The agent never sets pc after the first
 * run: on the KVM_RUN after an MMIO exit the kernel steps sepc past the store
 * (arch/riscv/kvm/vcpu_insn.c, kvm_riscv_vcpu_mmio_return), so the loop simply continues.
 *   command 0: nothing                        -> stores 0
 *   command 1: a vector instruction           -> stores 1, or 2 when it trapped (VS Off for the guest)
 *   command 3: SBI HSM HART_START of hart guest_cmd[1] at guest_begin (the helper vCPU resetting another;
 *              arch/riscv/kvm/vcpu_sbi_hsm.c, kvm_sbi_hsm_vcpu_start) -> stores the SBI error (0: started)
 * The vector instruction is a vsetvl that writes back the current vl and vtype: the hardware marks the
 * vector state Dirty (what the models' vector-exec means) without changing a value a script can read.
 */
	.text
	.globl guest_begin, guest_end, guest_cmd
	.balign 8
guest_begin:
	lla	t0, trap
	csrw	stvec, t0
loop:
	lla	t3, guest_cmd
	lw	t0, 0(t3)
	li	t1, 0x10000000
	beqz	t0, plain
	li	t2, 3
	beq	t0, t2, hart_start
	li	t2, 0x200		/* sstatus.VS = Initial: the guest's own enable (vsstatus) */
	csrs	sstatus, t2
	csrr	a1, vl
	csrr	a2, vtype
	vsetvl	x0, a1, a2
	li	t2, 1
	sw	t2, 0(t1)
	j	loop
plain:
	sw	zero, 0(t1)
	j	loop
hart_start:
	li	a7, 0x48534D		/* SBI extension "HSM" */
	li	a6, 0			/* HART_START */
	lw	a0, 4(t3)		/* the hart to start */
	lla	a1, guest_begin
	li	a2, 0
	ecall
	li	t1, 0x10000000
	sw	a0, 0(t1)
	j	loop
	.balign 4
trap:					/* stvec: an illegal-instruction trap the kernel redirected to the guest */
	li	t1, 0x10000000
	li	t2, 2
	sw	t2, 0(t1)
	j	loop
	.balign 8
guest_cmd:
	.word	0
	.word	0
guest_end:
