package dev.tally.metrics;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Readiness of the node: named checks, each true when its component can serve. The node is ready
 * when it is accepting traffic and every check passes. Thread-safe: checks are registered at start,
 * then read from any thread.
 */
public final class Health {

  private final Map<String, BooleanSupplier> checks = new LinkedHashMap<>();
  private final Map<String, Supplier<Map<String, Map<String, Object>>>> sections =
      new LinkedHashMap<>();
  private volatile boolean accepting;

  /** Registers a check; call before the node starts serving. */
  public synchronized void check(String name, BooleanSupplier check) {
    checks.put(name, check);
  }

  /**
   * Registers a section of the readiness detail that does not decide readiness, e.g. each region's
   * Redis reachability and backlog in cluster mode: named parts, each a map of fields (strings,
   * numbers, booleans). Call before the node starts serving.
   */
  public synchronized void section(String name, Supplier<Map<String, Map<String, Object>>> detail) {
    sections.put(name, detail);
  }

  /** Each section's current detail, in registration order. */
  public synchronized Map<String, Map<String, Map<String, Object>>> sections() {
    Map<String, Map<String, Map<String, Object>>> out = new LinkedHashMap<>();
    sections.forEach((name, s) -> out.put(name, s.get()));
    return out;
  }

  /** Marks the node as accepting traffic (after start) or not (while stopping). */
  public void accepting(boolean value) {
    accepting = value;
  }

  public boolean ready() {
    if (!accepting) {
      return false;
    }
    for (BooleanSupplier c : snapshot().values()) {
      if (!c.getAsBoolean()) {
        return false;
      }
    }
    return true;
  }

  /** Each check's current state, plus {@code accepting}. */
  public Map<String, Boolean> details() {
    Map<String, Boolean> out = new LinkedHashMap<>();
    out.put("accepting", accepting);
    snapshot().forEach((name, c) -> out.put(name, c.getAsBoolean()));
    return out;
  }

  private synchronized Map<String, BooleanSupplier> snapshot() {
    return new LinkedHashMap<>(checks);
  }
}
