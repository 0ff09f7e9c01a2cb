package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.Synthetic;
import ai.bios.tf.collective.TestRings;
import ai.bios.tf.input.InMemoryRecords;
import ai.bios.tf.input.RecordSource;
import ai.bios.tf.input.RecordWriter;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Invariant 2 of docs/architecture.md on the engine: N workers joined by the ring all-reduce follow one worker
 * with the same global batch, and distributed runs reproduce bit for bit in both schedules.
 */
@Timeout(120)
class DistributedStepLoopTest {
  private static final int BATCH = 32;
  private static final InMemoryRecords DATA = ScheduleEquivalenceTest.DATA; // 500 records

  /**
   * Worker {@code rank}'s shard: the records that fall into its slice of every global batch, in
   * order, so that with {@code shuffle=false} the union of the workers' batches at step s is the
   * single worker's batch s. (Rank r's slice is the one {@link TrainingConfig#localBatchSize} gives.)
   */
  static RecordSource shard(int rank, int workers) {
    return shard(DATA, rank, workers);
  }

  /** {@link #shard(int, int)} of {@code data}. */
  static RecordSource shard(RecordSource data, int rank, int workers) {
    List<Integer> mine = new ArrayList<>();
    TrainingConfig c = TrainingConfig.builder().batchSize(BATCH).build();
    int from = 0;
    for (int r = 0; r < rank; r++) {
      from += c.localBatchSize(r, workers);
    }
    int to = from + c.localBatchSize(rank, workers);
    for (int i = 0; i < data.size(); i++) {
      int inBatch = i % BATCH;
      if (inBatch >= from && inBatch < to) {
        mine.add(i);
      }
    }
    return new RecordSource() {
      public int size() {
        return mine.size();
      }

      public void read(int index, int epoch, RecordWriter out) {
        data.read(mine.get(index), epoch, out);
      }
    };
  }

  private record Outcome(double[] losses, float[] weights) {}

  private static List<Outcome> train(int workers, ExecutionMode mode, boolean shuffle) throws Exception {
    int steps = DataPlan.stepsFor(DATA.size(), BATCH);
    TrainingConfig config = TrainingConfig.builder().mode(mode).prefetchDepth(2).batchSize(BATCH)
        .epochs(2).seed(3).shuffle(shuffle).build();
    return TestRings.onRing(workers, 256, TestRings.sameSecret(workers), false, Duration.ofSeconds(30),
        (rank, ring) -> {
          try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.adam(0.01),
              ComputeOptions.cpu().withThreads(1, 1))) {
            TrainingReport report = new StepLoop(model, shard(rank, workers), config)
                .collective(ring).stepsPerEpoch(steps).threadPrefix("bios-w" + rank).run();
            return new Outcome(report.lossHistory(), model.exportWeights());
          }
        });
  }

  @Test
  void twoAndThreeWorkersFollowOneWorkerWithTheSameGlobalBatch() throws Exception {
    Outcome single = train(1, ExecutionMode.SIMPLE, false).get(0);
    for (int workers : new int[] {2, 3}) {
      List<Outcome> distributed = train(workers, ExecutionMode.EFFICIENT, false);
      for (Outcome o : distributed) {
        assertArrayEquals(distributed.get(0).weights(), o.weights(), "every worker holds the same weights");
      }
      double[] losses = distributed.get(0).losses();
      assertEquals(single.losses().length, losses.length);
      for (int s = 0; s < losses.length; s++) {
        double rel = Math.abs(losses[s] - single.losses()[s]) / Math.abs(single.losses()[s]);
        assertTrue(rel < 1e-5, workers + " workers, step " + s + ": " + losses[s] + " vs " + single.losses()[s]);
      }
    }
  }

  @Test
  void distributedRunsAreBitwiseReproducibleAndScheduleIndependent() throws Exception {
    long threads = Synthetic.liveThreads("bios-");
    List<Outcome> a = train(2, ExecutionMode.EFFICIENT, true);
    List<Outcome> b = train(2, ExecutionMode.EFFICIENT, true);
    List<Outcome> simple = train(2, ExecutionMode.SIMPLE, true);
    assertArrayEquals(a.get(0).weights(), b.get(0).weights(), "the same 2-worker run twice");
    assertArrayEquals(a.get(0).losses(), b.get(0).losses());
    assertArrayEquals(a.get(0).weights(), simple.get(0).weights(), "simple and efficient on 2 workers");
    assertArrayEquals(a.get(0).losses(), simple.get(0).losses());
    assertEquals(threads, Synthetic.liveThreads("bios-"), "no feeder, reporter or ring thread left behind");
  }
}
