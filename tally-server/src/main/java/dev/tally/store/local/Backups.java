package dev.tally.store.local;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * Online backups of a serving node ({@code --backup-dir}): each one a new directory {@code
 * tally-<node id>-<UTC time>} under the backup directory that is itself a data directory:
 *
 * <pre>
 * store/        a RocksDB checkpoint of the store, consistent as of the backup
 * backup.json   what it is a copy of: {"backup_of": node id, "created_at", "tally"}
 * </pre>
 *
 * and no {@code node-id}: a node started on a copy (see docs/operations.md) makes up a new writer
 * id, so it never writes under the id of the node it was copied from, and {@link DataDir#restored}
 * stops it from joining a cluster, whose Redis already holds the original writer's share. One
 * backup at a time; thread-safe.
 */
public final class Backups {

  public static final String MARKER = "backup.json";

  private static final DateTimeFormatter NAME_TIME =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);

  private final Path dir;
  private final RocksCounterStore store;
  private final long nodeId;
  private final String version;
  private final Clock clock;
  private final AtomicBoolean running = new AtomicBoolean();

  /** {@code dir} null: backups are off. */
  public Backups(Path dir, RocksCounterStore store, long nodeId, String version, Clock clock) {
    this.dir = dir == null ? null : dir.toAbsolutePath().normalize();
    this.store = store;
    this.nodeId = nodeId;
    this.version = version;
    this.clock = clock;
  }

  /** What a backup made: its directory and when it was taken. */
  public record Made(Path path, Instant createdAt) {}

  /**
   * Takes a backup now, while the node keeps serving; returns once it is complete and on disk.
   *
   * @throws TallyException NOT_FOUND when backups are off, IN_PROGRESS while another runs,
   *     UNAVAILABLE when the copy fails (a partial copy is removed)
   */
  public Made create() {
    if (dir == null) {
      throw new TallyException(
          ErrorKind.NOT_FOUND, "backups are off: start the node with --backup-dir");
    }
    if (!running.compareAndSet(false, true)) {
      throw new TallyException(ErrorKind.IN_PROGRESS, "a backup is being taken; retry shortly");
    }
    Instant now = clock.instant();
    Path target = dir.resolve(String.format("tally-%016x-%s", nodeId, NAME_TIME.format(now)));
    try {
      Files.createDirectories(dir);
      Files.createDirectory(target);
      store.checkpoint(target.resolve("store"));
      DataDir.writeDurably(
          target.resolve(MARKER),
          String.format(
              "{\"backup_of\":\"%016x\",\"created_at\":\"%s\",\"tally\":\"%s\"}%n",
              nodeId, now, version));
      return new Made(target, now);
    } catch (IOException | TallyException e) {
      deleteQuietly(target);
      if (e instanceof TallyException t) {
        throw t;
      }
      throw new TallyException(ErrorKind.UNAVAILABLE, "backup failed: " + e.getMessage(), e);
    } finally {
      running.set(false);
    }
  }

  private static void deleteQuietly(Path target) {
    if (!Files.exists(target)) {
      return;
    }
    try (Stream<Path> all = Files.walk(target)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // what is left is named after the node and time; an operator can remove it
    }
  }
}
