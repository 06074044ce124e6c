/* SPDX-License-Identifier: Apache-2.0 */
/*
 * panavirt extension header: KVM uapi definitions that are newer than the pinned
 * linux-source-6.12 headers but needed by panavirt's device models. Written by the project with
 * the values upstream Linux gives them (no kernel text copied):
 *   - KVM_DEV_TYPE_LOONGARCH_IPI/EIOINTC/PCHPIC: enum kvm_device_type in include/uapi/linux/kvm.h;
 *   - KVM_DEV_LOONGARCH_EXTIOI_GRP_* and their attributes: arch/loongarch/include/uapi/asm/kvm.h,
 *     handled by kvm_eiointc_set_attr()/kvm_eiointc_get_attr() (through kvm_eiointc_ctrl_access(),
 *     kvm_eiointc_regs_access(), kvm_eiointc_sw_status_access()) in arch/loongarch/kvm/intc/eiointc.c.
 * Every definition is guarded, so a header tree that already has it (as a macro, or as an enum
 * constant re-exported with a same-named macro as linux/kvm.h does) keeps its own.
 *
 * The generator binds this header into every kvm.<arch> package after linux/kvm.h and asm/kvm.h.
 */
#ifndef PANAVIRT_KVM_EXT_H
#define PANAVIRT_KVM_EXT_H

#include <linux/kvm.h>
#include <panavirt/sizes.h>

/* enum kvm_device_type: 6.12 stops at KVM_DEV_TYPE_RISCV_AIA = 11 (and KVM_DEV_TYPE_MAX = 12). */
#ifndef KVM_DEV_TYPE_LOONGARCH_IPI
#define KVM_DEV_TYPE_LOONGARCH_IPI		12
#endif
#ifndef KVM_DEV_TYPE_LOONGARCH_EIOINTC
#define KVM_DEV_TYPE_LOONGARCH_EIOINTC		13
#endif
#ifndef KVM_DEV_TYPE_LOONGARCH_PCHPIC
#define KVM_DEV_TYPE_LOONGARCH_PCHPIC		14
#endif

/* LoongArch EIOINTC (extended I/O interrupt controller) device attributes. */
#ifndef KVM_DEV_LOONGARCH_EXTIOI_GRP_REGS
#define KVM_DEV_LOONGARCH_EXTIOI_GRP_REGS		0x40000002
#endif

#ifndef KVM_DEV_LOONGARCH_EXTIOI_GRP_SW_STATUS
#define KVM_DEV_LOONGARCH_EXTIOI_GRP_SW_STATUS		0x40000003
#endif
#ifndef KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_NUM_CPU
#define KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_NUM_CPU	0x0
#endif
#ifndef KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_FEATURE
#define KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_FEATURE	0x1
#endif
#ifndef KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_STATE
#define KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_STATE	0x2
#endif

#ifndef KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL
#define KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL		0x40000004
#endif
#ifndef KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_NUM_CPU
#define KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_NUM_CPU	0x0
#endif
#ifndef KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_FEATURE
#define KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_FEATURE	0x1
#endif
#ifndef KVM_DEV_LOONGARCH_EXTIOI_CTRL_LOAD_FINISHED
#define KVM_DEV_LOONGARCH_EXTIOI_CTRL_LOAD_FINISHED	0x3
#endif

#endif /* PANAVIRT_KVM_EXT_H */
