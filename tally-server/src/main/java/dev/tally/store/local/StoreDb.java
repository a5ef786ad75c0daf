package dev.tally.store.local;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.store.local.StoreLayout.Family;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A store's RocksDB with its column families, and the lifecycle lock that keeps their native
 * handles valid while they are used. Thread-safe: every use goes through {@link #open} or {@link
 * #ifOpen}, which hold the lock's read side; {@link #reopen} and {@link #close} take its write
 * side. Owned by {@link RocksCounterStore}, which opens it, reopens it after a failed write and
 * closes it.
 */
final class StoreDb {

  // the store's logger: one name for everything the store logs
  private static final Logger log = LoggerFactory.getLogger(RocksCounterStore.class);

  /** Work on the open database; may throw what RocksDB throws. */
  @FunctionalInterface
  interface Use<T, E extends Exception> {
    T apply(Handles h) throws E;
  }

  /** Work on the open database with no result. */
  @FunctionalInterface
  interface Action<E extends Exception> {
    void run(Handles h) throws E;
  }

  /**
   * The open database, its column families and the options to use them with. Valid only inside the
   * {@link Use} or {@link Action} it was passed to: a reopen replaces it.
   */
  record Handles(RocksDB db, List<ColumnFamilyHandle> all, StoreLayout layout, int[] ids) {

    /**
     * The id RocksDB numbers column family {@code f} by, in a serialized batch ({@link BatchRep}).
     */
    int id(Family f) {
      return ids[f.ordinal()];
    }

    ColumnFamilyHandle meta() {
      return all.get(Family.META.ordinal());
    }

    ColumnFamilyHandle counters() {
      return all.get(Family.COUNTERS.ordinal());
    }

    ColumnFamilyHandle keys() {
      return all.get(Family.KEYS.ordinal());
    }

    ColumnFamilyHandle expiry() {
      return all.get(Family.EXPIRY.ordinal());
    }

    ColumnFamilyHandle outbox() {
      return all.get(Family.OUTBOX.ordinal());
    }

    WriteOptions syncWrite() {
      return layout.syncWrite();
    }

    WriteOptions asyncWrite() {
      return layout.asyncWrite();
    }

    ReadOptions memoryOnly() {
      return layout.memoryOnly();
    }
  }

  private final Path dir;
  private final StoreLayout layout;
  // closes what holds native iterators of the database, which must go before it
  private final Runnable beforeClose;
  private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
  private final AtomicBoolean closed = new AtomicBoolean();
  // replaced by reopen(), null after a reopen that failed: guarded by `lifecycle`
  private Handles handles;

  /**
   * Opens (or creates) the database in {@code dir}; {@code beforeClose} runs before it closes. A
   * store it creates begins its log over a spent one of {@code spareLogBytes}, with one spare more
   * ({@link SpareLogs}; 0: none). When it cannot be opened, {@code layout}'s options are freed.
   */
  StoreDb(Path dir, StoreLayout layout, long spareLogBytes, Runnable beforeClose)
      throws RocksDBException {
    this.dir = dir;
    this.layout = layout;
    this.beforeClose = beforeClose;
    try {
      boolean creating = SpareLogs.isNewStore(dir);
      this.handles = openHandles();
      // at most a quarter of the log bound each (docs/operations.md)
      long each = Math.min(spareLogBytes, layout.walLimitBytes() / 4);
      if (creating && each > 0) {
        primeSpareLogs(each);
      }
    } catch (RocksDBException | RuntimeException e) {
      if (handles != null) {
        closeHandles();
        handles = null;
      }
      layout.close();
      throw e;
    }
  }

  /**
   * Gives the new store its written-over live log and a spare ({@link SpareLogs}) when the disk has
   * room for them twice over; a store without them works as well, only its first logs' syncs cost
   * more, so a failure is logged and the database opened again (which drops what the priming left).
   */
  private void primeSpareLogs(long each) throws RocksDBException {
    long wanted = 2 * 2 * each;
    long free;
    try {
      free = Files.getFileStore(dir).getUsableSpace();
    } catch (IOException e) {
      free = 0;
    }
    if (free < wanted) {
      log.info(
          "new store: no write-ahead logs written ahead ({} MiB free, {} MiB wanted)",
          free >> 20,
          wanted >> 20);
      return;
    }
    long start = System.nanoTime();
    try {
      SpareLogs.prime(handles.db(), each);
      log.info(
          "new store: its first write-ahead logs written ahead, {} KiB each, in {} ms",
          each >> 10,
          (System.nanoTime() - start) / 1_000_000);
    } catch (RocksDBException e) {
      log.warn(
          "new store: writing its first write-ahead logs ahead failed ({}); going on without",
          describe(e));
      closeHandles();
      handles = null;
      handles = openHandles();
    }
  }

  private Handles openHandles() throws RocksDBException {
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>(layout.descriptors());
    int families = descriptors.size();
    // families a priming cut short by a crash left behind: opened to be dropped (see SpareLogs)
    List<byte[]> leftovers = SpareLogs.isNewStore(dir) ? List.of() : SpareLogs.leftoversIn(dir);
    try (ColumnFamilyOptions plain = new ColumnFamilyOptions()) {
      for (byte[] name : leftovers) {
        descriptors.add(new ColumnFamilyDescriptor(name, plain));
      }
      List<ColumnFamilyHandle> all = new ArrayList<>();
      RocksDB db = RocksDB.open(layout.dbOptions(), dir.toString(), descriptors, all);
      for (ColumnFamilyHandle extra : all.subList(families, all.size())) {
        db.dropColumnFamily(extra);
        extra.close();
      }
      List<ColumnFamilyHandle> own = List.copyOf(all.subList(0, families));
      int[] ids = new int[families];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = own.get(i).getID();
      }
      return new Handles(db, own, layout, ids);
    }
  }

  private void closeHandles() {
    beforeClose.run();
    for (ColumnFamilyHandle h : handles.all()) {
      h.close();
    }
    handles.db().close();
  }

  Path directory() {
    return dir;
  }

  /**
   * Runs {@code use} on the open database and returns its result.
   *
   * @throws TallyException ({@link ErrorKind#UNAVAILABLE}) when the store is closed
   */
  <T, E extends Exception> T open(Use<T, E> use) throws E {
    lifecycle.readLock().lock();
    try {
      return use.apply(current());
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  /** Runs {@code action} on the open database; throws as {@link #open} does when closed. */
  <E extends Exception> void run(Action<E> action) throws E {
    lifecycle.readLock().lock();
    try {
      action.run(current());
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  /** Runs {@code use} on the database if it is open, else returns {@code whenClosed}. */
  <T, E extends Exception> T ifOpen(T whenClosed, Use<T, E> use) throws E {
    lifecycle.readLock().lock();
    try {
      return closed.get() || handles == null ? whenClosed : use.apply(handles);
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  /**
   * Fails unless the store is open (or closing has not begun): a check before work that is done
   * outside {@link #open}.
   *
   * @throws TallyException ({@link ErrorKind#UNAVAILABLE}) when the store is closed
   */
  void ensureOpen() {
    if (closed.get()) {
      throw new TallyException(ErrorKind.UNAVAILABLE, "the store is closed");
    }
  }

  /** The open database; the caller holds the read lock. */
  private Handles current() {
    ensureOpen();
    if (handles == null) {
      throw new TallyException(
          ErrorKind.UNAVAILABLE, "the store could not be reopened after a write failure");
    }
    return handles;
  }

  boolean isClosed() {
    return closed.get();
  }

  /**
   * Closes the database and opens it again, users held off meanwhile; the log replays and nothing
   * durable is lost. Returns false (and does nothing) once the store is closed.
   */
  boolean reopen() throws RocksDBException {
    lifecycle.writeLock().lock();
    try {
      if (closed.get()) {
        return false;
      }
      if (handles != null) {
        closeHandles();
        handles = null; // freed: until a reopen succeeds, users get UNAVAILABLE
      }
      handles = openHandles();
      return true;
    } finally {
      lifecycle.writeLock().unlock();
    }
  }

  /** Syncs the log, then closes the database (once every current user is done) and its options. */
  void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    lifecycle.writeLock().lock();
    try {
      if (handles != null) {
        try {
          handles.db().syncWal();
        } catch (RocksDBException e) {
          log.warn("final WAL sync failed: {}", e.getMessage());
        }
        closeHandles();
        handles = null;
      }
    } finally {
      lifecycle.writeLock().unlock();
    }
    layout.close();
  }

  static TallyException readFailure(RocksDBException e) {
    return new TallyException(ErrorKind.UNAVAILABLE, "store read failed: " + describe(e), e);
  }

  static TallyException writeFailure(RocksDBException e) {
    return new TallyException(ErrorKind.UNAVAILABLE, "store write failed: " + describe(e), e);
  }

  /** A failure for logs and errors: a full disk said plainly, else RocksDB's status code. */
  static String describe(RocksDBException e) {
    Status s = e.getStatus();
    if (s != null && s.getSubCode() == Status.SubCode.NoSpace) {
      return "no space left on the data disk";
    }
    return s != null ? s.getCodeString() : e.getMessage();
  }
}
