package dev.tally.loop;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class CollectorTest {

  private static Function<String, Optional<String>> flags(Map<String, String> set) {
    return name -> Optional.ofNullable(set.get(name));
  }

  @Test
  void zgc_saysWhetherItsProactiveCyclesRun() {
    assertThat(
            Collector.describe(
                flags(Map.of("UseG1GC", "false", "UseZGC", "true", "ZProactive", "false")),
                1L << 30))
        .isEqualTo("ZGC, proactive cycles off, heap up to 1024 MiB");
    assertThat(Collector.describe(flags(Map.of("UseZGC", "true", "ZProactive", "true")), 4L << 30))
        .isEqualTo(
            "ZGC, proactive cycles on (-XX:-ZProactive turns them off), heap up to 4096 MiB");
  }

  @Test
  void anotherCollector_isNamed_withoutZgcsFlags() {
    assertThat(
            Collector.describe(
                flags(Map.of("UseZGC", "false", "UseG1GC", "true", "ZProactive", "true")),
                512L << 20))
        .isEqualTo("G1, heap up to 512 MiB");
    assertThat(Collector.describe(flags(Map.of()), 512L << 20))
        .isEqualTo("unknown, heap up to 512 MiB");
  }

  @Test
  void thisJvm_isDescribedFromItsOwnFlags() {
    // the test JVM runs whatever collector surefire gives it; whichever it is, it has a name
    assertThat(Collector.describe()).doesNotStartWith("unknown").contains(", heap up to ");
  }
}
