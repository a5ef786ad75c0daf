package dev.tally.loop;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Lowers the CPU priority of the node's event loops a few nice steps below the committers' (Linux),
 * and with them the collector's concurrent threads and RocksDB's flushes and compactions.
 *
 * <p>Why: a committer sleeps in the log's sync, and when the disk answers it needs the core back at
 * once, to hand the commit's answers out and start the next sync. Where the event loops keep the
 * core busy (many connections), the kernel's scheduler lets the running loop use up its time slice
 * first: on the 2-core test machine a commit took ≈ 220–350 µs of which ≈ 100 µs was the commit's
 * own work and sync, and the node made a half to a third as many syncs per second as it could. With
 * the loops four steps lower, a commit takes ≈ 100 µs (docs/performance-notes.md, "The committer
 * waits for the core"). The loops lose nothing they need: they get the core whenever the committers
 * sleep, which is most of the time.
 *
 * <p>How: the JVM leaves thread priorities alone on Linux unless started with {@code
 * -XX:ThreadPriorityPolicy=1} (which warns at every start when not root), so each loop tells its
 * kernel thread id ({@code /proc/thread-self}) and {@code renice} lowers those threads. Lowering a
 * thread's priority needs no privilege. What it did is checked by reading the threads' nice values
 * back. Called once at start; not thread-safe.
 *
 * <p>The collector's concurrent threads go down with the loops ({@link #lowerThreads}): at nice 0
 * they would rank above the lowered loops, and while a ZGC cycle runs on a busy core the loops got
 * the core only a third of the time; requests queued behind the cycle. At a fixed 20,000 writes/s,
 * about half the peak rate on one core (data on tmpfs), the collector at the loops' level took the
 * p99 of single writes from 12.5–34.4 ms to 2.7–13.3 ms (docs/performance-notes.md, "The collector
 * beside the event loops"). RocksDB's flushes and compactions go down too: background work that at
 * nice 0 took the core from the committers; spread batch writes gained a sixth (same section).
 */
public final class LoopPriority {

  /** Nice values stop here. */
  static final int LOWEST = 19;

  private static final Path THREAD_SELF = Path.of("/proc/thread-self");
  private static final long TIMEOUT_SECONDS = 5;

  /**
   * What {@link #lower} did.
   *
   * @param lowered true when every thread now runs at its lowered priority
   * @param threads how many threads were lowered
   * @param detail the nice values set, or why nothing was done
   */
  public record Outcome(boolean lowered, int threads, String detail) {}

  private LoopPriority() {}

  /**
   * Lowers every thread of {@code loops} by {@code by} nice steps (at most to 19), with the {@code
   * renice} command found as {@code renice}; starts threads the group has not started yet. Never
   * throws: what failed is in the outcome.
   */
  public static Outcome lower(EventExecutorGroup loops, int by, String renice) {
    return lowerFound(
        () -> {
          List<Future<Long>> asked = new ArrayList<>();
          for (EventExecutor loop : loops) {
            asked.add(loop.submit(LoopPriority::threadId));
          }
          List<Long> ids = new ArrayList<>();
          for (Future<Long> f : asked) {
            if (!f.await(TIMEOUT_SECONDS, TimeUnit.SECONDS) || !f.isSuccess()) {
              throw new IOException("an event loop did not tell its thread id: " + f.cause());
            }
            ids.add(f.getNow());
          }
          return ids;
        },
        by,
        renice);
  }

  /**
   * True for the threads of the Z garbage collector's concurrent work (its workers, director and
   * drivers), by the names HotSpot gives them; its pauses are a VM operation of their own.
   */
  public static boolean zgcThread(String name) {
    return name.startsWith("ZWorker") || name.startsWith("ZDriver") || name.equals("ZDirector");
  }

  /**
   * True for RocksDB's background threads (its flushes and compactions), by the names RocksDB gives
   * its thread pools ({@code rocksdb:low}, {@code rocksdb:high}, …).
   */
  public static boolean rocksDbThread(String name) {
    return name.startsWith("rocksdb:");
  }

  /**
   * Lowers every thread of this process whose name {@code named} accepts ({@link
   * ProcStat#threadsNamed}) by {@code by} nice steps (at most to 19). Never throws: what failed is
   * in the outcome; none found is not lowered.
   */
  public static Outcome lowerThreads(Predicate<String> named, int by, String renice) {
    return lowerFound(() -> ProcStat.threadsNamed(named), by, renice);
  }

  /** Where the thread ids to lower come from. */
  private interface ThreadIds {
    List<Long> find() throws IOException, InterruptedException;
  }

  private static Outcome lowerFound(ThreadIds threads, int by, String renice) {
    if (by <= 0) {
      return new Outcome(false, 0, "off");
    }
    if (!Files.isSymbolicLink(THREAD_SELF)) {
      return new Outcome(false, 0, "not on Linux (no " + THREAD_SELF + ")");
    }
    try {
      List<Long> ids = threads.find();
      if (ids.isEmpty()) {
        return new Outcome(false, 0, "no such threads");
      }
      return lower(ids, by, renice);
    } catch (IOException | RuntimeException e) {
      return new Outcome(false, 0, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Outcome(false, 0, "interrupted");
    }
  }

  /**
   * Lowers the threads {@code ids} of this process by {@code by} steps and checks the result. A
   * thread that ends in the meantime is left out ({@code renice} may then fail for it alone): the
   * outcome counts the threads lowered, and fails only for a running thread left at another nice.
   */
  static Outcome lower(List<Long> ids, int by, String renice)
      throws IOException, InterruptedException {
    // the threads' targets: each one's nice now plus the step, grouped into one command each
    Map<Integer, List<Long>> byTarget = new TreeMap<>();
    for (long id : ids) {
      OptionalInt nice = niceIfRunning(id);
      if (nice.isPresent()) {
        int target = Math.min(LOWEST, nice.getAsInt() + by);
        byTarget.computeIfAbsent(target, t -> new ArrayList<>()).add(id);
      }
    }
    int lowered = 0;
    for (Map.Entry<Integer, List<Long>> e : byTarget.entrySet()) {
      String failed = run(renice, e.getKey(), e.getValue());
      for (long id : e.getValue()) {
        OptionalInt now = niceIfRunning(id);
        if (now.isEmpty()) {
          continue;
        }
        if (now.getAsInt() != e.getKey()) {
          return new Outcome(
              false,
              0,
              failed != null
                  ? failed
                  : "thread " + id + " runs at nice " + now.getAsInt() + ", not " + e.getKey());
        }
        lowered++;
      }
    }
    if (lowered == 0) {
      return new Outcome(false, 0, "no such threads (they ended)");
    }
    return new Outcome(
        true,
        lowered,
        "to nice " + String.join(", ", byTarget.keySet().stream().map(String::valueOf).toList()));
  }

  /** {@link #nice}, or empty when the thread has ended. */
  private static OptionalInt niceIfRunning(long id) throws IOException {
    try {
      return OptionalInt.of(nice(id));
    } catch (NoSuchFileException e) {
      return OptionalInt.empty();
    }
  }

  /** The calling thread's kernel id: the last element of {@code /proc/thread-self}'s target. */
  static long threadId() throws IOException {
    return Long.parseLong(Files.readSymbolicLink(THREAD_SELF).getFileName().toString());
  }

  /** The nice value of this process's thread {@code id}, from {@code /proc/self/task/<id>/stat}. */
  static int nice(long id) throws IOException {
    return Integer.parseInt(
        ProcStat.field(Files.readString(Path.of("/proc/self/task/" + id + "/stat")), 19));
  }

  /** Runs {@code renice <nice> -p <ids>}; null when it succeeded, else what went wrong. */
  private static String run(String renice, int nice, List<Long> ids)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(renice, Integer.toString(nice), "-p"));
    ids.forEach(id -> command.add(Long.toString(id)));
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(true).start();
    } catch (IOException e) {
      return "cannot run " + renice + ": " + e.getMessage();
    }
    p.getOutputStream().close();
    if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return renice + " did not finish within " + TIMEOUT_SECONDS + " s";
    }
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    return p.exitValue() == 0 ? null : renice + " failed (" + p.exitValue() + "): " + output;
  }
}
