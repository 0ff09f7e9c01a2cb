package ai.bios.spark.internal

import ai.bios.tf.input.{RecordSource, RecordWriter}
import org.apache.spark.sql.Row

/**
 * One training task's rows in compact columnar form (features and labels as flat float arrays):
 * filled once from the partition iterator (the upstream ETL runs lazily inside the task), then
 * replayed every epoch in the order the data plan draws. Immutable once built, so the feeder can
 * read it while the loop trains.
 */
private[spark] final class PartitionCache private (
    features: Array[Float], labels: Array[Float], featureSize: Int, labelWidth: Int, val size: Int)
  extends RecordSource {

  override def read(index: Int, epoch: Int, out: RecordWriter): Unit = {
    out.features(features, index * featureSize, featureSize)
    out.labels(labels, index * labelWidth, labelWidth)
  }

  def bytes: Long = 4L * (features.length + labels.length)
}

private[spark] object PartitionCache {
  def build(rows: Iterator[Row], decoder: RowDecoder, featureSize: Int, labelWidth: Int): PartitionCache = {
    var features = new Array[Float](featureSize * 1024)
    var labels = new Array[Float](labelWidth * 1024)
    var n = 0
    while (rows.hasNext) {
      val row = rows.next()
      if ((n + 1) * featureSize > features.length) {
        features = java.util.Arrays.copyOf(features, Math.max(features.length * 2, (n + 1) * featureSize))
        labels = java.util.Arrays.copyOf(labels, Math.max(labels.length * 2, (n + 1) * labelWidth))
      }
      decoder.features(row, n, features, n * featureSize)
      decoder.label(row, n, labels, n * labelWidth)
      n += 1
    }
    new PartitionCache(java.util.Arrays.copyOf(features, n * featureSize),
      java.util.Arrays.copyOf(labels, n * labelWidth), featureSize, labelWidth, n)
  }
}
