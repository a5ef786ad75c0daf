package dev.tally.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * HAProxy as a real process in front of three tally nodes on 127.0.0.1, run in the foreground from
 * the project's {@code deploy/haproxy.cfg} (system property {@code tally.haproxy.cfg}, set by the
 * build) on free ports; its log goes to {@code <dir>/haproxy.log}. Reads the servers' states from
 * the stats page. {@link #close} kills it, and runs from a shutdown hook too, so it never outlives
 * the test JVM. The read methods may be called from any thread; {@link #close} from the test
 * thread, once.
 */
public final class HaproxyProcess implements AutoCloseable {

  /** The backend whose servers run the health checks (the others track them). */
  public static final String CHECKED_BACKEND = "post_writes";

  private static final List<Path> SBIN = List.of(Path.of("/usr/sbin"), Path.of("/sbin"));

  private final Process process;
  private final int port;
  private final int statsPort;
  private final HttpClient http = HttpClient.newHttpClient();
  private final Thread cleanup;

  private HaproxyProcess(Process process, int port, int statsPort) {
    this.process = process;
    this.port = port;
    this.statsPort = statsPort;
    this.cleanup = new Thread(process::destroyForcibly, "haproxy-cleanup");
  }

  /** True when the haproxy binary is installed (on the PATH or in /usr/sbin, /sbin). */
  public static boolean available() {
    return binary() != null;
  }

  /**
   * Starts HAProxy in front of the nodes on {@code nodePorts} (three, named n1..n3 in that order)
   * and waits until its health checks see every node up.
   */
  public static HaproxyProcess start(Path dir, int... nodePorts)
      throws IOException, InterruptedException {
    if (nodePorts.length != 3) {
      throw new IllegalArgumentException("deploy/haproxy.cfg names three nodes");
    }
    Path haproxy = binary();
    if (haproxy == null) {
      throw new IllegalStateException("haproxy is not installed (bin/test-deps installs it)");
    }
    Files.createDirectories(dir);
    int port = freePort();
    int statsPort = freePort();
    ProcessBuilder pb =
        new ProcessBuilder(haproxy.toString(), "-db", "-f", config().toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("haproxy.log").toFile());
    Map<String, String> env = pb.environment();
    env.put("TALLY_LB_DIR", dir.toAbsolutePath().toString());
    env.put("TALLY_LB_BIND", "127.0.0.1:" + port);
    env.put("TALLY_LB_STATS", "127.0.0.1:" + statsPort);
    for (int i = 0; i < 3; i++) {
      env.put("TALLY_NODE" + (i + 1), "127.0.0.1:" + nodePorts[i]);
    }
    HaproxyProcess lb = new HaproxyProcess(pb.start(), port, statsPort);
    Runtime.getRuntime().addShutdownHook(lb.cleanup);
    try {
      for (int i = 1; i <= 3; i++) {
        lb.awaitState("n" + i, "UP", Duration.ofSeconds(30));
      }
      return lb;
    } catch (IOException | InterruptedException | RuntimeException e) {
      lb.close();
      throw e;
    }
  }

  /** The project's deploy/haproxy.cfg. */
  public static Path config() {
    String p = System.getProperty("tally.haproxy.cfg");
    if (p == null || !Files.exists(Path.of(p))) {
      throw new IllegalStateException(
          "deploy/haproxy.cfg not found (" + p + "): run through `mvn verify`");
    }
    return Path.of(p);
  }

  /** The port clients use. */
  public int port() {
    return port;
  }

  /** Base URL for clients, {@code http://127.0.0.1:port}. */
  public String url() {
    return "http://127.0.0.1:" + port;
  }

  /**
   * The health-check state of each node (n1..n3) as the stats page shows it: {@code UP}, {@code
   * DOWN}, or a transition such as {@code DOWN 1/2}.
   */
  public Map<String, String> state() throws IOException, InterruptedException {
    Map<String, String> out = new LinkedHashMap<>();
    stats().forEach((node, f) -> out.put(node, f[17]));
    return out;
  }

  /** Requests HAProxy has sent to {@code node} for single writes (PUT /v1/{post}/{counter}). */
  public long requests(String node) throws IOException, InterruptedException {
    String[] f = stats().get(node);
    if (f == null) {
      throw new IllegalArgumentException("no node " + node);
    }
    return Long.parseLong(f[7]);
  }

  /** The CSV stats rows of the checked backend's servers, by name; columns: pxname,svname,... */
  private Map<String, String[]> stats() throws IOException, InterruptedException {
    if (!process.isAlive()) {
      throw new IllegalStateException("haproxy exited with " + process.exitValue());
    }
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + statsPort + "/;csv"))
                .timeout(Duration.ofSeconds(5))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    Map<String, String[]> out = new LinkedHashMap<>();
    for (String line : r.body().split("\n")) {
      String[] f = line.split(",", -1);
      // column 7 is stot (requests sent), 17 is status
      if (f.length > 17 && f[0].equals(CHECKED_BACKEND) && f[1].matches("n[0-9]+")) {
        out.put(f[1], f);
      }
    }
    return out;
  }

  /**
   * Polls the stats page every 20 ms until {@code node} is in {@code state} ({@code UP} or {@code
   * DOWN}); returns how long that took.
   *
   * @throws IllegalStateException after {@code timeout}
   */
  public Duration awaitState(String node, String state, Duration timeout)
      throws IOException, InterruptedException {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    while (true) {
      String s;
      try {
        s = state().get(node);
      } catch (IOException notListeningYet) {
        s = null;
      }
      if (state.equals(s)) {
        return Duration.ofNanos(System.nanoTime() - start);
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "haproxy did not see " + node + " " + state + " within " + timeout + " (is " + s + ")");
      }
      Thread.sleep(20);
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
    try {
      Runtime.getRuntime().removeShutdownHook(cleanup);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or has run
    }
  }

  private static Path binary() {
    String path = System.getenv("PATH");
    List<Path> dirs = new ArrayList<>();
    if (path != null) {
      for (String d : path.split(File.pathSeparator)) {
        dirs.add(Path.of(d));
      }
    }
    dirs.addAll(SBIN);
    for (Path d : dirs) {
      Path p = d.resolve("haproxy");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
