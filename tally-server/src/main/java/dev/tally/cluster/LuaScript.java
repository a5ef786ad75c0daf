package dev.tally.cluster;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisAdvancedClusterAsyncCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A Lua script bundled next to this class, run by its SHA-1 (EVALSHA) and sent in full (EVAL) only
 * to a Redis node that does not have it cached, e.g. one just started or promoted. Immutable.
 *
 * @param text the script
 * @param sha its SHA-1 in hex, as Redis computes it
 */
record LuaScript(String text, String sha) {

  /** Loads the resource {@code name} of this package. */
  static LuaScript load(String name) {
    try (InputStream in = LuaScript.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException(name + " missing from the classpath");
      }
      String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      return new LuaScript(text, sha1Hex(text));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Runs the script; completes with its reply, or exceptionally with the (unwrapped) failure. */
  <T> CompletableFuture<T> run(
      RedisAdvancedClusterAsyncCommands<String, String> redis,
      ScriptOutputType type,
      String[] keys,
      String... args) {
    return redis
        .<T>evalsha(sha, type, keys, args)
        .toCompletableFuture()
        .handle(
            (reply, error) -> {
              if (error == null) {
                return CompletableFuture.completedFuture(reply);
              }
              if (unwrap(error) instanceof RedisNoScriptException) {
                return redis.<T>eval(text, type, keys, args).toCompletableFuture();
              }
              return CompletableFuture.<T>failedFuture(unwrap(error));
            })
        .thenCompose(f -> f);
  }

  static Throwable unwrap(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  static String sha1Hex(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is required of every JVM", e);
    }
  }
}
