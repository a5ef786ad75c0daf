package dev.tally.cluster;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * {@code tally retire-writer --writer HEX [node options]}: folds a writer that is gone for good
 * into the base entry of every counter it wrote, in the Redis Cluster the node options name ({@code
 * --redis}, credentials, TLS, {@code --redis-buckets}), and fences it. See docs/cluster.md,
 * "Retiring writers". Not thread-safe; runs once, from main.
 */
public final class RetireWriterCommand {

  /** The command's name on the command line. */
  public static final String NAME = "retire-writer";

  private RetireWriterCommand() {}

  /** What the command needs from the node's configuration, parsed by the caller. */
  public record Target(RedisOptions options, int buckets) {}

  /**
   * Runs the command.
   *
   * @param args the arguments after the command's name
   * @param target parses the remaining (node) options into where to connect; throws a clear
   *     exception for bad options
   * @return the exit code: 0 done, 1 failed, 2 bad usage
   */
  public static int run(
      String[] args, Function<String[], Target> target, PrintStream out, PrintStream err) {
    String writerText = null;
    List<String> rest = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--writer") && i + 1 < args.length) {
        writerText = args[++i];
      } else if (args[i].startsWith("--writer=")) {
        writerText = args[i].substring("--writer=".length());
      } else {
        rest.add(args[i]);
      }
    }
    if (writerText == null || !writerText.matches("[0-9a-fA-F]{1,16}")) {
      err.println(
          "usage: tally "
              + NAME
              + " --writer HEX --redis host:port[,...] [--redis-buckets N] [Redis credentials and"
              + " TLS options]\n"
              + "  HEX: the writer id of a node that is gone for good (its data-dir/node-id, or the"
              + " writer in its start line)");
      return 2;
    }
    long writer = Long.parseUnsignedLong(writerText, 16);
    if (writer == WriterRetirement.BASE_WRITER) {
      err.println("tally: writer 0 is the base entry, not a node");
      return 2;
    }
    Target t;
    try {
      t = target.apply(rest.toArray(String[]::new));
    } catch (RuntimeException e) {
      err.println("tally: " + e.getMessage());
      return 2;
    }
    RedisConnection redis;
    try {
      redis = RedisConnection.open(t.options(), false, false, c -> {});
    } catch (RuntimeException e) {
      err.println("tally: cannot connect to Redis: " + e.getMessage());
      return 1;
    }
    try {
      long started = System.nanoTime();
      long folded = new WriterRetirement(redis, t.buckets()).retire(writer);
      out.printf(
          "writer %s retired: %d counters' shares folded into their base entries in %d ms; a node"
              + " with this writer id will refuse to start%n",
          RedisSlots.writerField(writer), folded, (System.nanoTime() - started) / 1_000_000);
      return 0;
    } catch (Exception e) {
      err.println(
          "tally: retiring writer "
              + RedisSlots.writerField(writer)
              + " failed part way ("
              + RedisSlots.describe(e)
              + "); it is fenced already: run the command again to finish");
      return 1;
    } finally {
      redis.close();
    }
  }
}
