package dev.tally.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tally.testing.Poll;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class LoopPriorityTest {

  private DefaultEventLoopGroup loops;

  @BeforeEach
  void linuxOnly() {
    assumeTrue(Files.isSymbolicLink(Path.of("/proc/thread-self")), "needs Linux's /proc");
    loops = new DefaultEventLoopGroup(2);
  }

  @AfterEach
  void stop() throws InterruptedException {
    if (loops != null) {
      loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void lowersEveryLoopThread_byTheStep_andNothingElse() throws Exception {
    List<Integer> before = nices();
    int mine = LoopPriority.nice(LoopPriority.threadId());

    LoopPriority.Outcome o = LoopPriority.lower(loops, 3, "renice");

    assertThat(o.lowered()).as(o.detail()).isTrue();
    assertThat(o.threads()).isEqualTo(2);
    List<Integer> after = nices();
    for (int i = 0; i < before.size(); i++) {
      assertThat(after.get(i)).isEqualTo(Math.min(LoopPriority.LOWEST, before.get(i) + 3));
    }
    assertThat(LoopPriority.nice(LoopPriority.threadId())).as("the caller").isEqualTo(mine);
  }

  @Test
  void stopsAtTheLowestPriority() throws Exception {
    assertThat(LoopPriority.lower(loops, 17, "renice").lowered()).isTrue();

    LoopPriority.Outcome o = LoopPriority.lower(loops, 4, "renice");

    assertThat(o.lowered()).as(o.detail()).isTrue();
    assertThat(nices()).containsOnly(LoopPriority.LOWEST);
  }

  @Test
  void aMissingCommand_isReported_andChangesNothing() throws Exception {
    assertThat(lowerExpectingNoChange(3, "/nonexistent/renice").detail())
        .contains("cannot run /nonexistent/renice");
  }

  @Test
  void aFailingCommand_isReportedWithItsExitCode() throws Exception {
    assertThat(lowerExpectingNoChange(3, "false").detail()).contains("false failed (1)");
  }

  @Test
  void loopsThatNoLongerRun_areReported_notThrown() throws Exception {
    loops.shutdownGracefully(0, 0, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);

    LoopPriority.Outcome o = LoopPriority.lower(loops, 3, "renice");

    assertThat(o.lowered()).isFalse();
    assertThat(o.detail()).contains("Rejected");
  }

  @Test
  void stepZero_doesNothing() throws Exception {
    assertThat(lowerExpectingNoChange(0, "renice").detail()).isEqualTo("off");
  }

  @Test
  void readsTheNiceValue_ofAThreadWhoseNameHasSpacesAndParentheses() throws Exception {
    long[] id = new long[1];
    int[] nice = new int[1];
    Thread t =
        new Thread(
            () -> {
              try {
                id[0] = LoopPriority.threadId();
                nice[0] = LoopPriority.nice(id[0]);
              } catch (Exception e) {
                throw new AssertionError(e);
              }
            },
            "a (b) c");
    t.start();
    t.join();
    assertThat(id[0]).isPositive();
    assertThat(nice[0]).isEqualTo(LoopPriority.nice(LoopPriority.threadId()));
  }

  /** Lowers by {@code by} with {@code command}, asserting that it did not and changed nothing. */
  private LoopPriority.Outcome lowerExpectingNoChange(int by, String command) throws Exception {
    List<Integer> before = nices();

    LoopPriority.Outcome o = LoopPriority.lower(loops, by, command);

    assertThat(o.lowered()).isFalse();
    assertThat(nices()).isEqualTo(before);
    return o;
  }

  /** Each loop thread's nice value, in the group's order (starting the threads if need be). */
  private List<Integer> nices() throws Exception {
    List<Integer> out = new ArrayList<>();
    for (EventExecutor loop : loops) {
      out.add(
          loop.submit(() -> LoopPriority.nice(LoopPriority.threadId())).get(5, TimeUnit.SECONDS));
    }
    return out;
  }

  @Test
  void lowersTheThreadsNamedSo_andNoOther() throws Exception {
    try (ParkedThreads named = ParkedThreads.start("zz-lowered-0", "zz-lowered-1")) {
      List<Long> ids = named.ids();
      List<Integer> before = new ArrayList<>();
      for (long id : ids) {
        before.add(LoopPriority.nice(id));
      }
      List<Integer> loopsBefore = nices();
      int mine = LoopPriority.nice(LoopPriority.threadId());

      LoopPriority.Outcome o =
          LoopPriority.lowerThreads(n -> n.startsWith("zz-lowered-"), 2, "renice");

      assertThat(o.lowered()).as(o.detail()).isTrue();
      assertThat(o.threads()).isEqualTo(2);
      for (int i = 0; i < ids.size(); i++) {
        assertThat(LoopPriority.nice(ids.get(i)))
            .isEqualTo(Math.min(LoopPriority.LOWEST, before.get(i) + 2));
      }
      assertThat(nices()).as("other threads").isEqualTo(loopsBefore);
      assertThat(LoopPriority.nice(LoopPriority.threadId())).as("the caller").isEqualTo(mine);
    }
  }

  @Test
  void aThreadThatEndedBeforeItsTurn_isLeftOut_andTheOthersAreLowered() throws Exception {
    long endedId;
    try (ParkedThreads ended = ParkedThreads.start("zz-ended")) {
      endedId = ended.id(0);
    }
    // the kernel's thread outlives the Java thread's end by a moment
    Path endedTask = Path.of("/proc/self/task/" + endedId);
    Poll.until(
        "the ended thread's task gone",
        Duration.ofSeconds(5),
        Duration.ofMillis(10),
        () -> Files.exists(endedTask),
        exists -> !exists);
    try (ParkedThreads live = ParkedThreads.start("zz-live")) {
      long liveId = live.id(0);
      int before = LoopPriority.nice(liveId);

      LoopPriority.Outcome o = LoopPriority.lower(List.of(endedId, liveId), 2, "renice");

      assertThat(o.lowered()).as(o.detail()).isTrue();
      assertThat(o.threads()).isEqualTo(1);
      assertThat(LoopPriority.nice(liveId)).isEqualTo(Math.min(LoopPriority.LOWEST, before + 2));
      assertThat(LoopPriority.lower(List.of(endedId), 2, "renice").detail())
          .isEqualTo("no such threads (they ended)");
    }
  }

  @Test
  void noThreadNamedSo_isReported_notLowered() {
    LoopPriority.Outcome o =
        LoopPriority.lowerThreads(n -> n.equals("no-such-thread"), 2, "renice");

    assertThat(o.lowered()).isFalse();
    assertThat(o.detail()).isEqualTo("no such threads");
  }

  @Test
  void rocksDbThreads_areItsPools() {
    assertThat(LoopPriority.rocksDbThread("rocksdb:low")).isTrue();
    assertThat(LoopPriority.rocksDbThread("rocksdb:high")).isTrue();
    assertThat(LoopPriority.rocksDbThread("tally-committer")).isFalse();
  }

  @Test
  void zgcThreads_areItsWorkersDirectorAndDrivers() {
    assertThat(
            java.util.stream.Stream.of(
                    "ZWorkerYoung#0", "ZWorkerOld#1", "ZDirector", "ZDriverMajor", "ZDriverMinor")
                .allMatch(LoopPriority::zgcThread))
        .isTrue();
    assertThat(
            java.util.stream.Stream.of(
                    "ZStat", "vert.x-eventloo", "tally-committer", "GC Thread#0", "G1 Conc#0")
                .noneMatch(LoopPriority::zgcThread))
        .isTrue();
  }
}
