package dev.tally.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a node reaches the Redis Cluster: seed addresses, the ACL user and password it authenticates
 * with, and whether it speaks TLS and which CA it trusts. Immutable and thread-safe once built: the
 * password is copied in and out (callers may wipe their copies) and never shown by {@link
 * #toString()}. Built once at start by the configuration, handed to {@link RedisSlots}.
 *
 * <p>Secrets never come from the command line: {@link #load} reads the password from a file or from
 * the {@value #PASSWORD_ENV} environment variable. Every error message names the file or variable,
 * never the password.
 *
 * @param seeds "host:port" addresses of some cluster nodes (one is enough; the client discovers the
 *     rest)
 * @param user ACL user name; null for Redis's {@code default} user
 * @param password the user's password; null to send no AUTH (a Redis without requirepass/ACLs)
 * @param tls whether to connect with TLS, verifying the nodes' certificates and host names
 * @param caFile PEM file of the CA certificates to trust; null to trust the JVM's trust store. Only
 *     with TLS
 * @param timeout bound on connecting, the TLS handshake and every command
 */
public record RedisOptions(
    List<String> seeds, String user, char[] password, boolean tls, Path caFile, Duration timeout) {

  /** The environment variable that may hold the Redis password (instead of a password file). */
  public static final String PASSWORD_ENV = "TALLY_REDIS_PASSWORD";

  /**
   * The ACL rule tally's Redis user needs, and no more: its keys (counters {@code t:}, idempotency
   * claims {@code i:}, live presence {@code lv:}, epoch markers {@code tally:}) and the live bus's
   * channels ({@code live:}); plain reads and writes, Lua scripts (and TIME, which the presence
   * script calls), sharded pub/sub, the connection handshake (HELLO with AUTH, CLIENT SETNAME,
   * PING), and what Lettuce sends on its own: CLUSTER MYID when a connection opens, CLUSTER NODES
   * and INFO on every topology refresh. Dangerous commands (FLUSHALL, KEYS, CONFIG, DEBUG, ACL,
   * cluster changes, …) are excluded; INFO, which Redis counts as dangerous, is added back. Use:
   * {@code ACL SETUSER tally reset <rule> >password}, or an aclfile line {@code user tally <rule>
   * #<sha256 of the password>}; docs/security.md explains each part.
   */
  public static final String ACL_RULE =
      "on ~t:* ~i:* ~lv:* ~tally:* &live:* -@all +@read +@write +@scripting +@pubsub"
          + " +@connection -@dangerous +info +time +cluster|nodes +cluster|myid";

  /** A password file larger than this is surely not a password file. */
  static final int MAX_PASSWORD_FILE_BYTES = 4096;

  private static final Logger log = LoggerFactory.getLogger(RedisOptions.class);

  /**
   * Validates and copies the options.
   *
   * @throws IllegalArgumentException on a malformed seed, an empty password, a user without a
   *     password, a CA file without TLS or a non-positive timeout
   */
  public RedisOptions {
    Objects.requireNonNull(seeds, "seeds");
    Objects.requireNonNull(timeout, "timeout");
    if (seeds.isEmpty()) {
      throw new IllegalArgumentException("at least one Redis seed address is needed");
    }
    for (String seed : seeds) {
      parsePort(seed);
    }
    seeds = List.copyOf(seeds);
    if (user != null && user.isBlank()) {
      user = null;
    }
    if (user != null && !user.equals(user.strip())) {
      throw new IllegalArgumentException("the Redis user name has leading or trailing spaces");
    }
    if (password != null && password.length == 0) {
      throw new IllegalArgumentException("the Redis password is empty");
    }
    if (user != null && password == null) {
      throw new IllegalArgumentException(
          "Redis user '"
              + user
              + "' needs a password: give --redis-password-file or set "
              + PASSWORD_ENV);
    }
    password = password == null ? null : password.clone();
    if (caFile != null && !tls) {
      throw new IllegalArgumentException("a Redis CA file is only used with --redis-tls true");
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("the Redis timeout must be positive, got " + timeout);
    }
  }

  /** Options for a cluster without authentication or TLS. */
  public static RedisOptions plain(List<String> seeds, Duration timeout) {
    return new RedisOptions(seeds, null, null, false, null, timeout);
  }

  /**
   * Options with the password read from {@code passwordFile} or, when that is null, from {@value
   * #PASSWORD_ENV} in {@code env}; without either, no password is sent. The password is the file's
   * or variable's content minus one trailing line break; it must be one non-empty line of UTF-8, at
   * most {@value #MAX_PASSWORD_FILE_BYTES} bytes.
   *
   * <p>A password file that every user of the machine may read is used, with a warning in the log:
   * the secret mounts of Kubernetes and Docker are 0644 or 0444 by default, inside a container
   * whose only user is tally, and refusing them would push operators towards environment variables,
   * which leak more easily (into child processes, {@code /proc/<pid>/environ}, crash reports).
   *
   * @param user ACL user, null or blank for the default user
   * @param passwordFile file holding the password, or null
   * @param env the process environment (the caller passes {@code System.getenv()})
   * @param caFile PEM file of the CA certificates to trust (TLS only), or null for the JVM's
   * @throws IllegalArgumentException with a message naming the setting at fault: the password file
   *     missing, unreadable, empty, too large or of several lines; both a file and the variable
   *     given; a user without a password; a CA file that is missing or holds no certificate; or any
   *     reason of the {@linkplain RedisOptions constructor}
   */
  public static RedisOptions load(
      List<String> seeds,
      String user,
      Path passwordFile,
      Map<String, String> env,
      boolean tls,
      Path caFile,
      Duration timeout) {
    String fromEnv = env.get(PASSWORD_ENV);
    if (passwordFile != null && fromEnv != null) {
      throw new IllegalArgumentException(
          "the Redis password is given twice, in --redis-password-file and in "
              + PASSWORD_ENV
              + "; give only one");
    }
    char[] password = null;
    try {
      if (passwordFile != null) {
        password = readPasswordFile(passwordFile);
      } else if (fromEnv != null) {
        password = oneLine(fromEnv.toCharArray(), PASSWORD_ENV);
      }
      if (caFile != null && tls) {
        PemTrust.load(caFile); // fails now, with a clear message, rather than at the first connect
      }
      return new RedisOptions(seeds, user, password, tls, caFile, timeout);
    } finally {
      if (password != null) {
        Arrays.fill(password, '\0');
      }
    }
  }

  /** A copy of the password (null if none); the caller may wipe it after use. */
  @Override
  public char[] password() {
    return password == null ? null : password.clone();
  }

  /** Whether a password is set, without copying it. */
  public boolean hasPassword() {
    return password != null;
  }

  /** The host of {@code seeds().get(i)}. */
  String host(int i) {
    String seed = seeds.get(i);
    return seed.substring(0, seed.lastIndexOf(':'));
  }

  /** The port of {@code seeds().get(i)}. */
  int port(int i) {
    return parsePort(seeds.get(i));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RedisOptions r
        && seeds.equals(r.seeds)
        && Objects.equals(user, r.user)
        && Arrays.equals(password, r.password)
        && tls == r.tls
        && Objects.equals(caFile, r.caFile)
        && timeout.equals(r.timeout);
  }

  @Override
  public int hashCode() {
    // the password is left out on purpose: a hash of it is no business of a hash table
    return Objects.hash(seeds, user, password != null, tls, caFile, timeout);
  }

  /** Every option but the password, of which only its presence is shown. */
  @Override
  public String toString() {
    return "RedisOptions[seeds="
        + seeds
        + ", user="
        + (user == null ? "default" : user)
        + ", password="
        + (password == null ? "none" : "(hidden)")
        + ", tls="
        + tls
        + ", caFile="
        + (caFile == null ? (tls ? "JVM trust store" : "none") : caFile)
        + ", timeout="
        + timeout
        + "]";
  }

  private static int parsePort(String seed) {
    int colon = seed.lastIndexOf(':');
    if (colon <= 0 || colon == seed.length() - 1) {
      throw new IllegalArgumentException("Redis seed must be host:port, got '" + seed + "'");
    }
    int port;
    try {
      port = Integer.parseInt(seed.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("Redis seed must be host:port, got '" + seed + "'");
    }
    if (port < 1 || port > 65_535) {
      throw new IllegalArgumentException("Redis seed port out of 1..65535 in '" + seed + "'");
    }
    return port;
  }

  private static char[] readPasswordFile(Path file) {
    String what = "Redis password file " + file + " (--redis-password-file)";
    if (Files.isDirectory(file)) {
      throw new IllegalArgumentException(what + " is a directory");
    }
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_PASSWORD_FILE_BYTES + 1);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(what + " does not exist");
    } catch (AccessDeniedException e) {
      throw new IllegalArgumentException(
          what + " cannot be read by this process: permission denied");
    } catch (IOException e) {
      throw new IllegalArgumentException(what + " cannot be read: " + e.getMessage());
    }
    try {
      if (bytes.length > MAX_PASSWORD_FILE_BYTES) {
        throw new IllegalArgumentException(
            what
                + " is larger than "
                + MAX_PASSWORD_FILE_BYTES
                + " bytes; it must hold only the password");
      }
      if (readableByOthers(file)) {
        log.warn(
            "{} is readable by every user of this machine; unless it is a container's secret"
                + " mount, restrict it (chmod 600 or 640)",
            what);
      }
      return oneLine(decodeUtf8(bytes, what), what);
    } finally {
      Arrays.fill(bytes, (byte) 0);
    }
  }

  /** Whether the file's POSIX permissions let users other than its owner and group read it. */
  static boolean readableByOthers(Path file) {
    try {
      return Files.getPosixFilePermissions(file).contains(PosixFilePermission.OTHERS_READ);
    } catch (UnsupportedOperationException | IOException e) {
      return false; // not a POSIX file system: nothing to check
    }
  }

  private static char[] decodeUtf8(byte[] bytes, String what) {
    CharBuffer chars;
    try {
      chars =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes));
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(what + " is not UTF-8 text");
    }
    char[] out = new char[chars.remaining()];
    chars.get(out);
    if (chars.hasArray()) {
      Arrays.fill(chars.array(), '\0');
    }
    return out;
  }

  /**
   * {@code raw} minus one trailing line break ("\n" or "\r\n"); wipes {@code raw}.
   *
   * @throws IllegalArgumentException if nothing is left, or more than one line
   */
  static char[] oneLine(char[] raw, String what) {
    try {
      int end = raw.length;
      if (end > 0 && raw[end - 1] == '\n') {
        end--;
        if (end > 0 && raw[end - 1] == '\r') {
          end--;
        }
      }
      if (end == 0) {
        throw new IllegalArgumentException(what + " is empty");
      }
      for (int i = 0; i < end; i++) {
        if (raw[i] == '\n' || raw[i] == '\r') {
          throw new IllegalArgumentException(
              what + " holds more than one line; it must hold only the password");
        }
      }
      return Arrays.copyOf(raw, end);
    } finally {
      Arrays.fill(raw, '\0');
    }
  }
}
