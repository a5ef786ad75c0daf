package dev.tally.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Value parsers for {@link Option}s; each throws IllegalArgumentException with the reason. */
final class Parsers {

  private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  private Parsers() {}

  static Function<String, Integer> intIn(int min, int max) {
    return s -> {
      int v;
      try {
        v = Integer.parseInt(s);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not a whole number");
      }
      if (v < min || v > max) {
        throw new IllegalArgumentException("must be between " + min + " and " + max);
      }
      return v;
    };
  }

  /** Durations like {@code 500ms}, {@code 10s}, {@code 5m}, {@code 24h}, {@code 7d}. */
  static Function<String, Duration> durationIn(Duration min, Duration max) {
    return s -> {
      Matcher m = DURATION.matcher(s);
      if (!m.matches()) {
        throw new IllegalArgumentException("not a duration: use a number and ms, s, m, h or d");
      }
      long n = Long.parseLong(m.group(1));
      Duration d =
          switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
          };
      if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
        throw new IllegalArgumentException("must be between " + min + " and " + max);
      }
      return d;
    };
  }

  static Function<String, List<String>> nameList(Function<String, String> check) {
    return s -> {
      LinkedHashSet<String> names = new LinkedHashSet<>();
      for (String part : s.split(",", -1)) {
        String name = check.apply(part.trim());
        if (!names.add(name)) {
          throw new IllegalArgumentException("'" + name + "' is listed twice");
        }
      }
      return new ArrayList<>(names);
    };
  }

  /** A path, or null for the empty string (the option is off). */
  static java.nio.file.Path optionalPath(String s) {
    return s.isEmpty() ? null : java.nio.file.Path.of(s);
  }

  /** A non-negative rate per second. */
  static Function<String, Double> rate() {
    return s -> {
      double v;
      try {
        v = Double.parseDouble(s);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not a number");
      }
      if (!(v >= 0) || v > 1e9) {
        throw new IllegalArgumentException("must be between 0 and 1e9");
      }
      return v;
    };
  }

  static String nonEmpty(String s) {
    if (s.isEmpty()) {
      throw new IllegalArgumentException("must not be empty");
    }
    return s;
  }
}
