package dev.tally.counter;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The counter names a node serves, each with the one-byte code it is stored under. Codes are
 * assigned once and kept by the store, so renaming the configured list never moves data between
 * counters. Immutable.
 */
public final class CounterNames {

  /** Largest code: codes are one byte on disk and 0 is reserved. */
  public static final int MAX_CODE = 255;

  /** Names that tally uses for other resources under {@code /v1/{postId}/}. */
  public static final List<String> RESERVED = List.of("live", "stream", "heartbeat");

  private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_-]{0,31}");

  private final Map<String, Integer> codeByName;
  private final String[] nameByCode = new String[MAX_CODE + 1];
  // the served names' bytes (ASCII) and codes, in the same order
  private final byte[][] nameBytes;
  private final int[] codes;

  private CounterNames(Map<String, Integer> codeByName) {
    this.codeByName = Collections.unmodifiableMap(new LinkedHashMap<>(codeByName));
    codeByName.forEach((name, code) -> nameByCode[code] = name);
    this.nameBytes = new byte[codeByName.size()][];
    this.codes = new int[codeByName.size()];
    int i = 0;
    for (Map.Entry<String, Integer> e : this.codeByName.entrySet()) {
      nameBytes[i] = e.getKey().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      codes[i++] = e.getValue();
    }
  }

  /**
   * The served names with their codes.
   *
   * @throws IllegalArgumentException on an invalid or reserved name, or a code out of range
   */
  public static CounterNames of(Map<String, Integer> codeByName) {
    if (codeByName.isEmpty()) {
      throw new IllegalArgumentException("at least one counter name is needed");
    }
    boolean[] used = new boolean[MAX_CODE + 1];
    codeByName.forEach(
        (name, code) -> {
          checkName(name);
          if (code < 1 || code > MAX_CODE) {
            throw new IllegalArgumentException(
                "code of counter '" + name + "' out of range: " + code);
          }
          if (used[code]) {
            throw new IllegalArgumentException("code " + code + " is used twice");
          }
          used[code] = true;
        });
    return new CounterNames(codeByName);
  }

  /**
   * Checks that {@code name} can be a counter name.
   *
   * @throws IllegalArgumentException with the reason when it cannot
   */
  public static void checkName(String name) {
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "counter name '"
              + name
              + "' must be 1-32 characters of a-z, 0-9, '_' or '-', starting with a letter");
    }
    if (RESERVED.contains(name)) {
      throw new IllegalArgumentException("counter name '" + name + "' is reserved");
    }
  }

  public Optional<Integer> code(String name) {
    return Optional.ofNullable(codeByName.get(name));
  }

  /** The code of {@code name}, or -1 when the node does not serve that counter. */
  public int codeOrMinusOne(String name) {
    Integer c = codeByName.get(name);
    return c == null ? -1 : c;
  }

  /**
   * The code of the name in bytes {@code from} (inclusive) to {@code to} (exclusive) of {@code b},
   * or -1 when the node does not serve that counter; without making a string of it.
   */
  public int codeOrMinusOne(byte[] b, int from, int to) {
    for (int i = 0; i < nameBytes.length; i++) {
      if (java.util.Arrays.equals(nameBytes[i], 0, nameBytes[i].length, b, from, to)) {
        return codes[i];
      }
    }
    return -1;
  }

  /** The name of {@code code}, or null. */
  public String name(int code) {
    return code >= 0 && code <= MAX_CODE ? nameByCode[code] : null;
  }

  /** Names in configured order. */
  public List<String> names() {
    return List.copyOf(codeByName.keySet());
  }

  public Map<String, Integer> asMap() {
    return codeByName;
  }

  @Override
  public String toString() {
    return codeByName.toString();
  }
}
