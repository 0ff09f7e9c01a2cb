package ai.bios.tf.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Atomic, verified, pruned checkpoints on a local file system. */
class LocalCheckpointStoreTest {
  private static final RunIdentity ID = new RunIdentity("{}", "sgd", 32, 1, true, 1, 10);

  private static Checkpoint checkpoint(long step) {
    return new Checkpoint(ID, step, step, new float[] {step, 1.5f, -2f}, new float[] {0.25f},
        new double[(int) step]);
  }

  @Test
  void writesReadBackExactlyAndKeepOnlyTheNewest(@TempDir Path dir) throws IOException {
    LocalCheckpointStore store = new LocalCheckpointStore(dir, 2);
    for (long s = 5; s <= 20; s += 5) {
      store.write(checkpoint(s));
    }
    assertEquals(List.of(15L, 20L), store.steps());
    Checkpoint latest = store.latest().orElseThrow();
    assertEquals(20, latest.nextStep());
    assertArrayEquals(new float[] {20, 1.5f, -2f}, latest.weights());
    assertEquals(ID, latest.identity());
  }

  @Test
  void aWriteInterruptedHalfWayLeavesThePreviousCheckpointLoadable(@TempDir Path dir) throws IOException {
    LocalCheckpointStore store = new LocalCheckpointStore(dir, 3);
    store.write(checkpoint(10));
    // A writer killed mid-write leaves half a temporary file behind, never a half checkpoint.
    byte[] next = new Checkpoint(ID, 20, 20, new float[10_000], new float[0], new double[20]).toBytes();
    Files.write(dir.resolve(".ckpt-000000000020.bios.tmp-4242"), java.util.Arrays.copyOf(next, next.length / 2));
    assertEquals(10, store.latest().orElseThrow().nextStep(), "the torn temp file is invisible");
  }

  @Test
  void aCorruptNewestCheckpointFallsBackToTheOneBefore(@TempDir Path dir) throws IOException {
    LocalCheckpointStore store = new LocalCheckpointStore(dir, 3);
    store.write(checkpoint(10));
    store.write(checkpoint(20));
    byte[] bytes = Files.readAllBytes(store.pathFor(20));
    bytes[bytes.length / 2] ^= 0x40;
    Files.write(store.pathFor(20), bytes);
    assertEquals(10, store.latest().orElseThrow().nextStep());
  }

  @Test
  void truncatedAndForeignFilesAreRejectedByTheirChecksumOrMagic() throws IOException {
    byte[] bytes = checkpoint(7).toBytes();
    byte[] truncated = java.util.Arrays.copyOf(bytes, bytes.length - 3);
    IOException e1 = assertThrows(IOException.class,
        () -> Checkpoint.readFrom(new ByteArrayInputStream(truncated), "t"));
    assertTrue(e1.getMessage().contains("truncated"), e1.getMessage());
    byte[] foreign = "hello, not a checkpoint at all".getBytes();
    IOException e2 = assertThrows(IOException.class,
        () -> Checkpoint.readFrom(new ByteArrayInputStream(foreign), "f"));
    assertTrue(e2.getMessage().contains("not a Bios checkpoint"), e2.getMessage());
  }

  @Test
  void anUnwritableDirectoryFailsNamingTheDirectory(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("a-file");
    Files.writeString(file, "x");
    LocalCheckpointStore store = new LocalCheckpointStore(file.resolve("sub"), 1);
    IOException e = assertThrows(IOException.class, () -> store.write(checkpoint(1)));
    assertTrue(e.getMessage().contains("checkpointDir") && e.getMessage().contains("a-file"), e.getMessage());
  }
}
