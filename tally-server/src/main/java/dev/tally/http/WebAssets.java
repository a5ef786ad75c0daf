package dev.tally.http;

import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * The like-button page's static files, read once from the classpath ({@code /web/}) into memory,
 * each with its content type, cache policy and ETag. Immutable after construction, so thread-safe;
 * owned by {@link LiveApi}.
 */
final class WebAssets {

  /** One file, ready to send. */
  record Asset(Buffer body, String contentType, String cacheControl, String etag) {}

  private static final String NO_CACHE = "no-cache";
  private static final String SHORT = "public, max-age=300";

  private final Asset page;
  private final Map<String, Asset> byPath;

  WebAssets() {
    this.page = load("index.html", "text/html; charset=utf-8", NO_CACHE);
    this.byPath =
        Map.of(
            "/assets/app.css", load("app.css", "text/css; charset=utf-8", SHORT),
            "/assets/app.js", load("app.js", "text/javascript; charset=utf-8", SHORT),
            "/favicon.svg", load("favicon.svg", "image/svg+xml", SHORT));
  }

  /** The post page, the same for every post: its script reads the post id from the URL. */
  Asset page() {
    return page;
  }

  /** The asset at {@code path}, or null. */
  Asset asset(String path) {
    return byPath.get(path);
  }

  private static Asset load(String name, String contentType, String cacheControl) {
    try (InputStream in = WebAssets.class.getResourceAsStream("/web/" + name)) {
      if (in == null) {
        throw new IllegalStateException("missing web resource " + name);
      }
      byte[] bytes = in.readAllBytes();
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(bytes);
      String etag = "\"" + HexFormat.of().formatHex(digest, 0, 12) + "\"";
      return new Asset(Buffer.buffer(bytes), contentType, cacheControl, etag);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read web resource " + name, e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
