package dev.tally.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A tally node as a real OS process, from the built {@code tally.jar} (system property {@code
 * tally.jar}, set by the build): started on port 0, its port read from the start line, stopped with
 * SIGTERM or killed with SIGKILL. The log goes to {@code <data-dir>/../node-N.log}.
 */
public final class NodeProcess implements AutoCloseable {

  private static final Pattern STARTED =
      Pattern.compile("started: port=(\\d+)(?: resp-port=(-?\\d+))?");

  private final Process process;
  private final int port;
  private final int respPort;

  private NodeProcess(Process process, int port, int respPort) {
    this.process = process;
    this.port = port;
    this.respPort = respPort;
  }

  public static Path jar() {
    String p = System.getProperty("tally.jar");
    if (p == null || !Files.exists(Path.of(p))) {
      throw new IllegalStateException("tally.jar not found (" + p + "): run through `mvn verify`");
    }
    return Path.of(p);
  }

  public static NodeProcess start(Path dataDir, Path log, String... extraArgs) throws IOException {
    return start(List.of(), dataDir, log, extraArgs);
  }

  /**
   * Cluster node {@code n<index+1>} of a test: data in {@code dir/n<index+1>}, log {@code
   * dir/n<index+1>.log}, on {@code port} (0: any free one; a restarted node passes its old port),
   * sharing counts through the Redis Cluster at {@code redisSeeds}.
   */
  public static NodeProcess clusterMember(
      Path dir, int index, String redisSeeds, int port, String... extraArgs) throws IOException {
    String name = "n" + (index + 1);
    List<String> args =
        new ArrayList<>(
            // a later flag wins over the "--port 0" of start()
            List.of("--port", Integer.toString(port), "--redis", redisSeeds));
    args.addAll(List.of(extraArgs));
    return start(dir.resolve(name), dir.resolve(name + ".log"), args.toArray(new String[0]));
  }

  /**
   * Like {@link #start(Path, Path, String...)}, with the java command run through {@code launcher}
   * (a command that ends by exec'ing its arguments, e.g. one that first moves itself into a
   * cgroup), so the node's pid is still the launcher's.
   */
  public static NodeProcess start(
      List<String> launcher, Path dataDir, Path log, String... extraArgs) throws IOException {
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd =
        new ArrayList<>(
            List.of(
                javaBin,
                "-Xmx512m",
                "-jar",
                jar().toString(),
                "--port",
                "0",
                "--host",
                "127.0.0.1",
                "--data-dir",
                dataDir.toString()));
    cmd.addAll(0, launcher);
    cmd.addAll(List.of(extraArgs));
    return launch(new ProcessBuilder(cmd), log);
  }

  /**
   * Starts a node from {@code builder} (any command that runs one, e.g. a release archive's
   * bin/tally with {@code --port 0}), appends its output to {@code log} and waits until it says
   * which port it serves. The node writes into the log file itself (no copying thread that could
   * lose its last lines when the process exits), so once it has exited the log holds all it wrote.
   */
  public static NodeProcess launch(ProcessBuilder builder, Path log) throws IOException {
    long from = Files.exists(log) ? Files.size(log) : 0; // the log may hold an earlier run's lines
    Process p =
        builder
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    try {
      while (System.nanoTime() < deadline) {
        Matcher m = STARTED.matcher(readFrom(log, from));
        if (m.find()) {
          return new NodeProcess(
              p,
              Integer.parseInt(m.group(1)),
              m.group(2) == null ? -1 : Integer.parseInt(m.group(2)));
        }
        if (!p.isAlive()) {
          throw new IOException("node exited (code " + p.exitValue() + ") before it started");
        }
        Thread.sleep(20);
      }
      throw new IOException("no start line within 60 s");
    } catch (IOException | InterruptedException | RuntimeException e) {
      p.destroyForcibly();
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new IOException("node did not start: " + e.getMessage() + "; log: " + log, e);
    }
  }

  private static String readFrom(Path log, long from) throws IOException {
    try (var ch = java.nio.channels.FileChannel.open(log)) {
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) Math.max(0, ch.size() - from));
      ch.read(buf, from);
      return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
    }
  }

  public int port() {
    return port;
  }

  /** The Redis-protocol port, or -1 when the node was started without {@code --resp-port}. */
  public int respPort() {
    return respPort;
  }

  public long pid() {
    return process.pid();
  }

  /** True while the process runs. */
  public boolean alive() {
    return process.isAlive();
  }

  /** SIGKILL: the process gets no chance to flush or close anything. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** SIGTERM, then waits for the exit code. */
  public int stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException("node did not stop within 60 s of SIGTERM");
    }
    return process.exitValue();
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      kill();
    }
  }
}
