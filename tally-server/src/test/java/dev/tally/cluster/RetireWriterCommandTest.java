package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The command's usage errors: each a clear message and exit code 2, before touching Redis. */
class RetireWriterCommandTest {

  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return RetireWriterCommand.run(
        args,
        rest -> {
          if (rest.length > 0 && rest[0].equals("--bad")) {
            throw new IllegalArgumentException("unknown option --bad (see --help)");
          }
          return new RetireWriterCommand.Target(
              RedisOptions.plain(List.of("127.0.0.1:1"), Duration.ofSeconds(1)), 65_536);
        },
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void withoutAWriter_printsTheUsage() {
    assertThat(run("--redis", "127.0.0.1:1")).isEqualTo(2);
    assertThat(err()).contains("usage: tally retire-writer --writer HEX");
  }

  @Test
  void aWriterThatIsNotHex_printsTheUsage() {
    assertThat(run("--writer", "node-7", "--redis", "127.0.0.1:1")).isEqualTo(2);
    assertThat(err()).contains("usage:");
  }

  @Test
  void theBaseEntry_cannotBeRetired() {
    assertThat(run("--writer", "0", "--redis", "127.0.0.1:1")).isEqualTo(2);
    assertThat(err()).contains("writer 0 is the base entry");
  }

  @Test
  void badNodeOptions_areReported() {
    assertThat(run("--writer", "3f2a", "--bad")).isEqualTo(2);
    assertThat(err()).contains("unknown option --bad");
  }
}
