package dev.tally.store.local;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;

/**
 * A node's data directory:
 *
 * <pre>
 * &lt;data-dir&gt;/
 *   node-id     the node's writer id: 16 hex digits, generated once, never changed
 *   store/      the RocksDB store ({@link RocksCounterStore})
 *   native/     RocksDB's native library, rewritten at each start ({@link RocksLibrary})
 *   backup.json only in a backup ({@link Backups}) and a copy of one: what it was copied from
 * </pre>
 *
 * The id names this node's slot in every counter (see the cluster design), so it must survive
 * restarts: it is written to a temporary file, fsync'ed, renamed into place, and the directory is
 * fsync'ed. Not thread-safe; used once at start.
 */
public final class DataDir {

  private final Path root;

  public DataDir(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path root() {
    return root;
  }

  public Path storeDir() {
    return root.resolve("store");
  }

  public Path nativeDir() {
    return root.resolve("native");
  }

  /**
   * True for a backup ({@link Backups}) or a copy of one: its writer id is a new one, made up at
   * its first start, since the node it was copied from may still be writing under its own.
   */
  public boolean restored() {
    return Files.exists(root.resolve(Backups.MARKER));
  }

  /**
   * The node's writer id, created on first use.
   *
   * @throws TallyException when the directory is not usable or the id file is corrupt
   */
  public long nodeId() {
    Path file = root.resolve("node-id");
    try {
      Files.createDirectories(root);
      if (Files.exists(file)) {
        String text = Files.readString(file, StandardCharsets.US_ASCII).trim();
        try {
          return Long.parseUnsignedLong(text, 16);
        } catch (NumberFormatException e) {
          throw new TallyException(
              ErrorKind.UNAVAILABLE, "corrupt node id in " + file + ": expected 16 hex digits");
        }
      }
      long id = 0;
      while (id == 0) { // 0 is the cluster's base entry (retired writers folded), never a node
        id = new SecureRandom().nextLong();
      }
      writeDurably(file, String.format("%016x%n", id));
      return id;
    } catch (IOException e) {
      throw new TallyException(
          ErrorKind.UNAVAILABLE, "cannot use data directory " + root + ": " + e, e);
    }
  }

  /** Replaces {@code file} with {@code text} so that a crash leaves the old or the new file. */
  static void writeDurably(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ch.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)));
      ch.force(true);
    }
    try {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }
    try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
      dir.force(true);
    }
  }
}
