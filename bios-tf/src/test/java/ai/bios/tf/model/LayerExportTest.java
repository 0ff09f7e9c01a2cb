package ai.bios.tf.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.InMemoryRecords;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.types.TFloat32;

/** The exported SavedModel is the inference pass: no dropout, batch norm with its moving statistics. */
class LayerExportTest {

  @Test
  void aSavedModelWithEmbeddingsBatchNormAndDropoutServesWhatPredictReturns(@TempDir Path dir) throws Exception {
    ModelSpec spec = ModelSpec.builder(4)
        .featureColumns(LayerSpec.numeric("a", 0, 2), LayerSpec.categorical("c", 2, 5, 3), LayerSpec.numeric("b", 3, 1))
        .dense(8, Activation.RELU).batchNorm(0.5).dropout(0.5)
        .residual(new LayerSpec.Dense(8, Activation.TANH), new LayerSpec.LayerNorm())
        .dense(3, Activation.NONE).seed(21).build();
    int n = 16;
    SplittableRandom rnd = new SplittableRandom(8);
    float[] x = new float[n * 4];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      x[4 * i] = (float) rnd.nextGaussian() + 2;
      x[4 * i + 1] = (float) rnd.nextGaussian();
      x[4 * i + 2] = rnd.nextInt(5);
      x[4 * i + 3] = (float) rnd.nextGaussian();
      y[i] = rnd.nextInt(3);
    }
    InMemoryRecords records = new InMemoryRecords(x, 4, y, 1);
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.adam(0.05), ComputeOptions.cpu());
        BatchAssembler assembler = new BatchAssembler(spec, n);
        Batch batch = assembler.assemble(records, IntStream.range(0, n).toArray(), 0, n, 0, 0)) {
      float[] g = new float[model.parameterCount()];
      float[] initial = model.exportWeights();
      for (int step = 0; step < 5; step++) {
        model.computeGradients(batch, g, step, 0);
        model.applyGradients(g, n);
      }
      float[] trained = model.exportWeights();
      int t = model.trainableParameterCount();
      assertFalse(Arrays.equals(Arrays.copyOfRange(initial, t, trained.length),
          Arrays.copyOfRange(trained, t, trained.length)), "the moving statistics moved");
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
}
