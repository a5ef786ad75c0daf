package dev.tally.engine;

/**
 * Every test of {@link AggregatorTest} with three committers, each owning a third of the counters.
 */
class AggregatorThreeCommittersTest extends AggregatorTest {

  @Override
  int committers() {
    return 3;
  }
}
