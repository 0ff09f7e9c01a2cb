package ai.bios.spark

import ai.bios.spark.internal.DriverProgress
import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.Row
import org.apache.spark.sql.types.{DoubleType, StructField, StructType}
import org.scalatest.funsuite.AnyFunSuite

/** With `spark.plugins=ai.bios.spark.BiosPlugin` the driver hears the executors and the training. */
class BiosPluginSuite extends AnyFunSuite with LocalSpark {
  override protected def extraConf: Map[String, String] = Map(
    "spark.plugins" -> "ai.bios.spark.BiosPlugin",
    "spark.bios.progressInterval" -> "200ms")

  test("executors report their TensorFlow at start, and every worker's progress reaches the driver") {
    assert(!DriverProgress.executors.isEmpty, "the executor plugin loaded TensorFlow when the executor started")
    assert(DriverProgress.executors.values().iterator().next() == org.tensorflow.TensorFlow.version())
    val rnd = new scala.util.Random(2)
    val rows = (0 until 600).map { _ =>
      val x = Array.fill(3)(rnd.nextGaussian())
      Row(Vectors.dense(x), if (x.sum > 0) 1.0 else 0.0)
    }
    val schema = StructType(Seq(StructField("features", SQLDataTypes.VectorType), StructField("label", DoubleType)))
    val df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), schema)
    val spec = ModelSpec.builder(3).dense(4, Activation.TANH).dense(2, Activation.NONE).build()
    DriverProgress.latest.set(null)
    DriverProgress.received.set(0)
    val model = new BiosEstimator().setModelSpec(spec).setNumWorkers(2).setBatchSize(20).setEpochs(2).fit(df)
    // PluginContext.send is asynchronous: the fit returns after the tasks sent their last message,
    // and the driver endpoint handles it in order; wait for that delivery (bounded).
    val deadline = System.nanoTime() + 30L * 1000 * 1000 * 1000
    def finished(rank: Int) = Option(DriverProgress.workers.get(rank)).exists(_.step == 60)
    while (!(finished(0) && finished(1)) && System.nanoTime() < deadline) {
      Thread.onSpinWait()
    }
    val p = DriverProgress.latest.get()
    assert(p != null, "no progress reached the driver")
    assert(p.step == 60 && p.totalSteps == 60, p)
    assert(p.loss == model.summary.finalLoss)
    assert(DriverProgress.received.get() >= 2, "progress arrives from the first step on, not only at the end")
    assert(p.inputWaitFraction >= 0 && p.deviceIdleFraction >= 0 && p.deviceIdleFraction <= 1)
    val ranks = DriverProgress.workers
    assert(ranks.size == 2 && ranks.get(1).step == 60 && ranks.get(1).loss == p.loss,
      "rank 1 reports too; loss and step are global, so both workers report the same")
    assert(ranks.get(0).run == ranks.get(1).run, "both reports belong to this fit")
    val worst = DriverProgress.worstInputWait.get
    assert(worst.inputWaitFraction == math.max(ranks.get(0).inputWaitFraction, ranks.get(1).inputWaitFraction))
  }
}
