package dev.panavirt.vmm.legacy;

import dev.panavirt.vmm.BusData;
import dev.panavirt.vmm.BusDevice;
import dev.panavirt.vmm.DeviceState;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * QEMU's firmware configuration device ({@code fw_cfg}) through its traditional port interface, which test
 * kernels (kvm-unit-tests among them) read at start-up for the CPU count and the RAM size.
 *
 * <p>Insert it on the port bus at {@link #SELECTOR_PORT} with size {@link #PORT_COUNT}. A 16-bit write to the
 * selector port chooses an item and rewinds it; each byte read from the data port ({@link #DATA_PORT}) returns
 * the item's next byte, and 0 past its end or for an item that does not exist. A wider read of the data port
 * returns that many consecutive bytes. Reads of the selector port return 0; writes to the data port and byte
 * writes to the selector are ignored (QEMU dropped writable items, and 8-bit selects are not part of the
 * interface). Numbers are little-endian, as QEMU stores them.
 *
 * <p>Items of a machine ({@link #forMachine}): the signature "QEMU" (0x00), the interface ID 1 (0x01: the port
 * interface only, no DMA), an all-zero UUID (0x02), the RAM size in bytes as 64 bits (0x03), "no graphics" 1
 * (0x04), the CPU count as 16 bits (0x05), machine ID 0 (0x06), boot menu 0 (0x0e), the maximum CPU count as 16
 * bits (0x0f, equal to the CPU count: there is no CPU hot-plug), and an empty file directory (0x19); a machine with
 * the in-kernel irqchip adds {@link #IRQ0_OVERRIDE} = 1, as QEMU does. There is no
 * DMA interface, no named file (so no ACPI tables, SMBIOS or e820 table through fw_cfg), and no kernel items:
 * panavirt loads the kernel itself.
 *
 * <p>The selection and read position are shared by all vCPUs, as on the real device (guests serialise access
 * with a lock); accesses are synchronised so the state stays consistent.
 */
public final class FwCfg implements BusDevice, DeviceState {
    /** The selector port; also the base the device is inserted at. */
    public static final int SELECTOR_PORT = 0x510;
    /** The data port. */
    public static final int DATA_PORT = 0x511;
    /** Ports the device spans. */
    public static final int PORT_COUNT = 2;

    /** Item keys, as QEMU numbers them. */
    public static final int SIGNATURE = 0x00, ID = 0x01, UUID = 0x02, RAM_SIZE = 0x03, NOGRAPHIC = 0x04,
            NB_CPUS = 0x05, MACHINE_ID = 0x06, BOOT_MENU = 0x0e, MAX_CPUS = 0x0f, FILE_DIR = 0x19;
    /** x86 item: 1 when the PIT (IRQ 0) is wired to IOAPIC pin 2; a machine with the in-kernel irqchip sets it. */
    public static final int IRQ0_OVERRIDE = 0x8002;
    /** The ID item's bit for the traditional (port) interface. */
    public static final int ID_TRADITIONAL = 1;

    /** The largest item a saved state may hold: 64 MiB. */
    static final int MAX_ITEM = 64 << 20;

    private final Map<Integer, byte[]> items = new ConcurrentHashMap<>();
    private int selected = -1;
    private int position;

    /** A device with no items. */
    public FwCfg() {}

    /** The items QEMU gives a PC with this much RAM and this many CPUs (see the class comment). */
    public static FwCfg forMachine(long ramSize, int cpus) {
        FwCfg f = new FwCfg();
        f.put(SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII));
        f.putInt(ID, ID_TRADITIONAL);
        f.put(UUID, new byte[16]);
        f.putLong(RAM_SIZE, ramSize);
        f.putShort(NOGRAPHIC, 1);
        f.putShort(NB_CPUS, cpus);
        f.putInt(MACHINE_ID, 0);
        f.putShort(BOOT_MENU, 0);
        f.putShort(MAX_CPUS, cpus);
        f.put(FILE_DIR, new byte[4]);   // a big-endian count of 0 files
        return f;
    }

    /** Sets item {@code key} (0 to 0xffff) to a copy of {@code bytes}. */
    public void put(int key, byte[] bytes) {
        if (key < 0 || key > 0xffff) {
            throw new IllegalArgumentException("fw_cfg keys are 16-bit: " + key);
        }
        items.put(key, bytes.clone());
    }

    /** Sets item {@code key} to a 16-bit little-endian number. */
    public void putShort(int key, int value) {
        put(key, ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) value).array());
    }

    /** Sets item {@code key} to a 32-bit little-endian number. */
    public void putInt(int key, int value) {
        put(key, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
    }

    /** Sets item {@code key} to a 64-bit little-endian number. */
    public void putLong(int key, long value) {
        put(key, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array());
    }

    /** A copy of item {@code key}, or null. */
    public byte[] get(int key) {
        byte[] b = items.get(key);
        return b == null ? null : b.clone();
    }

    @Override
    public synchronized void write(long base, long offset, MemorySegment data) {
        if (offset == 0 && data.byteSize() == 2) {
            selected = (int) BusData.get(data);
            position = 0;
        }
    }

    @Override
    public synchronized void read(long base, long offset, MemorySegment data) {
        if (offset != 1) {
            return;
        }
        byte[] item = items.get(selected);
        for (int i = 0; i < data.byteSize(); i++) {
            byte b = 0;
            if (item != null && position < item.length) {
                b = item[position++];
            }
            data.set(ValueLayout.JAVA_BYTE, i, b);
        }
    }

    /** Saves the selected item, the read position in it, and every item (they are the guest's to read). */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        out.writeInt(selected);
        out.writeInt(position);
        out.writeInt(items.size());
        for (var e : new java.util.TreeMap<>(items).entrySet()) {
            out.writeShort(e.getKey());
            out.writeInt(e.getValue().length);
            out.write(e.getValue());
        }
    }

    @Override
    public synchronized void loadState(DataInput in) throws IOException {
        int sel = in.readInt(), pos = DeviceState.checked("fw_cfg position", in.readInt(), 0, Integer.MAX_VALUE);
        int n = DeviceState.checked("fw_cfg item count", in.readInt(), 0, 0x1_0000);
        Map<Integer, byte[]> loaded = new java.util.HashMap<>();
        for (int i = 0; i < n; i++) {
            int key = in.readUnsignedShort();
            byte[] b = new byte[DeviceState.checked("fw_cfg item length", in.readInt(), 0, MAX_ITEM)];
            in.readFully(b);
            loaded.put(key, b);
        }
        items.clear();
        items.putAll(loaded);
        selected = sel;
        position = pos;
    }
}
