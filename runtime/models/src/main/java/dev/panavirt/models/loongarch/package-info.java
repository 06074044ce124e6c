/**
 * Software model of the LoongArch EIOINTC with the V-EIOINTC extension ({@code KVM_DEV_TYPE_LOONGARCH_EIOINTC},
 * after {@code arch/loongarch/kvm/intc/eiointc.c}), and the slice of a LoongArch VM it consults.
 */
package dev.panavirt.models.loongarch;
