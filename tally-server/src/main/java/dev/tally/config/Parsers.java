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

  /** {@code auto} ({@link TallyConfig#AUTO}) or a whole number from {@code min} to {@code max}. */
  static Function<String, Integer> autoOrIntIn(int min, int max) {
    Function<String, Integer> number = intIn(min, max);
    return s -> {
      if (s.equals("auto")) {
        return TallyConfig.AUTO;
      }
      try {
        return number.apply(s);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(e.getMessage() + ", or auto");
      }
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

  /** {@code true} or {@code false}, nothing else. */
  static boolean bool(String s) {
    if (!s.equals("true") && !s.equals("false")) {
      throw new IllegalArgumentException("must be true or false");
    }
    return Boolean.parseBoolean(s);
  }

  /** One of {@code allowed}, as given. */
  static Function<String, String> oneOf(String... allowed) {
    List<String> values = List.of(allowed);
    return s -> {
      if (!values.contains(s)) {
        throw new IllegalArgumentException("must be " + String.join(" or ", values));
      }
      return s;
    };
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

  /** A comma-separated list of host:port addresses; empty for none. */
  static List<String> addresses(String s) {
    List<String> out = new ArrayList<>();
    if (s.isBlank()) {
      return out;
    }
    for (String part : s.split(",", -1)) {
      String a = part.trim();
      int colon = a.lastIndexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("'" + a + "' is not host:port");
      }
      intIn(1, 65535).apply(a.substring(colon + 1));
      out.add(a);
    }
    return out;
  }

  /** A region name: lower-case letters, digits and dashes, at most 32. */
  static String regionName(String s) {
    if (!s.matches("[a-z0-9][a-z0-9-]{0,31}")) {
      throw new IllegalArgumentException(
          "'" + s + "' is not a region name (a-z, 0-9 and '-', at most 32 characters)");
    }
    return s;
  }

  /** {@code name=host:port[,host:port...]} entries separated by ';'; empty for none. */
  static java.util.Map<String, List<String>> regions(String s) {
    java.util.Map<String, List<String>> out = new java.util.LinkedHashMap<>();
    if (s.isBlank()) {
      return out;
    }
    for (String entry : s.split(";", -1)) {
      int eq = entry.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("'" + entry.trim() + "' is not name=host:port,...");
      }
      String name = regionName(entry.substring(0, eq).trim());
      List<String> seeds = addresses(entry.substring(eq + 1));
      if (seeds.isEmpty()) {
        throw new IllegalArgumentException("region '" + name + "' has no Redis address");
      }
      if (out.put(name, seeds) != null) {
        throw new IllegalArgumentException("region '" + name + "' is listed twice");
      }
    }
    return out;
  }
}
