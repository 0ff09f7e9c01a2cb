package ai.bios.spark.internal

import ai.bios.tf.input.{RecordSource, RecordWriter}
import org.apache.spark.sql.Row

import java.io.{BufferedOutputStream, DataOutputStream, File}
import java.nio.{ByteOrder, FloatBuffer}
import java.nio.channels.FileChannel
import java.nio.file.{Files, StandardOpenOption}

/**
 * One training task's rows in compact columnar form, filled once from the partition iterator (the
 * upstream ETL runs lazily inside the task), then replayed every epoch in the order the data plan
 * draws. Rows live in memory (flat float arrays) up to `memoryBytes`; the rest spill to a file in
 * the executor's local directory, memory-mapped for reading. Immutable once built; read by one
 * thread (the feeder); `close()` deletes the spill file.
 */
private[spark] final class PartitionCache private (
    features: Array[Float], labels: Array[Float], inMemory: Int,
    spill: Option[PartitionCache.Spill], featureSize: Int, labelWidth: Int, val size: Int)
  extends RecordSource with AutoCloseable {

  private val rowFeatures = new Array[Float](featureSize)
  private val rowLabels = new Array[Float](labelWidth)

  override def read(index: Int, epoch: Int, out: RecordWriter): Unit = {
    if (index < inMemory) {
      out.features(features, index * featureSize, featureSize)
      out.labels(labels, index * labelWidth, labelWidth)
    } else {
      val s = spill.get
      val at = (index - inMemory).toLong * (featureSize + labelWidth)
      s.floats(at, rowFeatures)
      s.floats(at + featureSize, rowLabels)
      out.features(rowFeatures, 0, featureSize)
      out.labels(rowLabels, 0, labelWidth)
    }
  }

  /** Rows kept in memory; the others were spilled. */
  def rowsInMemory: Int = inMemory

  override def close(): Unit = spill.foreach(_.close())
}

private[spark] object PartitionCache {

  /** Spilled rows: features then labels, row after row, mapped in windows of at most 1 GiB. */
  private[internal] final class Spill(file: File, floatsTotal: Long) extends AutoCloseable {
    private val windowFloats = 1L << 28
    private val channel = FileChannel.open(file.toPath, StandardOpenOption.READ)
    private val windows: Array[FloatBuffer] = Array.tabulate(((floatsTotal + windowFloats - 1) / windowFloats).toInt) { w =>
      val from = w * windowFloats
      val n = Math.min(windowFloats, floatsTotal - from)
      channel.map(FileChannel.MapMode.READ_ONLY, from * 4, n * 4).order(ByteOrder.BIG_ENDIAN).asFloatBuffer()
    }

    def floats(at: Long, out: Array[Float]): Unit = {
      var i = 0
      while (i < out.length) {
        val p = at + i
        out(i) = windows((p / windowFloats).toInt).get((p % windowFloats).toInt)
        i += 1
      }
    }

    override def close(): Unit = {
      channel.close()
      Files.deleteIfExists(file.toPath)
    }
  }

  def build(rows: Iterator[Row], decoder: RowDecoder, featureSize: Int, labelWidth: Int,
      memoryBytes: Long, spillDir: () => File): PartitionCache = {
    val rowBytes = 4L * (featureSize + labelWidth)
    val maxInMemory = Math.max(0L, Math.min(memoryBytes / rowBytes, (Int.MaxValue - 8) / (featureSize + labelWidth)))
    var features = new Array[Float](featureSize * Math.min(1024L, maxInMemory).toInt)
    var labels = new Array[Float](labelWidth * Math.min(1024L, maxInMemory).toInt)
    var n = 0
    var spilled = 0L
    var spillFile: File = null
    var spillOut: DataOutputStream = null
    val rowF = new Array[Float](featureSize)
    val rowL = new Array[Float](labelWidth)
    try {
      while (rows.hasNext) {
        val row = rows.next()
        val rowNumber = n + spilled
        if (n < maxInMemory) {
          if ((n + 1) * featureSize > features.length) {
            val cap = Math.min(Math.max(2L * n, n + 1L), maxInMemory).toInt
            features = java.util.Arrays.copyOf(features, cap * featureSize)
            labels = java.util.Arrays.copyOf(labels, cap * labelWidth)
          }
          decoder.features(row, rowNumber, features, n * featureSize)
          decoder.label(row, rowNumber, labels, n * labelWidth)
          n += 1
        } else {
          if (spillOut == null) {
            spillFile = File.createTempFile("bios-cache-", ".floats", spillDir())
            spillOut = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(spillFile.toPath), 1 << 16))
          }
          decoder.features(row, rowNumber, rowF, 0)
          decoder.label(row, rowNumber, rowL, 0)
          rowF.foreach(spillOut.writeFloat)
          rowL.foreach(spillOut.writeFloat)
          spilled += 1
        }
      }
      if (spillOut != null) spillOut.close()
    } catch {
      case e: Throwable =>
        if (spillOut != null) spillOut.close()
        if (spillFile != null) Files.deleteIfExists(spillFile.toPath)
        throw e
    }
    val total = n + spilled
    require(total <= Int.MaxValue, s"a task's shard of $total rows is too large; use more workers")
    val spill = Option(spillFile).map(f => new Spill(f, spilled * (featureSize + labelWidth)))
    new PartitionCache(java.util.Arrays.copyOf(features, n * featureSize),
      java.util.Arrays.copyOf(labels, n * labelWidth), n, spill, featureSize, labelWidth, total.toInt)
  }
}
