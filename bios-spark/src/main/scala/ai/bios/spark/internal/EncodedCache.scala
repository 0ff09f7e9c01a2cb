package ai.bios.spark.internal

import ai.bios.tf.input.{ParallelRecordSource, RecordSource, RecordWriter}
import org.apache.spark.sql.Row
import org.apache.spark.sql.catalyst.expressions.UnsafeRow
import org.apache.spark.unsafe.Platform

import java.io.File
import java.nio.ByteBuffer
import java.nio.channels.FileChannel
import java.nio.file.{Files, StandardOpenOption}
import java.util.concurrent.ConcurrentHashMap
import scala.collection.mutable.ArrayBuffer

/**
 * The task's cache when an input transform makes the features: each row is kept as the input
 * columns the transform reads, encoded compactly (Spark's `UnsafeRow` bytes of those columns), with
 * its label floats, sample weight and shard key; the transform runs again on every read, so
 * augmentation differs per epoch. Rows go to memory pages while the task's budget
 * (`spark.bios.cacheMemory`) lasts and spill to the executor's local directory after, mapped once
 * the stream ends (see [[EncodedStore]]).
 *
 * It is the engine's [[ParallelRecordSource]]: `fetch` (the feeder thread) returns a record's bytes,
 * as a view into a memory page that stays valid for the task's life or as a copy read from the
 * spill file; `transform` (any input thread) decodes them in place and runs the transform
 * (`training = true`; the validation rows' source runs it with `training = false`).
 *
 * With `cacheTransformed` (a deterministic transform) the memory goes to the features instead: the
 * encoded rows all spill, and the first transform of each row (on the input threads, in whatever
 * epoch reads it first, so a resumed run fills it too) keeps its features in memory while the
 * budget lasts; later reads return them without transforming. Rows past the budget are
 * transformed again, which gives the same values.
 */
private[spark] final class EncodedCache(
    rows: Iterator[(Long, Row)], decoder: RowDecoder, runner: TransformRunner, labelWidth: Int,
    memoryBytes: Long, spillDir: () => File, beforeRead: () => Unit, validationIndex: Int,
    validationColumn: String, where: String, cacheTransformed: Boolean)
  extends StreamedCache(rows, beforeRead, validationIndex, validationColumn, where)
  with ParallelRecordSource[EncodedCache.Fetched] {

  import EncodedCache._

  private val budget = new RowStore.Budget(Math.max(0L, memoryBytes / 4))
  private val labelFloats = labelWidth + (if (decoder.weighted) 1 else 0)
  private val train = new Records(new EncodedStore(labelFloats, budget, spillDir, !cacheTransformed), true)
  private val held = new Records(new EncodedStore(labelFloats, budget, spillDir, !cacheTransformed), false)
  private lazy val encode = runner.encoder() // the feeder's

  override def size: Int = train.size
  override def validation: RecordSource = held
  override def rowsInMemory: Int = if (cacheTransformed) train.featuresKept else train.store.rowsInMemory

  override protected def append(key: Long, row: Row, n: Long, isHeld: Boolean): Unit =
    (if (isHeld) held else train).store.append(key, encode(row), { (l, at) =>
      decoder.label(row, n, l, at)
      if (decoder.weighted) l(at + labelWidth) = decoder.weight(row, n)
    })

  override protected def finishStores(): Unit = {
    train.store.finish()
    held.store.finish()
  }

  override def fetch(index: Int): Fetched = {
    noteRead()
    train.fetch(index)
  }

  override def transform(raw: Fetched, index: Int, epoch: Int, out: RecordWriter): Unit =
    train.transform(raw, index, epoch, out)

  override def read(index: Int, epoch: Int, out: RecordWriter): Unit = transform(fetch(index), index, epoch, out)

  override protected def closeStores(): Unit = try train.store.close() finally held.store.close()

  /** One store's rows as a [[ParallelRecordSource]], transformed with `training`. */
  private final class Records(val store: EncodedStore, training: Boolean) extends ParallelRecordSource[Fetched] {
    private val kept = if (cacheTransformed) new ConcurrentHashMap[Integer, Array[Float]]() else null

    def featuresKept: Int = if (kept == null) 0 else kept.size

    override def size: Int = store.size

    override def fetch(index: Int): Fetched = {
      val features = if (kept == null) null else kept.get(index)
      if (features != null) store.fetchLabels(index, features) else store.fetch(index)
    }

    override def transform(raw: Fetched, index: Int, epoch: Int, out: RecordWriter): Unit = {
      if (raw.features != null) {
        out.features(raw.features, 0, raw.features.length)
      } else {
        val row = new UnsafeRow(runner.inputSchema.length)
        row.pointTo(raw.base, Platform.BYTE_ARRAY_OFFSET + raw.offset, raw.length)
        runner.apply(row, raw.key, epoch, training, { (values, offset, length) =>
          out.features(values, offset, length)
          if (kept != null && budget.take(length + KeptOverheadFloats)) {
            kept.putIfAbsent(index, java.util.Arrays.copyOfRange(values, offset, offset + length))
          }
        })
      }
      out.labels(raw.labels, 0, labelWidth)
      if (decoder.weighted) out.weight(raw.labels(labelWidth))
    }
  }
}

private[spark] object EncodedCache {
  /** A map entry's bookkeeping, in floats, charged to the budget beside a kept record's features. */
  private val KeptOverheadFloats = 16

  /**
   * A fetched record: its shard key, label floats (then the weight), and either its encoded input
   * columns `base[offset, offset + length)` or, when kept, its `features`. Owned by one read.
   */
  final class Fetched(val key: Long, val labels: Array[Float], val base: Array[Byte], val offset: Int,
      val length: Int, val features: Array[Float])
}

/**
 * Encoded rows (`UnsafeRow` bytes) with their shard keys and label floats: the bytes in memory
 * pages while the budget lasts (with `memory`), the rest appended to a spill file in the executor's
 * local directory, read with positional reads until [[finish]] and memory-mapped after. The rows
 * in memory are a prefix. Keys, lengths, locations and labels stay in memory for every row (about
 * 20 bytes + 4 per label float).
 *
 * Appended and fetched by one thread at a time (the feeder; after [[finish]], the loop for
 * validation rows). A fetched view of a memory page stays valid: pages are never reused.
 */
private[spark] final class EncodedStore(labelFloats: Int, budget: RowStore.Budget, spillDir: () => File,
    memory: Boolean) extends AutoCloseable {
  import EncodedCache.Fetched

  private var keys = new Array[Long](1024)
  private var locations = new Array[Long](1024) // in memory: page << 32 | offset; spilled: file offset
  private var lengths = new Array[Int](1024)
  private var labels = new Array[Float](1024 * labelFloats)
  private val pages = ArrayBuffer[Array[Byte]]()
  private var pageUsed = 0
  private var inMemory = 0
  @volatile private var count = 0
  private var spill: EncodedStore.Spill = _

  def size: Int = count

  /** Rows whose bytes are in memory; the others were spilled. */
  def rowsInMemory: Int = inMemory

  /** Appends `row` (shard key `key`); `fillLabels(labels, at)` writes its label floats. */
  def append(key: Long, row: UnsafeRow, fillLabels: (Array[Float], Int) => Unit): Unit = {
    val n = count
    if (n == Int.MaxValue - 8) {
      throw new IllegalStateException(s"a task's shard has over ${Int.MaxValue - 8} rows; use more workers")
    }
    if (n == keys.length) {
      val cap = Math.min(Int.MaxValue - 8L, 2L * n).toInt
      keys = java.util.Arrays.copyOf(keys, cap)
      locations = java.util.Arrays.copyOf(locations, cap)
      lengths = java.util.Arrays.copyOf(lengths, cap)
      labels = java.util.Arrays.copyOf(labels, cap * labelFloats)
    }
    fillLabels(labels, n * labelFloats)
    val len = row.getSizeInBytes
    keys(n) = key
    lengths(n) = len
    if (memory && spill == null && budget.take((len + 3L) / 4)) {
      if (pages.isEmpty || pages.last.length - pageUsed < len) {
        pages += new Array[Byte](Math.max(len.toLong, Math.min(EncodedStore.PageBytes, budget.left * 4 + len)).toInt)
        pageUsed = 0
      }
      row.writeToMemory(pages.last, Platform.BYTE_ARRAY_OFFSET + pageUsed)
      locations(n) = ((pages.size - 1).toLong << 32) | pageUsed
      pageUsed += len
      inMemory += 1
    } else {
      if (spill == null) spill = new EncodedStore.Spill(spillDir())
      locations(n) = spill.append(row)
    }
    count = n + 1
  }

  /** No more rows come: the spilled ones are mapped for reading. */
  def finish(): Unit = if (spill != null) spill.finish()

  private def check(index: Int): Unit = if (index < 0 || index >= count) {
    throw new IllegalArgumentException(s"row $index has not arrived yet ($count so far)")
  }

  private def labelsOf(index: Int): Array[Float] =
    java.util.Arrays.copyOfRange(labels, index * labelFloats, (index + 1) * labelFloats)

  def fetch(index: Int): Fetched = {
    check(index)
    if (index < inMemory) {
      val at = locations(index)
      new Fetched(keys(index), labelsOf(index), pages((at >>> 32).toInt), (at & 0xFFFFFFFFL).toInt, lengths(index), null)
    } else {
      val bytes = spill.read(locations(index), lengths(index))
      new Fetched(keys(index), labelsOf(index), bytes, 0, bytes.length, null)
    }
  }

  /** Row `index` with `features` in place of its bytes. */
  def fetchLabels(index: Int, features: Array[Float]): Fetched = {
    check(index)
    new Fetched(keys(index), labelsOf(index), null, 0, 0, features)
  }

  override def close(): Unit = if (spill != null) spill.close()
}

private[spark] object EncodedStore {
  private val PageBytes = 1L << 20
  private val WindowBytes = 1L << 30

  /** Spilled rows' bytes, one after another; the same write-buffer and mapping scheme as `RowStore.Spill`. */
  private final class Spill(dir: File) extends AutoCloseable {
    private val file = File.createTempFile("bios-encoded-", ".rows", dir)
    private val channel = try FileChannel.open(file.toPath, StandardOpenOption.READ, StandardOpenOption.WRITE)
      catch { case e: Throwable => Files.deleteIfExists(file.toPath); throw e }
    private val pending = ByteBuffer.allocate(1 << 20)
    private var flushed = 0L
    private var windows: Array[ByteBuffer] = _

    /** Appends `row`'s bytes; returns their offset in the file. */
    def append(row: UnsafeRow): Long = {
      val len = row.getSizeInBytes
      if (pending.remaining() < len) flush()
      val at = flushed + pending.position()
      if (len > pending.capacity()) write(ByteBuffer.wrap(row.getBytes)) else row.writeTo(pending)
      at
    }

    private def write(b: ByteBuffer): Unit = {
      while (b.hasRemaining) flushed += channel.write(b, flushed)
    }

    private def flush(): Unit = {
      pending.flip()
      write(pending)
      pending.clear()
    }

    def finish(): Unit = {
      flush()
      windows = Array.tabulate(((flushed + WindowBytes - 1) / WindowBytes).toInt) { w =>
        val from = w * WindowBytes
        channel.map(FileChannel.MapMode.READ_ONLY, from, Math.min(WindowBytes, flushed - from))
      }
    }

    def read(at: Long, len: Int): Array[Byte] = {
      val out = new Array[Byte](len)
      if (windows != null) {
        var i = 0
        while (i < len) {
          val p = at + i
          val w = windows((p / WindowBytes).toInt)
          val from = (p % WindowBytes).toInt
          val n = Math.min(len - i, w.capacity() - from)
          w.get(from, out, i, n)
          i += n
        }
      } else {
        if (at + len > flushed) flush()
        val b = ByteBuffer.wrap(out)
        while (b.hasRemaining) {
          val n = channel.read(b, at + b.position())
          if (n < 0) throw new IllegalStateException(s"spill file $file ends before offset ${at + b.position()}")
        }
      }
      out
    }

    override def close(): Unit = try channel.close() finally Files.deleteIfExists(file.toPath)
  }
}
