package dev.tally.live;

import java.util.concurrent.CompletionStage;

/**
 * Other nodes' viewers of posts, in cluster mode: keeps {@link LiveGauge}'s remote shares of the
 * posts this node is asked about fresh ({@link LiveGauge#remoteShares}). Implementations are
 * thread-safe, and their methods hand off and never block; the node owns their lifecycle.
 */
public interface ClusterViewers {

  /**
   * The live count of {@code postId} was asked for on this node: keep the other nodes' shares of it
   * fresh for a while, so the next reads are answered from memory.
   */
  void asked(long postId);

  /**
   * Reads the other nodes' shares of {@code postId} and stores them in the gauge. The stage
   * completes normally once they are stored, or once the read failed or took too long (the gauge
   * then holds what it held before).
   */
  CompletionStage<Void> fetch(long postId);
}
