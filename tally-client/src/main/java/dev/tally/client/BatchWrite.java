package dev.tally.client;

import java.util.Objects;

/**
 * One item of a batch write. Without an idempotency key the client makes one up (a random UUID), so
 * that retrying the item can never count it twice.
 */
public record BatchWrite(long postId, String counter, Action action, String idempotencyKey) {

  public BatchWrite {
    Objects.requireNonNull(counter, "counter");
    Objects.requireNonNull(action, "action");
  }

  public static BatchWrite increment(long postId, String counter) {
    return new BatchWrite(postId, counter, Action.INCREMENT, null);
  }

  public static BatchWrite decrement(long postId, String counter) {
    return new BatchWrite(postId, counter, Action.DECREMENT, null);
  }
}
