package dev.tally.loop;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Threads for tests of thread priorities: each learns its kernel id and waits until {@link #close},
 * which ends and joins them. The ids are in the threads' start order.
 */
final class ParkedThreads implements AutoCloseable {

  private final CountDownLatch done = new CountDownLatch(1);
  private final List<Thread> threads = new ArrayList<>();
  private final long[] ids;

  /** Starts one thread per name and returns once each knows its kernel id. */
  static ParkedThreads start(String... names) throws InterruptedException {
    return new ParkedThreads(names);
  }

  private ParkedThreads(String[] names) throws InterruptedException {
    ids = new long[names.length];
    CountDownLatch started = new CountDownLatch(names.length);
    List<Exception> failures = new CopyOnWriteArrayList<>();
    for (int i = 0; i < names.length; i++) {
      int at = i;
      threads.add(
          Thread.ofPlatform()
              .name(names[i])
              .start(
                  () -> {
                    try {
                      ids[at] = LoopPriority.threadId();
                    } catch (Exception e) {
                      failures.add(e);
                    }
                    started.countDown();
                    try {
                      done.await();
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                  }));
    }
    if (!started.await(5, TimeUnit.SECONDS) || !failures.isEmpty()) {
      close();
      throw new IllegalStateException("threads did not start: " + failures);
    }
  }

  /** The kernel id of the {@code i}-th thread (valid after its start, also once it has ended). */
  long id(int i) {
    return ids[i];
  }

  /** All kernel ids, in start order. */
  List<Long> ids() {
    List<Long> out = new ArrayList<>();
    for (long id : ids) {
      out.add(id);
    }
    return out;
  }

  /** Ends the threads and waits for them. */
  @Override
  public void close() throws InterruptedException {
    done.countDown();
    for (Thread t : threads) {
      t.join(5_000);
    }
  }
}
