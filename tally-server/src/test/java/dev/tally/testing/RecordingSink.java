package dev.tally.testing;

import dev.tally.live.Sink;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@link Sink} that keeps what was written, for tests; its writability is set by the test to play
 * a client that stopped reading. Not thread-safe.
 */
public final class RecordingSink implements Sink {

  private static final Pattern COUNT = Pattern.compile("\"(\\w+)\":\\{\"count\":(-?\\d+)");

  public final List<String> writes = new ArrayList<>();
  public boolean writable = true;
  public boolean closed;

  @Override
  public boolean writable() {
    return writable;
  }

  @Override
  public void write(String text) {
    if (closed) {
      throw new IllegalStateException("write after close");
    }
    writes.add(text);
  }

  @Override
  public void close() {
    closed = true;
  }

  /** The events written (keep-alive comments left out). */
  public List<String> events() {
    return writes.stream().filter(w -> !w.startsWith(":")).toList();
  }

  /** The count of {@code name} in the last event that has it, or null. */
  public Long last(String name) {
    List<String> events = events();
    for (int i = events.size() - 1; i >= 0; i--) {
      Matcher m = COUNT.matcher(events.get(i));
      while (m.find()) {
        if (m.group(1).equals(name)) {
          return Long.parseLong(m.group(2));
        }
      }
    }
    return null;
  }
}
