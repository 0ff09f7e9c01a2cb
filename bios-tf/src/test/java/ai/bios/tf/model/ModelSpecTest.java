package ai.bios.tf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.InvalidSettingException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.ConfigProto;

/** Model specs travel as JSON and Java serialisation; compute options pin the device. */
class ModelSpecTest {
  static final ModelSpec CNN = ModelSpec.builder(28, 28, 1)
      .conv2d(8, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).maxPool(2, 2)
      .conv2d(16, 3, 2, LayerSpec.Padding.VALID, Activation.TANH).avgPool(2, 2)
      .flatten().dense(32, Activation.SIGMOID).dense(10, Activation.NONE)
      .loss(Loss.SOFTMAX_CROSS_ENTROPY).seed(42).build();

  @Test
  void jsonRoundTripGivesAnEqualSpec() {
    String json = CNN.toJson();
    assertEquals(CNN, ModelSpec.fromJson(json));
    assertTrue(json.contains("\"type\":\"conv2d\""), json);
    assertEquals(10, ModelSpec.fromJson(json).outputs());
  }

  @Test
  void javaSerialisationRoundTripGivesAWorkingSpec() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(CNN);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      ModelSpec back = (ModelSpec) in.readObject();
      assertEquals(CNN, back);
      assertEquals(10, back.outputs());
      assertEquals(784, back.featureSize());
    }
  }

  @Test
  void invalidJsonNamesTheSpec() {
    InvalidSettingException e = assertThrows(InvalidSettingException.class,
        () -> ModelSpec.fromJson("{\"inputShape\":[3],\"layers\":[{\"type\":\"lstm\"}],\"loss\":\"MEAN_SQUARED_ERROR\",\"seed\":1}"));
    assertTrue(e.getMessage().contains("model spec JSON"), e.getMessage());
  }

  @Test
  void aGpuAddressPinsTheSessionToThatDeviceOnly() {
    ConfigProto gpu = ComputeOptions.gpu("3").withThreads(2, 1).toConfigProto();
    assertEquals("3", gpu.getGpuOptions().getVisibleDeviceList());
    assertTrue(gpu.getGpuOptions().getAllowGrowth());
    assertEquals(2, gpu.getIntraOpParallelismThreads());
    assertEquals(1, gpu.getInterOpParallelismThreads());
    ConfigProto cpu = ComputeOptions.cpu().toConfigProto();
    assertEquals(0, cpu.getDeviceCountOrThrow("GPU"));
    assertEquals("", cpu.getGpuOptions().getVisibleDeviceList());
    InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> ComputeOptions.gpu("cuda:1"));
    assertTrue(e.getMessage().contains("gpuAddress") && e.getMessage().contains("cuda:1"), e.getMessage());
  }

  @Test
  void aModelPinnedToTheCpuTrainsAndPredictsShapedOutputs() {
    try (TrainableModel model = new TrainableModel(CNN, OptimizerSpec.momentum(0.01, 0.9), ComputeOptions.cpu());
        org.tensorflow.types.TFloat32 x = org.tensorflow.types.TFloat32.tensorOf(org.tensorflow.ndarray.Shape.of(3, 28, 28, 1))) {
      float[] p = model.predict(x);
      assertEquals(30, p.length);
      double sum = 0;
      for (int i = 0; i < 10; i++) {
        sum += p[i];
      }
      assertEquals(1.0, sum, 1e-5, "softmax probabilities of one record sum to 1");
      assertEquals(model.parameterCount(), model.optimizerStateSize(), "one momentum slot per weight");
    }
  }

  @Test
  void aSavedModelExportServesTheSamePredictions(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    ModelSpec spec = ModelSpec.builder(4).dense(6, Activation.TANH).dense(3, Activation.NONE).seed(9).build();
    java.nio.file.Path export = dir.resolve("saved");
    float[] expected;
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.sgd(0.1), ComputeOptions.cpu());
        org.tensorflow.types.TFloat32 x = org.tensorflow.types.TFloat32.tensorOf(
            org.tensorflow.ndarray.Shape.of(2, 4), d -> d.asRawTensor().data().asFloats()
                .write(new float[] {1, 2, 3, 4, -1, 0.5f, 0, 2}))) {
      expected = model.predict(x);
      model.exportSavedModel(export);
      try (org.tensorflow.SavedModelBundle bundle = org.tensorflow.SavedModelBundle.load(export.toString(), "serve");
          org.tensorflow.Result r = bundle.function("serving_default").call(java.util.Map.of("features", x))) {
        org.tensorflow.types.TFloat32 p = (org.tensorflow.types.TFloat32) r.get("prediction").orElseThrow();
        float[] got = new float[6];
        p.asRawTensor().data().asFloats().read(got);
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected, got);
      }
    }
  }
}
