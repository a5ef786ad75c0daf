package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RedisOptionsTest {

  private static final String SECRET = "s3cr3t-Pa55word-that-must-never-show";
  private static final List<String> SEEDS = List.of("10.0.0.1:7000", "redis-2.internal:7001");
  private static final Duration TIMEOUT = Duration.ofSeconds(5);

  @TempDir Path dir;

  private Path passwordFile(String content) throws IOException {
    Path f = dir.resolve("redis-password");
    Files.writeString(f, content, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    return f;
  }

  private static RedisOptions fromFile(Path file) {
    return RedisOptions.load(SEEDS, "tally", file, Map.of(), false, null, TIMEOUT);
  }

  @Test
  void toString_showsEverythingButThePassword() {
    RedisOptions o =
        new RedisOptions(
            SEEDS, "tally", SECRET.toCharArray(), true, Path.of("/etc/ca.pem"), TIMEOUT);

    assertThat(o.toString())
        .doesNotContain(SECRET)
        .doesNotContain(SECRET.substring(0, 6))
        .contains("10.0.0.1:7000", "user=tally", "password=(hidden)", "tls=true", "/etc/ca.pem");
    assertThat(String.valueOf(o)).doesNotContain(SECRET);
    assertThat(RedisOptions.plain(SEEDS, TIMEOUT).toString())
        .contains("user=default", "password=none", "tls=false");
  }

  @Test
  void password_isCopiedInAndOut() {
    char[] given = SECRET.toCharArray();
    RedisOptions o = new RedisOptions(SEEDS, "tally", given, false, null, TIMEOUT);
    Arrays.fill(given, 'x');
    char[] out = o.password();
    Arrays.fill(out, 'y');

    assertThat(new String(o.password())).isEqualTo(SECRET);
    assertThat(o)
        .isEqualTo(new RedisOptions(SEEDS, "tally", SECRET.toCharArray(), false, null, TIMEOUT));
    assertThat(o)
        .isNotEqualTo(
            new RedisOptions(SEEDS, "tally", "other".toCharArray(), false, null, TIMEOUT));
  }

  @Test
  void load_readsTheFile_withoutItsTrailingLineBreak() throws IOException {
    assertThat(fromFile(passwordFile(SECRET + "\n")).password()).isEqualTo(SECRET.toCharArray());
    assertThat(fromFile(passwordFile(SECRET + "\r\n")).password()).isEqualTo(SECRET.toCharArray());
    assertThat(fromFile(passwordFile(SECRET)).password()).isEqualTo(SECRET.toCharArray());
    // only one line break goes; spaces are part of the password
    assertThat(fromFile(passwordFile(" a b ")).password()).isEqualTo(" a b ".toCharArray());
  }

  @Test
  void load_readsTheEnvironment_whenNoFileIsGiven() {
    RedisOptions o =
        RedisOptions.load(
            SEEDS, "tally", null, Map.of(RedisOptions.PASSWORD_ENV, SECRET), false, null, TIMEOUT);

    assertThat(o.password()).isEqualTo(SECRET.toCharArray());
    assertThat(o.user()).isEqualTo("tally");
  }

  @Test
  void load_withNeitherFileNorEnvironment_sendsNoPassword_asTheDefaultUser() {
    RedisOptions o = RedisOptions.load(SEEDS, " ", null, Map.of(), false, null, TIMEOUT);

    assertThat(o.user()).isNull();
    assertThat(o.hasPassword()).isFalse();
    assertThat(o.password()).isNull();
  }

  @Test
  void load_refusesAPasswordGivenTwice() throws IOException {
    Path file = passwordFile(SECRET);
    Map<String, String> env = Map.of(RedisOptions.PASSWORD_ENV, SECRET);

    assertThatThrownBy(() -> RedisOptions.load(SEEDS, "tally", file, env, false, null, TIMEOUT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("given twice")
        .hasMessageNotContaining(SECRET);
  }

  @Test
  void load_aMissingFile_isNamed() {
    Path missing = dir.resolve("nope");

    assertThatThrownBy(() -> fromFile(missing))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(missing.toString())
        .hasMessageContaining("does not exist");
    assertThatThrownBy(() -> fromFile(dir))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is a directory");
  }

  @Test
  void load_anEmptyFileOrVariable_isRefused() throws IOException {
    assertThatThrownBy(() -> fromFile(passwordFile("")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is empty");
    assertThatThrownBy(() -> fromFile(passwordFile("\n")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is empty");
    assertThatThrownBy(
            () ->
                RedisOptions.load(
                    SEEDS,
                    "tally",
                    null,
                    Map.of(RedisOptions.PASSWORD_ENV, ""),
                    false,
                    null,
                    TIMEOUT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(RedisOptions.PASSWORD_ENV + " is empty");
  }

  @Test
  void load_aFileOfSeveralLinesOrTooLarge_isRefused_withoutShowingIt() throws IOException {
    assertThatThrownBy(() -> fromFile(passwordFile(SECRET + "\n" + SECRET + "\n")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("more than one line")
        .hasMessageNotContaining(SECRET);
    String huge = SECRET.repeat(RedisOptions.MAX_PASSWORD_FILE_BYTES / SECRET.length() + 1);
    assertThatThrownBy(() -> fromFile(passwordFile(huge)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("larger than 4096 bytes")
        .hasMessageNotContaining(SECRET);
  }

  @Test
  void load_aFileThatIsNotUtf8_isRefused() throws IOException {
    Path f = passwordFile("");
    Files.write(f, new byte[] {'a', (byte) 0xC3, (byte) 0x28});

    assertThatThrownBy(() -> fromFile(f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not UTF-8");
  }

  @Test
  void readableByOthers_seesAWorldReadableFile() throws IOException {
    Path f = passwordFile(SECRET);
    assertThat(RedisOptions.readableByOthers(f)).isFalse();
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r-----"));
    assertThat(RedisOptions.readableByOthers(f)).isFalse();
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
    assertThat(RedisOptions.readableByOthers(f)).isTrue();
    // used all the same (with a warning in the log): container secret mounts are 0644
    assertThat(fromFile(f).password()).isEqualTo(SECRET.toCharArray());
  }

  @Test
  void aUserWithoutAPassword_isRefused() {
    assertThatThrownBy(
            () -> RedisOptions.load(SEEDS, "tally", null, Map.of(), false, null, TIMEOUT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("Redis user 'tally' needs a password")
        .hasMessageContaining("--redis-password-file")
        .hasMessageContaining(RedisOptions.PASSWORD_ENV);
  }

  @Test
  void aCaFile_needsTls_andMustHoldACertificate() throws IOException {
    Path notPem = Files.writeString(dir.resolve("ca.pem"), "hello\n");
    Path empty = Files.writeString(dir.resolve("empty.pem"), "");

    assertThatThrownBy(() -> RedisOptions.load(SEEDS, null, null, Map.of(), false, notPem, TIMEOUT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("only used with --redis-tls true");
    assertThatThrownBy(() -> RedisOptions.load(SEEDS, null, null, Map.of(), true, notPem, TIMEOUT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(notPem.toString());
    assertThatThrownBy(() -> RedisOptions.load(SEEDS, null, null, Map.of(), true, empty, TIMEOUT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("holds no certificate");
    assertThatThrownBy(
            () ->
                RedisOptions.load(
                    SEEDS, null, null, Map.of(), true, dir.resolve("missing.pem"), TIMEOUT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("does not exist");
  }

  @Test
  void seeds_mustBeHostAndPort() {
    assertThatThrownBy(() -> RedisOptions.plain(List.of(), TIMEOUT))
        .hasMessageContaining("at least one");
    for (String bad : List.of("redis", "redis:", ":7000", "redis:x", "redis:0", "redis:65536")) {
      assertThatThrownBy(() -> RedisOptions.plain(List.of(bad), TIMEOUT))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(bad);
    }
    RedisOptions o = RedisOptions.plain(List.of("::1:7000", "redis:6379"), TIMEOUT);
    assertThat(o.host(0)).isEqualTo("::1");
    assertThat(o.port(0)).isEqualTo(7000);
    assertThat(o.host(1)).isEqualTo("redis");
  }

  @Test
  void theTimeout_mustBePositive() {
    assertThatThrownBy(() -> RedisOptions.plain(SEEDS, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("timeout");
  }
}
