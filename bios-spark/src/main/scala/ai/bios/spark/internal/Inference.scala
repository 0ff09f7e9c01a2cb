package ai.bios.spark.internal

import ai.bios.tf.concurrent.PrefetchQueue
import ai.bios.tf.model.{ComputeOptions, Loss, ModelSpec, OptimizerSpec, TrainableModel}
import org.apache.spark.TaskContext
import org.apache.spark.ml.linalg.Vectors
import org.apache.spark.sql.Row
import org.tensorflow.ndarray.Shape
import org.tensorflow.types.TFloat32

import java.util.Optional
import scala.collection.mutable.ArrayBuffer

/**
 * Batched inference in one partition: a feeder thread turns rows into feature tensors through the
 * prefetching queue while the model predicts the previous batch. The model, queue and tensors are
 * released when the partition is done or the task ends.
 */
private[spark] object Inference {

  /** A batch of rows and their features as one tensor. */
  private final class RowBatch(val rows: Array[Row], val features: TFloat32) extends AutoCloseable {
    override def close(): Unit = features.close()
  }

  /**
   * Predicts `rows`; `features(row, rowNumber, out, at)` writes a row's `featureSize` features at
   * `out(at)` (a [[RowDecoder]]'s, or an input transform's), on the feeder thread.
   */
  def run(rows: Iterator[Row], specJson: String, weights: Array[Float],
      features: (Row, Long, Array[Float], Int) => Unit, batchSize: Int, prefetchDepth: Int): Iterator[Row] = {
    val spec = ModelSpec.fromJson(specJson)
    val ctx = TaskContext.get()
    val gpu = Option(ctx).flatMap(c => Option(c.resources()).flatMap(_.get("gpu"))).flatMap(_.addresses.headOption)
    val model = new TrainableModel(spec, OptimizerSpec.sgd(1.0),
      new ComputeOptions(gpu.orNull, Option(ctx).map(_.cpus()).getOrElse(1), 1))
    val queue = try {
      model.importWeights(weights)
      val dims = (Seq(0L) ++ spec.inputShape().toArray.map(_.asInstanceOf[Integer].toLong)).toArray
      val scratch = new Array[Float](spec.featureSize() * batchSize)
      var rowNumber = 0L
      val producer: PrefetchQueue.Producer[RowBatch] = () => {
        val buf = new ArrayBuffer[Row](batchSize)
        while (buf.size < batchSize && rows.hasNext) {
          val row = rows.next()
          features(row, rowNumber, scratch, buf.size * spec.featureSize())
          rowNumber += 1
          buf += row
        }
        if (buf.isEmpty) Optional.empty[RowBatch]()
        else {
          val shape = dims.clone()
          shape(0) = buf.size
          val t = TFloat32.tensorOf(Shape.of(shape: _*))
          t.asRawTensor().data().asFloats().write(scratch, 0, buf.size * spec.featureSize())
          Optional.of(new RowBatch(buf.toArray, t))
        }
      }
      PrefetchQueue.fixed(producer, prefetchDepth, s"bios-inference-${Option(ctx).map(_.partitionId()).getOrElse(0)}")
        .withCancellation(KillFlag.of(ctx, "the inference task")).start()
    } catch {
      case e: Throwable =>
        model.close()
        throw e
    }
    var released = false
    def release(): Unit = if (!released) {
      released = true
      try queue.close() finally model.close()
    }
    Option(ctx).foreach(_.addTaskCompletionListener[Unit](_ => release()))

    val outputs = spec.outputs()
    val classifier = spec.loss() != Loss.MEAN_SQUARED_ERROR
    new Iterator[Row] {
      private var current: Array[Row] = Array.empty
      private var predictions: Array[Float] = Array.empty
      private var i = 0
      private var done = false

      override def hasNext: Boolean = {
        while (!done && i >= current.length) {
          val next = queue.take()
          if (next.isPresent) {
            val b = next.get()
            try {
              predictions = model.predict(b.features)
              current = b.rows
              i = 0
            } finally b.close()
          } else {
            done = true
            release()
          }
        }
        !done || i < current.length
      }

      override def next(): Row = {
        if (!hasNext) throw new NoSuchElementException
        val row = current(i)
        val p = java.util.Arrays.copyOfRange(predictions, i * outputs, (i + 1) * outputs)
        i += 1
        val extra: Seq[Any] = spec.loss() match {
          case Loss.SOFTMAX_CROSS_ENTROPY =>
            Seq(argmax(p).toDouble, Vectors.dense(p.map(_.toDouble)))
          case Loss.SIGMOID_CROSS_ENTROPY if outputs == 1 =>
            Seq(if (p(0) > 0.5f) 1.0 else 0.0, Vectors.dense(1.0 - p(0), p(0).toDouble))
          case Loss.SIGMOID_CROSS_ENTROPY =>
            Seq(argmax(p).toDouble, Vectors.dense(p.map(_.toDouble)))
          case Loss.MEAN_SQUARED_ERROR if outputs == 1 => Seq(p(0).toDouble)
          case Loss.MEAN_SQUARED_ERROR => Seq(Vectors.dense(p.map(_.toDouble)))
        }
        assert(classifier == (extra.size == 2))
        Row.fromSeq(row.toSeq ++ extra)
      }
    }
  }

  private def argmax(p: Array[Float]): Int = {
    var best = 0
    var i = 1
    while (i < p.length) {
      if (p(i) > p(best)) best = i
      i += 1
    }
    best
  }
}
