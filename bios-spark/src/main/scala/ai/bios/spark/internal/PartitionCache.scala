package ai.bios.spark.internal

import ai.bios.tf.input.{RecordSource, RecordStream, RecordWriter}
import org.apache.spark.sql.Row

import java.io.File

/**
 * One training task's rows, filled from the partition iterator while the first epoch trains (a
 * [[RecordStream]]: each `advance()` pulls, decodes and checks rows until the next training row),
 * then replayed every later epoch in the order the data plan draws. With `validationIndex >= 0`
 * rows whose boolean column at that index is true go to [[validation]] instead, a second
 * [[RowStore]] the training loop evaluates at the end of every epoch; it is complete once the
 * stream has ended. Both stores share `memoryBytes` (rows in memory first, the rest spill to the
 * executor's local directory).
 *
 * Used by one thread at a time (the feeder); `beforeRead` runs on that thread before it pulls
 * rows (to adopt the Spark task context). `close()` deletes the spill files.
 */
private[spark] final class PartitionCache(
    rows: Iterator[Row], decoder: RowDecoder, featureSize: Int, labelWidth: Int, memoryBytes: Long,
    spillDir: () => File, beforeRead: () => Unit = () => (), validationIndex: Int = -1,
    validationColumn: String = "", where: String = "the training data")
  extends RecordStream with AutoCloseable {

  private val budget = new RowStore.Budget(Math.max(0L, memoryBytes / 4))
  private val train = new RowStore(featureSize, labelWidth, budget, spillDir, decoder.weighted)
  private val held = new RowStore(featureSize, labelWidth, budget, spillDir, decoder.weighted)
  private var pulled = 0L
  private var ended = false

  override def size: Int = train.size

  /** The validation rows: those whose indicator is true (none without an indicator). */
  def validation: RecordSource = held

  /** Training rows kept in memory; the others were spilled. */
  def rowsInMemory: Int = train.rowsInMemory

  /** Rows that had arrived when the first row was read (the first batch built), or -1 if none was. */
  def rowsAtFirstRead: Int = firstRead

  private var firstRead = -1

  override def advance(): Boolean = {
    if (closed) throw new IllegalStateException("the partition cache is closed")
    while (!ended) {
      beforeRead()
      if (!rows.hasNext) {
        ended = true
        train.finish()
        held.finish()
      } else {
        val row = rows.next()
        val n = pulled
        pulled += 1
        val store = if (isValidation(row, n)) held else train
        store.append { (f, fAt, l, lAt) =>
          decoder.features(row, n, f, fAt)
          decoder.label(row, n, l, lAt)
          if (decoder.weighted) l(lAt + labelWidth) = decoder.weight(row, n)
        }
        if (store eq train) return true
      }
    }
    false
  }

  private def isValidation(row: Row, n: Long): Boolean =
    validationIndex >= 0 && PartitionCache.isValidation(row, validationIndex, validationColumn, n, where)

  override def read(index: Int, epoch: Int, out: RecordWriter): Unit = {
    if (firstRead < 0) firstRead = size
    train.read(index, epoch, out)
  }

  @volatile private var closed = false

  override def close(): Unit = {
    closed = true
    try train.close() finally held.close()
  }
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
