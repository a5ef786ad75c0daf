package dev.tally.loop;

/**
 * Fields of a Linux {@code /proc/<pid>/stat} or {@code /proc/<pid>/task/<tid>/stat} line, numbered
 * as in proc(5): 1 the id, 2 the name in parentheses, 3 the state, 14 and 15 the user and system
 * CPU time in clock ticks, 19 the nice value. The name may hold spaces and parentheses, so fields
 * are counted from the line's last ')'. Stateless.
 */
public final class ProcStat {

  private ProcStat() {}

  /** Field {@code number} (3 or more) of {@code stat}, as text. */
  public static String field(String stat, int number) {
    if (number < 3) {
      throw new IllegalArgumentException("fields 1 and 2 are the id and the name: " + number);
    }
    return stat.substring(stat.lastIndexOf(')') + 2).split(" ")[number - 3];
  }
}
