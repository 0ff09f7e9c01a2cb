package ai.bios.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.spark.transform.TextTransform;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.Feed;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * TextClassifier's transform and model learn the made-up reviews, trained here directly on the engine
 * (one process, no estimator), so the text path is proven before the estimator runs transforms.
 */
class TextModelTest {
  private static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("TextModelTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /** Reviews {@code from .. from + n - 1} as the transform's ids (row-major) and their labels. */
  private static float[][] encode(TextTransform text, long from, int n) {
    float[] ids = new float[n * text.featureSize()];
    float[] labels = new float[n];
    for (int i = 0; i < n; i++) {
      SyntheticReviews.Review v = SyntheticReviews.review(7, from + i);
      int[] row = text.ids(v.text());
      for (int j = 0; j < row.length; j++) {
        ids[i * row.length + j] = row[j];
      }
      labels[i] = v.label();
    }
    return new float[][] {ids, labels};
  }

  private record Batch(TFloat32 features, TFloat32 labels, int size) implements Feed, AutoCloseable {
    static Batch of(float[][] data, int from, int n, int width) {
      float[] x = new float[n * width];
      System.arraycopy(data[0], from * width, x, 0, n * width);
      float[] y = new float[n];
      System.arraycopy(data[1], from, y, 0, n);
      return new Batch(TFloat32.tensorOf(Shape.of(n, width), DataBuffers.of(x, true, false)),
          TFloat32.tensorOf(Shape.of(n, 1), DataBuffers.of(y, true, false)), n);
    }

    @Override
    public void close() {
      features.close();
      labels.close();
    }
  }

  @Test
  void theBagOfEmbeddingsLearnsTheReviewsFromAFittedVocabulary() {
    TextTransform text = TextTransform.builder("text").maxLength(64).ngrams(2).learnVocabulary(5000, 2).build()
        .fit(SyntheticReviews.generate(spark, 7, 0, 8000, 2));
    assertTrue(text.vocabulary().length > 500 && text.vocabulary().length <= 5000, text.toString());
    assertEquals(text.vocabulary().length + 2, text.cardinality());
    int width = text.featureSize();
    float[][] train = encode(text, 0, 8000);
    float[][] test = encode(text, 8000, 2000);
    int batch = 128;
    try (TrainableModel model = new TrainableModel(TextClassifier.model(text, 32, 7), OptimizerSpec.adam(0.003),
        ComputeOptions.cpu())) {
      float[] grads = new float[model.parameterCount()];
      for (int epoch = 0; epoch < 5; epoch++) {
        for (int from = 0; from < 8000; from += batch) {
          try (Batch b = Batch.of(train, from, Math.min(batch, 8000 - from), width)) {
            model.computeGradients(b, grads);
            model.applyGradients(grads, b.size());
          }
        }
      }
      float[] p;
      try (Batch b = Batch.of(test, 0, 2000, width)) {
        p = model.predict(b.features());
      }
      int right = 0;
      for (int i = 0; i < 2000; i++) {
        right += (p[2 * i + 1] > p[2 * i] ? 1 : 0) == (int) test[1][i] ? 1 : 0;
      }
      double accuracy = right / 2000.0;
      System.out.println("bag of embeddings on SyntheticReviews: test accuracy " + accuracy);
      assertTrue(accuracy > 0.78 && accuracy < 0.95, "accuracy " + accuracy); // 0.8205 measured
    }
  }
}
