package dev.panavirt.replay.targets;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.base.HeapGuestRam;
import dev.panavirt.models.gicv3.ItsRegisters;
import dev.panavirt.models.gicv3.Redistributors;
import dev.panavirt.models.loongarch.EiointcRegisters;
import dev.panavirt.models.riscv.RiscvIsaExt;
import dev.panavirt.models.riscv.RiscvVectorRegisters;
import dev.panavirt.models.riscv.RiscvVectorUnit;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.replay.SessionTarget;
import dev.panavirt.replay.Symbols;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The targets a session script can drive, chosen by name, each with the symbolic names its scripts may use
 * (the uapi constants of its arch, its register offsets). Callers such as the command line name a target and
 * never see a model class.
 */
public final class SessionTargets {

    /**
     * The most vCPUs a session may have, the same for every target: the 256 that LoongArch's EIOINTC can route
     * to (its CPU-encoded COREMAP bytes), well within what the others accept.
     */
    public static final int MAX_VCPUS = 256;

    /** The RISC-V vector register size a session gets unless it asks for another (VLEN 128). */
    public static final int DEFAULT_VLENB = 16;

    private static final List<String> NAMES = List.of("its", "eiointc", "riscv-vector");

    private SessionTargets() {
    }

    /** The target names, in the order help texts list them. */
    public static List<String> names() {
        return NAMES;
    }

    /**
     * Options of a session target.
     *
     * @param vcpus vCPUs of the model, 1 to {@link #MAX_VCPUS}; empty for the target's default (4 for its and
     *              eiointc, 1 for riscv-vector)
     * @param vlenb RISC-V vector register bytes, a power of two from 4 to 8192 (used by riscv-vector only)
     * @param hostIsa the RISC-V host's ISA extensions (used by riscv-vector only; default
     *              {@link RiscvIsaExt#RV64GCV_HOST})
     */
    public record Options(OptionalInt vcpus, int vlenb, Set<RiscvIsaExt> hostIsa) {
        /**
         * Checks the options by the targets' own rules.
         *
         * @throws IllegalArgumentException naming the option and why it is refused
         */
        public Options {
            if (vcpus.isPresent() && (vcpus.getAsInt() < 1 || vcpus.getAsInt() > MAX_VCPUS)) {
                throw new IllegalArgumentException("vcpus must be between 1 and " + MAX_VCPUS + ", not "
                        + vcpus.getAsInt());
            }
            try {
                RiscvVectorUnit.Config.vlenb(vlenb);   // the model's own rule for vlenb
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("vlenb: " + e.getMessage(), e);
            }
            hostIsa = Set.copyOf(hostIsa);
        }

        /** The default RISC-V host ISA. */
        public Options(OptionalInt vcpus, int vlenb) {
            this(vcpus, vlenb, RiscvIsaExt.RV64GCV_HOST);
        }

        /** Defaults: each target's own vCPU count, {@link #DEFAULT_VLENB}, the RV64GC + H + V host. */
        public static Options defaults() {
            return new Options(OptionalInt.empty(), DEFAULT_VLENB);
        }

        /**
         * These options with the RISC-V host ISA named by {@code list}: extension names as the uapi spells them
         * after {@code KVM_RISCV_ISA_EXT_}, in any case, separated by commas ({@code "i,m,a,f,d,c,zicsr,zifencei"});
         * an empty list is a host with none.
         *
         * @throws IllegalArgumentException naming the first word that is no extension
         */
        public Options withHostIsa(String list) {
            EnumSet<RiscvIsaExt> isa = EnumSet.noneOf(RiscvIsaExt.class);
            for (String word : list.split(",")) {
                String w = word.strip();
                if (w.isEmpty()) {
                    continue;
                }
                try {
                    isa.add(RiscvIsaExt.ofName(w));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("host-isa: no RISC-V ISA extension named " + w, e);
                }
            }
            return new Options(vcpus, vlenb, isa);
        }

        private int vcpusOr(int fallback) {
            return vcpus.orElse(fallback);
        }
    }

    /**
     * A runner for a fresh target.
     *
     * @param name one of {@link #names()}
     * @param options the target's options
     * @return a runner over a new target and the symbols its scripts may use
     * @throws IllegalArgumentException if {@code name} is not a target
     * @throws ErrnoException if creating the device fails as the kernel would fail it
     */
    public static SessionRunner runner(String name, Options options) throws ErrnoException {
        return runner(name, options, UnaryOperator.identity());
    }

    /**
     * A runner for a fresh target that drives {@code wrap} applied to it (a {@link dev.panavirt.replay.remote.CallLog}
     * in front of the model, or a target answering for the kernel that takes the model's names), with the same
     * symbols as {@link #runner(String, Options)}.
     *
     * @throws IllegalArgumentException if {@code name} is not a target
     * @throws ErrnoException if creating the device fails as the kernel would fail it
     */
    public static SessionRunner runner(String name, Options options, UnaryOperator<SessionTarget> wrap)
            throws ErrnoException {
        return switch (name) {
            case "its" -> {
                SessionTarget t = ItsSessionTarget.create(new HeapGuestRam(ItsSessionTarget.DEFAULT_RAM_BASE,
                        ItsSessionTarget.DEFAULT_RAM_SIZE), options.vcpusOr(ItsSessionTarget.DEFAULT_VCPUS));
                yield new SessionRunner(wrap.apply(t), Symbols.of(Map.of(), dev.panavirt.bindings.kvm.arm64.kvm_h.class,
                        ItsRegisters.class, Redistributors.class));
            }
            case "eiointc" -> {
                Map<String, Long> names = new HashMap<>();
                for (EiointcRegisters.Register r : EiointcRegisters.Register.values()) {
                    names.put(r.name(), EiointcRegisters.EIOINTC_BASE + r.start());
                }
                names.put("VIRT_FEATURES", EiointcRegisters.VIRT_BASE + EiointcRegisters.VIRT_FEATURES);
                names.put("VIRT_CONFIG", EiointcRegisters.VIRT_BASE + EiointcRegisters.VIRT_CONFIG);
                SessionTarget t = EiointcSessionTarget.create(options.vcpusOr(4));
                yield new SessionRunner(wrap.apply(t), Symbols.of(names, dev.panavirt.bindings.kvm.loongarch64.kvm_h.class,
                        EiointcRegisters.class));
            }
            case "riscv-vector" -> {
                SessionTarget t = new RiscvVectorSessionTarget(options.vcpusOr(1),
                        RiscvVectorUnit.Config.vlenb(options.vlenb()).withHostIsa(options.hostIsa()));
                yield new SessionRunner(wrap.apply(t), Symbols.of(Map.of(), dev.panavirt.bindings.kvm.riscv64.kvm_h.class,
                        RiscvVectorRegisters.class));
            }
            default -> throw new IllegalArgumentException("no session target named " + name + "; expected one of "
                    + String.join(", ", NAMES));
        };
    }
}
