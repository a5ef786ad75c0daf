package dev.tally.cluster;

import io.lettuce.core.RedisConnectionException;

/**
 * Redis Cluster was reached but refused the connection: it rejected the credentials (WRONGPASS,
 * NOAUTH, NOPERM) or the TLS handshake failed. Unlike an unreachable cluster, retrying with the
 * same settings cannot help. The message says what to check and never holds the password.
 * Immutable; thrown by the {@link RedisSlots} constructor.
 */
public final class RedisRefusedException extends RedisConnectionException {

  private static final long serialVersionUID = 1L;

  RedisRefusedException(String message, Throwable cause) {
    super(message, cause);
  }
}
