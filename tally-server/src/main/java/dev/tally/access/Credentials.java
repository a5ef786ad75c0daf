package dev.tally.access;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifies the credentials of a request: {@code Authorization: Bearer <credential>}, where the
 * credential is an API key or a signed token. Immutable and thread-safe; built once at start from
 * the configured secret and keys, which it never logs or puts in a message.
 *
 * <p>API keys are opaque strings listed in a file as {@code name:key}; only their SHA-256 digests
 * are kept, and a presented key is found by its digest, so no comparison leaks how much of a key
 * matched.
 *
 * <p>Signed tokens are {@code tly1.<payload>.<signature>}: the payload is base64url of {@code
 * sub=<subject>;exp=<epoch seconds>;scope=<read|write>}, the signature base64url of
 * HMAC-SHA256(secret, {@code "tly1." + payload}). They let an auth service hand out short-lived
 * write rights without tally storing them.
 */
public final class Credentials {

  static final String TOKEN_PREFIX = "tly1.";
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder B64D = Base64.getUrlDecoder();

  private final byte[] secret;
  private final Map<String, String> keyNameByDigest;

  /**
   * @param secret the HMAC secret for signed tokens (null or empty: tokens are not accepted)
   * @param keys API key name → key (empty: no keys)
   */
  public Credentials(byte[] secret, Map<String, String> keys) {
    if (secret != null && secret.length > 0 && secret.length < 32) {
      throw new IllegalArgumentException("the token secret must be at least 32 bytes");
    }
    this.secret = secret == null || secret.length == 0 ? null : secret.clone();
    Map<String, String> byDigest = new HashMap<>();
    keys.forEach(
        (name, key) -> {
          if (key.length() < 16) {
            throw new IllegalArgumentException(
                "API key '" + name + "' is shorter than 16 characters");
          }
          byDigest.put(digest(key), name);
        });
    this.keyNameByDigest = Map.copyOf(byDigest);
  }

  /** True when no way to authenticate is configured. */
  public boolean empty() {
    return secret == null && keyNameByDigest.isEmpty();
  }

  /**
   * The caller that {@code authorization} proves, or {@link Caller#anonymous} when the header is
   * absent.
   *
   * @throws TallyException {@link ErrorKind#UNAUTHORIZED} for a malformed, unknown, forged or
   *     expired credential
   */
  public Caller verify(String authorization, String address, long nowSecond) {
    if (authorization == null) {
      return Caller.anonymous(address);
    }
    if (!authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw unauthorized("use Authorization: Bearer <API key or token>");
    }
    String credential = authorization.substring(7).trim();
    if (credential.startsWith(TOKEN_PREFIX)) {
      return verifyToken(credential, nowSecond);
    }
    String name = keyNameByDigest.get(digest(credential));
    if (name == null) {
      throw unauthorized("unknown API key");
    }
    return new Caller("key:" + name, true, true);
  }

  private Caller verifyToken(String token, long nowSecond) {
    if (secret == null) {
      throw unauthorized("signed tokens are not enabled on this node");
    }
    int dot = token.indexOf('.', TOKEN_PREFIX.length());
    if (dot < 0 || token.indexOf('.', dot + 1) >= 0) {
      throw unauthorized("malformed token");
    }
    String payload = token.substring(TOKEN_PREFIX.length(), dot);
    byte[] presented;
    try {
      presented = B64D.decode(token.substring(dot + 1));
    } catch (IllegalArgumentException e) {
      throw unauthorized("malformed token");
    }
    if (!MessageDigest.isEqual(presented, sign(secret, TOKEN_PREFIX + payload))) {
      throw unauthorized("token signature does not match");
    }
    String subject = null;
    long expires = -1;
    String scope = null;
    try {
      for (String part : new String(B64D.decode(payload), StandardCharsets.UTF_8).split(";")) {
        int eq = part.indexOf('=');
        String k = eq < 0 ? part : part.substring(0, eq);
        String v = eq < 0 ? "" : part.substring(eq + 1);
        switch (k) {
          case "sub" -> subject = v;
          case "exp" -> expires = Long.parseLong(v);
          case "scope" -> scope = v;
          default -> {
            // unknown claims are ignored, so newer issuers can add some
          }
        }
      }
    } catch (IllegalArgumentException e) {
      throw unauthorized("malformed token");
    }
    if (subject == null || subject.isEmpty() || expires < 0 || scope == null) {
      throw unauthorized("token lacks sub, exp or scope");
    }
    if (nowSecond >= expires) {
      throw unauthorized("token expired");
    }
    return new Caller("sub:" + subject, true, scope.equals("write"));
  }

  /**
   * A signed token for {@code subject}, valid until {@code expiresAtSecond}; {@code scope} is
   * {@code write} or {@code read}.
   */
  public static String mint(byte[] secret, String subject, String scope, long expiresAtSecond) {
    if (subject.indexOf(';') >= 0 || subject.indexOf('=') >= 0) {
      throw new IllegalArgumentException("subject must not contain ';' or '='");
    }
    String payload =
        B64.encodeToString(
            ("sub=" + subject + ";exp=" + expiresAtSecond + ";scope=" + scope)
                .getBytes(StandardCharsets.UTF_8));
    return TOKEN_PREFIX + payload + "." + B64.encodeToString(sign(secret, TOKEN_PREFIX + payload));
  }

  private static byte[] sign(byte[] secret, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.US_ASCII));
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  private static String digest(String key) {
    try {
      return B64.encodeToString(
          MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  private static TallyException unauthorized(String why) {
    return new TallyException(ErrorKind.UNAUTHORIZED, why);
  }
}
