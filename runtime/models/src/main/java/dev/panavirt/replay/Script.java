package dev.panavirt.replay;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A parsed device session script: one operation per line, in the spirit of QEMU's qtest protocol.
 *
 * <pre>
 * # comment                                 blank lines and comments are skipped
 * write ADDR WIDTH VALUE                    guest register write (MMIO offset or IOCSR address)
 * read ADDR WIDTH                           guest register read
 * read-gpr ADDR WIDTH                       the same read as the guest's register holds it (LoongArch: sign-extended)
 * mem-write GPA WIDTH VALUE                 guest memory write of 1, 2, 4 or 8 bytes
 * mem-read GPA WIDTH                        guest memory read
 * attr-set GROUP ATTR VALUE [SIZE]          KVM_SET_DEVICE_ATTR (SIZE 4 or 8, default 8)
 * attr-get GROUP ATTR [SIZE]                KVM_GET_DEVICE_ATTR
 * attr-has GROUP ATTR                       KVM_HAS_DEVICE_ATTR (1 or 0)
 * reg-set VCPU ID VALUE                     KVM_SET_ONE_REG (VALUE a number, or bytes:HEX in memory order)
 * reg-get VCPU ID                           KVM_GET_ONE_REG
 * reg-list VCPU N                           KVM_GET_REG_LIST with room for N ids ("COUNT: ID ID ..." or E2BIG)
 * irq LINE LEVEL                            raise (1) or lower (0) an input line
 * msi ADDRESS DATA [DEVID]                  KVM_SIGNAL_MSI-style injection (without DEVID: no KVM_MSI_VALID_DEVID)
 * vcpu-load VCPU / vcpu-put VCPU            the vCPU is scheduled in / out
 * vcpu-reset VCPU                           KVM's reset of the vCPU
 * vector-exec VCPU                          the guest executes a vector instruction (ran, or trapped)
 * create-device                             a further KVM_CREATE_DEVICE of the device's type on the same VM
 * state                                     the device's observable state
 * ext ID                                    VFIO_CHECK_EXTENSION (1 or 0)
 * iommu-info                                VFIO_IOMMU_GET_INFO as text
 * dma-map IOVA SIZE BUF ACCESS              VFIO_IOMMU_MAP_DMA of the host buffer at offset BUF (ACCESS r, w, rw)
 * dma-unmap IOVA SIZE                       VFIO_IOMMU_UNMAP_DMA (the bytes unmapped)
 * dma-unmap-all                             ... with VFIO_DMA_UNMAP_FLAG_ALL
 * dma-unmap-dirty IOVA SIZE PGSIZE BYTES    ... with the dirty bitmap (the bytes unmapped, then the bitmap)
 * dirty-start / dirty-stop                  VFIO_IOMMU_DIRTY_PAGES START / STOP
 * dirty-get IOVA SIZE PGSIZE BYTES          VFIO_IOMMU_DIRTY_PAGES GET_BITMAP (a BYTES-byte bitmap)
 * region-read REGION OFFSET WIDTH           device region read (BAR, config space)
 * region-write REGION OFFSET WIDTH VALUE    device region write
 * region-poll REGION OFFSET WIDTH MASK VALUE MILLIS
 *                                           reads until (value &amp; MASK) == VALUE, at most MILLIS ms
 * mem-fill OFF LEN BYTE                     LEN bytes of memory set to BYTE
 * mem-load OFF bytes:HEX                    bytes written to memory as given
 * mem-dump OFF LEN                          LEN bytes of memory (bytes:HEX)
 * vdpa-id                                   VHOST_VDPA_GET_DEVICE_ID (1 net, 2 block)
 * status / set-status S                     VHOST_VDPA_GET_STATUS / _SET_STATUS
 * features / set-features F                 VHOST_GET_FEATURES / VHOST_SET_FEATURES
 * backend-features / set-backend-features F VHOST_GET_BACKEND_FEATURES / _SET_
 * config-size                               VHOST_VDPA_GET_CONFIG_SIZE
 * config-read OFF LEN                       VHOST_VDPA_GET_CONFIG (bytes:HEX)
 * config-write OFF bytes:HEX                VHOST_VDPA_SET_CONFIG
 * vq-count / group-count / as-count         VHOST_VDPA_GET_VQS_COUNT / _GET_GROUP_NUM / _GET_AS_NUM
 * vring-num-max                             VHOST_VDPA_GET_VRING_NUM
 * iova-range                                VHOST_VDPA_GET_IOVA_RANGE (FIRST-LAST)
 * suspend / resume                          VHOST_VDPA_SUSPEND / _RESUME
 * set-owner                                 VHOST_SET_OWNER
 * vring-num Q N                             VHOST_SET_VRING_NUM
 * vring-addr Q DESC AVAIL USED              VHOST_SET_VRING_ADDR (IOVAs)
 * vring-base Q N / get-vring-base Q         VHOST_SET_VRING_BASE / VHOST_GET_VRING_BASE
 * vring-enable Q 0|1                        VHOST_VDPA_SET_VRING_ENABLE
 * vring-group Q / vring-desc-group Q        VHOST_VDPA_GET_VRING_GROUP / _GET_VRING_DESC_GROUP
 * vring-size Q                              VHOST_VDPA_GET_VRING_SIZE
 * group-asid G A                            VHOST_VDPA_SET_GROUP_ASID
 * iotlb-update ASID IOVA SIZE BUF r|w|rw    IOTLB UPDATE of the host buffer at offset BUF
 * iotlb-invalidate ASID IOVA SIZE           IOTLB INVALIDATE
 * iotlb-batch-begin ASID / iotlb-batch-end ASID
 *                                           IOTLB BATCH_BEGIN / BATCH_END
 * iotlb-raw LEN KIND ASID TYPE IOVA SIZE BUF PERM
 *                                           the first LEN bytes of a vhost_msg (KIND 1) or vhost_msg_v2 (2)
 *                                           written as they are (the byte count the write answers)
 * bind-eventfds Q                           VHOST_SET_VRING_KICK and _CALL with the session's eventfds of Q
 * kick Q                                    signals Q's kick eventfd
 * wait-call Q MILLIS                        waits for Q's call eventfd and clears it (ok, or timeout)
 * </pre>
 * For VFIO and vDPA targets the {@code mem-*} operations address the host buffer that {@code dma-map} and
 * {@code iotlb-update} map slices of (BUF is an offset into it).
 *
 * Any line may end with {@code expect RESULT}: a number, {@code bytes:HEX}, {@code ok}, an errno name
 * such as {@code EINVAL}, or for {@code state} the exact text in double quotes. Numbers are decimal or
 * {@code 0x} hex, or a name the device knows ({@link SessionTarget#symbol}), optionally {@code NAME+N}.
 */
public final class Script {
    /** One operation: its line number, the op word, the arguments, and the expectation if any. */
    public record Op(int line, String verb, List<String> args, String expect, String text) {}

    /** A script line that cannot be parsed. */
    public static final class ScriptException extends Exception {
        private static final long serialVersionUID = 1L;

        public ScriptException(int line, String message) {
            super("line " + line + ": " + message);
        }
    }

    private static final java.util.Map<String, int[]> ARITY = java.util.Map.ofEntries(
            java.util.Map.entry("write", new int[] {3, 3}), java.util.Map.entry("read", new int[] {2, 2}),
            java.util.Map.entry("read-gpr", new int[] {2, 2}), java.util.Map.entry("reg-list", new int[] {2, 2}),
            java.util.Map.entry("vcpu-reset", new int[] {1, 1}), java.util.Map.entry("vector-exec", new int[] {1, 1}),
            java.util.Map.entry("create-device", new int[] {0, 0}),
            java.util.Map.entry("mem-write", new int[] {3, 3}), java.util.Map.entry("mem-read", new int[] {2, 2}),
            java.util.Map.entry("attr-set", new int[] {3, 4}), java.util.Map.entry("attr-get", new int[] {2, 3}),
            java.util.Map.entry("attr-has", new int[] {2, 2}), java.util.Map.entry("reg-set", new int[] {3, 3}),
            java.util.Map.entry("reg-get", new int[] {2, 2}), java.util.Map.entry("irq", new int[] {2, 2}),
            java.util.Map.entry("msi", new int[] {2, 3}), java.util.Map.entry("vcpu-load", new int[] {1, 1}),
            java.util.Map.entry("vcpu-put", new int[] {1, 1}), java.util.Map.entry("state", new int[] {0, 0}),
            java.util.Map.entry("ext", new int[] {1, 1}), java.util.Map.entry("iommu-info", new int[] {0, 0}),
            java.util.Map.entry("dma-map", new int[] {4, 4}), java.util.Map.entry("dma-unmap", new int[] {2, 2}),
            java.util.Map.entry("dma-unmap-all", new int[] {0, 0}),
            java.util.Map.entry("dma-unmap-dirty", new int[] {4, 4}),
            java.util.Map.entry("dirty-start", new int[] {0, 0}), java.util.Map.entry("dirty-stop", new int[] {0, 0}),
            java.util.Map.entry("dirty-get", new int[] {4, 4}), java.util.Map.entry("region-read", new int[] {3, 3}),
            java.util.Map.entry("region-write", new int[] {4, 4}),
            java.util.Map.entry("region-poll", new int[] {6, 6}),
            java.util.Map.entry("mem-fill", new int[] {3, 3}), java.util.Map.entry("mem-load", new int[] {2, 2}),
            java.util.Map.entry("mem-dump", new int[] {2, 2}), java.util.Map.entry("vdpa-id", new int[] {0, 0}),
            java.util.Map.entry("status", new int[] {0, 0}), java.util.Map.entry("set-status", new int[] {1, 1}),
            java.util.Map.entry("features", new int[] {0, 0}), java.util.Map.entry("set-features", new int[] {1, 1}),
            java.util.Map.entry("backend-features", new int[] {0, 0}),
            java.util.Map.entry("set-backend-features", new int[] {1, 1}),
            java.util.Map.entry("config-size", new int[] {0, 0}), java.util.Map.entry("config-read", new int[] {2, 2}),
            java.util.Map.entry("config-write", new int[] {2, 2}), java.util.Map.entry("vq-count", new int[] {0, 0}),
            java.util.Map.entry("group-count", new int[] {0, 0}), java.util.Map.entry("as-count", new int[] {0, 0}),
            java.util.Map.entry("vring-num-max", new int[] {0, 0}), java.util.Map.entry("iova-range", new int[] {0, 0}),
            java.util.Map.entry("suspend", new int[] {0, 0}), java.util.Map.entry("resume", new int[] {0, 0}),
            java.util.Map.entry("set-owner", new int[] {0, 0}), java.util.Map.entry("vring-num", new int[] {2, 2}),
            java.util.Map.entry("vring-addr", new int[] {4, 4}), java.util.Map.entry("vring-base", new int[] {2, 2}),
            java.util.Map.entry("get-vring-base", new int[] {1, 1}), java.util.Map.entry("vring-enable", new int[] {2, 2}),
            java.util.Map.entry("vring-group", new int[] {1, 1}), java.util.Map.entry("vring-desc-group", new int[] {1, 1}),
            java.util.Map.entry("vring-size", new int[] {1, 1}), java.util.Map.entry("group-asid", new int[] {2, 2}),
            java.util.Map.entry("iotlb-update", new int[] {5, 5}), java.util.Map.entry("iotlb-invalidate", new int[] {3, 3}),
            java.util.Map.entry("iotlb-batch-begin", new int[] {1, 1}),
            java.util.Map.entry("iotlb-batch-end", new int[] {1, 1}), java.util.Map.entry("iotlb-raw", new int[] {8, 8}),
            java.util.Map.entry("bind-eventfds", new int[] {1, 1}), java.util.Map.entry("kick", new int[] {1, 1}),
            java.util.Map.entry("wait-call", new int[] {2, 2}));

    private final List<Op> ops;

    private Script(List<Op> ops) {
        this.ops = List.copyOf(ops);
    }

    /** The operations in order. */
    public List<Op> ops() {
        return ops;
    }

    /** The same operations with no expectations: a run goes on to the last operation whatever the results. */
    public Script withoutExpectations() {
        List<Op> plain = new ArrayList<>(ops.size());
        for (Op op : ops) {
            plain.add(new Op(op.line(), op.verb(), op.args(), null, op.text()));
        }
        return new Script(plain);
    }

    /** Parses script text; the first malformed line is reported with its number. */
    public static Script parse(String text) throws ScriptException {
        List<Op> ops = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            int no = i + 1;
            String line = lines[i].strip();
            int hash = line.indexOf('#');
            if (hash >= 0 && !inQuotes(line, hash)) {
                line = line.substring(0, hash).strip();
            }
            if (line.isEmpty()) {
                continue;
            }
            String expect = null;
            int at = indexOfExpect(line);
            String body = line;
            if (at >= 0) {
                expect = line.substring(at + " expect ".length()).strip();
                body = line.substring(0, at).strip();
                if (expect.isEmpty()) {
                    throw new ScriptException(no, "'expect' needs a result");
                }
            }
            String[] words = body.split("\\s+");
            String verb = words[0].toLowerCase(Locale.ROOT);
            int[] arity = ARITY.get(verb);
            if (arity == null) {
                throw new ScriptException(no, "unknown operation '" + words[0] + "'");
            }
            int n = words.length - 1;
            if (n < arity[0] || n > arity[1]) {
                throw new ScriptException(no, verb + " takes " + (arity[0] == arity[1] ? arity[0]
                        : arity[0] + " to " + arity[1]) + " arguments, got " + n);
            }
            ops.add(new Op(no, verb, List.of(words).subList(1, words.length), expect, line));
        }
        return new Script(ops);
    }

    private static int indexOfExpect(String line) {
        int at = line.indexOf(" expect ");
        return at >= 0 && !inQuotes(line, at) ? at : -1;
    }

    private static boolean inQuotes(String s, int index) {
        int quotes = 0;
        for (int i = 0; i < index; i++) {
            if (s.charAt(i) == '"') {
                quotes++;
            }
        }
        return quotes % 2 == 1;
    }
}
