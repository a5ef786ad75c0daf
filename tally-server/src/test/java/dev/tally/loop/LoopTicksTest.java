package dev.tally.loop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.testing.Poll;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LoopTicksTest {

  @Test
  void everyLoopGetsARepeatingTick_runOnItsOwnThread() throws Exception {
    DefaultEventLoopGroup loops = new DefaultEventLoopGroup(3);
    try {
      Map<Thread, AtomicInteger> ticks = new ConcurrentHashMap<>();
      AtomicInteger offLoop = new AtomicInteger();
      int started =
          LoopTicks.start(
              loops,
              () -> {
                boolean onALoop = false;
                for (EventExecutor loop : loops) {
                  onALoop |= loop.inEventLoop();
                }
                if (!onALoop) {
                  offLoop.incrementAndGet();
                }
                ticks
                    .computeIfAbsent(Thread.currentThread(), t -> new AtomicInteger())
                    .incrementAndGet();
              },
              5);
      assertThat(started).isEqualTo(3);
      Poll.until(
          "three loops ticking, each more than once",
          Duration.ofSeconds(10),
          () -> ticks.size() == 3 && ticks.values().stream().allMatch(c -> c.get() >= 3));
      assertThat(offLoop).hasValue(0);
    } finally {
      loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }
  }
}
