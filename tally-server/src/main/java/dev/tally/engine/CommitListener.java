package dev.tally.engine;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import java.util.List;

/**
 * Told about every durable group commit: the counters it changed and their new values, in the same
 * order. Called on the committer thread that made the commit, after it is durable and before its
 * writers are answered; with several committers, from several threads at once, each with counters
 * of its own. An implementation must only hand off (enqueue, set a flag) and never block or throw.
 */
@FunctionalInterface
public interface CommitListener {

  void committed(List<CounterId> ids, List<CounterValue> values);
}
