/*
 * The arm64 agent's guest (EL1, MMU off, copied to the mailbox page at the top of guest RAM): each
 * KVM_RUN performs the access the mailbox asks for and ends with a store to the unbacked address
 * 0x10000000 (a KVM_EXIT_MMIO). The agent never sets pc after the first run: on the KVM_RUN after an
 * MMIO exit the kernel steps past the store (arch/arm64/kvm/mmio.c, kvm_handle_mmio_return), so the
 * loop continues. With the MMU off every access is Device-nGnRnE, as an ITS driver's would be.
 *   mailbox (guest_box): +0 op (0 nothing, 1 read, 2 write), +8 address, +16 width, +24 value,
 *                        +32 the value read
 */
	.text
	.globl guest_begin, guest_end, guest_box
	.balign 16
guest_begin:
	adr	x20, guest_box
	mov	x21, #0x10000000
loop:
	ldr	x0, [x20]
	ldr	x1, [x20, #8]
	ldr	x2, [x20, #16]
	ldr	x3, [x20, #24]
	cbz	x0, done
	cmp	x0, #1
	b.eq	read
	cmp	x2, #1
	b.eq	w1
	cmp	x2, #2
	b.eq	w2
	cmp	x2, #4
	b.eq	w4
	str	x3, [x1]
	b	done
w1:	strb	w3, [x1]
	b	done
w2:	strh	w3, [x1]
	b	done
w4:	str	w3, [x1]
	b	done
read:
	mov	x4, #0
	cmp	x2, #1
	b.eq	r1
	cmp	x2, #2
	b.eq	r2
	cmp	x2, #4
	b.eq	r4
	ldr	x4, [x1]
	b	stored
r1:	ldrb	w4, [x1]
	b	stored
r2:	ldrh	w4, [x1]
	b	stored
r4:	ldr	w4, [x1]
stored:
	str	x4, [x20, #32]
done:
	str	wzr, [x21]
	b	loop
	.balign 16
guest_box:
	.fill	6, 8, 0
guest_end:
