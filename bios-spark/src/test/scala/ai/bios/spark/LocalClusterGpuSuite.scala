package ai.bios.spark

import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.Row
import org.apache.spark.sql.types.{DoubleType, StructField, StructType}
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.{Files, Path}
import java.nio.file.attribute.PosixFilePermissions

/**
 * Real executor JVMs (`local-cluster[2,1,1024]`) with GPUs scheduled by Spark: a fake discovery
 * script hands each worker a distinct GPU address, each barrier task pins TensorFlow to the address
 * Spark gave it.
 */
class LocalClusterGpuSuite extends AnyFunSuite with LocalClusterSpark {
  private lazy val scratch: Path = Files.createTempDirectory("bios-gpu")

  /** Each run claims the lowest free address (mkdir is atomic), so the two workers differ. */
  private lazy val discoveryScript: Path = {
    val script = scratch.resolve("discover-gpu.sh")
    val claims = scratch.resolve("claims")
    Files.createDirectories(claims)
    Files.writeString(script,
      s"""#!/usr/bin/env bash
         |for i in 0 1 2 3 4 5 6 7; do
         |  if mkdir "$claims/$$i" 2>/dev/null; then
         |    echo '{"name":"gpu","addresses":["'$$i'"]}'
         |    exit 0
         |  fi
         |done
         |exit 1
         |""".stripMargin)
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"))
    script
  }

  override protected def clusterConf: Map[String, String] = Map(
    "spark.worker.resource.gpu.amount" -> "1",
    "spark.worker.resource.gpu.discoveryScript" -> discoveryScript.toString,
    "spark.executor.resource.gpu.amount" -> "1",
    "spark.task.resource.gpu.amount" -> "1")

  override protected def afterAll(): Unit = {
    try super.afterAll()
    finally org.apache.commons.io.FileUtils.deleteQuietly(scratch.toFile)
  }

  test("each barrier task pins TensorFlow to the GPU address Spark assigned it, on its own executor JVM") {
    val rnd = new scala.util.Random(1)
    val rows = (0 until 400).map { _ =>
      val x = Array.fill(4)(rnd.nextGaussian())
      Row(Vectors.dense(x), if (x.sum > 0) 1.0 else 0.0)
    }
    val schema = StructType(Seq(StructField("features", SQLDataTypes.VectorType), StructField("label", DoubleType)))
    val df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 4), schema)
    val spec = ModelSpec.builder(4).dense(8, Activation.TANH).dense(2, Activation.NONE).build()
    val model = new BiosEstimator().setModelSpec(spec).setNumWorkers(2).setBatchSize(32).setEpochs(2)
      .setLearningRate(0.01).fit(df)
    val workers = model.summary.workers
    assert(workers.map(_.gpu).toSet == Set(Some("0"), Some("1")), workers)
    for (w <- workers) {
      assert(w.pinnedDevices == w.gpu.get, s"rank ${w.rank} was given GPU ${w.gpu} but pinned ${w.pinnedDevices}")
    }
    assert(workers.map(_.records) == Seq(200, 200), "4 partitions of 100 rows dealt evenly")
    assert(model.summary.lossHistory.length == 2 * 13, "2 epochs of ceil(200 / 16) steps")

    val tooMany = intercept[IllegalStateException](new BiosEstimator().setModelSpec(spec).setNumWorkers(3).fit(df))
    assert(tooMany.getMessage.contains("numWorkers=3") && tooMany.getMessage.contains("with a GPU"), tooMany.getMessage)
  }
}
