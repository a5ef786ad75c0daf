package dev.tally.loop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Fields of a Linux {@code /proc/<pid>/stat} or {@code /proc/<pid>/task/<tid>/stat} line, numbered
 * as in proc(5): 1 the id, 2 the name in parentheses, 3 the state, 14 and 15 the user and system
 * CPU time in clock ticks, 19 the nice value. The name may hold spaces and parentheses, so fields
 * are counted from the line's last ')'. Also finds this process's threads by name. Stateless.
 */
public final class ProcStat {

  private static final Path TASKS = Path.of("/proc/self/task");

  private ProcStat() {}

  /**
   * The kernel ids of this process's threads whose name (as the kernel keeps it: {@code
   * /proc/self/task/<id>/comm}, at most 15 characters) {@code named} accepts; threads that end
   * while they are listed are left out.
   *
   * @throws IOException when {@code /proc/self/task} cannot be read (not Linux)
   */
  public static List<Long> threadsNamed(Predicate<String> named) throws IOException {
    List<Long> ids = new ArrayList<>();
    try (Stream<Path> tasks = Files.list(TASKS)) {
      for (Path task : tasks.toList()) {
        String name;
        try {
          name = Files.readString(task.resolve("comm")).strip();
        } catch (NoSuchFileException e) {
          continue; // the thread ended
        }
        if (named.test(name)) {
          ids.add(Long.parseLong(task.getFileName().toString()));
        }
      }
    }
    return ids;
  }

  /** Field {@code number} (3 or more) of {@code stat}, as text. */
  public static String field(String stat, int number) {
    if (number < 3) {
      throw new IllegalArgumentException("fields 1 and 2 are the id and the name: " + number);
    }
    return stat.substring(stat.lastIndexOf(')') + 2).split(" ")[number - 3];
  }
}
