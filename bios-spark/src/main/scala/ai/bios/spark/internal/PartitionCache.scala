package ai.bios.spark.internal

import ai.bios.tf.input.{RecordSource, RecordStream, RecordWriter}
import org.apache.spark.sql.Row

import java.io.File

/**
 * One training task's rows, filled from the partition iterator while the first epoch trains (a
 * [[RecordStream]]: each `advance()` pulls rows until the next training row), then replayed every
 * later epoch in the order the data plan draws. Each row comes with its shard key ((input
 * partition << 32) | row, see `BarrierTraining.shardKey`). With `validationIndex >= 0` rows whose
 * boolean column at that index is true go to [[validation]] instead, a second store the training
 * loop evaluates at the end of every epoch; it is complete once the stream has ended. Both stores
 * share one memory budget (rows in memory first, the rest spill to the executor's local directory).
 *
 * Subclasses say how a row is kept: [[PartitionCache]] decodes features and labels into floats;
 * `EncodedCache` keeps the input columns an input transform reads.
 *
 * Used by one thread at a time (the feeder); `beforeRead` runs on that thread before it pulls
 * rows (to adopt the Spark task context). `close()` deletes the spill files.
 */
private[spark] abstract class StreamedCache(
    rows: Iterator[(Long, Row)], beforeRead: () => Unit, validationIndex: Int, validationColumn: String,
    where: String) extends RecordStream with AutoCloseable {

  private var pulled = 0L
  private var ended = false
  private var firstRead = -1
  @volatile private var closed = false

  /** Keeps row `n` of the stream (shard key `key`) as a training row (`held` false) or a validation row. */
  protected def append(key: Long, row: Row, n: Long, held: Boolean): Unit

  /** The stream has ended: no more appends. */
  protected def finishStores(): Unit

  protected def closeStores(): Unit

  /** The validation rows: those whose indicator is true (none without an indicator). */
  def validation: RecordSource

  /** Training rows kept in memory; the others were spilled. */
  def rowsInMemory: Int

  /** Rows that had arrived when the first row was read (the first batch built), or -1 if none was. */
  def rowsAtFirstRead: Int = firstRead

  /** Called by every read of a training row. */
  protected final def noteRead(): Unit = if (firstRead < 0) firstRead = size

  override def advance(): Boolean = {
    if (closed) throw new IllegalStateException("the partition cache is closed")
    while (!ended) {
      beforeRead()
      if (!rows.hasNext) {
        ended = true
        finishStores()
      } else {
        val (key, row) = rows.next()
        val n = pulled
        pulled += 1
        val held = validationIndex >= 0 &&
          PartitionCache.isValidation(row, validationIndex, validationColumn, n, where)
        append(key, row, n, held)
        if (!held) return true
      }
    }
    false
  }

  override def close(): Unit = {
    closed = true
    closeStores()
  }
}

/** A [[StreamedCache]] of decoded rows: features, labels (and the sample weight) as floats in [[RowStore]]s. */
private[spark] final class PartitionCache(
    rows: Iterator[(Long, Row)], decoder: RowDecoder, featureSize: Int, labelWidth: Int, memoryBytes: Long,
    spillDir: () => File, beforeRead: () => Unit = () => (), validationIndex: Int = -1,
    validationColumn: String = "", where: String = "the training data")
  extends StreamedCache(rows, beforeRead, validationIndex, validationColumn, where) {

  private val budget = new RowStore.Budget(Math.max(0L, memoryBytes / 4))
  private val train = new RowStore(featureSize, labelWidth, budget, spillDir, decoder.weighted)
  private val held = new RowStore(featureSize, labelWidth, budget, spillDir, decoder.weighted)

  override def size: Int = train.size
  override def validation: RecordSource = held
  override def rowsInMemory: Int = train.rowsInMemory

  override protected def append(key: Long, row: Row, n: Long, isHeld: Boolean): Unit =
    (if (isHeld) held else train).append { (f, fAt, l, lAt) =>
      decoder.features(row, n, f, fAt)
      decoder.label(row, n, l, lAt)
      if (decoder.weighted) l(lAt + labelWidth) = decoder.weight(row, n)
    }

  override protected def finishStores(): Unit = {
    train.finish()
    held.finish()
  }

  override def read(index: Int, epoch: Int, out: RecordWriter): Unit = {
    noteRead()
    train.read(index, epoch, out)
  }

  override protected def closeStores(): Unit = try train.close() finally held.close()
}

private[spark] object PartitionCache {
  /** Whether `row` (row `n` of `where`) is a validation row: its boolean at `index` is true; null fails. */
  def isValidation(row: Row, index: Int, column: String, n: Long, where: String): Boolean = {
    if (row.isNullAt(index)) {
      throw new IllegalArgumentException(s"validationIndicatorCol '$column' is null at row $n of $where; " +
        "fill it with true (validation) or false (training)")
    }
    row.getBoolean(index)
  }
}
