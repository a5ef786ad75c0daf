package dev.tally.bench.fault;

import dev.tally.bench.KeyChooser;
import dev.tally.testing.KeyedLoad;
import dev.tally.testing.TallyClient;
import java.time.Duration;
import java.util.List;

/**
 * The keyed load of the cluster fault scenarios: {@link KeyedLoad} increments of "likes", posts
 * picked by a {@link KeyChooser}, writes in doubt retried on the node they were first sent to
 * ({@link KeyedLoad.Retry#SAME_NODE}), requests bounded far above a node's answer time when its
 * Redis times out (2 × 2 s). Stateless.
 */
final class FaultLoad {

  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

  private FaultLoad() {}

  /** One client per node port. */
  static List<TallyClient> clients(List<Integer> ports) {
    return TallyClient.onPorts(ports, REQUEST_TIMEOUT);
  }

  /** A load on {@code nodes} whose keys start with {@code prefix}, seeded by {@code seed}. */
  static KeyedLoad on(List<TallyClient> nodes, KeyChooser posts, String prefix, long seed) {
    return KeyedLoad.builder(prefix, seed)
        .nodes(nodes)
        .posts(posts.all(), posts::next)
        .retry(KeyedLoad.Retry.SAME_NODE)
        .build();
  }
}
