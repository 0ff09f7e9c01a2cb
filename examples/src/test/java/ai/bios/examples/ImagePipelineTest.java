package ai.bios.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image example end to end: JPEG files in class folders, read with binaryFile, decoded,
 * resized, cropped and flipped inside the training tasks by ImageTransform, scored on held-out
 * files (through the same transform without augmentation) well above chance.
 */
class ImagePipelineTest {

  @Test
  void aFolderOfJpegsTrainsThroughTheImageTransformAndScoresWellAboveChance(@TempDir Path tmp) {
    Path dir = tmp.resolve("images");
    ImagePipeline.ensureImages(dir, 2000, 42);
    SparkSession spark = SparkSession.builder().master("local[2]").appName("ImagePipelineTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
    try {
      ImagePipeline.Result r = ImagePipeline.run(spark, dir.toString(), 32, 2, 30, 0, "efficient", "auto");
      assertEquals(2000, r.trainImages() + r.heldOutImages(), "every file is either trained on or held out");
      assertTrue(r.heldOutImages() > 300 && r.heldOutImages() < 500, "about 20% held out: " + r.heldOutImages());
      assertEquals(10, r.classes());
      assertEquals(30, r.summary().epochsRun(), "without early stopping every epoch runs");
      assertTrue(r.accuracy() > 0.5, "10 classes, chance is 0.1; accuracy " + r.accuracy());
      String json = r.toJson("ImagePipeline");
      assertTrue(json.contains("\"input_threads\":1"), "auto input threads on a 1-CPU task: " + json);
    } finally {
      spark.stop();
    }
  }
}
