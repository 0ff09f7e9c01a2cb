package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.BiosException;
import ai.bios.tf.Synthetic;
import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.collective.TestRings;
import ai.bios.tf.input.RecordSource;
import ai.bios.tf.input.RecordStream;
import ai.bios.tf.input.RecordWriter;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A streamed first epoch (records arriving while training runs): the workers agree where it ends
 * through the aggregation's vote, every record is used once per epoch, the schedules stay bitwise
 * equal, and a run resumed inside or after the first epoch ends as if it never stopped.
 */
@Timeout(120)
class StreamingTest {
  private static final int BATCH = 32;

  /** Records {@code [from, to)} of the shared data set, arriving one per {@link #advance()}. */
  static final class Arriving implements RecordStream {
    private final int from;
    private final int to;
    private int arrived;
    int advanceCalls;

    Arriving(int from, int to) {
      this.from = from;
      this.to = to;
    }

    @Override
    public boolean advance() {
      advanceCalls++;
      if (from + arrived >= to) {
        return false;
      }
      arrived++;
      return true;
    }

    @Override
    public int size() {
      return arrived;
    }

    @Override
    public void read(int index, int epoch, RecordWriter out) {
      if (index >= arrived) {
        throw new IllegalStateException("record " + index + " read before it arrived (" + arrived + ")");
      }
      ScheduleEquivalenceTest.DATA.read(from + index, epoch, out);
    }
  }

  /** The same records, complete up front. */
  private static RecordSource complete(int from, int to) {
    return new RecordSource() {
      public int size() {
        return to - from;
      }

      public void read(int index, int epoch, RecordWriter out) {
        ScheduleEquivalenceTest.DATA.read(from + index, epoch, out);
      }
    };
  }

  private record Outcome(double[] losses, float[] weights, long samples, long firstStep) {}

  private static TrainingConfig.Builder config(ExecutionMode mode) {
    return TrainingConfig.builder().mode(mode).prefetchDepth(3).batchSize(BATCH).epochs(3).seed(5);
  }

  private static Outcome single(RecordSource source, TrainingConfig config, Path checkpoints) {
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.adam(0.01),
        ComputeOptions.cpu().withThreads(1, 1))) {
      StepLoop loop = new StepLoop(model, source, config);
      if (checkpoints != null) {
        loop.checkpoints(new LocalCheckpointStore(checkpoints, 3));
      }
      TrainingReport r = loop.run();
      return new Outcome(r.lossHistory(), model.exportWeights(), r.samples(), r.firstStep());
    }
  }

  @Test
  void withoutShuffleAStreamTrainsExactlyLikeTheCompleteSource() {
    for (ExecutionMode mode : ExecutionMode.values()) {
      TrainingConfig c = config(mode).shuffle(false).build();
      Outcome whole = single(complete(0, 500), c, null);
      Outcome streamed = single(new Arriving(0, 500), c, null);
      assertEquals(3 * DataPlan.stepsFor(500, BATCH), streamed.losses().length, mode + ": steps");
      assertArrayEquals(whole.losses(), streamed.losses(), mode + ": losses");
      assertArrayEquals(whole.weights(), streamed.weights(), mode + ": weights");
      assertEquals(3 * 500, streamed.samples(), mode + ": every record once per epoch");
    }
  }

  @Test
  void theWindowShuffleUsesEveryRecordOnceAndIsAPureFunctionOfTheSeed() {
    int[] a = firstEpochOrder(300, 7, 64, 9);
    int[] b = firstEpochOrder(300, 7, 64, 9);
    assertArrayEquals(a, b, "same seed, same order");
    assertArrayEquals(IntStream.range(0, 300).toArray(), Arrays.stream(a).sorted().toArray(), "a permutation");
    assertNotEquals(Arrays.toString(IntStream.range(0, 300).toArray()), Arrays.toString(a), "shuffled");
    assertNotEquals(Arrays.toString(a), Arrays.toString(firstEpochOrder(300, 7, 64, 10)), "seed matters");
    assertArrayEquals(IntStream.range(0, 300).toArray(), firstEpochOrder(300, 7, 1, 9), "window 1: arrival order");
    // A record is never drawn before it arrived, nor from further ahead than the window.
    for (int i = 0; i < a.length; i++) {
      assertTrue(a[i] < i + 64, "position " + i + " took record " + a[i]);
    }
  }

  private static int[] firstEpochOrder(int records, int localBatch, int window, long seed) {
    StreamedEpoch e = new StreamedEpoch(new Arriving(0, records), localBatch, window, seed, 0, Duration.ofSeconds(5),
        ai.bios.tf.concurrent.Cancellation.NONE);
    int[] order = new int[records];
    int[] batch = new int[localBatch];
    int n = 0;
    for (long step = 0; e.moreAfter(step - 1); step++) {
      int got = e.take(step, batch);
      System.arraycopy(batch, 0, order, n, got);
      n += got;
    }
    assertEquals(records, n);
    return order;
  }

  @Test
  void simpleAndEfficientAgreeBitwiseOnAShuffledStream() {
    Outcome simple = single(new Arriving(0, 500), config(ExecutionMode.SIMPLE).shuffleWindow(50).build(), null);
    Outcome efficient = single(new Arriving(0, 500), config(ExecutionMode.EFFICIENT).shuffleWindow(50).build(), null);
    assertArrayEquals(simple.losses(), efficient.losses());
    assertArrayEquals(simple.weights(), efficient.weights());
  }

  @Test
  void resumedInsideOrAfterTheStreamedEpochEqualsTheUninterruptedRun(@TempDir Path root) {
    int perEpoch = DataPlan.stepsFor(500, BATCH); // 16
    for (ExecutionMode mode : ExecutionMode.values()) {
      Outcome whole = single(new Arriving(0, 500), config(mode).shuffleWindow(50).build(), null);
      for (int stopAt : new int[] {7, perEpoch + 5}) {
        Path dir = root.resolve(mode + "-" + stopAt);
        TrainingConfig interrupted = config(mode).shuffleWindow(50).checkpointInterval(4).maxSteps(stopAt).build();
        single(new Arriving(0, 500), interrupted, dir);
        Outcome resumed = single(new Arriving(0, 500), config(mode).shuffleWindow(50).checkpointInterval(4).build(), dir);
        assertEquals(stopAt, resumed.firstStep(), mode + ": resumed where it stopped");
        assertArrayEquals(whole.losses(), resumed.losses(), mode + " stopped at " + stopAt + ": losses");
        assertArrayEquals(whole.weights(), resumed.weights(), mode + " stopped at " + stopAt + ": weights");
      }
    }
  }

  @Test
  void resumingAfterTheFirstEpochOnDataOfAnotherSizeIsRefused(@TempDir Path dir) {
    single(new Arriving(0, 500), config(ExecutionMode.SIMPLE).checkpointInterval(4).maxSteps(20).build(), dir);
    BiosException e = assertThrows(BiosException.class,
        () -> single(new Arriving(0, 400), config(ExecutionMode.SIMPLE).checkpointInterval(4).build(), dir));
    assertTrue(e.getMessage().contains("16 steps per epoch") && e.getMessage().contains("fewer"), e.getMessage());
  }

  @Test
  void anEmptyStreamFailsClearly() {
    BiosException e = assertThrows(BiosException.class,
        () -> single(new Arriving(0, 0), config(ExecutionMode.EFFICIENT).build(), null));
    assertTrue(e.getMessage().contains("no worker had a record"), e.getMessage());
  }

  /**
   * Workers whose streams differ in length (and one that is empty) agree on the epoch's length
   * without knowing each other's sizes; without shuffle they train exactly like the same shards
   * given complete with the step count agreed up front.
   */
  @Test
  void unevenStreamsAgreeOnTheEpochAndMatchTheUpFrontPlan() throws Exception {
    int[][] shards = {{0, 60}, {60, 60}, {60, 500}}; // 60 records, none, 440
    TrainingConfig sizes = config(ExecutionMode.SIMPLE).build();
    int steps = IntStream.range(0, shards.length)
        .map(r -> DataPlan.stepsFor(shards[r][1] - shards[r][0], sizes.localBatchSize(r, shards.length))).max().getAsInt();
    long threads = Synthetic.liveThreads("bios-");
    for (ExecutionMode mode : ExecutionMode.values()) {
      TrainingConfig c = config(mode).shuffle(false).build();
      List<Outcome> streamed = distributed(shards, c, true, 0);
      List<Outcome> planned = distributed(shards, c, false, steps);
      assertEquals(3L * steps, streamed.get(0).losses().length, mode + ": steps");
      for (int r = 0; r < shards.length; r++) {
        assertArrayEquals(planned.get(r).weights(), streamed.get(r).weights(), mode + ": rank " + r);
        assertArrayEquals(planned.get(0).losses(), streamed.get(r).losses(), mode + ": rank " + r);
      }
      // Each step's count is global, so every worker's report counts all 500 records per epoch.
      assertEquals(3L * 500, streamed.get(0).samples(), mode + ": every record once per epoch");
    }
    assertEquals(threads, Synthetic.liveThreads("bios-"), "no thread left behind");
  }

  /**
   * Resuming inside the first epoch after a worker has run out: that worker's feeder must know the
   * steps before the checkpoint were voted "the epoch goes on" (it does not wait for votes that were
   * cast before the interruption), and the run ends as if it never stopped.
   */
  @Test
  void resumedInsideTheFirstEpochAfterAWorkerRanOutEqualsTheUninterruptedRun(@TempDir Path root) throws Exception {
    int[][] shards = {{0, 60}, {60, 500}}; // 16 per step: rank 0 takes its last records at step 3, rank 1 at 27
    for (ExecutionMode mode : ExecutionMode.values()) {
      TrainingConfig.Builder b = config(mode).shuffleWindow(40).checkpointInterval(5)
          .inputTimeout(Duration.ofSeconds(20)); // a feeder waiting for a vote that never comes fails fast
      List<Outcome> whole = distributed(shards, b.build(), true, 0, null);
      Path dir = root.resolve(mode.name());
      distributed(shards, b.maxSteps(10).build(), true, 0, dir);
      List<Outcome> resumed = distributed(shards, b.maxSteps(0).build(), true, 0, dir);
      for (int r = 0; r < shards.length; r++) {
        assertEquals(10, resumed.get(r).firstStep(), mode + ": rank " + r + " resumed at step 10");
        assertArrayEquals(whole.get(r).weights(), resumed.get(r).weights(), mode + ": rank " + r + " weights");
        assertArrayEquals(whole.get(r).losses(), resumed.get(r).losses(), mode + ": rank " + r + " losses");
      }
    }
  }

  @Test
  void resumingInsideTheFirstEpochWithAnotherWindowIsRefused(@TempDir Path dir) {
    single(new Arriving(0, 500), config(ExecutionMode.SIMPLE).shuffleWindow(50).checkpointInterval(4).maxSteps(8).build(), dir);
    BiosException e = assertThrows(BiosException.class, () -> single(new Arriving(0, 500),
        config(ExecutionMode.SIMPLE).shuffleWindow(60).checkpointInterval(4).build(), dir));
    assertTrue(e.getMessage().contains("window of 50") && e.getMessage().contains("shuffleWindow"), e.getMessage());
  }

  private static List<Outcome> distributed(int[][] shards, TrainingConfig config, boolean stream, int steps)
      throws Exception {
    return distributed(shards, config, stream, steps, null);
  }

  private static List<Outcome> distributed(int[][] shards, TrainingConfig config, boolean stream, int steps,
      Path checkpoints) throws Exception {
    return TestRings.onRing(shards.length, 256, TestRings.sameSecret(shards.length), false, Duration.ofSeconds(30),
        (rank, ring) -> {
          try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.adam(0.01),
              ComputeOptions.cpu().withThreads(1, 1))) {
            int[] s = shards[rank];
            StepLoop loop = new StepLoop(model, stream ? new Arriving(s[0], s[1]) : complete(s[0], s[1]), config)
                .collective(ring).threadPrefix("bios-w" + rank);
            if (!stream) {
              loop.stepsPerEpoch(steps);
            }
            if (checkpoints != null) {
              loop.checkpoints(new LocalCheckpointStore(checkpoints, 3)).writeCheckpoints(rank == 0);
            }
            TrainingReport report = loop.run();
            return new Outcome(report.lossHistory(), model.exportWeights(), report.samples(), report.firstStep());
          }
        });
  }
}
