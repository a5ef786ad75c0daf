package dev.tally.store.local;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/** BatchRep against the batches RocksJava builds itself, and against a real database. */
class BatchRepTest {

  @TempDir Path tmp;

  private DBOptions options;
  private RocksDB db;
  private final List<ColumnFamilyHandle> families = new ArrayList<>();

  @BeforeEach
  void open() throws Exception {
    RocksLibrary.load(tmp.resolve("native"));
    options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY));
    for (String name : List.of("a", "b", "c")) {
      descriptors.add(new ColumnFamilyDescriptor(name.getBytes(StandardCharsets.UTF_8)));
    }
    db = RocksDB.open(options, tmp.resolve("db").toString(), descriptors, families);
  }

  @AfterEach
  void close() {
    families.forEach(ColumnFamilyHandle::close);
    db.close();
    options.close();
  }

  @Test
  void sameBytesAsRocksJava_forPutsToEveryFamily() throws Exception {
    BatchRep rep = new BatchRep();
    Random random = new Random(7);
    try (WriteBatch expected = new WriteBatch()) {
      for (int i = 0; i < 500; i++) {
        ColumnFamilyHandle family = families.get(random.nextInt(families.size()));
        byte[] key = bytes(random, random.nextInt(300)); // lengths past one varint byte
        byte[] value = bytes(random, random.nextInt(3) == 0 ? 0 : random.nextInt(200));
        expected.put(family, key, value);
        rep.put(family.getID(), key, value);
      }
      try (WriteBatch built = rep.toWriteBatch()) {
        assertThat(built.count()).isEqualTo(500);
        assertThat(built.data()).isEqualTo(expected.data());
      }
    }
  }

  @Test
  void counterPuts_sameBytesAsTheCodecsArrays() throws Exception {
    BatchRep rep = new BatchRep();
    ColumnFamilyHandle counters = families.get(2);
    Random random = new Random(11);
    try (WriteBatch expected = new WriteBatch()) {
      for (int i = 0; i < 1000; i++) {
        CounterId id = new CounterId(1 + (random.nextLong() >>> 1), 1 + random.nextInt(255));
        long p = random.nextInt(4) == 0 ? random.nextLong() >>> 1 : random.nextInt(1000);
        long n = random.nextInt(4) == 0 ? Long.MAX_VALUE : random.nextInt(10);
        CounterValue value = new CounterValue(new Slot(p, n), random.nextInt(Integer.MAX_VALUE));
        expected.put(counters, id.toBytes(), Codec.counterValue(value));
        rep.putCounter(counters.getID(), id, value);
      }
      try (WriteBatch built = rep.toWriteBatch()) {
        assertThat(built.data()).isEqualTo(expected.data());
      }
    }
  }

  @Test
  void writtenBatch_readsBack_andAClearedRepStartsAfresh() throws Exception {
    BatchRep rep = new BatchRep();
    ColumnFamilyHandle counters = families.get(1);
    CounterId id = new CounterId(812, 1);
    CounterValue value = new CounterValue(new Slot(41, 2), 200_000_000);
    rep.putCounter(counters.getID(), id, value);
    rep.put(families.get(0).getID(), bytes(new Random(3), 20), new byte[] {9});
    try (WriteOptions sync = new WriteOptions().setSync(true);
        WriteBatch batch = rep.toWriteBatch()) {
      db.write(sync, batch);
    }
    assertThat(Codec.counterValue(db.get(counters, id.toBytes()))).isEqualTo(value);

    rep.clear();
    assertThat(rep.count()).isZero();
    CounterValue next = new CounterValue(new Slot(42, 2), 200_000_001);
    rep.putCounter(counters.getID(), id, next);
    try (WriteOptions sync = new WriteOptions().setSync(true);
        WriteBatch batch = rep.toWriteBatch()) {
      assertThat(batch.count()).isEqualTo(1);
      db.write(sync, batch);
    }
    assertThat(Codec.counterValue(db.get(counters, id.toBytes()))).isEqualTo(next);
  }

  @Test
  void aBatchBiggerThanTheBuffer_grows() throws Exception {
    BatchRep rep = new BatchRep();
    ColumnFamilyHandle family = families.get(3);
    byte[] big = new byte[3 << 20];
    big[big.length - 1] = 5;
    rep.put(family.getID(), new byte[] {1}, big);
    try (WriteBatch expected = new WriteBatch();
        WriteBatch built = rep.toWriteBatch()) {
      expected.put(family, new byte[] {1}, big);
      assertThat(built.data()).isEqualTo(expected.data());
    }
    rep.clear();
    rep.put(family.getID(), new byte[] {2}, new byte[] {3});
    try (WriteBatch expected = new WriteBatch();
        WriteBatch built = rep.toWriteBatch()) {
      expected.put(family, new byte[] {2}, new byte[] {3});
      assertThat(built.data()).isEqualTo(expected.data());
    }
  }

  private static byte[] bytes(Random random, int length) {
    byte[] b = new byte[length];
    random.nextBytes(b);
    return b;
  }
}
