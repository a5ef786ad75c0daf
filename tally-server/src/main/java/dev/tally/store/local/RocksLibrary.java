package dev.tally.store.local;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.rocksdb.NativeLibraryLoader;
import org.rocksdb.RocksDB;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads RocksDB's native library from one file per data directory, {@code <data-dir>/native/}.
 * Static; called once by the node at start, before its store opens.
 *
 * <p>RocksJava's default unpacks its 15 MB library into a new temporary file on every start and
 * deletes it only when the JVM exits normally: each node killed by a signal, the OOM killer or a
 * power cut leaves one behind in {@code /tmp}, and a node that restarts in a loop fills the disk.
 * Here the file has a fixed name in the node's own directory, so a node that never exits cleanly
 * still holds one copy. The data directory belongs to one process at a time (the store's lock), and
 * replacing a file that a running process has mapped leaves that process's copy intact.
 *
 * <p>When the data directory cannot hold an executable file (mounted {@code noexec}), RocksJava's
 * default is used and a warning names the cause.
 */
public final class RocksLibrary {

  private static final Logger log = LoggerFactory.getLogger(RocksLibrary.class);

  private RocksLibrary() {}

  /**
   * Loads the library from {@code dir} (created if missing), falling back to RocksJava's default.
   *
   * @throws TallyException when neither way loads it
   */
  public static synchronized void load(Path dir) {
    try {
      Files.createDirectories(dir);
      NativeLibraryLoader.getInstance().loadLibrary(dir.toString());
    } catch (IOException | UnsatisfiedLinkError | RuntimeException e) {
      log.warn(
          "cannot load RocksDB's native library from {} ({}); unpacking it to a temporary file",
          dir,
          e.toString());
    }
    try {
      RocksDB.loadLibrary();
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      throw new TallyException(
          ErrorKind.UNAVAILABLE, "cannot load RocksDB's native library: " + e.getMessage(), e);
    }
  }
}
