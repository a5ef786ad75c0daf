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

  /**
   * The idempotency mode cluster scenarios run their nodes in ({@code tally.fault.idempotency}):
   * strict unless a scenario needs otherwise, so the report's zero duplicates hold for any retry.
   */
  static final String IDEMPOTENCY = System.getProperty("tally.fault.idempotency", "strict");

  /**
   * A scenario's seed: {@code tally.fault.seed} when given (to replay a run), else {@code base}
   * plus 1000 × {@code tally.fault.run} (0 by default), so that {@code bench/reliability.sh --runs
   * N} runs every scenario with N different seeds.
   */
  static long seed(long base) {
    Long given = Long.getLong("tally.fault.seed");
    return given != null ? given : base + 1000L * Integer.getInteger("tally.fault.run", 0);
  }

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
   * caller can stop whatever did start even when another failed. The nodes run with {@code
   * --idempotency} {@link #IDEMPOTENCY}; {@code extraArgs} go to every node after that (a later
   * flag wins).
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
                        List.of(
                            "--redis",
                            String.join(",", redisSeeds),
                            "--redis-timeout",
                            "2s",
                            "--idempotency",
                            IDEMPOTENCY));
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
