package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisCommandExecutionException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class IdempotencyClaimsTest {

  @Test
  void movedAndAskRepliesNameWhereToGo() {
    assertThat(IdempotencyClaims.Redirect.parse("MOVED 3999 127.0.0.1:6381"))
        .isEqualTo(new IdempotencyClaims.Redirect(false, "127.0.0.1", 6381));
    assertThat(IdempotencyClaims.Redirect.parse("ASK 12 10.0.0.7:7002"))
        .isEqualTo(new IdempotencyClaims.Redirect(true, "10.0.0.7", 7002));
    assertThat(IdempotencyClaims.Redirect.parse("ASK 12 ::1:7002")) // IPv6, as Redis writes it
        .isEqualTo(new IdempotencyClaims.Redirect(true, "::1", 7002));
  }

  @Test
  void otherErrorsAreNoRedirect() {
    assertThat(IdempotencyClaims.Redirect.parse("TRYAGAIN Multiple keys request during rehashing"))
        .isNull();
    assertThat(IdempotencyClaims.Redirect.parse("CLUSTERDOWN The cluster is down")).isNull();
    assertThat(IdempotencyClaims.Redirect.parse("MOVED 3999 nohostport")).isNull();
    assertThat(IdempotencyClaims.Redirect.parse("MOVED 3999 host:port")).isNull();
    assertThat(IdempotencyClaims.Redirect.parse("ERR MOVED 1 a:2")).isNull();
  }

  @Test
  void aRedirectIsFoundInsideTheExceptionsThatWrapIt() {
    Throwable wrapped =
        new CompletionException(new RedisCommandExecutionException("ASK 5 127.0.0.1:7005"));
    assertThat(IdempotencyClaims.Redirect.of(wrapped))
        .isEqualTo(new IdempotencyClaims.Redirect(true, "127.0.0.1", 7005));
    assertThat(IdempotencyClaims.Redirect.of(new IllegalStateException("no replica"))).isNull();
  }
}
