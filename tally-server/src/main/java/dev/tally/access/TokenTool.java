package dev.tally.access;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/**
 * Mints a signed token for tests and operators:
 *
 * <pre>
 * java -cp tally.jar dev.tally.access.TokenTool --subject user-42 --ttl 1h --scope write
 * </pre>
 *
 * The secret comes from {@code --secret-file FILE} or the {@code TALLY_AUTH_SECRET} environment
 * variable, never from a flag's value.
 */
public final class TokenTool {

  private TokenTool() {}

  public static void main(String[] args) throws IOException {
    String subject = null;
    String scope = "write";
    Duration ttl = Duration.ofHours(1);
    Path secretFile = null;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--subject" -> subject = args[i + 1];
        case "--scope" -> scope = args[i + 1];
        case "--ttl" -> ttl = Duration.parse("PT" + args[i + 1].toUpperCase(java.util.Locale.ROOT));
        case "--secret-file" -> secretFile = Path.of(args[i + 1]);
        default -> {
          System.err.println("unknown option " + args[i]);
          System.exit(2);
        }
      }
    }
    if (subject == null || !(scope.equals("write") || scope.equals("read"))) {
      System.err.println(
          "usage: TokenTool --subject ID [--scope write|read] [--ttl 1h] [--secret-file FILE]");
      System.exit(2);
    }
    byte[] secret = readSecret(secretFile);
    System.out.println(
        Credentials.mint(secret, subject, scope, Instant.now().plus(ttl).getEpochSecond()));
  }

  /** The token secret from {@code file}, else from {@code TALLY_AUTH_SECRET}; trimmed. */
  static byte[] readSecret(Path file) throws IOException {
    String s =
        file != null
            ? Files.readString(file, StandardCharsets.UTF_8)
            : System.getenv().getOrDefault("TALLY_AUTH_SECRET", "");
    s = s.strip();
    if (s.isEmpty()) {
      throw new IllegalArgumentException("no secret: give --secret-file or set TALLY_AUTH_SECRET");
    }
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
