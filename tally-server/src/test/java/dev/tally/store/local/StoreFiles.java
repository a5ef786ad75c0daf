package dev.tally.store.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** A store directory's files, as the write-ahead log tests look at them. */
final class StoreFiles {

  private StoreFiles() {}

  /** The write-ahead logs of {@code dir}, by number: the live one last. */
  static List<Path> logs(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files
          .filter(p -> p.getFileName().toString().endsWith(".log"))
          .sorted(Comparator.comparing(p -> p.getFileName().toString()))
          .toList();
    }
  }

  /**
   * Copies the files of an open store's {@code dir} to {@code to}: what a crash leaves, every
   * synced write and the process gone.
   */
  static void crashImage(Path dir, Path to) throws IOException {
    Files.createDirectories(to);
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(Files::isRegularFile).toList();
    }
    for (Path f : files) {
      Files.copy(f, to.resolve(f.getFileName()));
    }
  }
}
