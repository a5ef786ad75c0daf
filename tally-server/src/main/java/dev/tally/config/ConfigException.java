package dev.tally.config;

/** A configuration value is missing or invalid; the message names the option and the reason. */
public final class ConfigException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }
}
