/**
 * Precopy live migration of a VM's RAM between two VMs, in one process or over a socket: dirty-page
 * tracking sources ({@link dev.panavirt.migration.DirtySource}: the KVM dirty ring, the KVM dirty log with
 * manual protection, the VFIO type1 DMA dirty bitmap, the vDPA model's writes), device-model state sections
 * ({@link dev.panavirt.migration.DeviceSection}, {@link dev.panavirt.migration.VdpaModelState}), the in-kernel
 * interrupt controllers' sections taken through their device attributes
 * ({@link dev.panavirt.migration.ItsMigrationState}, whose tables travel in guest RAM and must be saved before the
 * final RAM pass, with {@link dev.panavirt.migration.ModelRamWriteTracker} reporting a model's writes;
 * {@link dev.panavirt.migration.EiointcMigrationState}), the stream format ({@link dev.panavirt.migration.MigrationStream}),
 * the source and destination ends ({@link dev.panavirt.migration.PrecopySource},
 * {@link dev.panavirt.migration.PrecopyDestination}) and the convergence policy that decides when to stop the
 * guest ({@link dev.panavirt.migration.ConvergencePolicy}).
 *
 * <p>The order of harvest and copy follows the kernel's contract (Documentation/virt/kvm/api.rst, sections
 * on {@code KVM_GET_DIRTY_LOG}, {@code KVM_CLEAR_DIRTY_LOG} and the dirty ring): a page is re-protected
 * (cleared or reset) <em>before</em> its contents are read, so a write racing with the copy is reported
 * again in the next round rather than lost.
 */
package dev.panavirt.migration;
