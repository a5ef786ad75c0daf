package dev.tally.bench.fault;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Network partitions on loopback between groups of processes: each group is a cgroup (v2) the test
 * starts its processes in, and a cut is an iptables rule that drops the TCP packets a group's
 * processes send over {@code lo} to some ports. Not thread-safe: use it from the test thread, with
 * try-with-resources; a JVM shutdown hook runs the same cleanup if the test never gets to close.
 *
 * <p>Why cgroups: every process of the fault tests (tally nodes, Redis servers, the test itself)
 * runs as root on 127.0.0.1, so neither addresses, users nor ports tell "a tally node talking to
 * Redis" apart from "a Redis replica talking to its primary" (both connect to the Redis data port).
 * iptables' {@code cgroup --path} match does: a socket belongs to the cgroup of the process that
 * made it, so a rule can drop only what the tally nodes send, and Redis replication and cluster bus
 * traffic go on untouched (no failover is provoked). The launcher from {@link #launcher} moves
 * itself into the group before it exec's the node, so no socket of the node is ever made outside.
 * Dropping only the outgoing direction is enough: the node's requests and acknowledgements never
 * reach Redis, so its connections stall until the cut is healed, as behind a dead link.
 *
 * <p>Cleanup: every rule carries the comment {@code tally-test-<random>} (this instance's tag), and
 * the cgroups live under {@code <cgroup2 mount>/tally-test-<random>/}; {@link #heal} deletes
 * exactly the rules with this tag, {@link #close} also kills whatever is left in the groups
 * (processes this test started) and removes them.
 */
final class CgroupPartition implements AutoCloseable {

  private static final String IPTABLES_PATH = "/usr/sbin/iptables";

  private final String tag = "tally-test-" + HexFormat.of().toHexDigits(randomBits());
  private final Path dir;
  private final Set<String> groups = new LinkedHashSet<>();
  private final List<List<String>> specs = new ArrayList<>();
  private final Thread hook = new Thread(this::cleanup, "cgroup-partition-cleanup");

  private CgroupPartition(Path mount) {
    this.dir = mount.resolve(tag);
  }

  /** True when iptables is installed. */
  static boolean iptablesAvailable() {
    return iptables() != null;
  }

  /**
   * Creates this test's cgroup directory under the cgroup2 mount.
   *
   * @throws IllegalStateException when no cgroup2 hierarchy is mounted
   */
  static CgroupPartition open() throws IOException {
    CgroupPartition p = new CgroupPartition(cgroup2Mount());
    Files.createDirectory(p.dir);
    Runtime.getRuntime().addShutdownHook(p.hook);
    return p;
  }

  /**
   * A command prefix that moves itself into group {@code group} (created if needed), then exec's
   * the rest of its command line: every socket of the started process belongs to the group.
   */
  List<String> launcher(String group) throws IOException {
    if (!group.matches("[a-z0-9-]{1,20}")) {
      throw new IllegalArgumentException("group names are 1-20 of [a-z0-9-], got '" + group + "'");
    }
    Path g = dir.resolve(group);
    if (groups.add(group)) {
      Files.createDirectory(g);
    }
    return List.of(
        "/bin/sh",
        "-c",
        "echo $$ > \"$1\" || exit 97; shift; exec \"$@\"",
        "tally-in-cgroup",
        g.resolve("cgroup.procs").toString());
  }

  /** Drops every TCP packet that processes of {@code group} send over loopback to {@code ports}. */
  void cut(String group, Collection<Integer> ports) throws IOException, InterruptedException {
    if (!groups.contains(group)) {
      throw new IllegalArgumentException("no process was launched in group " + group);
    }
    if (ports.isEmpty() || ports.size() > 15) {
      throw new IllegalArgumentException(
          "1 to 15 ports per cut (iptables multiport), got " + ports);
    }
    String list = ports.stream().map(String::valueOf).collect(Collectors.joining(","));
    List<String> spec =
        List.of(
            ("OUTPUT -o lo -d 127.0.0.0/8 -p tcp -m cgroup --path %s/%s -m multiport --dports %s"
                    + " -m comment --comment %s -j DROP")
                .formatted(tag, group, list, tag)
                .split(" "));
    specs.add(spec);
    List<String> insert = new ArrayList<>(List.of("-I"));
    insert.addAll(spec);
    iptables(insert.toArray(String[]::new));
  }

  /**
   * Deletes every rule of this instance: each one it inserted, then any other rule that carries its
   * tag (listed by {@code iptables -S}); returns how many were deleted.
   */
  int heal() throws IOException, InterruptedException {
    int deleted = 0;
    for (List<String> spec : specs) {
      List<String> check = new ArrayList<>(List.of("-C"));
      check.addAll(spec);
      for (int i = 0; i < 100 && succeeds(check); i++) {
        List<String> delete = new ArrayList<>(List.of("-D"));
        delete.addAll(spec);
        iptables(delete.toArray(String[]::new));
        deleted++;
      }
    }
    specs.clear();
    for (String line : iptables("-S", "OUTPUT").split("\n")) {
      List<String> args = new ArrayList<>();
      for (String token : line.strip().split(" ")) {
        // -S quotes some values ("a/b"); ours have no spaces or quotes inside
        args.add(token.replace("\"", ""));
      }
      int comment = args.indexOf("--comment");
      if (args.size() > 2
          && args.get(0).equals("-A")
          && comment >= 0
          && comment + 1 < args.size()
          && args.get(comment + 1).equals(tag)) {
        args.set(0, "-D");
        iptables(args.toArray(String[]::new));
        deleted++;
      }
    }
    return deleted;
  }

  /** Number of rules of this instance in place now. */
  int rules() throws IOException, InterruptedException {
    int n = 0;
    for (String line : iptables("-S", "OUTPUT").split("\n")) {
      if (Arrays.asList(line.strip().split(" ")).contains(tag)) {
        n++;
      }
    }
    return n;
  }

  @Override
  public void close() throws IOException, InterruptedException {
    try {
      cleanupOrThrow();
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running or has run
      }
    }
  }

  private void cleanup() {
    try {
      cleanupOrThrow();
    } catch (IOException | InterruptedException | RuntimeException e) {
      System.err.println("cleanup of " + tag + " incomplete: " + e);
    }
  }

  private void cleanupOrThrow() throws IOException, InterruptedException {
    try {
      heal();
    } finally {
      removeGroups();
    }
  }

  private void removeGroups() throws IOException {
    for (String group : groups) {
      Path g = dir.resolve(group);
      if (!Files.isDirectory(g)) {
        continue;
      }
      // only processes this test launched are in its groups
      for (String pid : Files.readAllLines(g.resolve("cgroup.procs"))) {
        if (!pid.isBlank()) {
          ProcessHandle.of(Long.parseLong(pid.strip()))
              .ifPresent(
                  h -> {
                    h.destroyForcibly();
                    h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(t -> h).join();
                  });
        }
      }
      Files.deleteIfExists(g);
    }
    Files.deleteIfExists(dir);
  }

  private static long randomBits() {
    return ThreadLocalRandom.current().nextLong() & 0xffff_ffff_ffffL;
  }

  private static boolean succeeds(List<String> args) throws IOException, InterruptedException {
    try {
      iptables(args.toArray(String[]::new));
      return true;
    } catch (IllegalStateException e) {
      return false;
    }
  }

  private static String iptables(String... args) throws IOException, InterruptedException {
    String bin = iptables();
    if (bin == null) {
      throw new IllegalStateException("iptables is not installed");
    }
    List<String> cmd = new ArrayList<>(List.of(bin, "-w", "10"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("iptables did not finish in 30 s: " + cmd);
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        throw new IllegalStateException(cmd + " failed (" + p.exitValue() + "): " + out);
      }
      return out;
    } finally {
      p.destroyForcibly();
    }
  }

  private static String iptables() {
    if (Files.isExecutable(Path.of(IPTABLES_PATH))) {
      return IPTABLES_PATH;
    }
    String path = System.getenv("PATH");
    if (path != null) {
      for (String d : path.split(java.io.File.pathSeparator)) {
        if (Files.isExecutable(Path.of(d, "iptables"))) {
          return Path.of(d, "iptables").toString();
        }
      }
    }
    return null;
  }

  /** Where the cgroup v2 hierarchy is mounted (e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified). */
  private static Path cgroup2Mount() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
        String[] f = line.split(" ");
        if (f.length > 2 && f[2].equals("cgroup2")) {
          return Path.of(f[1]);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    throw new IllegalStateException(
        "no cgroup2 hierarchy is mounted: the partition tests need one to tell the tally nodes'"
            + " traffic from Redis's own");
  }
}
