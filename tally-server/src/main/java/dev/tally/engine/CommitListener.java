package dev.tally.engine;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import java.util.List;

/**
 * Told about every durable group commit: the counters it changed and their new values, in the same
 * order. Called on the aggregator's committer thread, after the commit is durable and before the
 * writers are answered: an implementation must only hand off (enqueue, set a flag) and never block
 * or throw.
 */
@FunctionalInterface
public interface CommitListener {

  void committed(List<CounterId> ids, List<CounterValue> values);
}
