/** The {@code panavirt} command line: probe the host, run guests. */
module dev.panavirt.cli {
    requires dev.panavirt.vmm;
    requires info.picocli;

    opens dev.panavirt.cli to info.picocli;
}
