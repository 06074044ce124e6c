package dev.panavirt.models.gicv3;

import dev.panavirt.models.gicv3.ItsDevice.CollectionMapping;
import dev.panavirt.models.gicv3.ItsDevice.DeviceMapping;
import dev.panavirt.models.gicv3.ItsDevice.Translation;

/**
 * The deterministic one-line dump of an ITS and the LPIs of its VM, for comparing a scripted session with
 * a guest-driven run. Fields are separated by {@code "; "}, lists are sorted (collections in list order,
 * which is observable through SAVE), numbers are hexadecimal except INTIDs and vCPU ids:
 *
 * <pre>
 * its@0x8080000 ctlr=0x80000001 cbaser=0x980000004001000f creadr=0x80 cwriter=0x80
 * baser0=0x9907000040020200 baser1=0x9c07000040030200; collections 0:v0 5:-;
 * devices 0x1:itt=0x40100000,bits=4; translations 0x1/0x0:8192,icid=0,v0,cached 0x1/0x1:8193,icid=5,-;
 * lpis 8192:v0,prio=0xa0,en,pend 8193:-,prio=0x60; pending v0=8192 v1= v2= v3=
 * </pre>
 * (one line in practice). {@code -} marks an unmapped collection or a missing target.
 */
final class ItsStateDump {

    private ItsStateDump() {
    }

    static String dump(ItsDevice device) {
        Vgic vgic = device.vgic();
        synchronized (vgic.lock) {
            Its its = device.its;
            StringBuilder sb = new StringBuilder(256);
            sb.append("its@");
            sb.append(its.base == ItsRegisters.ADDR_UNDEF ? "undef" : hex(its.base));
            sb.append(" ctlr=").append(hex(its.readRegister(ItsRegisters.Region.CTLR, ItsRegisters.GITS_CTLR, 4)));
            sb.append(" cbaser=").append(hex(its.cbaser));
            sb.append(" creadr=").append(hex(its.creadr));
            sb.append(" cwriter=").append(hex(its.cwriter));
            sb.append(" baser0=").append(hex(its.baser0));
            sb.append(" baser1=").append(hex(its.baser1));

            sb.append("; collections");
            for (CollectionMapping c : device.collections()) {
                sb.append(' ').append(c.icid()).append(':').append(vcpu(c.targetVcpu()));
            }
            sb.append("; devices");
            for (DeviceMapping d : device.devices()) {
                sb.append(' ').append(hex(d.deviceId())).append(":itt=").append(hex(d.itt()))
                        .append(",bits=").append(d.eventIdBits());
            }
            sb.append("; translations");
            for (Translation t : device.translations()) {
                sb.append(' ').append(hex(t.deviceId())).append('/').append(hex(t.eventId())).append(':')
                        .append(t.intid()).append(",icid=").append(t.icid() < 0 ? "-" : Integer.toString(t.icid()))
                        .append(',').append(vcpu(t.targetVcpu()));
                if (t.cached()) {
                    sb.append(",cached");
                }
            }
            sb.append("; lpis");
            for (LpiState l : vgic.lpiStates()) {
                sb.append(' ').append(l.intid()).append(':').append(vcpu(l.targetVcpu()))
                        .append(",prio=").append(hex(l.priority()));
                if (l.enabled()) {
                    sb.append(",en");
                }
                if (l.pending()) {
                    sb.append(",pend");
                }
            }
            sb.append("; pending");
            for (int id : vgic.redistributors().vcpuIds()) {
                sb.append(" v").append(id).append('=');
                long[] pending = vgic.pendingLpis(id);
                for (int i = 0; i < pending.length; i++) {
                    sb.append(i == 0 ? "" : ",").append(pending[i]);
                }
            }
            return sb.toString();
        }
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    private static String vcpu(long id) {
        return id < 0 ? "-" : "v" + id;
    }
}
