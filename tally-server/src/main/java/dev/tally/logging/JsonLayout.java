package dev.tally.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.LayoutBase;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.time.Instant;
import java.util.Map;
import org.slf4j.event.KeyValuePair;

/**
 * One JSON object per log event, on one line: {@code time} (ISO-8601, UTC), {@code level}, {@code
 * logger}, {@code thread}, {@code message}, then the node's context ({@link Logging#context}: node
 * id, region), the event's key-value pairs (an access line's method, path, status, …) and {@code
 * exception} (the stack trace as one string) when there is one. Thread-safe.
 */
public final class JsonLayout extends LayoutBase<ILoggingEvent> {

  @Override
  public String doLayout(ILoggingEvent event) {
    StringBuilder sb = new StringBuilder(256);
    sb.append("{\"time\":\"").append(Instant.ofEpochMilli(event.getTimeStamp())).append('"');
    field(sb, "level", event.getLevel().toString());
    field(sb, "logger", event.getLoggerName());
    field(sb, "thread", event.getThreadName());
    field(sb, "message", event.getFormattedMessage());
    for (Map.Entry<String, String> e : Logging.context().entrySet()) {
      field(sb, e.getKey(), e.getValue());
    }
    if (event.getKeyValuePairs() != null) {
      for (KeyValuePair kv : event.getKeyValuePairs()) {
        if (kv.value instanceof Number n) {
          sb.append(",\"");
          escape(sb, kv.key);
          sb.append("\":").append(n);
        } else {
          field(sb, kv.key, String.valueOf(kv.value));
        }
      }
    }
    IThrowableProxy thrown = event.getThrowableProxy();
    if (thrown != null) {
      field(sb, "exception", ThrowableProxyUtil.asString(thrown));
    }
    return sb.append('}').append(CoreConstants.LINE_SEPARATOR).toString();
  }

  private static void field(StringBuilder sb, String name, String value) {
    sb.append(",\"");
    escape(sb, name);
    sb.append("\":\"");
    escape(sb, value == null ? "" : value);
    sb.append('"');
  }

  /** JSON string escaping (RFC 8259: quotes, backslashes, control characters), by Jackson. */
  static void escape(StringBuilder sb, String s) {
    sb.append(JsonStringEncoder.getInstance().quoteAsString(s));
  }
}
