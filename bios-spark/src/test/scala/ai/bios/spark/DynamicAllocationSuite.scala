package ai.bios.spark

import ai.bios.tf.model.{Activation, ModelSpec}
import org.scalatest.funsuite.AnyFunSuite

/** One barrier stage cannot run under dynamic allocation: the fit says so at once. */
class DynamicAllocationSuite extends AnyFunSuite with LocalSpark {
  override protected def extraConf: Map[String, String] = Map("spark.dynamicAllocation.enabled" -> "true")

  test("dynamic allocation on fails the fit at once, naming the setting") {
    val s = spark
    import s.implicits._
    val df = Seq((org.apache.spark.ml.linalg.Vectors.dense(1.0, 2.0), 1.0)).toDF("features", "label")
    val spec = ModelSpec.builder(2).dense(2, Activation.NONE).build()
    val e = intercept[IllegalStateException](new BiosEstimator().setModelSpec(spec).fit(df))
    assert(e.getMessage.contains("spark.dynamicAllocation.enabled=false"), e.getMessage)
  }
}
