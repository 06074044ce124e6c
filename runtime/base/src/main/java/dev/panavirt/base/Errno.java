package dev.panavirt.base;

/**
 * Linux errno numbers (x86-64, arm64, riscv64 and loongarch64 share the generic table) and their names.
 *
 * <p>Only the numbers; messages come from {@link ErrnoException}.
 */
public final class Errno {
    private Errno() {}

    public static final int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7,
            ENOEXEC = 8, EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14,
            ENOTBLK = 15, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20, EISDIR = 21,
            EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOTTY = 25, ETXTBSY = 26, EFBIG = 27, ENOSPC = 28,
            ESPIPE = 29, EROFS = 30, EMLINK = 31, EPIPE = 32, EDOM = 33, ERANGE = 34, EDEADLK = 35,
            ENAMETOOLONG = 36, ENOLCK = 37, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, ENOMSG = 42,
            EIDRM = 43, ENODATA = 61, ETIME = 62, ENOLINK = 67, EPROTO = 71, EBADMSG = 74,
            EOVERFLOW = 75, EILSEQ = 84, ENOTSOCK = 88, EMSGSIZE = 90, ENOPROTOOPT = 92,
            EOPNOTSUPP = 95, EADDRINUSE = 98, ENOBUFS = 105, ETIMEDOUT = 110, EALREADY = 114,
            EINPROGRESS = 115, ECANCELED = 125, EOWNERDEAD = 130, ERFKILL = 132, EHWPOISON = 133,
            // Kernel-internal codes that can leak to user space from some drivers.
            ERESTARTSYS = 512, ENOIOCTLCMD = 515, ENOTSUPP = 524;

    private static final String[] NAMES = new String[134];

    static {
        String table = """
                1 EPERM 2 ENOENT 3 ESRCH 4 EINTR 5 EIO 6 ENXIO 7 E2BIG 8 ENOEXEC 9 EBADF 10 ECHILD
                11 EAGAIN 12 ENOMEM 13 EACCES 14 EFAULT 15 ENOTBLK 16 EBUSY 17 EEXIST 18 EXDEV
                19 ENODEV 20 ENOTDIR 21 EISDIR 22 EINVAL 23 ENFILE 24 EMFILE 25 ENOTTY 26 ETXTBSY
                27 EFBIG 28 ENOSPC 29 ESPIPE 30 EROFS 31 EMLINK 32 EPIPE 33 EDOM 34 ERANGE 35 EDEADLK
                36 ENAMETOOLONG 37 ENOLCK 38 ENOSYS 39 ENOTEMPTY 40 ELOOP 42 ENOMSG 43 EIDRM
                44 ECHRNG 45 EL2NSYNC 46 EL3HLT 47 EL3RST 48 ELNRNG 49 EUNATCH 50 ENOCSI 51 EL2HLT
                52 EBADE 53 EBADR 54 EXFULL 55 ENOANO 56 EBADRQC 57 EBADSLT 59 EBFONT 60 ENOSTR
                61 ENODATA 62 ETIME 63 ENOSR 64 ENONET 65 ENOPKG 66 EREMOTE 67 ENOLINK 68 EADV
                69 ESRMNT 70 ECOMM 71 EPROTO 72 EMULTIHOP 73 EDOTDOT 74 EBADMSG 75 EOVERFLOW
                76 ENOTUNIQ 77 EBADFD 78 EREMCHG 79 ELIBACC 80 ELIBBAD 81 ELIBSCN 82 ELIBMAX
                83 ELIBEXEC 84 EILSEQ 85 ERESTART 86 ESTRPIPE 87 EUSERS 88 ENOTSOCK 89 EDESTADDRREQ
                90 EMSGSIZE 91 EPROTOTYPE 92 ENOPROTOOPT 93 EPROTONOSUPPORT 94 ESOCKTNOSUPPORT
                95 EOPNOTSUPP 96 EPFNOSUPPORT 97 EAFNOSUPPORT 98 EADDRINUSE 99 EADDRNOTAVAIL
                100 ENETDOWN 101 ENETUNREACH 102 ENETRESET 103 ECONNABORTED 104 ECONNRESET
                105 ENOBUFS 106 EISCONN 107 ENOTCONN 108 ESHUTDOWN 109 ETOOMANYREFS 110 ETIMEDOUT
                111 ECONNREFUSED 112 EHOSTDOWN 113 EHOSTUNREACH 114 EALREADY 115 EINPROGRESS
                116 ESTALE 117 EUCLEAN 118 ENOTNAM 119 ENAVAIL 120 EISNAM 121 EREMOTEIO 122 EDQUOT
                123 ENOMEDIUM 124 EMEDIUMTYPE 125 ECANCELED 126 ENOKEY 127 EKEYEXPIRED
                128 EKEYREVOKED 129 EKEYREJECTED 130 EOWNERDEAD 131 ENOTRECOVERABLE 132 ERFKILL
                133 EHWPOISON
                """;
        String[] words = table.trim().split("\\s+");
        for (int i = 0; i < words.length; i += 2) {
            NAMES[Integer.parseInt(words[i])] = words[i + 1];
        }
    }

    /** The symbolic name of {@code errno} (e.g. {@code "EINVAL"}), or {@code "errno N"} when it has none. */
    public static String name(int errno) {
        if (errno > 0 && errno < NAMES.length && NAMES[errno] != null) {
            return NAMES[errno];
        }
        return switch (errno) {
            case ERESTARTSYS -> "ERESTARTSYS";
            case ENOIOCTLCMD -> "ENOIOCTLCMD";
            case 521 -> "EBADHANDLE";
            case 522 -> "ENOTSYNC";
            case 523 -> "EBADCOOKIE";
            case ENOTSUPP -> "ENOTSUPP";
            default -> "errno " + errno;
        };
    }

    /** The errno number of a symbolic name such as {@code "EBUSY"}, or -1 when unknown. */
    public static int byName(String name) {
        for (int i = 1; i < NAMES.length; i++) {
            if (name.equals(NAMES[i])) {
                return i;
            }
        }
        return switch (name) {
            case "EWOULDBLOCK" -> EAGAIN;
            case "ERESTARTSYS" -> ERESTARTSYS;
            case "ENOIOCTLCMD" -> ENOIOCTLCMD;
            case "ENOTSUPP" -> ENOTSUPP;
            default -> -1;
        };
    }
}
