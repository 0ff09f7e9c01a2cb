package ai.bios.spark

import ai.bios.spark.internal.RingSecret
import ai.bios.tf.collective.RingOptions
import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.Row
import org.apache.spark.sql.types.{DoubleType, StructField, StructType}
import org.scalatest.funsuite.AnyFunSuite

import java.io.{ByteArrayOutputStream, ObjectOutputStream}
import java.nio.charset.StandardCharsets

/**
 * With `spark.authenticate` on, the ring's secret is derived on each executor from Spark's own
 * secret: what ships in the task (a per-fit nonce) does not authenticate a ring peer by itself.
 */
class SparkAuthenticateSuite extends AnyFunSuite with LocalSpark {
  private val sparkSecret = "a-spark-secret-for-this-test-only"

  override protected def extraConf: Map[String, String] = Map(
    "spark.authenticate" -> "true", "spark.authenticate.secret" -> sparkSecret)

  test("a fit derives its ring secret from Spark's; the serialized task carries only the nonce") {
    val secret = RingSecret.forFit()
    assert(secret.derived, "spark.authenticate is on, so the ring secret is derived")
    val used = secret.options(RingOptions.of(secret.nonce)).secret()
    // Spark's secret as this JVM's Spark holds it (in local mode Spark makes its own).
    val spark = org.apache.spark.ml.bios.SparkInternals.authenticationSecret().get
    assert(used.sameElements(RingSecret.derive(spark, secret.nonce)))
    assert(!used.sameElements(secret.nonce))
    assert(!RingSecret.derive("another-spark-secret".getBytes(StandardCharsets.UTF_8), secret.nonce).sameElements(used),
      "another Spark secret derives another ring secret")
    val shipped = new ByteArrayOutputStream()
    val out = new ObjectOutputStream(shipped)
    out.writeObject(secret)
    out.writeObject(RingOptions.of(secret.nonce))
    out.close()
    assert(!shipped.toByteArray.containsSlice(used), "the derived secret is not in what ships to the executors")
    assert(!secret.toString.contains(new String(secret.nonce, StandardCharsets.ISO_8859_1)))
  }

  test("training works with spark.authenticate on (the workers derive the same secret)") {
    val rnd = new scala.util.Random(2)
    val rows = (0 until 200).map { _ =>
      val x = Array.fill(3)(rnd.nextGaussian())
      Row(Vectors.dense(x), if (x(0) - x(1) > 0) 1.0 else 0.0)
    }
    val schema = StructType(Seq(StructField("features", SQLDataTypes.VectorType), StructField("label", DoubleType)))
    val df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), schema)
    val model = new BiosEstimator()
      .setModelSpec(ModelSpec.builder(3).dense(4, Activation.TANH).dense(2, Activation.NONE).seed(1).build())
      .setNumWorkers(2).setBatchSize(20).setEpochs(2).fit(df)
    assert(model.summary.steps == 20)
  }
}
