package dev.tally.testing;

import dev.tally.cluster.RedisOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real 6-node Redis Cluster (3 primaries, 3 replicas) on 127.0.0.1, started from {@code
 * redis-server} and {@code redis-cli} processes on free ports: {@link #start} waits until every
 * node reports {@code cluster_state:ok}; {@link #close} kills every node and deletes the data, and
 * runs from a shutdown hook too, so nothing outlives the test JVM. Not thread-safe: use it from the
 * test thread, with try-with-resources.
 *
 * <p>{@link #addPrimary} joins a 7th (8th, …) node as an empty primary on another free port and
 * {@link #reshard} moves slots to it, as an operator growing the cluster would; such nodes are
 * numbered on from {@link #NODES} ({@link #port(int)}, {@link #kill(int)}) and are stopped with the
 * others. Every port is chosen free on loopback, never Redis's default 6379.
 *
 * <p>Guarded clusters ({@link Guard}) have three ACL users with random passwords: {@code default}
 * (all rights; what {@link #cli} uses), {@link #TALLY_USER} (exactly {@link RedisOptions#ACL_RULE})
 * and {@code replica} (only what a replica needs to sync from its primary). The ACL file holds only
 * SHA-256 digests of the passwords, and redis-cli gets its password from {@code REDISCLI_AUTH}, so
 * no password is on a command line. With TLS, every node listens with TLS only ({@code port 0})
 * with a certificate for 127.0.0.1 from a throwaway CA, and the cluster bus and replication use TLS
 * too.
 */
public final class RedisCluster implements AutoCloseable {

  public static final int NODES = 6;

  /** The ACL user of guarded clusters that has tally's rights. */
  public static final String TALLY_USER = "tally";

  private static final long WAIT_MILLIS = 30_000;

  /** Bound on one reshard: thousands of slots, each moved with a few commands per node. */
  private static final long RESHARD_MILLIS = 300_000;

  /** How a cluster guards itself. */
  public enum Guard {
    /** No passwords, plain TCP: anyone on loopback may do anything. */
    OPEN,
    /** ACL users with passwords; the default user needs one too. Plain TCP. */
    ACL,
    /** ACL users with passwords, and TLS only. */
    ACL_TLS;

    boolean acl() {
      return this != OPEN;
    }

    boolean tls() {
      return this == ACL_TLS;
    }
  }

  private final Path dir;
  private final int basePort;
  private final Guard guard;
  private final String adminPassword = randomPassword();
  private final String tallyPassword = randomPassword();
  private final String replicaPassword = randomPassword();
  // index i: node i's process (null once killed) and port; the first NODES are the created cluster,
  // the rest were added by addPrimary. Copy-on-write: the shutdown hook may walk them any time
  private final List<Process> nodes = new CopyOnWriteArrayList<>();
  private final List<Integer> ports = new CopyOnWriteArrayList<>();
  private int clusterCommands;
  private final Thread cleanup = new Thread(this::killAll, "redis-cluster-cleanup");
  private TestCa ca;
  private TestCa.Issued serverCert;

  private RedisCluster(Path dir, int basePort, Guard guard) {
    this.dir = dir;
    this.basePort = basePort;
    this.guard = guard;
    for (int i = 0; i < NODES; i++) {
      nodes.add(null);
      ports.add(basePort + i);
    }
  }

  /** True when the Redis binaries the cluster needs are installed. */
  public static boolean available() {
    return onPath("redis-server") && onPath("redis-cli");
  }

  /**
   * True when guarded clusters with TLS can be started: redis-server and redis-cli are built with
   * TLS (as Debian's are) and {@code openssl} is installed to make the certificates.
   */
  public static boolean tlsAvailable() {
    if (!available() || !onPath("openssl")) {
      return false;
    }
    try {
      Process p = new ProcessBuilder("redis-cli", "--help").redirectErrorStream(true).start();
      try {
        String help = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return help.contains("--tls") && help.contains("--cacert");
      } finally {
        p.destroyForcibly();
      }
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Starts an open cluster with its data under {@code dir} (created if needed) and waits until it
   * is ok.
   */
  public static RedisCluster start(Path dir) throws IOException, InterruptedException {
    return start(dir, Guard.OPEN);
  }

  /**
   * Starts a cluster guarded as {@code guard} says, with its data (and, with TLS, its certificates)
   * under {@code dir}, and waits until it is ok.
   */
  public static RedisCluster start(Path dir, Guard guard) throws IOException, InterruptedException {
    RedisCluster c = new RedisCluster(dir, freeBasePort(), guard);
    Runtime.getRuntime().addShutdownHook(c.cleanup);
    try {
      if (guard.tls()) {
        c.ca = TestCa.create(dir.resolve("tls"), "tally test CA");
        c.serverCert = c.ca.issue("redis", "127.0.0.1");
      }
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

  /** Seed addresses, "127.0.0.1:port", one per node of the created cluster. */
  public List<String> seeds() {
    List<String> s = new ArrayList<>();
    for (int i = 0; i < NODES; i++) {
      s.add(address(port(i)));
    }
    return s;
  }

  /**
   * The port clients connect to: the TLS port when the cluster uses TLS. Nodes {@code 0} to {@code
   * NODES - 1} are the created cluster's, the next ones those {@link #addPrimary} added.
   */
  public int port(int node) {
    return ports.get(node);
  }

  public Guard guard() {
    return guard;
  }

  /** The password of {@link #TALLY_USER}; a guarded cluster only. */
  public String tallyPassword() {
    requireAcl();
    return tallyPassword;
  }

  /** The password of the {@code default} user, which may do anything; a guarded cluster only. */
  public String adminPassword() {
    requireAcl();
    return adminPassword;
  }

  /** The PEM certificate of the CA that signed the nodes' certificates; a TLS cluster only. */
  public Path caFile() {
    if (!guard.tls()) {
      throw new IllegalStateException("this cluster does not use TLS");
    }
    return ca.certificate();
  }

  private void requireAcl() {
    if (!guard.acl()) {
      throw new IllegalStateException("this cluster has no ACL users");
    }
  }

  /** The port of some node that has not been killed. */
  public int anyLivePort() {
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i) != null) {
        return port(i);
      }
    }
    throw new IllegalStateException("every node was killed");
  }

  /** Kills node {@code node} with SIGKILL and waits for it to exit. */
  public void kill(int node) throws InterruptedException {
    Process p = nodes.get(node);
    if (p != null) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
      nodes.set(node, null);
    }
  }

  /** Ports of the live nodes that are primaries now, added ones last. */
  public List<Integer> primaries() throws IOException, InterruptedException {
    List<Integer> primaries = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i) != null && cli(port(i), "role").startsWith("master")) {
        primaries.add(port(i));
      }
    }
    return primaries;
  }

  /**
   * Starts one more redis-server, configured and guarded like the others, joins it to the cluster
   * as a primary without slots ({@code redis-cli --cluster add-node}), waits until every live node
   * knows it and it sees the cluster ok, and returns its port. Its node number is the next after
   * the last one ({@link #port(int)}).
   */
  public int addPrimary() throws IOException, InterruptedException {
    int existing = anyLivePort();
    int node = nodes.size();
    ports.add(freePort());
    nodes.add(null);
    int port = port(node);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
    nodes.set(node, startNode(node));
    awaitPing(node, deadline);
    clusterCommand(WAIT_MILLIS, "add-node", address(port), address(existing));
    String id = nodeId(port);
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i) != null) {
        int other = port(i);
        await(
            deadline,
            "node " + other + " to know the added node " + port,
            () -> cli(other, "cluster", "nodes").contains(id));
      }
    }
    await(
        deadline,
        "the added node " + port + " to report cluster_state:ok",
        () -> cli(port, "cluster", "info").contains("cluster_state:ok"));
    awaitCheckOk(deadline);
    return port;
  }

  /**
   * Moves {@code slots} slots from the other primaries, in proportion to what they hold, to the
   * primary on {@code toPort} ({@code redis-cli --cluster reshard --cluster-from all}), keys and
   * all, while clients may keep using them; returns once {@code redis-cli --cluster check} finds
   * every slot covered, none open and every node agreeing.
   */
  public void reshard(int toPort, int slots) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RESHARD_MILLIS);
    awaitCheckOk(deadline);
    clusterCommand(
        RESHARD_MILLIS,
        "reshard",
        address(toPort),
        "--cluster-from",
        "all",
        "--cluster-to",
        nodeId(toPort),
        "--cluster-slots",
        "" + slots,
        "--cluster-yes");
    awaitCheckOk(deadline);
  }

  /** The number of slots the node on {@code port} serves, as it sees itself. */
  public int slotsOf(int port) throws IOException, InterruptedException {
    for (String line : cli(port, "cluster", "nodes").split("\r?\n")) {
      String[] f = line.strip().split(" ");
      if (f.length > 2 && f[2].contains("myself")) {
        int count = 0;
        for (int i = 8; i < f.length; i++) {
          if (f[i].startsWith("[")) {
            continue; // a slot being migrated or imported: still counted where it is owned
          }
          int dash = f[i].indexOf('-');
          count +=
              dash < 0
                  ? 1
                  : Integer.parseInt(f[i].substring(dash + 1))
                      - Integer.parseInt(f[i].substring(0, dash))
                      + 1;
        }
        return count;
      }
    }
    throw new IllegalStateException("no myself line in CLUSTER NODES of " + port);
  }

  /** The cluster node id of the node on {@code port}. */
  public String nodeId(int port) throws IOException, InterruptedException {
    String id = cli(port, "cluster", "myid").strip();
    if (!id.matches("[0-9a-f]{40}")) {
      throw new IllegalStateException("CLUSTER MYID on " + port + " answered: " + id);
    }
    return id;
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
    for (int i = 0; i < nodes.size(); i++) {
      deleteTree(dir.resolve("node-" + i));
    }
    // added nodes are not part of the new cluster
    while (nodes.size() > NODES) {
      nodes.remove(nodes.size() - 1);
      ports.remove(ports.size() - 1);
    }
    startNodes();
    create();
    awaitOk();
    awaitReplicasInSync();
  }

  /**
   * Runs one redis-cli command against {@code port}, as the {@code default} user of a guarded
   * cluster, and returns its raw output.
   */
  public String cli(int port, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("redis-cli", "-h", "127.0.0.1", "-p", "" + port));
    cmd.addAll(cliGuardArgs());
    cmd.addAll(List.of(args));
    Process p = cliProcess(cmd).redirectErrorStream(true).start();
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

  /** SIGKILL to every node's process (by its pid), added ones too, then waits for each. */
  private void killAll() {
    for (Process p : nodes) {
      if (p != null) {
        p.destroyForcibly();
      }
    }
    for (int i = 0; i < nodes.size(); i++) {
      Process p = nodes.get(i);
      if (p != null) {
        try {
          p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        nodes.set(i, null);
      }
    }
  }

  /** redis-cli's TLS options for this cluster. */
  private List<String> cliGuardArgs() {
    return guard.tls() ? List.of("--tls", "--cacert", ca.certificate().toString()) : List.of();
  }

  /** A redis-cli process builder with the admin password in its environment, not its arguments. */
  private ProcessBuilder cliProcess(List<String> cmd) {
    ProcessBuilder pb = new ProcessBuilder(cmd);
    if (guard.acl()) {
      pb.environment().put("REDISCLI_AUTH", adminPassword);
    } else {
      pb.environment().remove("REDISCLI_AUTH");
    }
    return pb;
  }

  private void startNodes() throws IOException {
    for (int i = 0; i < NODES; i++) {
      nodes.set(i, startNode(i));
    }
  }

  /** Starts redis-server for node {@code i} on its port, with its data in node-i. */
  private Process startNode(int i) throws IOException {
    Path nodeDir = dir.resolve("node-" + i);
    Files.createDirectories(nodeDir);
    List<String> cmd = new ArrayList<>(List.of("redis-server"));
    if (guard.acl()) {
      cmd.add(writeSecrets(nodeDir).toString());
    }
    if (guard.tls()) {
      cmd.addAll(
          List.of(
              "--port",
              "0",
              "--tls-port",
              "" + port(i),
              "--tls-cert-file",
              serverCert.certificate().toString(),
              "--tls-key-file",
              serverCert.key().toString(),
              "--tls-ca-cert-file",
              ca.certificate().toString(),
              // clients may present a certificate (then it is checked) but need not: tally
              // authenticates with its ACL password. The cluster bus always wants one.
              "--tls-auth-clients",
              "optional",
              "--tls-cluster",
              "yes",
              "--tls-replication",
              "yes"));
    } else {
      cmd.addAll(List.of("--port", "" + port(i)));
    }
    cmd.addAll(
        List.of(
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
            "no"));
    return new ProcessBuilder(cmd)
        .redirectErrorStream(true)
        .redirectOutput(nodeDir.resolve("redis.log").toFile())
        .start();
  }

  private void create() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
    for (int i = 0; i < NODES; i++) {
      awaitPing(i, deadline);
    }
    List<String> cmd = new ArrayList<>(List.of("redis-cli"));
    cmd.addAll(cliGuardArgs());
    cmd.addAll(List.of("--cluster", "create"));
    cmd.addAll(seeds());
    cmd.addAll(List.of("--cluster-replicas", "1", "--cluster-yes"));
    Process p = cliProcess(cmd).redirectErrorStream(true).start();
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

  private void awaitPing(int node, long deadline) throws IOException, InterruptedException {
    while (!cli(port(node), "ping").strip().equals("PONG")) {
      if (!nodes.get(node).isAlive()) {
        throw new IllegalStateException("redis-server on " + port(node) + " exited; see its log");
      }
      checkDeadline(deadline, "redis-server on " + port(node) + " to answer PING");
      Thread.sleep(50);
    }
  }

  /**
   * Runs {@code redis-cli --cluster <args>} as the admin, bounded by {@code millis}; its output
   * goes to a file (a reshard prints a line per key batch), returned, and quoted when it fails.
   */
  private String clusterCommand(long millis, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("redis-cli"));
    cmd.addAll(cliGuardArgs());
    cmd.add("--cluster");
    cmd.addAll(List.of(args));
    Path out = dir.resolve("cluster-" + ++clusterCommands + "-" + args[0] + ".log");
    Process p = cliProcess(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    try {
      if (!p.waitFor(millis, TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException(
            "redis-cli --cluster "
                + args[0]
                + " did not finish in "
                + millis
                + " ms:\n"
                + tail(out));
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException(
            "redis-cli --cluster " + args[0] + " failed (" + p.exitValue() + "):\n" + tail(out));
      }
      return Files.readString(out, StandardCharsets.UTF_8);
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * Waits until {@code redis-cli --cluster check} is clean: every slot covered, no slot open
   * (migrating or importing), every node agreeing about the slots.
   */
  private void awaitCheckOk(long deadline) throws InterruptedException {
    try {
      Poll.until(
          "redis-cli --cluster check to be clean",
          left(deadline),
          Duration.ofMillis(200),
          () -> {
            try {
              return clusterCommand(WAIT_MILLIS, "check", address(anyLivePort()));
            } catch (IllegalStateException notOk) {
              return notOk.getMessage();
            }
          },
          out ->
              out.contains("[OK] All nodes agree about slots configuration.")
                  && out.contains("[OK] All 16384 slots covered.")
                  && !out.contains("[WARNING]")
                  && !out.contains("[ERR]"));
    } catch (AssertionError e) {
      throw new IllegalStateException("timed out waiting for " + e.getMessage(), e);
    }
  }

  private static String tail(Path file) throws IOException {
    String s = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    return s.length() <= 4000 ? s : "…" + s.substring(s.length() - 4000);
  }

  private static String address(int port) {
    return "127.0.0.1:" + port;
  }

  /** Waits until every live node reports {@code cluster_state:ok}. */
  public void awaitOk() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i) != null) {
        int port = port(i);
        await(
            deadline,
            "node " + port + " to report cluster_state:ok",
            () -> cli(port, "cluster", "info").contains("cluster_state:ok"));
      }
    }
  }

  /** Waits until every live replica has a working link to its primary (so it can take over). */
  public void awaitReplicasInSync() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i) != null) {
        int port = port(i);
        await(
            deadline,
            "replica " + port + " to sync with its primary",
            () -> {
              String info = cli(port, "info", "replication");
              return info.contains("role:master") || info.contains("master_link_status:up");
            });
      }
    }
  }

  /**
   * Writes the node's ACL file (password digests only) and a config file with the password its
   * replica role authenticates with, both readable by the owner only; returns the config file,
   * which redis-server takes as its first argument.
   */
  private Path writeSecrets(Path nodeDir) throws IOException {
    Path acl = nodeDir.resolve("users.acl");
    writeOwnerOnly(
        acl,
        "user default on #"
            + sha256Hex(adminPassword)
            + " ~* &* +@all\n"
            + "user "
            + TALLY_USER
            + " "
            + RedisOptions.ACL_RULE
            + " #"
            + sha256Hex(tallyPassword)
            + "\n"
            // a replica syncs from its primary as this user: PSYNC, REPLCONF and PING only
            + "user replica on #"
            + sha256Hex(replicaPassword)
            + " -@all +psync +replconf +ping\n");
    Path conf = nodeDir.resolve("secrets.conf");
    writeOwnerOnly(
        conf, "aclfile " + acl + "\nmasteruser replica\nmasterauth " + replicaPassword + "\n");
    return conf;
  }

  private static void writeOwnerOnly(Path file, String content) throws IOException {
    Files.deleteIfExists(file);
    Files.createFile(
        file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(file, content, StandardCharsets.UTF_8);
  }

  private static String randomPassword() {
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private static String sha256Hex(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }

  private static void checkDeadline(long deadline, String what) {
    if (System.nanoTime() > deadline) {
      throw new IllegalStateException("timed out after " + WAIT_MILLIS + " ms waiting for " + what);
    }
  }

  /**
   * {@link Poll#until(String, Duration, Callable)} until {@code deadline} (a {@link
   * System#nanoTime} value), failing as {@link #checkDeadline} does: an IllegalStateException
   * naming {@code what}, with Poll's error (the last answer or failure) as its cause.
   */
  private static void await(long deadline, String what, Callable<Boolean> condition)
      throws InterruptedException {
    try {
      Poll.until(what, left(deadline), condition);
    } catch (AssertionError e) {
      throw new IllegalStateException(
          "timed out after " + WAIT_MILLIS + " ms waiting for " + what, e);
    }
  }

  /** The time from now until {@code deadline} (a {@link System#nanoTime} value), or zero. */
  private static Duration left(long deadline) {
    return Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
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

  /** A port in 20000-40000, and its bus port (+10000), free and used by no node of this cluster. */
  private int freePort() {
    for (int attempt = 0; attempt < 50; attempt++) {
      int port = ThreadLocalRandom.current().nextInt(20_000, 40_000);
      if (!ports.contains(port) && isFree(port) && isFree(port + 10_000)) {
        return port;
      }
    }
    throw new IllegalStateException("no free port for another Redis node in 20000-40000");
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
