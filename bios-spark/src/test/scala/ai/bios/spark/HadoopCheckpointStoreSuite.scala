package ai.bios.spark

import ai.bios.spark.internal.HadoopCheckpointStore
import ai.bios.tf.checkpoint.{Checkpoint, RunIdentity}
import org.apache.hadoop.conf.Configuration
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.Files

/** The Hadoop FS checkpoint store on its own (file://; HDFS is covered by PipelineAndStorageSuite). */
class HadoopCheckpointStoreSuite extends AnyFunSuite {
  private val id = new RunIdentity("{}", "adam", 32, 1L, true, 2, 10)
  private def checkpoint(step: Long) =
    new Checkpoint(id, step, step, Array.fill(1000)(step.toFloat), Array(0.5f), new Array[Double](step.toInt))

  test("a write torn half-way (a crashed writer's temporary file) leaves the previous checkpoint loadable") {
    val dir = Files.createTempDirectory("bios-hstore")
    try {
      val store = HadoopCheckpointStore(dir.toUri.toString, 2, new Configuration())
      store.write(checkpoint(10))
      val next = checkpoint(20).toBytes
      Files.write(dir.resolve(".ckpt-000000000020.bios.tmp-crashed"), java.util.Arrays.copyOf(next, next.length / 2))
      assert(store.latest().get().nextStep() == 10)
      store.write(checkpoint(20))
      store.write(checkpoint(30))
      assert(store.steps() == Seq(20L, 30L), "the newest 2 kept")
      assert(store.read(30).get().weights().forall(_ == 30f))
      assert(!store.read(10).isPresent)
    } finally org.apache.commons.io.FileUtils.deleteQuietly(dir.toFile)
  }
}
