package dev.panavirt.vmm.pci;

import dev.panavirt.vmm.Bus;
import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.DeviceState;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * A minimal PCI host bridge: bus 0 behind configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2),
 * the 32-bit address register at port {@value #ADDRESS_PORT} and the data window at {@value #DATA_PORT}-0xcff, as
 * QEMU's i440FX ({@code hw/pci-host/i440fx.c}, {@code pci_host_conf_le_ops} and {@code pci_host_data_le_ops} of
 * hw/pci/pci_host.c). The bridge itself is function 00.0 with the i440FX's identity (8086:1237, class 0600),
 * which is where kvm-unit-tests' {@code lib/x86} PCI scan starts.
 *
 * <p>The address register latches only 32-bit writes (a narrower access to 0xcf8-0xcfb is not the address
 * register; on the i440FX 0xcf9 is the reset control register, not modelled). A data access goes to the function
 * and register the latched address names when its enable bit (31) is set, offset by the port's low two bits;
 * functions that are not there, other buses, and accesses with the enable bit clear read all ones and ignore
 * writes.
 */
public final class PciHostBridge implements DeviceState {
    /** The configuration address register. */
    public static final int ADDRESS_PORT = 0xcf8;
    /** The configuration data window (4 ports). */
    public static final int DATA_PORT = 0xcfc;

    private final PciFunction[] functions = new PciFunction[256];     // bus 0, by devfn
    private int address;

    /** A host bridge with the i440FX's identity at 00.0. */
    public PciHostBridge() {
        functions[0] = new PciFunction("host bridge", 0x8086, 0x1237, 0x02, 0x06_00_00);
    }

    /** Puts {@code function} at bus 0, {@code device}.{@code fn}. */
    public void add(int device, int fn, PciFunction function) {
        int devfn = device << 3 | fn;
        if (device < 0 || device > 31 || fn < 0 || fn > 7 || functions[devfn] != null) {
            throw new IllegalArgumentException("PCI slot 00:" + device + "." + fn + " is taken or invalid");
        }
        functions[devfn] = function;
    }

    /** Inserts the two registers into {@code pio}. */
    public void attach(Bus pio) {
        pio.insert(new BusDevice() {
            @Override
            public void read(long base, long offset, MemorySegment d) {
                if (offset == 0 && d.byteSize() == 4) {
                    synchronized (PciHostBridge.this) {
                        BusData.set(d, address);
                    }
                }
            }

            @Override
            public void write(long base, long offset, MemorySegment d) {
                if (offset == 0 && d.byteSize() == 4) {
                    synchronized (PciHostBridge.this) {
                        address = (int) BusData.get(d) & 0x80ff_fffc;
                    }
                }
            }
        }, ADDRESS_PORT, 4);
        pio.insert(new BusDevice() {
            @Override
            public void read(long base, long offset, MemorySegment d) {
                BusData.set(d, configRead((int) offset, (int) d.byteSize()));
            }

            @Override
            public void write(long base, long offset, MemorySegment d) {
                configWrite((int) offset, (int) d.byteSize(), (int) BusData.get(d));
            }
        }, DATA_PORT, 4);
    }

    /** A data-window read at port offset {@code offset} (0-3) of {@code width} bytes. */
    public int configRead(int offset, int width) {
        PciFunction f = selected();
        if (f == null || offset + width > 4) {
            return -1;
        }
        return f.read(currentRegister() + offset, width);
    }

    /** A data-window write. */
    public void configWrite(int offset, int width, int value) {
        PciFunction f = selected();
        if (f != null && offset + width <= 4) {
            f.write(currentRegister() + offset, width, value);
        }
    }

    private synchronized int currentRegister() {
        return address & 0xfc;
    }

    private synchronized PciFunction selected() {
        if (address >= 0 || ((address >>> 16) & 0xff) != 0) {
            return null;    // enable bit clear, or a bus other than 0
        }
        return functions[(address >>> 8) & 0xff];
    }

    /** Saves the configuration address register and the host bridge's own configuration space. */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        out.writeInt(address);
        functions[0].saveState(out);
    }

    /** Restores the address register and the host bridge's configuration space; other functions restore their own. */
    @Override
    public synchronized void loadState(DataInput in) throws IOException {
        int a = in.readInt();
        functions[0].loadState(in);
        address = a;
    }
}
