package ai.bios.tf.input;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.BadInputException;
import ai.bios.tf.BiosException;
import ai.bios.tf.Synthetic;
import ai.bios.tf.concurrent.Cancellation;
import ai.bios.tf.concurrent.InputPool;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ModelSpec;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.tensorflow.ndarray.buffer.FloatDataBuffer;

/**
 * Parallel batch assembly: the input threads transform a batch's records in whatever order they
 * finish, and every row still holds exactly its own record; a failing transform fails the batch with
 * the error of the lowest failing row, as a serial read would.
 */
class ParallelAssemblyTest {
  private static final ModelSpec SPEC = ModelSpec.builder(2).dense(2, Activation.NONE).seed(1).build();

  /** Record i's features are (i, epoch), after CPU work proportional to i % 7; {@code bad} records throw. */
  private static final class Indexed implements ParallelRecordSource<int[]> {
    private final int throwAt;
    private final int throwEarlyAt;
    private final RuntimeException error;

    Indexed(int throwAt, int throwEarlyAt, RuntimeException error) {
      this.throwAt = throwAt;
      this.throwEarlyAt = throwEarlyAt;
      this.error = error;
    }

    @Override
    public int size() {
      return 200;
    }

    @Override
    public int[] fetch(int index) {
      return new int[] {index};
    }

    @Override
    public void transform(int[] raw, int index, int epoch, RecordWriter out) {
      if (index == throwEarlyAt) {
        throw new IllegalStateException("early failure of record " + index);
      }
      long h = index;
      for (int k = 20000 * (raw[0] % 7); k > 0; k--) {
        h = UnevenRecords.mix(h + k);
      }
      if (index == throwAt) {
        throw error;
      }
      out.features(new float[] {raw[0] + (h == Long.MAX_VALUE ? 1 : 0), epoch}); // h: keep the work
      out.label(0);
    }
  }

  private static int[] shuffled(int n, long seed) {
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    SplittableRandom rnd = new SplittableRandom(seed);
    for (int i = n - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }

  @Test
  @Timeout(60)
  void everyRowHoldsExactlyItsOwnRecordWhateverThreadFinishesFirst() throws Exception {
    int[] order = shuffled(200, 4);
    try (InputPool pool = new InputPool(4, "bios-assembly-order", Cancellation.NONE);
        BatchAssembler assembler = new BatchAssembler(SPEC, 64)) {
      Indexed source = new Indexed(-1, -1, null);
      for (int from = 0; from < 200; from += 64) {
        int to = Math.min(200, from + 64);
        try (Batch b = assembler.assemble(source, order, from, to, 3, from / 64, pool)) {
          assertEquals(to - from, b.size());
          FloatDataBuffer x = b.features().asRawTensor().data().asFloats();
          for (int row = 0; row < b.size(); row++) {
            assertEquals(order[from + row], x.getFloat(2L * row), "row " + row + " of the batch from " + from);
            assertEquals(3f, x.getFloat(2L * row + 1), "row " + row + ": its epoch");
          }
        }
      }
    }
  }

  @Test
  @Timeout(60)
  void parallelAndSerialAssemblyGiveTheSameBytes() throws Exception {
    UnevenRecords source = new UnevenRecords(Synthetic.hyperplane(100, 2, 3), 2, 7);
    int[] order = shuffled(100, 9);
    try (InputPool pool = new InputPool(3, "bios-assembly-same", Cancellation.NONE);
        BatchAssembler assembler = new BatchAssembler(SPEC, 100);
        Batch parallel = assembler.assemble(source, order, 0, 100, 2, 0, pool);
        Batch serial = assembler.assemble(source, order, 0, 100, 2, 0)) {
      FloatDataBuffer a = parallel.features().asRawTensor().data().asFloats();
      FloatDataBuffer b = serial.features().asRawTensor().data().asFloats();
      for (long i = 0; i < 200; i++) {
        assertEquals(Float.floatToRawIntBits(b.getFloat(i)), Float.floatToRawIntBits(a.getFloat(i)), "value " + i);
      }
    }
  }

  @Test
  @Timeout(60)
  void theLowestFailingRowFailsTheBatchAfterCheaperLaterFailures() throws Exception {
    // Row 0 holds record 6 (the most work, then it throws); row 5 holds record 7, which throws at
    // once: it fails first in time, but a serial read would have hit record 6 first.
    int[] order = {6, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13};
    IllegalArgumentException boom = new IllegalArgumentException("boom");
    try (InputPool pool = new InputPool(4, "bios-assembly-fail", Cancellation.NONE);
        BatchAssembler assembler = new BatchAssembler(SPEC, 12)) {
      Indexed source = new Indexed(6, 7, boom);
      BiosException e = assertThrows(BiosException.class, () -> assembler.assemble(source, order, 0, 12, 0, 0, pool));
      assertTrue(e.getMessage().startsWith("record 6: the record source's transform failed"), e.getMessage());
      assertSame(boom, e.getCause(), "the transform's own exception is the cause");
      // The same failure serially.
      BiosException serial = assertThrows(BiosException.class, () -> assembler.assemble(source, order, 0, 12, 0, 0));
      assertEquals(e.getMessage(), serial.getMessage());
      // Bad input stays as it is, and the pool goes on working after a failed batch.
      BadInputException bad = new BadInputException("record 6: bad pixels");
      Indexed badSource = new Indexed(6, -1, bad);
      assertSame(bad, assertThrows(BadInputException.class,
          () -> assembler.assemble(badSource, order, 0, 12, 0, 0, pool)));
      try (Batch ok = assembler.assemble(new Indexed(-1, -1, null), order, 0, 12, 0, 0, pool)) {
        assertEquals(12, ok.size());
      }
    }
    assertEquals(0, Synthetic.liveThreads("bios-assembly-"), "closing the pool joined its threads");
  }
}
