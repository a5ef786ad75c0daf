package dev.tally.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
}
