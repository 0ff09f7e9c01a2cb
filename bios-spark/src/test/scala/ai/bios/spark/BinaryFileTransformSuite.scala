package ai.bios.spark

import ai.bios.spark.transform.{FeatureWriter, InputRecord, RecordTransform, TransformContext}
import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.sql.functions.{col, regexp_extract}
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.Files

/** binaryFile's `content` (16 bytes) -> 16 floats in [0, 1]: deterministic, no augmentation. */
final class ContentBytes extends RecordTransform {
  override def inputCols: Array[String] = Array("content")
  override def featureSize: Int = 16
  override def deterministic: Boolean = true
  override def transform(record: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit = {
    val b = record.getBinary(0)
    out.features(Array.tabulate(16)(i => (b(i) & 0xFF) / 255f))
  }
}

/**
 * A local-cluster fit (two executor JVMs) reading files through `spark.read.format("binaryFile")`,
 * the features made inside the training tasks by an input transform from the encoded bytes.
 */
class BinaryFileTransformSuite extends AnyFunSuite with LocalClusterSpark {

  test("two executors train on binaryFile content through an input transform and predict the file's class") {
    val dir = Files.createTempDirectory("bios-binary")
    try {
      // class 1 files are bright (bytes 150-249), class 0 dark (0-99): 96 files of 16 bytes
      val rnd = new scala.util.Random(3)
      for (i <- 0 until 96) {
        val c = i % 2
        Files.write(dir.resolve(f"c$c-$i%03d.bin"), Array.fill(16)((c * 150 + rnd.nextInt(100)).toByte))
      }
      val files = spark.read.format("binaryFile").load(dir.toString)
        .withColumn("label", regexp_extract(col("path"), "c(\\d)-", 1).cast("double"))
      val spec = ModelSpec.builder(16).dense(8, Activation.RELU).dense(2, Activation.NONE).seed(2).build()
      val model = new BiosEstimator().setModelSpec(spec).setTransform(new ContentBytes).setNumWorkers(2)
        .setBatchSize(16).setEpochs(4).setLearningRate(0.05).setInputThreads(2).setCacheTransformed(true).fit(files)
      assert(model.summary.workers.map(_.records).sum == 96, "every file is one record")
      val accuracy = model.transform(files).where("prediction = label").count() / 96.0
      assert(accuracy > 0.9, s"accuracy $accuracy")
    } finally org.apache.commons.io.FileUtils.deleteQuietly(dir.toFile)
  }
}
