package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.ModelContext;
import ai.bios.tf.model.ModelFunction;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/** A model function under the step loop: simple and efficient agree bitwise, and resume is bitwise. */
class ModelFunctionRunTest {

  /** Wide & deep: a linear part on the raw features plus a two-layer deep part. */
  public static final class WideAndDeep implements ModelFunction {
    @Override
    public Operand<TFloat32> build(ModelContext ctx) {
      Ops tf = ctx.tf();
      Operand<TFloat32> wide = ctx.dense(ctx.features(), ctx.outputs(), Activation.NONE);
      Operand<TFloat32> deep = ctx.dense(ctx.dense(ctx.features(), 12, Activation.RELU), ctx.outputs(), Activation.NONE);
      return tf.math.add(wide, deep);
    }
  }

  static final ModelSpec SPEC = ModelSpec.builder(8).modelFunction(WideAndDeep.class, 2).seed(11).build();

  private static long firstStep;

  private static float[] run(ExecutionMode mode, long maxSteps, Path dir, double[][] losses) {
    TrainingConfig config = TrainingConfig.builder().mode(mode).prefetchDepth(2).batchSize(32).epochs(3).seed(3)
        .checkpointInterval(dir == null ? 0 : 5).maxSteps(maxSteps).build();
    try (TrainableModel model = new TrainableModel(SPEC, OptimizerSpec.adam(0.01), ComputeOptions.cpu().withThreads(1, 1))) {
      StepLoop loop = new StepLoop(model, ScheduleEquivalenceTest.DATA, config);
      if (dir != null) {
        loop.checkpoints(new LocalCheckpointStore(dir, 3));
      }
      TrainingReport report = loop.run();
      losses[0] = report.lossHistory();
      firstStep = report.firstStep();
      return model.exportWeights();
    }
  }

  @Test
  void simpleAndEfficientGiveBitwiseIdenticalRuns() {
    double[][] simpleLosses = new double[1][];
    double[][] efficientLosses = new double[1][];
    float[] simple = run(ExecutionMode.SIMPLE, 0, null, simpleLosses);
    float[] efficient = run(ExecutionMode.EFFICIENT, 0, null, efficientLosses);
    assertEquals(48, simpleLosses[0].length);
    assertArrayEquals(simpleLosses[0], efficientLosses[0]);
    assertArrayEquals(simple, efficient);
    assertTrue(simpleLosses[0][47] < simpleLosses[0][0], "learned");
  }

  @Test
  void resumingFromACheckpointEqualsTheUninterruptedRunBitwise(@TempDir Path dir) {
    double[][] wholeLosses = new double[1][];
    float[] whole = run(ExecutionMode.EFFICIENT, 0, null, wholeLosses);
    run(ExecutionMode.EFFICIENT, 23, dir, new double[1][]);
    double[][] resumedLosses = new double[1][];
    float[] resumed = run(ExecutionMode.EFFICIENT, 0, dir, resumedLosses);
    assertEquals(23, firstStep, "resumed at the checkpoint of step 23");
    assertArrayEquals(whole, resumed, "final weights");
    assertArrayEquals(wholeLosses[0], resumedLosses[0], "loss history");
  }
}
