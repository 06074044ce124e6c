package dev.panavirt.models.loongarch;

import java.util.Arrays;
import java.util.Objects;

/**
 * A snapshot of an EIOINTC model: the raw registers the kernel exposes through
 * {@code KVM_DEV_LOONGARCH_EXTIOI_GRP_REGS}/{@code GRP_SW_STATUS}, the shadow routing state, and which vCPU pins
 * are asserted. Arrays are copies; equality compares contents, so two models driven the same way (a guest run
 * and a replayed script) compare equal.
 *
 * @param numCpu    {@code num_cpu}
 * @param features  {@code features}
 * @param status    {@code status}
 * @param nodetype  4 words
 * @param ipmap     the IPMAP word
 * @param enable    4 words
 * @param bounce    4 words
 * @param isr       4 words
 * @param coreisr   256 x 4 words, row per vcpu id
 * @param coremap   32 words
 * @param swCoremap target vcpu id per vector
 * @param pins      asserted pins per vcpu id (bit n = IPn)
 */
public record EiointcState(int numCpu, int features, int status, long[] nodetype, long ipmap, long[] enable,
        long[] bounce, long[] isr, long[] coreisr, long[] coremap, int[] swCoremap, int[] pins) {

    /** Copies the arrays it is given. */
    public EiointcState {
        nodetype = nodetype.clone();
        enable = enable.clone();
        bounce = bounce.clone();
        isr = isr.clone();
        coreisr = coreisr.clone();
        coremap = coremap.clone();
        swCoremap = swCoremap.clone();
        pins = pins.clone();
    }

    static EiointcState of(EiointcCore c) {
        return new EiointcState(c.numCpu, c.features, c.status, c.nodetype, c.ipmap, c.enable, c.bounce, c.isr,
                c.coreisr, c.coremap, c.swCoremap, c.pinLevel);
    }

    @Override
    public long[] nodetype() {
        return nodetype.clone();
    }

    @Override
    public long[] enable() {
        return enable.clone();
    }

    @Override
    public long[] bounce() {
        return bounce.clone();
    }

    @Override
    public long[] isr() {
        return isr.clone();
    }

    @Override
    public long[] coreisr() {
        return coreisr.clone();
    }

    @Override
    public long[] coremap() {
        return coremap.clone();
    }

    @Override
    public int[] swCoremap() {
        return swCoremap.clone();
    }

    @Override
    public int[] pins() {
        return pins.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EiointcState s && numCpu == s.numCpu && features == s.features && status == s.status
                && ipmap == s.ipmap && Arrays.equals(nodetype, s.nodetype) && Arrays.equals(enable, s.enable)
                && Arrays.equals(bounce, s.bounce) && Arrays.equals(isr, s.isr)
                && Arrays.equals(coreisr, s.coreisr) && Arrays.equals(coremap, s.coremap)
                && Arrays.equals(swCoremap, s.swCoremap) && Arrays.equals(pins, s.pins);
    }

    @Override
    public int hashCode() {
        return Objects.hash(numCpu, features, status, ipmap, Arrays.hashCode(nodetype), Arrays.hashCode(enable),
                Arrays.hashCode(bounce), Arrays.hashCode(isr), Arrays.hashCode(coreisr), Arrays.hashCode(coremap),
                Arrays.hashCode(swCoremap), Arrays.hashCode(pins));
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("EiointcState[numCpu=").append(numCpu)
                .append(", features=0x").append(Integer.toHexString(features))
                .append(", status=0x").append(Integer.toHexString(status))
                .append(", ipmap=0x").append(Long.toHexString(ipmap))
                .append(", enable=").append(hex(enable))
                .append(", isr=").append(hex(isr))
                .append(", coremap=").append(hex(coremap))
                .append(", asserted=[");
        boolean first = true;
        for (int v = 0; v < pins.length; v++) {
            for (int p = 0; p < EiointcRegisters.PINS; p++) {
                if ((pins[v] & (1 << p)) != 0) {
                    sb.append(first ? "" : " ").append("vcpu").append(v).append(".ip").append(p);
                    first = false;
                }
            }
        }
        return sb.append("]]").toString();
    }

    private static String hex(long[] words) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < words.length; i++) {
            sb.append(i == 0 ? "" : " ").append(Long.toHexString(words[i]));
        }
        return sb.append(']').toString();
    }
}
