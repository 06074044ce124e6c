package dev.panavirt.machine.acpi;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads back the AML subset the DSDT uses, written independently of the encoder from ACPI 6.5 chapter 20: a term
 * list of Scope, Device and Name terms whose data are integers, strings and buffers. Anything else is an error,
 * so an encoder bug shows as a failed parse, not as a silently skipped byte.
 */
final class AmlReader {
    /** A decoded term: Scope and Device have children, Name has a value (Long, String or byte[]). */
    record Term(String kind, String name, List<Term> children, Object value) {
        Term child(String childName) {
            return children.stream().filter(t -> t.name.equals(childName)).findFirst()
                    .orElseThrow(() -> new AssertionError("no " + childName + " in " + name));
        }
    }

    /** A decoded PkgLength: the package length it states and how many bytes it took. */
    record PkgLength(int length, int bytes) {}

    private final byte[] aml;
    private int pos;

    private AmlReader(byte[] aml, int pos) {
        this.aml = aml;
        this.pos = pos;
    }

    /** Decodes a whole term list. */
    static List<Term> parse(byte[] aml, int from, int to) {
        AmlReader r = new AmlReader(aml, from);
        List<Term> terms = r.termList(to);
        if (r.pos != to) {
            throw new AssertionError("term list ran to " + r.pos + ", not " + to);
        }
        return terms;
    }

    /** Decodes one data term (an integer, string or buffer) that fills {@code aml} exactly. */
    static Object data(byte[] aml) {
        AmlReader r = new AmlReader(aml, 0);
        Object v = r.dataObject();
        if (r.pos != aml.length) {
            throw new AssertionError("data term took " + r.pos + " of " + aml.length + " bytes");
        }
        return v;
    }

    static PkgLength pkgLength(byte[] aml, int at) {
        int lead = aml[at] & 0xff;
        int follow = lead >>> 6;
        if (follow == 0) {
            return new PkgLength(lead & 0x3f, 1);
        }
        if ((lead & 0x30) != 0) {
            throw new AssertionError("PkgLength reserved bits 5-4 set: 0x" + Integer.toHexString(lead));
        }
        int length = lead & 0xf;
        for (int i = 1; i <= follow; i++) {
            length |= (aml[at + i] & 0xff) << (4 + 8 * (i - 1));
        }
        return new PkgLength(length, follow + 1);
    }

    private List<Term> termList(int end) {
        List<Term> out = new ArrayList<>();
        while (pos < end) {
            out.add(term());
        }
        return out;
    }

    private Term term() {
        int op = u8();
        if (op == 0x10) {
            int end = packageEnd();
            String name = nameString();
            return new Term("Scope", name, termList(end), null);
        }
        if (op == 0x5b && u8() == 0x82) {
            int end = packageEnd();
            String name = nameString();
            return new Term("Device", name, termList(end), null);
        }
        if (op == 0x08) {
            String name = nameString();
            return new Term("Name", name, List.of(), dataObject());
        }
        throw new AssertionError("unexpected AML opcode 0x" + Integer.toHexString(op) + " at " + (pos - 1));
    }

    /** Reads a PkgLength at the current position; returns where its package ends. */
    private int packageEnd() {
        int start = pos;
        PkgLength p = pkgLength(aml, pos);
        pos += p.bytes();
        int end = start + p.length();
        if (end > aml.length) {
            throw new AssertionError("package at " + start + " runs past the end");
        }
        return end;
    }

    private Object dataObject() {
        int op = u8();
        switch (op) {
            case 0x00: return 0L;
            case 0x01: return 1L;
            case 0xff: return -1L;
            case 0x0a: return le(1);
            case 0x0b: return le(2);
            case 0x0c: return le(4);
            case 0x0e: return le(8);
            case 0x0d: {
                int start = pos;
                while (aml[pos] != 0) {
                    pos++;
                }
                String s = new String(aml, start, pos - start, StandardCharsets.US_ASCII);
                pos++;
                return s;
            }
            case 0x11: {
                int end = packageEnd();
                long size = (Long) dataObject();
                byte[] bytes = Arrays.copyOfRange(aml, pos, end);
                if (bytes.length != size) {
                    throw new AssertionError("buffer says " + size + " bytes, holds " + bytes.length);
                }
                pos = end;
                return bytes;
            }
            default:
                throw new AssertionError("unexpected data opcode 0x" + Integer.toHexString(op) + " at " + (pos - 1));
        }
    }

    private String nameString() {
        StringBuilder sb = new StringBuilder();
        if (aml[pos] == '\\') {
            sb.append('\\');
            pos++;
        }
        int segs = 1;
        if (aml[pos] == 0x2e) {
            segs = 2;
            pos++;
        } else if (aml[pos] == 0x2f) {
            segs = aml[pos + 1] & 0xff;
            pos += 2;
        }
        for (int i = 0; i < segs; i++) {
            if (i > 0) {
                sb.append('.');
            }
            sb.append(new String(aml, pos, 4, StandardCharsets.US_ASCII));
            pos += 4;
        }
        return sb.toString();
    }

    private long le(int width) {
        long v = 0;
        for (int i = 0; i < width; i++) {
            v |= (long) (aml[pos + i] & 0xff) << (8 * i);
        }
        pos += width;
        return v;
    }

    private int u8() {
        return aml[pos++] & 0xff;
    }
}
