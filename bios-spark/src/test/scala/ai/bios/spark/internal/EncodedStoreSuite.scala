package ai.bios.spark.internal

import org.apache.spark.sql.Row
import org.apache.spark.sql.catalyst.expressions.UnsafeRow
import org.apache.spark.sql.types.{BinaryType, StringType, StructField, StructType}
import org.apache.spark.unsafe.Platform
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.Files

/** The encoded store gives back every row's bytes, key and labels: in memory, spilled, before and after finish. */
class EncodedStoreSuite extends AnyFunSuite {

  private val schema = StructType(Seq(StructField("b", BinaryType), StructField("s", StringType)))

  test("rows of any size round-trip from memory pages and the spill file; views stay valid as rows arrive") {
    val dir = Files.createTempDirectory("encoded").toFile
    val proj = org.apache.spark.sql.catalyst.expressions.UnsafeProjection.create(schema)
    val toCatalyst = org.apache.spark.sql.catalyst.CatalystTypeConverters.createToCatalystConverter(schema)
    // sizes from empty to 3 MiB (past the 1 MiB write buffer and page); a budget of ~2 KB: most rows spill
    val sizes = Seq(0, 5, 100, 700, 3 << 20, 17, 1 << 20, 9)
    val store = new EncodedStore(2, new RowStore.Budget(512), () => dir, memory = true)
    def bytes(i: Int) = Array.tabulate(sizes(i))(j => (i * 31 + j).toByte)
    try {
      val views = sizes.indices.map { i =>
        val u = proj(toCatalyst(Row(bytes(i), s"row $i")).asInstanceOf[org.apache.spark.sql.catalyst.InternalRow])
        store.append(1000L + i, u, (l, at) => { l(at) = i; l(at + 1) = -i })
        if (store.rowsInMemory > i) Some(store.fetch(i)) else None // a view taken before later rows arrive
      }
      assert(store.rowsInMemory >= 2 && store.rowsInMemory < sizes.size, store.rowsInMemory)
      def check(): Unit = sizes.indices.foreach { i =>
        val f = store.fetch(i)
        val row = new UnsafeRow(2)
        row.pointTo(f.base, Platform.BYTE_ARRAY_OFFSET + f.offset, f.length)
        assert(row.getBinary(0).sameElements(bytes(i)) && row.getUTF8String(1).toString == s"row $i", s"row $i")
        assert(f.key == 1000L + i && f.labels.sameElements(Array(i.toFloat, -i.toFloat)), s"row $i")
      }
      check() // spilled rows read back before finish
      views.flatten.zipWithIndex.foreach { case (v, i) =>
        val row = new UnsafeRow(2)
        row.pointTo(v.base, Platform.BYTE_ARRAY_OFFSET + v.offset, v.length)
        assert(row.getUTF8String(1).toString == s"row $i", "an early view still reads its row")
      }
      store.finish()
      check() // and mapped after it
    } finally store.close()
    assert(dir.listFiles().isEmpty, "the spill file is deleted")
    org.apache.commons.io.FileUtils.deleteQuietly(dir)
  }
}
