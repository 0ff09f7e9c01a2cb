package ai.bios.spark.internal

import ai.bios.tf.input.{RecordStream, RecordWriter}
import org.apache.spark.sql.Row

import java.io.File
import java.nio.{ByteBuffer, ByteOrder, FloatBuffer}
import java.nio.channels.FileChannel
import java.nio.file.{Files, StandardOpenOption}

/**
 * One training task's rows in compact columnar form, filled from the partition iterator while the
 * first epoch trains (a [[RecordStream]]: each `advance()` pulls, decodes and checks one row), then
 * replayed every later epoch in the order the data plan draws. Rows live in memory (flat float
 * arrays) up to `memoryBytes`; the rest spill to a file in the executor's local directory, read
 * back with positional reads while the stream runs and memory-mapped once it has ended.
 *
 * Used by one thread at a time (the feeder); `beforeRead` runs on that thread before it pulls
 * rows (to adopt the Spark task context). `close()` deletes the spill file.
 */
private[spark] final class PartitionCache(
    rows: Iterator[Row], decoder: RowDecoder, featureSize: Int, labelWidth: Int, memoryBytes: Long,
    spillDir: () => File, beforeRead: () => Unit = () => ())
  extends RecordStream with AutoCloseable {

  private val rowFloats = featureSize + labelWidth
  private val maxInMemory: Int = Math.max(0L, Math.min(memoryBytes / (4L * rowFloats),
    (Int.MaxValue - 8) / rowFloats)).toInt
  private var features = new Array[Float](featureSize * Math.min(1024, maxInMemory))
  private var labels = new Array[Float](labelWidth * Math.min(1024, maxInMemory))
  private var inMemory = 0
  private var spilled = 0
  private var ended = false
  private val rowF = new Array[Float](featureSize)
  private val rowL = new Array[Float](labelWidth)
  private var spill: PartitionCache.Spill = _

  override def size: Int = inMemory + spilled

  /** Rows kept in memory; the others were spilled. */
  def rowsInMemory: Int = inMemory

  /** Rows that had arrived when the first row was read (the first batch built), or -1 if none was. */
  def rowsAtFirstRead: Int = firstRead

  private var firstRead = -1

  override def advance(): Boolean = {
    if (closed) throw new IllegalStateException("the partition cache is closed")
    if (ended) return false
    beforeRead()
    if (!rows.hasNext) {
      ended = true
      if (spill != null) spill.finish()
      return false
    }
    val row = rows.next()
    if (size == Int.MaxValue - 8) {
      throw new IllegalStateException(s"a task's shard has over ${Int.MaxValue - 8} rows; use more workers")
    }
    val n = size
    if (inMemory < maxInMemory) {
      if ((inMemory + 1) * featureSize > features.length || (inMemory + 1) * labelWidth > labels.length) {
        val cap = Math.min(Math.max(2L * inMemory, inMemory + 1L), maxInMemory).toInt
        features = java.util.Arrays.copyOf(features, cap * featureSize)
        labels = java.util.Arrays.copyOf(labels, cap * labelWidth)
      }
      decoder.features(row, n, features, inMemory * featureSize)
      decoder.label(row, n, labels, inMemory * labelWidth)
      inMemory += 1
    } else {
      decoder.features(row, n, rowF, 0)
      decoder.label(row, n, rowL, 0)
      if (spill == null) spill = new PartitionCache.Spill(spillDir(), rowFloats)
      spill.append(rowF, rowL)
      spilled += 1
    }
    true
  }

  override def read(index: Int, epoch: Int, out: RecordWriter): Unit = {
    if (index >= size) {
      throw new IllegalArgumentException(s"row $index has not arrived yet ($size so far)")
    }
    if (firstRead < 0) firstRead = size
    if (index < inMemory) {
      out.features(features, index * featureSize, featureSize)
      out.labels(labels, index * labelWidth, labelWidth)
    } else {
      spill.read(index - inMemory, rowF, rowL)
      out.features(rowF, 0, featureSize)
      out.labels(rowL, 0, labelWidth)
    }
  }

  @volatile private var closed = false

  override def close(): Unit = {
    closed = true
    if (spill != null) spill.close()
  }
}

private[spark] object PartitionCache {

  /**
   * Spilled rows, features then labels, row after row, in native byte order. Appends go through a
   * write buffer; a read of a row still in it flushes it first. After `finish()` the file is
   * mapped in windows of at most 1 GiB and read without system calls.
   */
  private[internal] final class Spill(dir: File, rowFloats: Int) extends AutoCloseable {
    private val file = File.createTempFile("bios-cache-", ".floats", dir)
    private val channel = try FileChannel.open(file.toPath, StandardOpenOption.READ, StandardOpenOption.WRITE)
      catch { case e: Throwable => Files.deleteIfExists(file.toPath); throw e }
    private val rowBytes = 4L * rowFloats
    // Heap buffers: the JDK copies them through its own cached direct buffer, and they need no
    // freeing (a direct buffer's memory waits for GC).
    private val pending = ByteBuffer.allocate(Math.max(1 << 20, rowBytes.toInt)).order(ByteOrder.nativeOrder())
    private val one = ByteBuffer.allocate(rowBytes.toInt).order(ByteOrder.nativeOrder())
    private var flushedRows = 0L
    private var pendingRows = 0
    private var windows: Array[FloatBuffer] = _
    private val windowFloats = 1L << 28

    def append(f: Array[Float], l: Array[Float]): Unit = {
      if (pending.remaining() < rowBytes) flush()
      pending.asFloatBuffer().put(f).put(l)
      pending.position(pending.position() + rowBytes.toInt)
      pendingRows += 1
    }

    private def flush(): Unit = {
      pending.flip()
      var at = flushedRows * rowBytes
      while (pending.hasRemaining) at += channel.write(pending, at)
      pending.clear()
      flushedRows += pendingRows
      pendingRows = 0
    }

    def finish(): Unit = {
      flush()
      val floats = flushedRows * rowFloats
      windows = Array.tabulate(((floats + windowFloats - 1) / windowFloats).toInt) { w =>
        val from = w * windowFloats
        channel.map(FileChannel.MapMode.READ_ONLY, from * 4, Math.min(windowFloats, floats - from) * 4)
          .order(ByteOrder.nativeOrder()).asFloatBuffer()
      }
    }

    def read(row: Long, f: Array[Float], l: Array[Float]): Unit = {
      if (windows != null) {
        val at = row * rowFloats
        get(at, f)
        get(at + f.length, l)
      } else {
        if (row >= flushedRows) flush()
        one.clear()
        var at = row * rowBytes
        while (one.hasRemaining) {
          val n = channel.read(one, at)
          if (n < 0) throw new IllegalStateException(s"spill file ${file} ends before row $row")
          at += n
        }
        one.flip()
        one.asFloatBuffer().get(f).get(l)
      }
    }

    private def get(at: Long, out: Array[Float]): Unit = {
      var i = 0
      while (i < out.length) {
        val p = at + i
        val w = windows((p / windowFloats).toInt)
        val from = (p % windowFloats).toInt
        val n = Math.min(out.length - i, w.capacity() - from)
        w.get(from, out, i, n)
        i += n
      }
    }

    override def close(): Unit = {
      try channel.close() finally Files.deleteIfExists(file.toPath)
    }
  }
}
