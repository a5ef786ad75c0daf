package dev.tally.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProcStatTest {

  // a task's stat line as proc(5) gives it, its name holding a space and parentheses
  private static final String LINE =
      "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 4 30 0 99 0 0";

  @Test
  void numbersFieldsAsProc5Does_countingFromTheNamesLastParenthesis() {
    assertThat(ProcStat.field(LINE, 3)).isEqualTo("S");
    assertThat(ProcStat.field(LINE, 4)).isEqualTo("1");
    assertThat(ProcStat.field(LINE, 14)).isEqualTo("1234");
    assertThat(ProcStat.field(LINE, 15)).isEqualTo("567");
    assertThat(ProcStat.field(LINE, 19)).isEqualTo("4");
  }

  @Test
  void refusesTheIdAndTheName() {
    assertThatThrownBy(() -> ProcStat.field(LINE, 2)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void findsThisProcesssThreadsByName_andNoOthers() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Files.isDirectory(Path.of("/proc/self/task")), "needs Linux's /proc");
    AtomicLong id = new AtomicLong();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Thread t =
        Thread.ofPlatform()
            .name("zz-procstat-" + System.nanoTime()) // cut to 15 characters by the kernel
            .start(
                () -> {
                  try {
                    id.set(LoopPriority.threadId());
                    started.countDown();
                    done.await();
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                });
    try {
      assertThat(started.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      assertThat(ProcStat.threadsNamed(n -> n.startsWith("zz-procstat-")))
          .containsExactly(id.get());
      assertThat(ProcStat.threadsNamed(n -> n.equals("no-such-thread"))).isEmpty();
    } finally {
      done.countDown();
      t.join(5_000);
    }
  }
}
