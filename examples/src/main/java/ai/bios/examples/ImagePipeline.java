package ai.bios.examples;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.pmod;
import static org.apache.spark.sql.functions.regexp_extract;
import static org.apache.spark.sql.functions.xxhash64;

import ai.bios.spark.BiosEstimator;
import ai.bios.spark.BiosModel;
import ai.bios.spark.TrainingSummary;
import ai.bios.spark.transform.ImageTransform;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.LayerSpec;
import ai.bios.tf.model.ModelSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Locale;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.feature.StringIndexer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Trains a CNN on a folder of encoded images, the way images usually sit next to a Spark job: JPEG
 * files in one subfolder per class, read with {@code spark.read.format("binaryFile")}. The images
 * stay encoded bytes all the way into the training task; Bios's {@link ImageTransform} decodes,
 * resizes, randomly crops and flips (training only) and normalises them there, on the task's input
 * threads, while TensorFlow trains on the previous batch. 20% of the files (chosen by a hash of
 * their class folder and name) are held out and scored at the end; 10% of the rest is a validation
 * split whose loss and accuracy are reported every epoch ({@code --patience N} stops early on it;
 * off by default, as batch norm's early epochs make the validation loss noisy on this set).
 *
 * <p>Without {@code --dir} it generates a realistic set first ({@link ImageFolder}: 10 shape
 * classes over cluttered backgrounds, 96-320 px, JPEG quality 85-95) under
 * {@code examples/target/image-folder-N}, once.
 *
 * <pre>examples/bin/run-example ImagePipeline [--dir DIR] [--images 3000] [--size 40] [--workers 2]
 *     [--epochs 30] [--patience 0] [--mode efficient|simple] [--input-threads auto|N] [--master URL]</pre>
 *
 * The last line is a JSON summary: accuracy on the held-out files, training time, epochs, images.
 */
public final class ImagePipeline {
  private ImagePipeline() {}

  /** What a run measured. */
  public record Result(double accuracy, long trainImages, long heldOutImages, int classes, TrainingSummary summary) {
    public String toJson(String workload) {
      return String.format(Locale.ROOT,
          "{\"example\":\"%s\",\"accuracy\":%.4f,\"train_images\":%d,\"held_out_images\":%d,\"classes\":%d,"
              + "\"train_seconds\":%.2f,\"epochs_run\":%d,\"best_epoch\":%d,\"steps\":%d,\"mode\":\"%s\","
              + "\"workers\":%d,\"input_threads\":%d,\"images_per_second\":%.1f,\"input_wait_fraction\":%.3f}",
          workload, accuracy, trainImages, heldOutImages, classes, summary.trainSeconds(), summary.epochsRun(),
          summary.bestEpoch(), summary.steps(), summary.mode(), summary.workers().size(),
          summary.workers().head().inputThreads(), summary.samplesPerSecond(),
          summary.workers().head().inputWaitFraction());
    }
  }

  /**
   * A small CNN for {@code size x size} RGB images: three 3x3 conv blocks with batch norm (the first
   * two pooled), global average pooling, a dense layer with dropout, the class logits.
   */
  static ModelSpec model(int size, int classes) {
    return ModelSpec.builder(size, size, 3)
        .conv2d(24, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).batchNorm().maxPool(2, 2)
        .conv2d(48, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).batchNorm().maxPool(2, 2)
        .conv2d(64, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).batchNorm()
        .globalAvgPool()
        .dense(64, Activation.RELU).dropout(0.2)
        .dense(classes, Activation.NONE)
        .seed(11)
        .build();
  }

  /** The files of {@code dir} (any depth) with their class (the parent folder's name) and held-out flag. */
  static Dataset<Row> read(SparkSession spark, String dir) {
    return spark.read().format("binaryFile")
        .option("pathGlobFilter", "*.{jpg,jpeg,png}")
        .option("recursiveFileLookup", "true")
        .load(dir)
        .withColumn("class", regexp_extract(col("path"), "([^/]+)/[^/]+$", 1))
        // A file's split depends on its class folder and name only: the same on every run, wherever
        // the folder is copied to.
        .withColumn("held_out", pmod(xxhash64(regexp_extract(col("path"), "([^/]+/[^/]+)$", 1), lit(17)), lit(10)).lt(2));
  }

  /** Generates the example set into {@code dir} unless a complete one is there. */
  static void ensureImages(Path dir, int images, long seed) {
    Path done = dir.resolve("_COMPLETE");
    if (Files.exists(done)) {
      return;
    }
    try {
      System.out.printf(Locale.ROOT, "generating %d JPEG images in %s ...%n", images, dir);
      ImageFolder.write(dir, images, seed);
      Files.writeString(done, images + " images, seed " + seed + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException("could not write the example images to " + dir, e);
    }
  }

  /** @param patience epochs without a better validation loss before training stops (0: never stops early) */
  public static Result run(SparkSession spark, String dir, int size, int workers, int epochs, int patience,
      String mode, String inputThreads) {
    Dataset<Row> files = read(spark, dir);
    Dataset<Row> train = files.filter(col("held_out").equalTo(false));
    Dataset<Row> heldOut = files.filter(col("held_out"));
    int classes = (int) train.select("class").distinct().count();
    ImageTransform images = new ImageTransform("content").setSize(size, size)
        .setRandomCrop(true).setHorizontalFlip(true);
    BiosEstimator bios = new BiosEstimator()
        .setModelSpec(model(size, classes))
        .setTransform(images).setInputThreads(inputThreads)
        .setNumWorkers(workers).setBatchSize(64).setEpochs(epochs)
        .setOptimizer("adamw").setLearningRate(0.003).setWeightDecay(0.01).setLearningRateSchedule("cosine")
        .setValidationFraction(0.1).setEarlyStoppingPatience(patience)
        .setExecutionMode(mode).setSeed(5);
    PipelineModel model = new Pipeline().setStages(new PipelineStage[] {
        new StringIndexer().setInputCol("class").setOutputCol("label").setStringOrderType("alphabetAsc"),
        bios}).fit(train);
    BiosModel trained = (BiosModel) model.stages()[1];
    Dataset<Row> scored = model.transform(heldOut).select("label", "prediction").cache();
    long n = scored.count();
    long right = scored.filter(col("label").equalTo(col("prediction"))).count();
    scored.unpersist();
    return new Result(n == 0 ? 0 : (double) right / n, train.count(), n, classes, trained.summary());
  }

  public static void main(String[] args) {
    Args a = new Args(args);
    String dir = a.get("dir", "");
    int images = Integer.parseInt(a.get("images", "3000"));
    int size = Integer.parseInt(a.get("size", "40"));
    int workers = Integer.parseInt(a.get("workers", "2"));
    int epochs = Integer.parseInt(a.get("epochs", "30"));
    int patience = Integer.parseInt(a.get("patience", "0"));
    String mode = a.get("mode", "efficient");
    String inputThreads = a.get("input-threads", "auto");
    String master = a.get("master", AdultPipeline.submittedMasterOr("local[" + Math.max(2, workers) + "]"));
    a.requireConsumed();
    if (dir.isEmpty()) {
      Path generated = Paths.get("examples", "target", "image-folder-" + images).toAbsolutePath();
      ensureImages(generated, images, 42);
      dir = generated.toString();
    }
    SparkSession spark = AdultPipeline.localSpark("Bios ImagePipeline", master).getOrCreate();
    try {
      Result r = run(spark, dir, size, workers, epochs, patience, mode, inputThreads);
      TrainingSummary s = r.summary();
      System.out.printf(Locale.ROOT, "ImagePipeline: accuracy %.4f on %d held-out images (%d classes), trained on %d "
              + "in %.1f s (%d epochs, kept epoch %d, %.0f images/s, %s mode, %d workers x %d input threads)%n",
          r.accuracy(), r.heldOutImages(), r.classes(), r.trainImages(), s.trainSeconds(), s.epochsRun(),
          s.bestEpoch(), s.samplesPerSecond(), s.mode(), s.workers().size(), s.workers().head().inputThreads());
      System.out.println(r.toJson("ImagePipeline"));
    } finally {
      spark.stop();
    }
  }
}
