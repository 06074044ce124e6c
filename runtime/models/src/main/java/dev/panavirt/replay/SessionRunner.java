package dev.panavirt.replay;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * Runs a {@link Script} against a {@link SessionTarget}: one deterministic result line per operation
 * ({@code L<line> <op> -> <result>}: a hex value, {@code bytes:HEX}, {@code ok}, or an errno name), and
 * stops at the first unmet expectation, naming its line.
 */
public final class SessionRunner {
    /** The outcome: every result line, and the first unmet expectation (null when all were met). */
    public record Outcome(List<String> lines, String failure) {
        public boolean passed() {
            return failure == null;
        }
    }

    private final SessionTarget target;
    private final Symbols symbols;

    /** A runner using only the names the target itself knows. */
    public SessionRunner(SessionTarget target) {
        this(target, Symbols.none());
    }

    /** A runner that also resolves {@code symbols} (after the target's own names). */
    public SessionRunner(SessionTarget target, Symbols symbols) {
        this.target = target;
        this.symbols = symbols;
    }

    /** Runs every operation in order; stops after the first unmet expectation. */
    public Outcome run(Script script) {
        List<String> out = new ArrayList<>();
        for (Script.Op op : script.ops()) {
            String result;
            try {
                result = execute(op);
            } catch (ErrnoException e) {
                result = Errno.name(e.errno());
            } catch (UnsupportedOperationException e) {
                result = "unsupported";
            } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
                result = "error: " + e.getMessage();
            }
            out.add("L" + op.line() + " " + op.text().replaceFirst("\\s+expect\\s+.*$", "") + " -> " + result);
            if (op.expect() != null && !matches(op.expect(), result)) {
                String failure = "line " + op.line() + ": expected " + op.expect() + ", got " + result;
                out.add("FAIL " + failure);
                return new Outcome(out, failure);
            }
        }
        return new Outcome(out, null);
    }

    private String execute(Script.Op op) throws ErrnoException {
        List<String> a = op.args();
        return switch (op.verb()) {
            case "write" -> {
                target.write(num(a.get(0)), width(a.get(1)), num(a.get(2)));
                yield "ok";
            }
            case "read" -> hex(target.read(num(a.get(0)), width(a.get(1))));
            case "read-gpr" -> hex(target.readAsGpr(num(a.get(0)), width(a.get(1))));
            case "mem-write" -> {
                int w = width(a.get(1));
                target.memWrite(num(a.get(0)), le(num(a.get(2)), w));
                yield "ok";
            }
            case "mem-read" -> {
                int w = width(a.get(1));
                yield hex(fromLe(target.memRead(num(a.get(0)), w)));
            }
            case "attr-set" -> {
                target.setAttr((int) num(a.get(0)), num(a.get(1)), num(a.get(2)), a.size() > 3 ? size(a.get(3)) : 8);
                yield "ok";
            }
            case "attr-get" -> hex(target.getAttr((int) num(a.get(0)), num(a.get(1)), a.size() > 2 ? size(a.get(2)) : 8));
            case "attr-has" -> target.hasAttr((int) num(a.get(0)), num(a.get(1))) ? "1" : "0";
            case "reg-set" -> {
                long id = num(a.get(1));
                target.setOneReg((int) num(a.get(0)), id, value(a.get(2), id));
                yield "ok";
            }
            case "reg-get" -> {
                byte[] v = target.getOneReg((int) num(a.get(0)), num(a.get(1)));
                yield v.length <= 8 ? hex(fromLe(v)) : "bytes:" + HexFormat.of().formatHex(v);
            }
            case "irq" -> {
                target.setIrq((int) num(a.get(0)), num(a.get(1)) != 0);
                yield "ok";
            }
            case "msi" -> Integer.toString(a.size() < 3
                    ? target.signalMsiWithoutDevid(num(a.get(0)), (int) num(a.get(1)))
                    : target.signalMsi(num(a.get(0)), (int) num(a.get(1)), (int) num(a.get(2))));
            case "reg-list" -> regList(target.regList((int) num(a.get(0)), count(a.get(1))));
            case "vcpu-reset" -> {
                target.vcpuReset((int) num(a.get(0)));
                yield "ok";
            }
            case "vector-exec" -> target.guestVectorInstruction((int) num(a.get(0))) ? "ran" : "trapped";
            case "create-device" -> {
                target.createDevice();
                yield "ok";
            }
            case "vcpu-load" -> {
                target.vcpuLoad((int) num(a.get(0)));
                yield "ok";
            }
            case "vcpu-put" -> {
                target.vcpuPut((int) num(a.get(0)));
                yield "ok";
            }
            case "state" -> "\"" + target.state() + "\"";
            case "ext" -> Integer.toString(target.checkExtension((int) num(a.get(0))));
            case "iommu-info" -> "\"" + target.iommuInfo() + "\"";
            case "dma-map" -> {
                target.dmaMap(num(a.get(0)), num(a.get(1)), num(a.get(2)), access(a.get(3)));
                yield "ok";
            }
            case "dma-unmap" -> hex(target.dmaUnmap(num(a.get(0)), num(a.get(1))));
            case "dma-unmap-all" -> hex(target.dmaUnmapAll());
            case "dma-unmap-dirty" -> {
                byte[] bitmap = new byte[bitmapBytes(a.get(3))];
                long unmapped = target.dmaUnmapDirty(num(a.get(0)), num(a.get(1)), num(a.get(2)), bitmap);
                yield "\"" + hex(unmapped) + " bytes:" + HexFormat.of().formatHex(bitmap) + "\"";
            }
            case "dirty-start" -> {
                target.dirtyTracking(true);
                yield "ok";
            }
            case "dirty-stop" -> {
                target.dirtyTracking(false);
                yield "ok";
            }
            case "dirty-get" -> {
                byte[] bitmap = new byte[bitmapBytes(a.get(3))];
                target.dirtyBitmap(num(a.get(0)), num(a.get(1)), num(a.get(2)), bitmap);
                yield "bytes:" + HexFormat.of().formatHex(bitmap);
            }
            case "region-read" -> hex(target.regionRead((int) num(a.get(0)), num(a.get(1)), width(a.get(2))));
            case "region-write" -> {
                target.regionWrite((int) num(a.get(0)), num(a.get(1)), width(a.get(2)), num(a.get(3)));
                yield "ok";
            }
            case "region-poll" -> poll((int) num(a.get(0)), num(a.get(1)), width(a.get(2)), num(a.get(3)),
                    num(a.get(4)), num(a.get(5)));
            case "mem-fill" -> {
                long n = num(a.get(1));
                if (n < 0 || n > MAX_MEM_BYTES) {
                    throw new IllegalArgumentException("mem-fill length must be 0 to " + MAX_MEM_BYTES + ": " + a.get(1));
                }
                byte[] b = new byte[(int) n];
                java.util.Arrays.fill(b, (byte) num(a.get(2)));
                target.memWrite(num(a.get(0)), b);
                yield "ok";
            }
            case "mem-load" -> {
                target.memWrite(num(a.get(0)), bytes(a.get(1)));
                yield "ok";
            }
            case "mem-dump" -> "bytes:" + HexFormat.of().formatHex(target.memRead(num(a.get(0)), length(a.get(1))));
            case "vdpa-id" -> hex(target.vdpaDeviceId());
            case "status" -> hex(target.deviceStatus());
            case "set-status" -> {
                target.setDeviceStatus((int) num(a.get(0)));
                yield "ok";
            }
            case "features" -> hex(target.features());
            case "set-features" -> {
                target.setFeatures(num(a.get(0)));
                yield "ok";
            }
            case "backend-features" -> hex(target.backendFeatures());
            case "set-backend-features" -> {
                target.setBackendFeatures(num(a.get(0)));
                yield "ok";
            }
            case "config-size" -> hex(target.configSize());
            case "config-read" -> "bytes:" + HexFormat.of().formatHex(
                    target.configRead((int) num(a.get(0)), length(a.get(1))));
            case "config-write" -> {
                target.configWrite((int) num(a.get(0)), bytes(a.get(1)));
                yield "ok";
            }
            case "vq-count" -> hex(target.virtqueueCount());
            case "group-count" -> hex(target.groupCount());
            case "as-count" -> hex(target.addressSpaceCount());
            case "vring-num-max" -> hex(target.vringNumMax());
            case "iova-range" -> {
                long[] r = target.iovaRange();
                yield hex(r[0]) + "-" + hex(r[1]);
            }
            case "suspend" -> {
                target.suspend();
                yield "ok";
            }
            case "resume" -> {
                target.resume();
                yield "ok";
            }
            case "set-owner" -> {
                target.setOwner();
                yield "ok";
            }
            case "vring-num" -> {
                target.setVringNum((int) num(a.get(0)), (int) num(a.get(1)));
                yield "ok";
            }
            case "vring-addr" -> {
                target.setVringAddr((int) num(a.get(0)), num(a.get(1)), num(a.get(2)), num(a.get(3)));
                yield "ok";
            }
            case "vring-base" -> {
                target.setVringBase((int) num(a.get(0)), (int) num(a.get(1)));
                yield "ok";
            }
            case "get-vring-base" -> hex(Integer.toUnsignedLong(target.vringBase((int) num(a.get(0)))));
            case "vring-enable" -> {
                target.setVringEnable((int) num(a.get(0)), num(a.get(1)) != 0);
                yield "ok";
            }
            case "vring-group" -> hex(target.vringGroup((int) num(a.get(0))));
            case "vring-desc-group" -> hex(target.vringDescGroup((int) num(a.get(0))));
            case "vring-size" -> hex(target.vringSize((int) num(a.get(0))));
            case "group-asid" -> {
                target.setGroupAsid((int) num(a.get(0)), (int) num(a.get(1)));
                yield "ok";
            }
            case "iotlb-update" -> {
                target.iotlbUpdate((int) num(a.get(0)), num(a.get(1)), num(a.get(2)), num(a.get(3)), access(a.get(4)));
                yield "ok";
            }
            case "iotlb-invalidate" -> {
                target.iotlbInvalidate((int) num(a.get(0)), num(a.get(1)), num(a.get(2)));
                yield "ok";
            }
            case "iotlb-batch-begin" -> {
                target.iotlbBatchBegin((int) num(a.get(0)));
                yield "ok";
            }
            case "iotlb-batch-end" -> {
                target.iotlbBatchEnd((int) num(a.get(0)));
                yield "ok";
            }
            case "iotlb-raw" -> {
                long len = num(a.get(0));
                if (len < 0 || len > 72) {
                    throw new IllegalArgumentException("iotlb-raw length must be 0 to 72: " + a.get(0));
                }
                yield Long.toString(target.iotlbRaw((int) len, (int) num(a.get(1)), (int) num(a.get(2)),
                        (int) num(a.get(3)), num(a.get(4)), num(a.get(5)), num(a.get(6)), access(a.get(7))));
            }
            case "bind-eventfds" -> {
                target.bindEventfds((int) num(a.get(0)));
                yield "ok";
            }
            case "kick" -> {
                target.kick((int) num(a.get(0)));
                yield "ok";
            }
            case "wait-call" -> {
                long millis = num(a.get(1));
                if (millis < 0 || millis > 60_000) {
                    throw new IllegalArgumentException("wait time must be 0 to 60000 ms: " + a.get(1));
                }
                yield target.waitCall((int) num(a.get(0)), (int) millis) ? "ok" : "timeout";
            }
            default -> throw new IllegalArgumentException("unknown operation " + op.verb());
        };
    }

    /** The most ids a {@code reg-list} may make room for. */
    static final int MAX_REG_LIST = 1 << 16;

    private int count(String s) {
        long n = num(s);
        if (n < 0 || n > MAX_REG_LIST) {
            throw new IllegalArgumentException("reg-list room must be 0 to " + MAX_REG_LIST + ": " + s);
        }
        return (int) n;
    }

    /** {@code "N: id id ..."}: how many ids, then each in hex. */
    private static String regList(long[] ids) {
        StringBuilder sb = new StringBuilder("\"").append(ids.length).append(':');
        for (long id : ids) {
            sb.append(' ').append(hex(id));
        }
        return sb.append('"').toString();
    }

    /** The largest bitmap a script may ask for: 1 MiB, 8 Mi pages (32 GiB of 4 KiB pages). */
    static final int MAX_BITMAP_BYTES = 1 << 20;

    private static int bitmapBytes(String s) {
        long n = parseNumber(s);
        if (n < 0 || n > MAX_BITMAP_BYTES) {
            throw new IllegalArgumentException("bitmap bytes must be 0 to " + MAX_BITMAP_BYTES + ": " + s);
        }
        return (int) n;
    }

    /** The most bytes one {@code mem-fill}, {@code mem-dump} or {@code config-read} handles: 1 MiB. */
    static final int MAX_MEM_BYTES = 1 << 20;

    private int length(String s) {
        long n = num(s);
        if (n < 0 || n > MAX_MEM_BYTES) {
            throw new IllegalArgumentException("length must be 0 to " + MAX_MEM_BYTES + ": " + s);
        }
        return (int) n;
    }

    private static byte[] bytes(String s) {
        if (!s.startsWith("bytes:")) {
            throw new IllegalArgumentException("expected bytes:HEX, got " + s);
        }
        return HexFormat.of().parseHex(s.substring(6));
    }

    private static int access(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "r" -> 1;
            case "w" -> 2;
            case "rw" -> 3;
            default -> (int) parseNumber(s);
        };
    }

    /** Reads until the masked value matches (a device finishing work in its own time, e.g. a DMA). */
    private String poll(int region, long offset, int width, long mask, long value, long millis) throws ErrnoException {
        if (millis < 0 || millis > 60_000) {
            throw new IllegalArgumentException("poll time must be 0 to 60000 ms: " + millis);
        }
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (true) {
            long v = target.regionRead(region, offset, width);
            if ((v & mask) == value) {
                return hex(v);
            }
            if (System.nanoTime() - deadline > 0) {
                return "timeout " + hex(v);
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "interrupted";
            }
        }
    }

    private static boolean matches(String expect, String result) {
        if (expect.equals(result) || expect.equalsIgnoreCase(result)) {
            return true;
        }
        if (result.startsWith("0x") || result.matches("-?\\d+")) {
            try {
                return parseNumber(expect) == parseNumber(result);
            } catch (NumberFormatException e) {
                return false;
            }
        }
        return false;
    }

    /** A number: decimal, 0x hex, or a symbol the device knows, optionally SYMBOL+N. */
    long num(String s) {
        try {
            return parseNumber(s);
        } catch (NumberFormatException e) {
            int plus = s.indexOf('+');
            String name = plus > 0 ? s.substring(0, plus) : s;
            OptionalLong v = target.symbol(name);
            if (v.isEmpty()) {
                v = symbols.get(name);
            }
            if (v.isEmpty()) {
                throw new IllegalArgumentException("not a number or a name " + target.name() + " knows: " + s);
            }
            return v.getAsLong() + (plus > 0 ? parseNumber(s.substring(plus + 1)) : 0);
        }
    }

    private static long parseNumber(String s) {
        String t = s.toLowerCase(Locale.ROOT).replace("_", "");
        boolean neg = t.startsWith("-");
        if (neg) {
            t = t.substring(1);
        }
        long v = t.startsWith("0x") ? Long.parseUnsignedLong(t.substring(2), 16) : Long.parseUnsignedLong(t);
        return neg ? -v : v;
    }

    private static int width(String s) {
        int w = Integer.parseInt(s);
        if (w != 1 && w != 2 && w != 4 && w != 8) {
            throw new IllegalArgumentException("width must be 1, 2, 4 or 8: " + s);
        }
        return w;
    }

    private static int size(String s) {
        int w = Integer.parseInt(s);
        if (w != 4 && w != 8) {
            throw new IllegalArgumentException("attribute size must be 4 or 8: " + s);
        }
        return w;
    }

    /** A ONE_REG value: bytes:HEX as given, or a number in the id's size (little-endian). */
    private byte[] value(String s, long id) {
        if (s.startsWith("bytes:")) {
            return HexFormat.of().parseHex(s.substring(6));
        }
        int size = 1 << (int) ((id >>> 52) & 0xf);
        return le(num(s), Math.min(size, 8));
    }

    private static byte[] le(long v, int width) {
        byte[] b = new byte[width];
        for (int i = 0; i < width; i++) {
            b[i] = (byte) (v >>> (8 * i));
        }
        return b;
    }

    private static long fromLe(byte[] b) {
        long v = 0;
        for (int i = 0; i < Math.min(8, b.length); i++) {
            v |= (b[i] & 0xffL) << (8 * i);
        }
        return v;
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
