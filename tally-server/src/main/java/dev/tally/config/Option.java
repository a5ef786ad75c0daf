package dev.tally.config;

import java.util.Locale;
import java.util.function.Function;

/**
 * One configuration option: a command-line flag {@code --name}, an environment variable {@code
 * TALLY_NAME}, a default and a one-line description. Immutable.
 *
 * @param <T> the parsed type
 */
public record Option<T>(String name, String defaultValue, String doc, Function<String, T> parser) {

  public String flag() {
    return "--" + name;
  }

  public String env() {
    return "TALLY_" + name.toUpperCase(Locale.ROOT).replace('-', '_');
  }

  /**
   * Parses {@code raw}.
   *
   * @throws ConfigException {@code invalid value X for --name (TALLY_NAME): reason}
   */
  public T parse(String raw) {
    try {
      return parser.apply(raw.trim());
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          "invalid value '" + raw + "' for " + flag() + " (" + env() + "): " + e.getMessage());
    }
  }
}
