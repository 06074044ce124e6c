package dev.panavirt.models.gicv3;

/**
 * A snapshot of one LPI of the VM.
 *
 * @param intid the LPI's INTID (8192 and up)
 * @param priority priority from the property table (bits 7:2 of its byte)
 * @param enabled enable bit from the property table
 * @param pending the pending latch; the LPI is delivered to {@code targetVcpu} while it is also enabled
 * @param targetVcpu id of the vCPU it targets, or -1 when its collection was unmapped at creation
 * @param references how many ITEs (across every ITS of the VM) map this INTID
 */
public record LpiState(long intid, int priority, boolean enabled, boolean pending, int targetVcpu, int references) {
}
