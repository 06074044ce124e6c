/* SPDX-License-Identifier: Apache-2.0 */
/*
 * panavirt helper, not bound itself: the arm64 uapi asm/kvm.h defines KVM_VGIC_V3_DIST_SIZE,
 * KVM_VGIC_V3_REDIST_SIZE and KVM_VGIC_V3_ITS_SIZE in terms of SZ_64K, which only the kernel's
 * include/linux/sizes.h defines. With this value (the kernel's) those macros evaluate, so the
 * bindings carry them. Guarded so a real linux/sizes.h wins.
 */
#ifndef PANAVIRT_SIZES_H
#define PANAVIRT_SIZES_H

#ifndef SZ_64K
#define SZ_64K 0x00010000
#endif

#endif /* PANAVIRT_SIZES_H */
