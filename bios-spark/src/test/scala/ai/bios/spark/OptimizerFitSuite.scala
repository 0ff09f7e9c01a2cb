package ai.bios.spark

import ai.bios.spark.internal.HadoopCheckpointStore
import ai.bios.tf.model.{Activation, ModelSpec, OptimizerSpec}
import org.apache.spark.ml.linalg.Vectors
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.Files
import scala.util.Random

/** The optimizer params through a real fit: the new optimizers train, and a cosine schedule gets the run's length. */
class OptimizerFitSuite extends AnyFunSuite with LocalSpark {

  private val spec = ModelSpec.builder(4).dense(8, Activation.RELU).dense(2, Activation.NONE).seed(2).build()

  private def data(n: Int, partitions: Int): DataFrame = {
    val rnd = new Random(9)
    val rows = (0 until n).map { _ =>
      val x = Array.fill(4)(rnd.nextGaussian())
      Row(Vectors.dense(x), if (x(0) - 2 * x(1) + x(3) > 0) 1.0 else 0.0)
    }
    val schema = StructType(Seq(StructField("features", org.apache.spark.ml.linalg.SQLDataTypes.VectorType),
      StructField("label", DoubleType)))
    spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions), schema)
  }

  test("a cosine schedule left at auto spans the whole run: epochs x the steps per epoch the workers agree on") {
    val dir = Files.createTempDirectory("bios-cosine").toFile
    try {
      // 410 rows in 3 partitions dealt to 2 workers: shards of 205, local batches of 16: 13 steps per epoch.
      val model = new BiosEstimator().setModelSpec(spec).setNumWorkers(2).setBatchSize(32).setEpochs(2)
        .setOptimizer("adamw").setLearningRate(0.02).setClipNorm(1.0).setL2(1e-4)
        .setLearningRateSchedule("cosine").setWarmupSteps(4)
        .setCheckpointDir(dir.getPath).setCheckpointInterval(100)
        .fit(data(410, 3))
      assert(model.summary.lossHistory.length == 26)
      val identity = HadoopCheckpointStore(dir.getPath, 1, spark.sparkContext.hadoopConfiguration).latestIdentity().get
      assert(identity.optimizer().contains("schedule=cosine:26:0.0") && identity.optimizer().contains("warmupSteps=4"),
        identity.optimizer())
      assert(model.summary.lossHistory.last < model.summary.lossHistory.head)
    } finally {
      org.apache.commons.io.FileUtils.deleteQuietly(dir)
    }
  }

  test("rmsprop and adagrad with a step schedule train on Spark, bitwise the same in both modes") {
    for (optimizer <- Seq("rmsprop", "adagrad")) {
      def fit(mode: String) = new BiosEstimator().setModelSpec(spec).setNumWorkers(2).setBatchSize(32).setEpochs(2)
        .setOptimizer(optimizer).setLearningRate(if (optimizer == "adagrad") 0.1 else 0.01)
        .setLearningRateSchedule("step:10:0.5").setClipNorm(2).setExecutionMode(mode).fit(data(400, 2))
      val simple = fit("simple")
      val efficient = fit("efficient")
      assert(simple.getWeights.sameElements(efficient.getWeights), optimizer)
      assert(simple.summary.lossHistory.last < simple.summary.lossHistory.head, optimizer)
    }
  }

  test("an estimator saved before the optimizer params existed loads with today's optimizer") {
    val dir = Files.createTempDirectory("bios-legacy").toFile
    try {
      val metadata = new java.io.File(dir, "metadata")
      metadata.mkdirs()
      // The params metadata as Bios wrote it before weightDecay, l2, clipNorm, learningRateSchedule, warmupSteps.
      val json = """{"class":"ai.bios.spark.BiosEstimator","timestamp":1764460800000,"sparkVersion":"4.1.0",""" +
        """"uid":"bios_legacy","paramMap":{"optimizer":"momentum","learningRate":0.05,"epochs":3},""" +
        """"defaultParamMap":{"featuresCol":"features","labelCol":"label","optimizer":"adam","learningRate":0.001,""" +
        """"batchSize":256,"epochs":1,"numWorkers":1,"executionMode":"efficient","prefetchDepth":"auto","seed":0,""" +
        """"shuffle":true,"shuffleWindow":8192,"sharding":"shuffle","checkpointDir":"","checkpointInterval":0}}"""
      Files.writeString(new java.io.File(metadata, "part-00000").toPath, json + "\n")
      val loaded = BiosEstimator.load(dir.getPath)
      assert(loaded.uid == "bios_legacy" && loaded.getEpochs == 3)
      assert(loaded.getOptimizerSpec == OptimizerSpec.momentum(0.05, 0.9))
    } finally {
      org.apache.commons.io.FileUtils.deleteQuietly(dir)
    }
  }
}
