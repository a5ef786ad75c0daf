package dev.tally.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
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
    // the name is cut to 15 characters by the kernel
    try (ParkedThreads t = ParkedThreads.start("zz-procstat-" + System.nanoTime())) {
      assertThat(ProcStat.threadsNamed(n -> n.startsWith("zz-procstat-"))).containsExactly(t.id(0));
      assertThat(ProcStat.threadsNamed(n -> n.equals("no-such-thread"))).isEmpty();
    }
  }
}
