package dev.tally.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway certificate authority for tests, made with the {@code openssl} command: a CA key and
 * certificate, and server certificates it signs for loopback addresses. Files are PEM; keys are
 * unencrypted and readable by the owner only. Not thread-safe; lives as long as its directory.
 */
public final class TestCa {

  private final Path dir;

  private TestCa(Path dir) {
    this.dir = dir;
  }

  /** Creates a CA named {@code name} with its files in {@code dir} (created if needed). */
  public static TestCa create(Path dir, String name) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    TestCa ca = new TestCa(dir);
    openssl(
        dir,
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=" + name);
    ownerOnly(dir.resolve("ca.key"));
    return ca;
  }

  /** The CA certificate (PEM): what clients trust. */
  public Path certificate() {
    return dir.resolve("ca.crt");
  }

  /** A certificate and its private key, PEM files. */
  public record Issued(Path certificate, Path key) {}

  /**
   * Issues a certificate for {@code ip} (as its subject alternative name), usable by a server and,
   * for Redis's cluster bus and replication, as a client.
   */
  public Issued issue(String name, String ip) throws IOException, InterruptedException {
    Path ext = dir.resolve(name + ".ext");
    Files.writeString(
        ext,
        "subjectAltName=IP:"
            + ip
            + "\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature"
            + "\nextendedKeyUsage=serverAuth,clientAuth\n",
        StandardCharsets.US_ASCII);
    openssl(
        dir,
        "req",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-keyout",
        name + ".key",
        "-out",
        name + ".csr",
        "-subj",
        "/CN=" + ip);
    ownerOnly(dir.resolve(name + ".key"));
    openssl(
        dir,
        "x509",
        "-req",
        "-in",
        name + ".csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        ext.getFileName().toString(),
        "-out",
        name + ".crt");
    return new Issued(dir.resolve(name + ".crt"), dir.resolve(name + ".key"));
  }

  private static void ownerOnly(Path file) throws IOException {
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
  }

  private static void openssl(Path dir, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("openssl failed: " + cmd + "\n" + out);
      }
    } finally {
      p.destroyForcibly();
    }
  }
}
