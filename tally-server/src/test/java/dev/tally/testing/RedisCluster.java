package dev.tally.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real 6-node Redis Cluster (3 primaries, 3 replicas) on 127.0.0.1, started from {@code
 * redis-server} and {@code redis-cli} processes on free ports: {@link #start} waits until every
 * node reports {@code cluster_state:ok}; {@link #close} kills every node and deletes the data, and
 * runs from a shutdown hook too, so nothing outlives the test JVM. Not thread-safe: use it from the
 * test thread, with try-with-resources.
 */
public final class RedisCluster implements AutoCloseable {

  public static final int NODES = 6;
  private static final long WAIT_MILLIS = 30_000;

  private final Path dir;
  private final int basePort;
  private final Process[] nodes = new Process[NODES];
  private final Thread cleanup = new Thread(this::killAll, "redis-cluster-cleanup");

  private RedisCluster(Path dir, int basePort) {
    this.dir = dir;
    this.basePort = basePort;
  }

  /** True when the Redis binaries the cluster needs are installed. */
  public static boolean available() {
    return onPath("redis-server") && onPath("redis-cli");
  }

  /**
   * Starts a cluster with its data under {@code dir} (created if needed) and waits until it is ok.
   */
  public static RedisCluster start(Path dir) throws IOException, InterruptedException {
    RedisCluster c = new RedisCluster(dir, freeBasePort());
    Runtime.getRuntime().addShutdownHook(c.cleanup);
    try {
      c.startNodes();
      c.create();
      c.awaitOk();
      c.awaitReplicasInSync();
      return c;
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      c.close();
      throw e;
    }
  }

  /** Seed addresses, "127.0.0.1:port", one per node. */
  public List<String> seeds() {
    List<String> s = new ArrayList<>();
    for (int i = 0; i < NODES; i++) {
      s.add("127.0.0.1:" + port(i));
    }
    return s;
  }

  public int port(int node) {
    return basePort + node;
  }

  /** The port of some node that has not been killed. */
  public int anyLivePort() {
    for (int i = 0; i < NODES; i++) {
      if (nodes[i] != null) {
        return port(i);
      }
    }
    throw new IllegalStateException("every node was killed");
  }

  /** Kills node {@code node} with SIGKILL and waits for it to exit. */
  public void kill(int node) throws InterruptedException {
    Process p = nodes[node];
    if (p != null) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
      nodes[node] = null;
    }
  }

  /** Ports of the live nodes that are primaries now. */
  public List<Integer> primaries() throws IOException, InterruptedException {
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < NODES; i++) {
      if (nodes[i] != null && cli(port(i), "role").startsWith("master")) {
        ports.add(port(i));
      }
    }
    return ports;
  }

  /** FLUSHALL on every live primary (replicas follow); returns once every primary answered. */
  public void flushAll() throws IOException, InterruptedException {
    for (int port : primaries()) {
      String r = cli(port, "flushall");
      if (!r.strip().equals("OK")) {
        throw new IllegalStateException("FLUSHALL on " + port + " answered: " + r);
      }
    }
  }

  /** Kills every node (SIGKILL): Redis is gone until {@link #restartEmpty()}. */
  public void stopAll() {
    killAll();
  }

  /**
   * Starts a brand-new, empty cluster on the same ports (all data and cluster identities lost), as
   * after a total loss of the Redis tier; waits until it is ok.
   */
  public void restartEmpty() throws IOException, InterruptedException {
    killAll();
    for (int i = 0; i < NODES; i++) {
      deleteTree(dir.resolve("node-" + i));
    }
    startNodes();
    create();
    awaitOk();
    awaitReplicasInSync();
  }

  /** Runs one redis-cli command against {@code port} and returns its raw output. */
  public String cli(int port, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("redis-cli", "-h", "127.0.0.1", "-p", "" + port));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("redis-cli did not finish in 10s: " + cmd);
      }
      return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    } finally {
      p.destroyForcibly();
    }
  }

  /** Sum of {@code used_memory} over the live primaries. */
  public long usedMemoryOfPrimaries() throws IOException, InterruptedException {
    long sum = 0;
    for (int port : primaries()) {
      for (String line : cli(port, "info", "memory").split("\r?\n")) {
        if (line.startsWith("used_memory:")) {
          sum += Long.parseLong(line.substring("used_memory:".length()).strip());
        }
      }
    }
    return sum;
  }

  @Override
  public void close() {
    killAll();
    try {
      Runtime.getRuntime().removeShutdownHook(cleanup);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or has run
    }
    deleteTree(dir);
  }

  private void killAll() {
    for (Process p : nodes) {
      if (p != null) {
        p.destroyForcibly();
      }
    }
    for (int i = 0; i < NODES; i++) {
      if (nodes[i] != null) {
        try {
          nodes[i].waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        nodes[i] = null;
      }
    }
  }

  private void startNodes() throws IOException {
    for (int i = 0; i < NODES; i++) {
      Path nodeDir = dir.resolve("node-" + i);
      Files.createDirectories(nodeDir);
      nodes[i] =
          new ProcessBuilder(
                  "redis-server",
                  "--port",
                  "" + port(i),
                  "--bind",
                  "127.0.0.1",
                  "--dir",
                  nodeDir.toString(),
                  "--cluster-enabled",
                  "yes",
                  "--cluster-config-file",
                  "nodes.conf",
                  "--cluster-node-timeout",
                  "2000",
                  "--appendonly",
                  "yes",
                  "--save",
                  "",
                  "--daemonize",
                  "no")
              .redirectErrorStream(true)
              .redirectOutput(nodeDir.resolve("redis.log").toFile())
              .start();
    }
  }

  private void create() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
    for (int i = 0; i < NODES; i++) {
      while (!cli(port(i), "ping").strip().equals("PONG")) {
        if (!nodes[i].isAlive()) {
          throw new IllegalStateException("redis-server on " + port(i) + " exited; see its log");
        }
        checkDeadline(deadline, "redis-server on " + port(i) + " to answer PING");
        Thread.sleep(50);
      }
    }
    List<String> cmd = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
    cmd.addAll(seeds());
    cmd.addAll(List.of("--cluster-replicas", "1", "--cluster-yes"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("redis-cli --cluster create did not finish");
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        throw new IllegalStateException("redis-cli --cluster create failed:\n" + out);
      }
    } finally {
      p.destroyForcibly();
    }
  }

  /** Waits until every live node reports {@code cluster_state:ok}. */
  public void awaitOk() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
    for (int i = 0; i < NODES; i++) {
      while (nodes[i] != null && !cli(port(i), "cluster", "info").contains("cluster_state:ok")) {
        checkDeadline(deadline, "node " + port(i) + " to report cluster_state:ok");
        Thread.sleep(100);
      }
    }
  }

  /** Waits until every live replica has a working link to its primary (so it can take over). */
  public void awaitReplicasInSync() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
    for (int i = 0; i < NODES; i++) {
      while (nodes[i] != null) {
        String info = cli(port(i), "info", "replication");
        if (info.contains("role:master") || info.contains("master_link_status:up")) {
          break;
        }
        checkDeadline(deadline, "replica " + port(i) + " to sync with its primary");
        Thread.sleep(100);
      }
    }
  }

  private static void checkDeadline(long deadline, String what) {
    if (System.nanoTime() > deadline) {
      throw new IllegalStateException("timed out after " + WAIT_MILLIS + " ms waiting for " + what);
    }
  }

  /** A random base in 20000-40000 whose six ports and six bus ports (+10000) are free. */
  private static int freeBasePort() {
    for (int attempt = 0; attempt < 50; attempt++) {
      int base = ThreadLocalRandom.current().nextInt(20_000, 40_000 - NODES);
      boolean free = true;
      for (int i = 0; i < NODES && free; i++) {
        free = isFree(base + i) && isFree(base + i + 10_000);
      }
      if (free) {
        return base;
      }
    }
    throw new IllegalStateException("no free port range for a Redis cluster in 20000-50000");
  }

  private static boolean isFree(int port) {
    try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean onPath(String command) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String d : path.split(java.io.File.pathSeparator)) {
      if (Files.isExecutable(Path.of(d, command))) {
        return true;
      }
    }
    return false;
  }

  private static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
