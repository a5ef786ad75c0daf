package dev.tally.bench.fault;

import dev.tally.testing.NodeProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where the cluster fault scenarios put what outlives them: their row of the reliability report
 * ({@code target/reliability/<name>.{json,md}}, read by {@code bench/reliability.sh}) and their
 * nodes' logs ({@code target/fault-logs/<name>/}, kept for a failed run's diagnosis). Stateless.
 */
final class FaultReport {

  private FaultReport() {}

  /** An empty log directory for scenario {@code name} (last run's logs are removed). */
  static Path logDir(String name) throws IOException {
    Path dir = Path.of("target", "fault-logs", name);
    if (Files.exists(dir)) {
      try (Stream<Path> old = Files.walk(dir)) {
        old.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    return Files.createDirectories(dir).toAbsolutePath();
  }

  /** {@link NodeProcess#start(List, Path, Path, String...)} for use in a lambda. */
  static NodeProcess startNode(List<String> launcher, Path data, Path log, String... args) {
    try {
      return NodeProcess.start(launcher, data, log, args);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Starts {@code count} cluster nodes on {@code redisSeeds} at once (data in {@code
   * dataRoot}/node-i, logs in {@code logs}) and adds each to {@code started} as it comes up, so the
   * caller can stop whatever did start even when another failed. {@code extraArgs} go to every
   * node.
   */
  static void startClusterNodes(
      List<String> launcher,
      Path dataRoot,
      Path logs,
      int count,
      List<String> redisSeeds,
      List<NodeProcess> started,
      String... extraArgs) {
    List<java.util.concurrent.CompletableFuture<NodeProcess>> starting =
        new java.util.ArrayList<>();
    for (int i = 0; i < count; i++) {
      Path data = dataRoot.resolve("node-" + i);
      Path log = logs.resolve("node-" + i + ".log");
      starting.add(
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> {
                List<String> args =
                    new java.util.ArrayList<>(
                        List.of("--redis", String.join(",", redisSeeds), "--redis-timeout", "2s"));
                args.addAll(List.of(extraArgs));
                return startNode(launcher, data, log, args.toArray(new String[0]));
              }));
    }
    RuntimeException failure = null;
    for (java.util.concurrent.CompletableFuture<NodeProcess> f : starting) {
      try {
        started.add(f.join());
      } catch (RuntimeException e) {
        failure = e;
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Writes the scenario's row: one JSON object and one Markdown table row. */
  static void write(String name, String json, String markdown) throws IOException {
    Path out = Files.createDirectories(Path.of("target", "reliability"));
    Files.writeString(out.resolve(name + ".json"), json + "\n");
    Files.writeString(out.resolve(name + ".md"), markdown + "\n");
    System.out.println("reliability: " + json);
  }
}
