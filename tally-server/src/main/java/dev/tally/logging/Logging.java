package dev.tally.logging;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.joran.spi.JoranException;
import java.net.URL;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * The node's log output, set from its options once they are read: text or JSON lines ({@code
 * --log-format}), and the access log ({@code --access-log}, logger {@code tally.access}). Logback
 * is configured by {@code logback.xml}; this reloads it with the chosen values. A {@code
 * logback.xml} of the operator's ({@code -Dlogback.configurationFile=…}) is left alone.
 */
public final class Logging {

  private static volatile Map<String, String> context = Map.of();

  private Logging() {}

  /** Reloads the logging configuration for {@code format} (text|json) and the access log. */
  public static void configure(String format, boolean accessLog) {
    if (System.getProperty("logback.configurationFile") != null) {
      return; // the operator's own configuration decides
    }
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
      return; // another SLF4J backend was put on the class path
    }
    URL xml = Logging.class.getClassLoader().getResource("logback.xml");
    if (xml == null) {
      return;
    }
    JoranConfigurator configurator = new JoranConfigurator();
    configurator.setContext(ctx);
    ctx.reset(); // drops the start-up configuration, its properties included
    ctx.putProperty("tally.log.format", format);
    ctx.putProperty("tally.access.log", accessLog ? "INFO" : "OFF");
    try {
      configurator.doConfigure(xml);
    } catch (JoranException e) {
      System.err.println("tally: logging configuration failed: " + e.getMessage());
    }
  }

  /**
   * Adds {@code key} → {@code value} to what every JSON line carries (the node id, the region);
   * call at start.
   */
  public static synchronized void addContext(String key, String value) {
    Map<String, String> next = new LinkedHashMap<>(context);
    next.put(key, value);
    context = java.util.Collections.unmodifiableMap(next);
  }

  static Map<String, String> context() {
    return context;
  }
}
