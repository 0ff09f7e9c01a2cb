package ai.bios.spark.internal

import ai.bios.tf.input.{RecordSource, RecordWriter}

import java.io.File
import java.nio.{ByteBuffer, ByteOrder, FloatBuffer}
import java.nio.channels.FileChannel
import java.nio.file.{Files, StandardOpenOption}

/**
 * Rows in compact columnar form: the first ones in memory (flat float arrays) while the shared
 * [[RowStore.Budget]] lasts, the rest spilled to a file in the executor's local directory, read back
 * with positional reads until [[finish]] and memory-mapped after.
 *
 * Appended by one thread (the feeder). Reads come from that thread, or, after [[finish]], from any
 * one thread that learned of the finish through a happens-before edge (the training loop reads the
 * validation rows once the stream has ended): `size` is volatile and written after each row.
 * `close()` deletes the spill file.
 */
private[spark] final class RowStore(featureSize: Int, labelWidth: Int, budget: RowStore.Budget,
    spillDir: () => File, weighted: Boolean = false) extends RecordSource with AutoCloseable {

  // A weighted row keeps its sample weight after its labels: `decode` writes it at labelsAt + labelWidth.
  private val storedLabels = if (weighted) labelWidth + 1 else labelWidth
  private val rowFloats = featureSize + storedLabels
  private val arrayLimit = (Int.MaxValue - 8) / rowFloats
  private var features = new Array[Float](0)
  private var labels = new Array[Float](0)
  private var inMemory = 0
  private var spilled = 0
  @volatile private var count = 0
  private val rowF = new Array[Float](featureSize)
  private val rowL = new Array[Float](storedLabels)
  private var spill: RowStore.Spill = _

  override def size: Int = count

  /** Rows kept in memory; the others were spilled. */
  def rowsInMemory: Int = inMemory

  /**
   * Appends one row: `decode(features, featuresAt, labels, labelsAt)` writes its values. Once a row has
   * spilled, every later row spills too (the rows in memory are a prefix).
   */
  def append(decode: (Array[Float], Int, Array[Float], Int) => Unit): Unit = {
    if (count == Int.MaxValue - 8) {
      throw new IllegalStateException(s"a task's shard has over ${Int.MaxValue - 8} rows; use more workers")
    }
    if (spilled == 0 && inMemory < arrayLimit && budget.take(rowFloats)) {
      if ((inMemory + 1) * featureSize > features.length || (inMemory + 1) * storedLabels > labels.length) {
        val cap = Math.min(Math.min(Math.max(2L * inMemory, Math.max(1024L, inMemory + 1L)),
          inMemory + 1L + budget.left / rowFloats), arrayLimit.toLong).toInt
        features = java.util.Arrays.copyOf(features, cap * featureSize)
        labels = java.util.Arrays.copyOf(labels, cap * storedLabels)
      }
      decode(features, inMemory * featureSize, labels, inMemory * storedLabels)
      inMemory += 1
    } else {
      decode(rowF, 0, rowL, 0)
      if (spill == null) spill = new RowStore.Spill(spillDir(), rowFloats)
      spill.append(rowF, rowL)
      spilled += 1
    }
    count += 1
  }

  /** No more rows come: the spilled ones are mapped for reading. */
  def finish(): Unit = if (spill != null) spill.finish()

  override def read(index: Int, epoch: Int, out: RecordWriter): Unit = {
    if (index >= count) {
      throw new IllegalArgumentException(s"row $index has not arrived yet ($count so far)")
    }
    if (index < inMemory) {
      out.features(features, index * featureSize, featureSize)
      out.labels(labels, index * storedLabels, labelWidth)
      if (weighted) out.weight(labels(index * storedLabels + labelWidth))
    } else {
      spill.read(index - inMemory, rowF, rowL)
      out.features(rowF, 0, featureSize)
      out.labels(rowL, 0, labelWidth)
      if (weighted) out.weight(rowL(labelWidth))
    }
  }

  override def close(): Unit = if (spill != null) spill.close()
}

private[spark] object RowStore {

  /**
   * The memory a task's row stores share: floats they may still hold in memory. Thread-safe (the
   * transformed-features cache takes from it on the input threads).
   */
  final class Budget(private var floatsLeft: Long) {
    def left: Long = synchronized(floatsLeft)
    def take(floats: Long): Boolean = synchronized {
      if (floatsLeft < floats) return false
      floatsLeft -= floats
      true
    }
  }

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
