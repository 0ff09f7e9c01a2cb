package ai.bios.spark.internal

import ai.bios.tf.input.RecordWriter
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.Files

/** A weighted row store keeps each row's sample weight, in memory and in its spill file. */
class RowStoreSuite extends AnyFunSuite {

  /** Captures what one read writes. */
  private final class Capture extends RecordWriter {
    var features: Seq[Float] = Nil
    var labels: Seq[Float] = Nil
    var weight: Option[Double] = None
    override def features(values: Array[Float], offset: Int, length: Int): Unit =
      features = values.slice(offset, offset + length).toSeq
    override def features(values: Array[Double]): Unit = features = values.map(_.toFloat).toSeq
    override def label(value: Double): Unit = labels = Seq(value.toFloat)
    override def labels(values: Array[Float], offset: Int, length: Int): Unit =
      labels = values.slice(offset, offset + length).toSeq
    override def weight(value: Double): Unit = weight = Some(value)
  }

  test("weights survive in memory, in the spill file before and after finish, and every later read") {
    val dir = Files.createTempDirectory("rowstore").toFile
    // room for 3 rows of 2 features + 1 label + 1 weight: the other 4 spill
    val store = new RowStore(2, 1, new RowStore.Budget(12), () => dir, weighted = true)
    try {
      for (i <- 0 until 7) {
        store.append { (f, fAt, l, lAt) =>
          f(fAt) = i; f(fAt + 1) = -i; l(lAt) = i % 2; l(lAt + 1) = 0.5f * i
        }
      }
      assert(store.rowsInMemory == 3 && store.size == 7)
      def check(): Unit = for (i <- 0 until 7) {
        val c = new Capture
        store.read(i, 0, c)
        assert(c.features == Seq(i.toFloat, -i.toFloat) && c.labels == Seq((i % 2).toFloat), s"row $i")
        assert(c.weight.contains(0.5 * i), s"row $i's weight: ${c.weight}")
      }
      check() // spilled rows read back before finish
      store.finish()
      check() // and mapped after it: every later epoch
    } finally store.close()
    val plain = new RowStore(2, 1, new RowStore.Budget(6), () => dir)
    try {
      plain.append { (f, fAt, l, lAt) => f(fAt) = 1; f(fAt + 1) = 2; l(lAt) = 1 }
      val c = new Capture
      plain.read(0, 0, c)
      assert(c.weight.isEmpty, "an unweighted store writes no weight")
    } finally plain.close()
    assert(dir.listFiles().isEmpty, "the spill files are deleted")
  }
}
