package dev.tally.counter;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CounterNamesTest {

  @Test
  void aNameInBytes_findsTheSameCodeAsTheName() {
    Map<String, Integer> m = new LinkedHashMap<>();
    m.put("likes", 1);
    m.put("views", 2);
    m.put("like", 9);
    CounterNames names = CounterNames.of(m);
    byte[] key = "xlikes:likeviews".getBytes(StandardCharsets.US_ASCII);
    assertThat(names.codeOrMinusOne(key, 1, 6)).isEqualTo(names.codeOrMinusOne("likes"));
    assertThat(names.codeOrMinusOne(key, 1, 6)).isEqualTo(1);
    assertThat(names.codeOrMinusOne(key, 7, 11)).isEqualTo(9);
    assertThat(names.codeOrMinusOne(key, 11, 16)).isEqualTo(2);
    assertThat(names.codeOrMinusOne(key, 1, 5)).as("a prefix of a name").isEqualTo(9);
    assertThat(names.codeOrMinusOne(key, 1, 4)).as("no name").isEqualTo(-1);
    assertThat(names.codeOrMinusOne(key, 0, 6)).isEqualTo(-1);
    assertThat(names.codeOrMinusOne(key, 3, 3)).as("empty").isEqualTo(-1);
    assertThat(names.codeOrMinusOne("LIKES".getBytes(StandardCharsets.US_ASCII), 0, 5))
        .as("names are case-sensitive, as over HTTP")
        .isEqualTo(names.codeOrMinusOne("LIKES"))
        .isEqualTo(-1);
  }
}
