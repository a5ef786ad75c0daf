package dev.tally.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class WakeupsTest {

  private final List<String> log = new CopyOnWriteArrayList<>();

  @Test
  void outsideAHold_aWakeupRunsAtOnce() {
    Wakeups.wake(() -> log.add("woken"));
    assertThat(log).containsExactly("woken");
  }

  @Test
  void insideAHold_wakeupsRunAfterTheHandOut_inTheOrderAskedFor() {
    Wakeups.holdDuring(
        () -> {
          log.add("answer 1");
          Wakeups.wake(() -> log.add("wake a"));
          log.add("answer 2");
          Wakeups.wake(() -> log.add("wake b"));
          log.add("answer 3");
        });
    assertThat(log).containsExactly("answer 1", "answer 2", "answer 3", "wake a", "wake b");
  }

  @Test
  void anInnerHold_waitsForTheOutermost() {
    Wakeups.holdDuring(
        () -> {
          Wakeups.holdDuring(() -> Wakeups.wake(() -> log.add("inner wake")));
          log.add("after the inner hold");
        });
    assertThat(log).containsExactly("after the inner hold", "inner wake");
  }

  @Test
  void aHandOutThatThrows_stillWakesWhatItAskedFor_andTheHoldEnds() {
    assertThatThrownBy(
            () ->
                Wakeups.holdDuring(
                    () -> {
                      Wakeups.wake(() -> log.add("woken"));
                      throw new IllegalStateException("boom");
                    }))
        .hasMessage("boom");
    assertThat(log).containsExactly("woken");
    Wakeups.wake(() -> log.add("at once"));
    assertThat(log).containsExactly("woken", "at once");
  }

  @Test
  void aHold_coversOnlyItsOwnThread() throws InterruptedException {
    Wakeups.holdDuring(
        () -> {
          Thread other = Thread.ofPlatform().start(() -> Wakeups.wake(() -> log.add("other")));
          try {
            other.join();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          log.add("hand-out over");
        });
    assertThat(log).containsExactly("other", "hand-out over");
  }
}
