/**
 * Software model of the RISC-V KVM vector extension interface: the {@code KVM_REG_RISCV_VECTOR} ONE_REG
 * registers of a vCPU and the lazy save/restore state machine on {@code sstatus.VS}
 * ({@code arch/riscv/kvm/vcpu_vector.c}), and the vCPU's ISA through the {@code KVM_REG_RISCV_ISA_EXT} registers
 * ({@code arch/riscv/kvm/vcpu_onereg.c}).
 */
package dev.panavirt.models.riscv;
