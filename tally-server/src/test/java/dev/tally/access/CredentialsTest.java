package dev.tally.access;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CredentialsTest {

  private static final byte[] SECRET =
      "0123456789abcdef0123456789abcdef-test-secret".getBytes(StandardCharsets.UTF_8);
  private static final long NOW = 2_000_000_000L;

  private final Credentials creds =
      new Credentials(SECRET, Map.of("mobile", "k-mobile-0123456789abcdef"));

  private static void assertUnauthorized(Runnable r, String detail) {
    assertThatThrownBy(r::run)
        .isInstanceOf(TallyException.class)
        .matches(e -> ((TallyException) e).kind() == ErrorKind.UNAUTHORIZED)
        .hasMessageContaining(detail);
  }

  @Test
  void noHeader_isAnonymousAndMayNotWrite() {
    Caller c = creds.verify(null, "10.0.0.7", NOW);
    assertThat(c.authenticated()).isFalse();
    assertThat(c.mayWrite()).isFalse();
    assertThat(c.id()).isEqualTo("10.0.0.7");
  }

  @Test
  void apiKey_authenticatesByName_andNeverEchoesTheKey() {
    Caller c = creds.verify("Bearer k-mobile-0123456789abcdef", "a", NOW);
    assertThat(c).isEqualTo(new Caller("key:mobile", true, true));
    assertUnauthorized(
        () -> creds.verify("Bearer k-mobile-0123456789abcdeX", "a", NOW), "unknown API key");
    assertThatThrownBy(() -> creds.verify("Bearer k-mobile-0123456789abcdeX", "a", NOW))
        .hasMessageNotContaining("k-mobile");
  }

  @Test
  void signedToken_validUntilExpiry_withItsScope() {
    String write = Credentials.mint(SECRET, "user-42", "write", NOW + 60);
    String read = Credentials.mint(SECRET, "user-42", "read", NOW + 60);
    assertThat(creds.verify("Bearer " + write, "a", NOW))
        .isEqualTo(new Caller("sub:user-42", true, true));
    assertThat(creds.verify("bearer " + read, "a", NOW).mayWrite()).isFalse();
    assertUnauthorized(() -> creds.verify("Bearer " + write, "a", NOW + 60), "expired");
  }

  @Test
  void forgedOrTamperedTokens_areRejected() {
    String other =
        Credentials.mint(
            "another-secret-another-secret-123".getBytes(StandardCharsets.UTF_8),
            "u",
            "write",
            NOW + 60);
    assertUnauthorized(() -> creds.verify("Bearer " + other, "a", NOW), "signature");
    String good = Credentials.mint(SECRET, "u", "read", NOW + 60);
    String[] parts = good.split("\\.");
    // swap in a payload that claims write scope, keeping the old signature
    String claimed =
        java.util.Base64.getUrlEncoder()
            .withoutPadding()
            .encodeToString(
                ("sub=u;exp=" + (NOW + 60) + ";scope=write").getBytes(StandardCharsets.UTF_8));
    assertUnauthorized(
        () -> creds.verify("Bearer tly1." + claimed + "." + parts[2], "a", NOW), "signature");
    assertUnauthorized(() -> creds.verify("Bearer tly1.abc", "a", NOW), "malformed");
    assertUnauthorized(() -> creds.verify("Bearer tly1.a.b.c", "a", NOW), "malformed");
    assertUnauthorized(() -> creds.verify("Basic dXNlcjpwYXNz", "a", NOW), "Bearer");
  }

  @Test
  void weakSecretsAndKeys_areRefusedAtStart() {
    assertThatThrownBy(() -> new Credentials("short".getBytes(StandardCharsets.UTF_8), Map.of()))
        .hasMessageContaining("32 bytes");
    assertThatThrownBy(() -> new Credentials(null, Map.of("a", "short")))
        .hasMessageContaining("16 characters")
        .hasMessageNotContaining("short\"");
  }
}
