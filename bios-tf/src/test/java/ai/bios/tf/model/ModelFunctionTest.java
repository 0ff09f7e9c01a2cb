package ai.bios.tf.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.InvalidSettingException;
import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.InMemoryRecords;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/** A {@link ModelFunction} builds the network; the engine trains, serves and exports it unchanged. */
class ModelFunctionTest {

  /** dense(8, relu) then dense(2): the same network as the built-in layers. */
  public static final class TwoDense implements ModelFunction {
    @Override
    public Operand<TFloat32> build(ModelContext ctx) {
      return ctx.dense(ctx.dense(ctx.features(), 8, Activation.RELU), 2, Activation.NONE);
    }
  }

  /** A gated bilinear model: tanh(x W1) * sigmoid(x W2), then a hand-made output layer. */
  public static final class Gated implements ModelFunction {
    @Override
    public Operand<TFloat32> build(ModelContext ctx) {
      Ops tf = ctx.tf();
      int hidden = Integer.parseInt(ctx.config());
      Operand<TFloat32> a = ctx.dense(ctx.features(), hidden, Activation.TANH);
      Operand<TFloat32> b = ctx.dense(ctx.slice(1, 3), hidden, Activation.SIGMOID);
      Operand<TFloat32> w = ctx.variable("out_kernel", Shape.of(hidden, ctx.outputs()),
          ModelContext.Initializer.GLOROT_UNIFORM);
      Operand<TFloat32> bias = ctx.variable("out_bias", Shape.of(ctx.outputs()), ModelContext.Initializer.ZEROS);
      return tf.math.add(tf.linalg.matMul(tf.math.mul(a, b), w), bias);
    }
  }

  /** Returns three logits whatever the spec says. */
  public static final class ThreeWide implements ModelFunction {
    @Override
    public Operand<TFloat32> build(ModelContext ctx) {
      return ctx.dense(ctx.features(), 3, Activation.NONE);
    }
  }

  private static ModelSpec gated(Loss loss) {
    return ModelSpec.builder(5).modelFunction(Gated.class.getName(), 2, "6").loss(loss).seed(17).build();
  }

  @Test
  void aFunctionOfDenseLayersTrainsBitwiseLikeTheBuiltInLayers() {
    ModelSpec builtIn = ModelSpec.builder(5).dense(8, Activation.RELU).dense(2, Activation.NONE).seed(9).build();
    ModelSpec function = ModelSpec.builder(5).modelFunction(TwoDense.class, 2).seed(9).build();
    float[][] a = train(builtIn);
    float[][] b = train(function);
    assertArrayEquals(a[0], b[0], "initial weights");
    assertArrayEquals(a[1], b[1], "weights after 4 Adam steps");
    assertArrayEquals(a[2], b[2], "predictions");
    assertFalse(Arrays.equals(a[0], a[1]), "training moved the weights");
  }

  @Test
  void gradientsOfAGatedProductMatchFiniteDifferences() {
    GradientCheckTest.check(gated(Loss.SOFTMAX_CROSS_ENTROPY));
    GradientCheckTest.check(gated(Loss.MEAN_SQUARED_ERROR));
  }

  @Test
  void theSpecRoundTripsThroughJsonAndJavaSerialisation() throws Exception {
    ModelSpec spec = gated(Loss.SOFTMAX_CROSS_ENTROPY);
    String json = spec.toJson();
    assertTrue(json.contains(Gated.class.getName()), json);
    ModelSpec back = ModelSpec.fromJson(json);
    assertEquals(spec, back);
    assertEquals(2, back.outputs());
    assertEquals("6", back.modelConfig());
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(spec);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      assertEquals(spec, in.readObject());
    }
    assertArrayEquals(train(spec)[1], train(back)[1], "the loaded spec trains the same weights");
    // A built-in spec's JSON is unchanged by the new fields.
    ModelSpec plain = ModelSpec.builder(3).dense(2, Activation.NONE).build();
    assertFalse(plain.toJson().contains("modelFunction"), plain.toJson());
    assertEquals(plain, ModelSpec.fromJson(plain.toJson()));
  }

  @Test
  void theSavedModelServesWhatPredictReturns(@TempDir Path dir) throws Exception {
    ModelSpec spec = gated(Loss.SOFTMAX_CROSS_ENTROPY);
    int n = 12;
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.adam(0.05), ComputeOptions.cpu());
        BatchAssembler assembler = new BatchAssembler(spec, n);
        Batch batch = assembler.assemble(records(spec, n), IntStream.range(0, n).toArray(), 0, n, 0, 0)) {
      float[] g = new float[model.parameterCount()];
      model.computeGradients(batch, g, 0, 0);
      model.applyGradients(g, n);
      float[] expected = model.predict(batch.features());
      Path export = dir.resolve("saved");
      model.exportSavedModel(export);
      try (SavedModelBundle bundle = SavedModelBundle.load(export.toString(), "serve");
          Result r = bundle.function("serving_default").call(Map.of("features", batch.features()))) {
        TFloat32 p = (TFloat32) r.get("prediction").orElseThrow();
        float[] got = new float[expected.length];
        p.asRawTensor().data().asFloats().read(got);
        assertArrayEquals(expected, got);
      }
    }
  }

  @Test
  void aBadClassNameFailsAtConstructionNamingTheClassAndTheFix() {
    InvalidSettingException missing = assertThrows(InvalidSettingException.class,
        () -> ModelSpec.builder(5).modelFunction("com.example.NoSuchModel", 2, null).build());
    assertTrue(missing.getMessage().contains("com.example.NoSuchModel"), missing.getMessage());
    assertTrue(missing.getMessage().contains("--jars"), missing.getMessage());
    InvalidSettingException notAFunction = assertThrows(InvalidSettingException.class,
        () -> ModelSpec.builder(5).modelFunction(String.class.getName(), 2, null).build());
    assertTrue(notAFunction.getMessage().contains("implement"), notAFunction.getMessage());
    InvalidSettingException noWidth = assertThrows(InvalidSettingException.class,
        () -> ModelSpec.builder(5).modelFunction(TwoDense.class, 0).build());
    assertTrue(noWidth.getMessage().contains("outputs"), noWidth.getMessage());
  }

  @Test
  void logitsOfTheWrongWidthFailWhenTheModelIsBuiltNamingTheClass() {
    ModelSpec spec = ModelSpec.builder(5).modelFunction(ThreeWide.class, 2).build();
    InvalidSettingException e = assertThrows(InvalidSettingException.class,
        () -> new TrainableModel(spec, OptimizerSpec.sgd(0.1), ComputeOptions.cpu()).close());
    assertTrue(e.getMessage().contains(ThreeWide.class.getName()), e.getMessage());
    assertTrue(e.getMessage().contains("outputs(...)"), e.getMessage());
  }

  /** {initial weights, weights after 4 Adam steps, predictions}. */
  private static float[][] train(ModelSpec spec) {
    int n = 16;
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.adam(0.05), ComputeOptions.cpu().withThreads(1, 1));
        BatchAssembler assembler = new BatchAssembler(spec, n);
        Batch batch = assembler.assemble(records(spec, n), IntStream.range(0, n).toArray(), 0, n, 0, 0)) {
      float[] initial = model.exportWeights();
      float[] g = new float[model.parameterCount()];
      for (int step = 0; step < 4; step++) {
        Arrays.fill(g, 0f);
        model.computeGradients(batch, g, step, 0);
        model.applyGradients(g, n);
      }
      return new float[][] {initial, model.exportWeights(), model.predict(batch.features())};
    }
  }

  private static InMemoryRecords records(ModelSpec spec, int n) {
    SplittableRandom rnd = new SplittableRandom(3);
    float[] x = new float[n * spec.featureSize()];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    float[] y = new float[n * spec.labelWidth()];
    for (int i = 0; i < y.length; i++) {
      y[i] = spec.loss() == Loss.MEAN_SQUARED_ERROR ? (float) rnd.nextGaussian() : rnd.nextInt(spec.outputs());
    }
    return new InMemoryRecords(x, spec.featureSize(), y, spec.labelWidth());
  }
}
