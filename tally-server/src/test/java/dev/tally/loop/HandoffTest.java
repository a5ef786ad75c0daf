package dev.tally.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.engine.Wakeups;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import org.junit.jupiter.api.Test;

class HandoffTest {

  /** The event loop's task queue, run by hand on the test's thread. */
  private final Queue<Runnable> loopQueue = new ArrayDeque<>();

  private int scheduled;

  private Handoff on(Thread loopThread) {
    return new Handoff(
        loopThread,
        task -> {
          scheduled++;
          loopQueue.add(task);
        });
  }

  private void runLoop() {
    for (Runnable r; (r = loopQueue.poll()) != null; ) {
      r.run();
    }
  }

  @Test
  void tasksFromAnotherThread_scheduleOneDrain_andRunInOrder() {
    Handoff h = on(new Thread(() -> {})); // the test's thread is not the loop's
    List<Integer> ran = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      int n = i;
      h.run(() -> ran.add(n));
    }
    assertThat(scheduled).isEqualTo(1);
    runLoop();
    assertThat(ran).containsExactly(0, 1, 2, 3, 4);
    h.run(() -> ran.add(5)); // after the drain: a new one
    assertThat(scheduled).isEqualTo(2);
    runLoop();
    assertThat(ran).containsExactly(0, 1, 2, 3, 4, 5);
  }

  @Test
  void aTaskQueuedByOneTheLoopRuns_runsInTheSameDrain_withoutAnotherBeingScheduled() {
    Handoff h = on(Thread.currentThread());
    List<String> ran = new ArrayList<>();
    h.run(
        () -> {
          ran.add("reply");
          h.run(() -> ran.add("flush"));
        });
    assertThat(scheduled).isEqualTo(1);
    runLoop();
    assertThat(ran).containsExactly("reply", "flush");
    assertThat(scheduled).isEqualTo(1);
  }

  @Test
  void tasksQueuedByTheDrain_runAfterThoseOtherThreadsQueued() throws InterruptedException {
    Handoff h = on(Thread.currentThread());
    List<String> ran = new ArrayList<>();
    Thread committer =
        new Thread(
            () -> {
              h.run(
                  () -> {
                    ran.add("round 1");
                    h.run(() -> ran.add("flush after round 1"));
                  });
              h.run(() -> ran.add("round 2"));
            });
    committer.start();
    committer.join();
    runLoop();
    assertThat(ran).containsExactly("round 1", "round 2", "flush after round 1");
    assertThat(scheduled).isEqualTo(1);
  }

  @Test
  void onTheLoopButOutsideADrain_aTaskSchedulesOne() {
    Handoff h = on(Thread.currentThread());
    List<String> ran = new ArrayList<>();
    h.run(() -> ran.add("later"));
    assertThat(ran).isEmpty();
    assertThat(scheduled).isEqualTo(1);
    runLoop();
    assertThat(ran).containsExactly("later");
  }

  @Test
  void aTaskThatThrows_leavesTheOthersToADrainOfTheirOwn() {
    Handoff h = on(Thread.currentThread());
    List<String> ran = new ArrayList<>();
    h.run(
        () -> {
          throw new IllegalStateException("boom");
        });
    h.run(() -> ran.add("after"));
    assertThatThrownBy(this::runLoop).hasMessage("boom");
    assertThat(ran).isEmpty();
    assertThat(scheduled).isEqualTo(2);
    runLoop();
    assertThat(ran).containsExactly("after");
  }

  @Test
  void aTaskThatThrows_leavesTheTasksItQueuedToTheNextDrain() {
    Handoff h = on(Thread.currentThread());
    List<String> ran = new ArrayList<>();
    h.run(
        () -> {
          h.run(() -> ran.add("queued before the throw"));
          throw new IllegalStateException("boom");
        });
    assertThatThrownBy(this::runLoop).hasMessage("boom");
    assertThat(scheduled).isEqualTo(2);
    runLoop();
    assertThat(ran).containsExactly("queued before the throw");
  }

  @Test
  void insideAHold_theDrainIsScheduledWhenTheHoldEnds() {
    Handoff h = on(new Thread(() -> {}));
    Wakeups.holdDuring(
        () -> {
          h.run(() -> {});
          h.run(() -> {});
          assertThat(scheduled).isZero();
        });
    assertThat(scheduled).isEqualTo(1);
  }
}
