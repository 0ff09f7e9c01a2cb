package ai.bios.spark

import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.hdfs.MiniDFSCluster
import org.apache.spark.ml.{Pipeline, PipelineModel}
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator
import org.apache.spark.ml.feature.VectorAssembler
import org.apache.spark.ml.linalg.Vector
import org.apache.spark.ml.tuning.{CrossValidator, CrossValidatorModel, ParamGridBuilder}
import org.apache.spark.sql.DataFrame
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.Files

/** Bios inside MLlib's tuning, and models and checkpoints on HDFS. */
class PipelineAndStorageSuite extends AnyFunSuite with LocalSpark {

  private def data(n: Int, seed: Long): DataFrame = {
    val s = spark
    import s.implicits._
    val rnd = new scala.util.Random(seed)
    (0 until n).map { _ =>
      val (a, b, c) = (rnd.nextGaussian(), rnd.nextGaussian(), rnd.nextGaussian())
      (a, b, c, if (a - 2 * b + 0.5 * c > 0) 1.0 else 0.0)
    }.toDF("a", "b", "c", "label")
  }

  private val spec = ModelSpec.builder(3).dense(8, Activation.RELU).dense(2, Activation.NONE).seed(5).build()

  private def pipeline(bios: BiosEstimator) = new Pipeline().setStages(Array(
    new VectorAssembler().setInputCols(Array("a", "b", "c")).setOutputCol("features"), bios))

  test("a Pipeline with Bios inside CrossValidator picks the better learning rate") {
    val bios = new BiosEstimator().setModelSpec(spec).setNumWorkers(2).setBatchSize(32).setEpochs(2)
    val grid = new ParamGridBuilder().addGrid(bios.learningRate, Array(1e-5, 0.02)).build()
    val cv = new CrossValidator().setEstimator(pipeline(bios)).setEstimatorParamMaps(grid).setNumFolds(2)
      .setEvaluator(new MulticlassClassificationEvaluator().setMetricName("accuracy")).setSeed(1)
    val model: CrossValidatorModel = cv.fit(data(800, 1))
    assert(model.avgMetrics.length == 2)
    assert(model.avgMetrics(1) > model.avgMetrics(0), model.avgMetrics.mkString(", "))
    val best = model.bestModel.asInstanceOf[PipelineModel].stages.last.asInstanceOf[BiosModel]
    assert(best.getLearningRate == 0.02)
  }

  test("pipeline models save to and load from HDFS (MiniDFSCluster) with identical predictions") {
    val base = Files.createTempDirectory("bios-hdfs").toFile
    val conf = new Configuration()
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getAbsolutePath)
    val cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build()
    try {
      cluster.waitActive()
      val uri = cluster.getURI.toString
      val train = data(400, 2)
      val model = pipeline(new BiosEstimator().setModelSpec(spec).setNumWorkers(2).setBatchSize(32)
        .setLearningRate(0.02).setCheckpointDir(s"$uri/checkpoints").setCheckpointInterval(5)).fit(train)
      val checkpoints = cluster.getFileSystem.listStatus(new org.apache.hadoop.fs.Path("/checkpoints"))
        .map(_.getPath.getName).sorted.toSeq
      assert(checkpoints == Seq("ckpt-000000000005.bios", "ckpt-000000000010.bios", "ckpt-000000000013.bios"),
        "checkpoints on HDFS, the newest 3 kept, no temporary files left")
      val path = s"$uri/models/bios-pipeline"
      model.write.overwrite().save(path)
      assert(cluster.getFileSystem.exists(new org.apache.hadoop.fs.Path("/models/bios-pipeline")))
      val loaded = PipelineModel.load(path)
      val expected = model.transform(train).select("probability").collect().map(_.getAs[Vector](0))
      val actual = loaded.transform(train).select("probability").collect().map(_.getAs[Vector](0))
      assert(expected.sameElements(actual))
      val estimatorPath = s"$uri/estimators/bios"
      val est = new BiosEstimator().setModelSpec(spec).setEpochs(3)
      est.save(estimatorPath)
      assert(BiosEstimator.load(estimatorPath).getEpochs == 3)
    } finally {
      cluster.shutdown()
      org.apache.commons.io.FileUtils.deleteQuietly(base)
    }
  }
}
