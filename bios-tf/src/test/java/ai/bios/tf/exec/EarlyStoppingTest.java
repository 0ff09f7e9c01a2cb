package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.collective.TestRings;
import ai.bios.tf.input.InMemoryRecords;
import ai.bios.tf.input.RecordSource;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Validation and early stopping end to end, on a constructed validation curve: the training labels
 * say {@code x0 > 0}, the validation labels {@code x0 + x1 > 0}, so the validation loss falls while
 * the model learns x0's direction, then rises as it grows confident on the records where the two
 * disagree.
 */
@Timeout(180)
class EarlyStoppingTest {
  static final ModelSpec SPEC = ModelSpec.builder(4).dense(8, Activation.TANH).dense(2, Activation.NONE).seed(7).build();
  static final OptimizerSpec OPT = OptimizerSpec.adam(0.02);
  static final InMemoryRecords TRAIN = data(256, 1, false);
  static final InMemoryRecords VALIDATION = data(200, 2, true);
  static final int EPOCHS = 30;
  static final EarlyStopping PATIENCE_3 = new EarlyStopping(ValidationMetric.VAL_LOSS, 3, 0);

  /** Gaussian points labelled by {@code x0 > 0}, or by {@code x0 + x1 > 0}. */
  static InMemoryRecords data(int n, long seed, boolean diagonal) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] x = new float[4 * n];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < 4; j++) {
        x[4 * i + j] = (float) rnd.nextGaussian();
      }
      y[i] = (diagonal ? x[4 * i] + x[4 * i + 1] : x[4 * i]) > 0 ? 1 : 0;
    }
    return new InMemoryRecords(x, 4, y, 1);
  }

  record Outcome(TrainingReport report, float[] weights) {
    List<EpochMetrics> history() {
      return report.epochs().stream().map(EpochMetrics::withoutTime).toList();
    }
  }

  static TrainingConfig config(ExecutionMode mode, int epochs, long maxSteps, int checkpointEvery) {
    return TrainingConfig.builder().mode(mode).prefetchDepth(2).batchSize(32).epochs(epochs).seed(5)
        .maxSteps(maxSteps).checkpointInterval(checkpointEvery).build();
  }

  static Outcome train(TrainingConfig config, EarlyStopping stopping, Path checkpoints) {
    try (TrainableModel model = new TrainableModel(SPEC, OPT, ComputeOptions.cpu().withThreads(1, 1))) {
      StepLoop loop = new StepLoop(model, TRAIN, config).validation(VALIDATION).earlyStopping(stopping);
      if (checkpoints != null) {
        loop.checkpoints(new LocalCheckpointStore(checkpoints, 3));
      }
      TrainingReport report = loop.run();
      return new Outcome(report, model.exportWeights());
    }
  }

  /** The epoch the rule stops at over {@code history}'s validation losses, or -1. */
  static int expectedStop(List<EpochMetrics> history, EarlyStopping s) {
    StoppingRule rule = new StoppingRule(s);
    for (EpochMetrics m : history) {
      rule.observe(m.epoch(), m.valLoss());
      if (rule.stopped()) {
        return m.epoch();
      }
    }
    return -1;
  }

  static int argminValLoss(List<EpochMetrics> history, int through) {
    int best = 0;
    for (int e = 1; e <= through; e++) {
      best = history.get(e).valLoss() < history.get(best).valLoss() ? e : best;
    }
    return best;
  }

  @Test
  void stopsWherePatienceRunsOutAndRestoresTheBestEpochsWeightsBitwise() {
    Outcome full = train(config(ExecutionMode.SIMPLE, EPOCHS, 0, 0), EarlyStopping.OFF, null);
    List<EpochMetrics> curve = full.history();
    assertEquals(EPOCHS, curve.size());
    int stop = expectedStop(curve, PATIENCE_3);
    int best = argminValLoss(curve, stop);
    assertTrue(best > 0 && stop > best && stop < EPOCHS - 1,
        "the constructed curve falls, then rises: best " + best + ", stop " + stop + ", " + curve);
    assertEquals(stop - 3, best, "patience 3 stops 3 epochs after the best");
    for (EpochMetrics m : curve) {
      assertEquals(8 * 32, m.records(), "every training record once per epoch");
      assertEquals(200, m.validationRecords());
      assertEquals(OPT.learningRate(), m.learningRate());
    }

    Outcome stopped = train(config(ExecutionMode.SIMPLE, EPOCHS, 0, 0), PATIENCE_3, null);
    assertEquals(stop + 1, stopped.report().epochsRun());
    assertEquals(curve.subList(0, stop + 1), stopped.history(), "the same epochs up to the stop");
    assertEquals((stop + 1) * 8L, stopped.report().steps(), "no step after the stopping epoch");
    assertTrue(stopped.report().stoppedEarly());
    assertEquals(best, stopped.report().bestEpoch());

    Outcome upToBest = train(config(ExecutionMode.SIMPLE, best + 1, 0, 0), EarlyStopping.OFF, null);
    assertArrayEquals(upToBest.weights(), stopped.weights(), "the weights of the best epoch's end");
  }

  @Test
  void simpleAndEfficientGiveBitwiseIdenticalHistoriesAndWeights() {
    Outcome simple = train(config(ExecutionMode.SIMPLE, EPOCHS, 0, 0), PATIENCE_3, null);
    Outcome efficient = train(config(ExecutionMode.EFFICIENT, EPOCHS, 0, 0), PATIENCE_3, null);
    assertTrue(simple.report().stoppedEarly());
    assertEquals(simple.history(), efficient.history());
    assertArrayEquals(simple.weights(), efficient.weights());
  }

  @Test
  void aResumedRunStopsAtTheSameEpochWithTheSameHistoryAndWeights(@TempDir Path root) throws Exception {
    for (ExecutionMode mode : ExecutionMode.values()) {
      Outcome whole = train(config(mode, EPOCHS, 0, 0), PATIENCE_3, null);
      int steps = (int) whole.report().steps();
      // The first attempt ends mid-epoch (step 8 * 3 + 3), after a checkpoint at step 25 (interval 5).
      Path dir = root.resolve(mode.name());
      Outcome first = train(config(mode, EPOCHS, 27, 5), PATIENCE_3, dir);
      assertEquals(27, first.report().steps());
      java.nio.file.Files.delete(new LocalCheckpointStore(dir, 3).pathFor(27)); // lose the last one
      Outcome resumed = train(config(mode, EPOCHS, 0, 5), PATIENCE_3, dir);
      assertEquals(25, resumed.report().firstStep(), mode + ": resumed mid-epoch");
      assertEquals(steps, resumed.report().firstStep() + resumed.report().steps(), mode + ": stopped at the same step");
      assertEquals(whole.history(), resumed.history(), mode + ": history");
      assertArrayEquals(whole.weights(), resumed.weights(), mode + ": final (best) weights");
      assertArrayEquals(whole.report().lossHistory(), resumed.report().lossHistory());

      // Run again on the finished checkpoints: the stop is recorded, so nothing trains, and the best weights return.
      Outcome again = train(config(mode, EPOCHS, 0, 5), PATIENCE_3, dir);
      assertEquals(0, again.report().steps(), mode + ": a stopped run does not train on");
      assertEquals(whole.history(), again.history());
      assertArrayEquals(whole.weights(), again.weights());
    }
  }

  /** Rank {@code rank}'s share of {@code all}: every {@code workers}-th record. */
  static RecordSource shard(InMemoryRecords all, int rank, int workers) {
    return new RecordSource() {
      public int size() {
        return (all.size() - rank + workers - 1) / workers;
      }

      public void read(int index, int epoch, ai.bios.tf.input.RecordWriter out) {
        all.read(index * workers + rank, epoch, out);
      }
    };
  }

  @Test
  void twoWorkersDecideIdenticallyFromTheSameSums() throws Exception {
    TrainingConfig config = config(ExecutionMode.EFFICIENT, EPOCHS, 0, 0);
    int steps = DataPlan.stepsFor(TRAIN.size() / 2, 16);
    List<Outcome> ranks = TestRings.onRing(2, 256, TestRings.sameSecret(2), false, Duration.ofSeconds(30),
        (rank, ring) -> {
          try (TrainableModel model = new TrainableModel(SPEC, OPT, ComputeOptions.cpu().withThreads(1, 1))) {
            TrainingReport report = new StepLoop(model, shard(TRAIN, rank, 2), config).collective(ring)
                .stepsPerEpoch(steps).threadPrefix("bios-w" + rank)
                .validation(shard(VALIDATION, rank, 2)).earlyStopping(PATIENCE_3).run();
            return new Outcome(report, model.exportWeights());
          }
        });
    Outcome a = ranks.get(0);
    Outcome b = ranks.get(1);
    assertTrue(a.report().stoppedEarly(), "the curve stops 2 workers too: " + a.history());
    assertEquals(200, a.history().get(0).validationRecords(), "both shards counted");
    assertEquals(a.history(), b.history(), "identical history on both ranks");
    assertEquals(a.report().steps(), b.report().steps(), "stopped at the same step");
    assertArrayEquals(a.weights(), b.weights());
  }
}
