package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.InvalidSettingException;
import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.ModelContext;
import ai.bios.tf.model.ModelFunction;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;
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

  /** A hidden layer with dropout at the rate the spec's config names (training pass only). */
  public static final class DeepWithDropout implements ModelFunction {
    @Override
    public Operand<TFloat32> build(ModelContext ctx) {
      Operand<TFloat32> hidden = ctx.dense(ctx.features(), 16, Activation.RELU);
      return ctx.dense(ctx.dropout(hidden, Double.parseDouble(ctx.config())), ctx.outputs(), Activation.NONE);
    }
  }

  /** Makes a variable only in the training pass: refused. */
  public static final class PassDependentVariables implements ModelFunction {
    @Override
    public Operand<TFloat32> build(ModelContext ctx) {
      Operand<TFloat32> h = ctx.dense(ctx.features(), 4, Activation.RELU);
      return ctx.training() ? ctx.dense(ctx.dense(h, 4, Activation.RELU), ctx.outputs(), Activation.NONE)
          : ctx.dense(h, ctx.outputs(), Activation.NONE);
    }
  }

  static ModelSpec dropoutSpec(double rate) {
    return ModelSpec.builder(8).modelFunction(DeepWithDropout.class.getName(), 2, Double.toString(rate)).seed(11).build();
  }

  private static long firstStep;

  private static float[] run(ExecutionMode mode, long maxSteps, Path dir, double[][] losses) {
    return run(SPEC, mode, maxSteps, dir, losses);
  }

  private static float[] run(ModelSpec spec, ExecutionMode mode, long maxSteps, Path dir, double[][] losses) {
    TrainingConfig config = TrainingConfig.builder().mode(mode).prefetchDepth(2).batchSize(32).epochs(3).seed(3)
        .checkpointInterval(dir == null ? 0 : 5).maxSteps(maxSteps).build();
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.adam(0.01), ComputeOptions.cpu().withThreads(1, 1))) {
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

  @Test
  void aFunctionsDropoutTrainsBitwiseInBothModesAndOnResume(@TempDir Path dir) {
    ModelSpec spec = dropoutSpec(0.3);
    double[][] simpleLosses = new double[1][];
    double[][] efficientLosses = new double[1][];
    float[] simple = run(spec, ExecutionMode.SIMPLE, 0, null, simpleLosses);
    float[] efficient = run(spec, ExecutionMode.EFFICIENT, 0, null, efficientLosses);
    assertArrayEquals(simpleLosses[0], efficientLosses[0]);
    assertArrayEquals(simple, efficient);
    run(spec, ExecutionMode.EFFICIENT, 23, dir, new double[1][]);
    double[][] resumedLosses = new double[1][];
    assertArrayEquals(efficient, run(spec, ExecutionMode.EFFICIENT, 0, dir, resumedLosses), "resumed weights");
    assertArrayEquals(efficientLosses[0], resumedLosses[0], "resumed loss history");
  }

  @Test
  void aFunctionsDropoutActsInTheTrainingPassOnlyWithMasksFromStepAndRank() {
    try (TrainableModel model = model(dropoutSpec(0.5)); TrainableModel reference = model(dropoutSpec(0));
        BatchAssembler assembler = new BatchAssembler(dropoutSpec(0.5), 32);
        Batch batch = assembler.assemble(ScheduleEquivalenceTest.DATA, IntStream.range(0, 32).toArray(), 0, 32, 0, 0)) {
      assertArrayEquals(reference.exportWeights(), model.exportWeights(), "dropout makes no variables");
      float[] step0 = gradients(model, batch, 0, 0);
      assertArrayEquals(step0, gradients(model, batch, 0, 0), "the same step and rank: the same mask");
      assertFalse(Arrays.equals(step0, gradients(model, batch, 1, 0)), "another step: another mask");
      assertFalse(Arrays.equals(step0, gradients(model, batch, 0, 1)), "another rank: another mask");
      assertFalse(Arrays.equals(step0, gradients(reference, batch, 0, 0)), "dropout changes the gradients");
      assertArrayEquals(reference.predict(batch.features()), model.predict(batch.features()),
          "prediction is the function without dropout");
      assertEquals(reference.lossSum(batch), model.lossSum(batch), "so is evaluation");
    }
  }

  @Test
  void aFunctionMakingOtherVariablesInTheTrainingPassIsRefusedNamingTheRule() {
    ModelSpec spec = ModelSpec.builder(8).modelFunction(PassDependentVariables.class, 2).seed(11).build();
    InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> model(spec).close());
    assertTrue(e.getMessage().contains("same variables, in the same order"), e.getMessage());
  }

  private static TrainableModel model(ModelSpec spec) {
    return new TrainableModel(spec, OptimizerSpec.adam(0.01), ComputeOptions.cpu().withThreads(1, 1));
  }

  private static float[] gradients(TrainableModel model, Batch batch, long step, int rank) {
    float[] g = new float[model.parameterCount()];
    model.computeGradients(batch, g, step, rank);
    return g;
  }
}
