/**
 * Software model of the LoongArch EIOINTC with the V-EIOINTC extension ({@code KVM_DEV_TYPE_LOONGARCH_EIOINTC},
 * SEMANTICS B), and the slice of a LoongArch VM it consults.
 */
package dev.panavirt.models.loongarch;
