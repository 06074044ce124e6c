package dev.panavirt.migration;

import java.io.BufferedInputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The destination process of {@link PrecopyMigrationTest}'s two-process migration: listens on a loopback TCP
 * port (printed as {@code port N}), receives one stream into a VM of the test's layout, writes that RAM at the
 * stop point to the file named by its argument ({@code received PAGES ROUNDS}), loads the edu model's section into
 * a model of its own and prints that model's state saved again ({@code device BASE64}), restores the machine state and
 * runs the guest on for {@link PrecopyMigrationTest#MORE} writes ({@code result VALUE}, or {@code failed WHY}).
 */
final class TcpDestinationMain {
    private TcpDestinationMain() {
    }

    public static void main(String[] args) throws Exception {
        Path dump = Path.of(args[0]);
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                DirtyingGuest dst = new DirtyingGuest(PrecopyMigrationTest.IMAGE, PrecopyMigrationTest.RAM, 0, 0)) {
            System.out.println("port " + server.getLocalPort());
            System.out.flush();
            try (Socket s = server.accept(); InputStream in = new BufferedInputStream(s.getInputStream(), 1 << 16)) {
                var regions = dst.guest().memory().regions();
                PrecopyDestination.Incoming got = new PrecopyDestination(regions).receive(in);
                try (FileChannel ch = FileChannel.open(dump, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING)) {
                    var buffer = regions.getFirst().memory().asByteBuffer();
                    while (buffer.hasRemaining()) {
                        ch.write(buffer);
                    }
                }
                System.out.println("received " + got.pages() + " " + got.rounds());
                byte[] device = PrecopyMigrationTest.loadEdu(got.state());
                System.out.println("device " + (device == null ? "none"
                        : java.util.Base64.getEncoder().encodeToString(device)));
                System.out.flush();
                dst.setLimit(dst.progress() + PrecopyMigrationTest.MORE);
                dst.restoreMachineState(got.state());
                dst.start();
                try {
                    System.out.println("result " + dst.await());
                } catch (AssertionError e) {
                    System.out.println("failed " + (e.getCause() != null ? e.getCause() : e).toString().replace('\n', ' '));
                }
            }
        }
    }
}
