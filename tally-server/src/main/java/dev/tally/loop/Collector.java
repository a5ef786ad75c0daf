package dev.tally.loop;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Which garbage collector the node's JVM runs and how, for the start-up log: the launcher's
 * collector settings shape the write tail on a busy core, so an operator should see them.
 *
 * <p>{@code bin/tally} starts ZGC with its proactive major cycles off ({@code -XX:-ZProactive}).
 * Those cycles mark the whole heap when it has grown by a tenth since the last one, whether or not
 * memory is short: under single writes at half the peak rate on one core they came every ≈ 6 s,
 * each 50–170 ms of marking beside the event loops, and half of the slow 100 ms ticks fell in one.
 * Without them the young collections carry the load (the old generation grows slowly) and ZGC still
 * starts a major cycle when the heap needs one (docs/performance-notes.md, "Proactive collections
 * off"). Stateless; safe from any thread.
 */
public final class Collector {

  /** HotSpot's flag for each collector it can run, and the collector's usual name. */
  private static final List<String[]> COLLECTORS =
      List.of(
          new String[] {"UseZGC", "ZGC"},
          new String[] {"UseG1GC", "G1"},
          new String[] {"UseParallelGC", "Parallel"},
          new String[] {"UseSerialGC", "Serial"},
          new String[] {"UseShenandoahGC", "Shenandoah"},
          new String[] {"UseEpsilonGC", "Epsilon"});

  private Collector() {}

  /** This JVM's collector, as {@link #describe(Function, long)} says it. */
  public static String describe() {
    HotSpotDiagnosticMXBean hotspot =
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
    Function<String, Optional<String>> option =
        name -> {
          if (hotspot == null) {
            return Optional.empty();
          }
          try {
            return Optional.of(hotspot.getVMOption(name).getValue());
          } catch (IllegalArgumentException e) { // not a flag of this JVM
            return Optional.empty();
          }
        };
    return describe(option, Runtime.getRuntime().maxMemory());
  }

  /**
   * The collector and heap bound in a few words, e.g. "ZGC, proactive cycles off, heap up to 1024
   * MiB".
   *
   * @param option a JVM flag's value by name, empty when this JVM has no such flag
   * @param maxHeapBytes the heap's upper bound
   */
  static String describe(Function<String, Optional<String>> option, long maxHeapBytes) {
    String name = "unknown";
    for (String[] c : COLLECTORS) {
      if (option.apply(c[0]).filter("true"::equals).isPresent()) {
        name = c[1];
        break;
      }
    }
    StringBuilder s = new StringBuilder(name);
    if (name.equals("ZGC")) {
      option
          .apply("ZProactive")
          .ifPresent(
              v ->
                  s.append(
                      v.equals("true")
                          ? ", proactive cycles on (-XX:-ZProactive turns them off)"
                          : ", proactive cycles off"));
    }
    return s.append(", heap up to ").append(maxHeapBytes >> 20).append(" MiB").toString();
  }
}
