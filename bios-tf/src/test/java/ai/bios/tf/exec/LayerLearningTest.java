package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.Synthetic;
import ai.bios.tf.input.InMemoryRecords;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.LayerSpec;
import ai.bios.tf.model.Loss;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/** Each new layer learns a problem whose answer is known (accuracy measured on held-out data). */
class LayerLearningTest {
  private static final float[] TARGET = {-1.5f, -0.5f, 0f, 0.7f, 1.2f, 2.0f};

  private static TrainableModel model(ModelSpec spec, double learningRate) {
    return new TrainableModel(spec, OptimizerSpec.adam(learningRate), ComputeOptions.cpu().withThreads(1, 1));
  }

  @Test
  void anEmbeddingLearnsAPerCategoryTarget() {
    // Feature 0 is noise, feature 1 a category id; the label is TARGET[category].
    int n = 2000;
    SplittableRandom rnd = new SplittableRandom(3);
    float[] x = new float[n * 2];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      int c = rnd.nextInt(TARGET.length);
      x[2 * i] = (float) rnd.nextGaussian();
      x[2 * i + 1] = c;
      y[i] = TARGET[c];
    }
    ModelSpec spec = ModelSpec.builder(2)
        .featureColumns(LayerSpec.numeric("noise", 0, 1), LayerSpec.categorical("category", 1, TARGET.length, 3))
        .dense(1, Activation.NONE).loss(Loss.MEAN_SQUARED_ERROR).seed(4).build();
    try (TrainableModel model = model(spec, 0.05)) {
      new StepLoop(model, new InMemoryRecords(x, 2, y, 1), TrainingConfig.builder().batchSize(32).epochs(5).build())
          .run();
      float[] probe = new float[TARGET.length * 2];
      for (int c = 0; c < TARGET.length; c++) {
        probe[2 * c + 1] = c;
      }
      try (TFloat32 features = TFloat32.tensorOf(Shape.of(TARGET.length, 2),
          d -> d.asRawTensor().data().asFloats().write(probe))) {
        float[] p = model.predict(features);
        for (int c = 0; c < TARGET.length; c++) {
          assertEquals(TARGET[c], p[c], 0.1, "category " + c);
        }
      }
    }
  }

  /** Token sequences over {@code vocab} tokens; label 1 when tokens 1, 2 appear next to each other. */
  private static InMemoryRecords patterns(int n, int length, int vocab, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] x = new float[n * length];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      int label = rnd.nextInt(2);
      int[] seq = new int[length];
      do {
        for (int t = 0; t < length; t++) {
          seq[t] = rnd.nextInt(vocab);
        }
        if (label == 1) {
          int at = rnd.nextInt(length - 1);
          seq[at] = 1;
          seq[at + 1] = 2;
        }
      } while (label == 0 && hasPattern(seq));
      for (int t = 0; t < length; t++) {
        x[i * length + t] = seq[t];
      }
      y[i] = label;
    }
    return new InMemoryRecords(x, length, y, 1);
  }

  private static boolean hasPattern(int[] seq) {
    for (int t = 0; t + 1 < seq.length; t++) {
      if (seq[t] == 1 && seq[t + 1] == 2) {
        return true;
      }
    }
    return false;
  }

  @Test
  void aConv1dOverTokenEmbeddingsDetectsATokenPattern() {
    ModelSpec spec = ModelSpec.builder(12)
        .featureColumns(LayerSpec.sequence("tokens", 0, 12, 5, 8))
        .conv1d(16, 2, 1, LayerSpec.Padding.VALID, Activation.RELU)
        .globalAvgPool().dense(2, Activation.NONE).seed(5).build();
    InMemoryRecords test = patterns(500, 12, 5, 98);
    try (TrainableModel model = model(spec, 0.01)) {
      double before = LearningTest.accuracy(model, test, LearningTest.labels(test));
      new StepLoop(model, patterns(4000, 12, 5, 1), TrainingConfig.builder().batchSize(32).epochs(5).build()).run();
      double after = LearningTest.accuracy(model, test, LearningTest.labels(test));
      assertTrue(after > 0.95, "accuracy " + before + " -> " + after);
    }
  }

  @Test
  void anMlpWithBatchNormDropoutAResidualBlockAndLayerNormLearnsAHyperplane() {
    ModelSpec spec = ModelSpec.builder(8)
        .dense(32, Activation.RELU).batchNorm(0.9).dropout(0.2)
        .residual(new LayerSpec.Dense(32, Activation.RELU), new LayerSpec.Dense(32, Activation.NONE))
        .layerNorm().dense(2, Activation.NONE).seed(1).build();
    InMemoryRecords test = Synthetic.hyperplane(1000, 8, 99);
    try (TrainableModel model = model(spec, 0.01)) {
      double before = LearningTest.accuracy(model, test, LearningTest.labels(test));
      new StepLoop(model, Synthetic.hyperplane(4000, 8, 1), TrainingConfig.builder().batchSize(64).epochs(5).build())
          .run();
      double after = LearningTest.accuracy(model, test, LearningTest.labels(test));
      assertTrue(after > 0.93, "accuracy " + before + " -> " + after);
    }
  }

  @Test
  void globalAveragePoolingOfConvolutionsTellsHorizontalFromVerticalBars() {
    ModelSpec spec = ModelSpec.builder(12, 12, 1)
        .conv2d(4, 3, 1, LayerSpec.Padding.SAME, Activation.RELU)
        .globalAvgPool().dense(2, Activation.NONE).seed(2).build();
    InMemoryRecords test = Synthetic.bars(400, 12, 98);
    try (TrainableModel model = model(spec, 0.02)) {
      new StepLoop(model, Synthetic.bars(2000, 12, 2), TrainingConfig.builder().batchSize(32).epochs(5).build()).run();
      double after = LearningTest.accuracy(model, test, LearningTest.labels(test));
      assertTrue(after > 0.95, "accuracy " + after);
    }
  }
}
