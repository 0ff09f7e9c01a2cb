package ai.bios.spark.transform

import org.apache.spark.sql.{Dataset, Row}
import org.apache.spark.sql.types.{DataType, StructType}

/**
 * Per-record input work that runs inside the training task, on its input threads: it reads a
 * record's input columns (encoded image bytes, text, numbers, arrays, ml vectors) and writes the
 * model's features. The label and the sample weight still come from `labelCol` and `weightCol`.
 *
 * Bios keeps the input columns (not the features) in the task's cache and runs the transform again
 * every epoch, so augmentation differs per epoch; with `cacheTransformed` and a [[deterministic]]
 * transform it keeps the features instead. `BiosModel.transform` and validation rows run it with
 * `ctx.training == false` (no augmentation).
 *
 * Implementations are serialized to the executors and saved with the model (Java serialization:
 * the class must be on the classpath where the model is loaded). [[transform]] is called
 * concurrently from several threads: keep no mutable state in fields (use locals, or a
 * `ThreadLocal` for scratch buffers). Anything random must come from `ctx.random`, which is a pure
 * function of (seed, epoch, record): both execution modes, any `inputThreads` and any resume then
 * train bitwise-identical weights.
 *
 * [[transform]] may run on a helper input thread that is not a Spark task thread: there
 * `TaskContext.get()` is null (and task-local properties, accumulators and metrics are out of
 * reach). Take what a transform needs from the driver (constructor arguments, [[fit]]) instead.
 */
trait RecordTransform extends Serializable {

  /** The columns the transform reads; `record` index `i` in [[transform]] is `inputCols(i)`. */
  def inputCols: Array[String]

  /** Floats the transform writes per record; must equal the model's feature size. */
  def featureSize: Int

  /**
   * Checks the input columns' types on the driver before any task starts. Throws an
   * `IllegalArgumentException` naming the column, the type found and the fix. Only checks: it runs
   * on the driver's instance, which tasks may see in another state, so nothing found here may be
   * kept for [[transform]] (read types there with [[InputRecord.dataType]]).
   */
  def validateSchema(schema: StructType): Unit = ()

  /**
   * Learns what the transform needs from the training rows (a vocabulary, say) before training
   * starts, on the driver; the returned transform is the one that trains and is saved with the
   * model. The default learns nothing.
   */
  def fit(dataset: Dataset[Row]): RecordTransform = this

  /** Whether the output depends on the record only (not on epoch, randomness or `training`). */
  def deterministic: Boolean = false

  /**
   * Writes `record`'s features into `out` (exactly one `features` call of [[featureSize]] floats).
   * A bad record fails with an exception; Bios adds the record's partition and row to its message.
   */
  def transform(record: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit
}

/** One record's input columns, in [[RecordTransform.inputCols]] order. Valid during one call. */
trait InputRecord {
  /** Number of input columns. */
  def size: Int
  def isNullAt(i: Int): Boolean
  /**
   * Column `i`'s Spark type in the DataFrame this record comes from (the schema `validateSchema`
   * saw for this DataFrame). A transform that accepts several column types decides per record from
   * it: the same transform object may run over DataFrames of different types (one model's
   * `transform` of a binary and of an image-struct DataFrame), so it must keep no type in a field.
   */
  def dataType(i: Int): DataType
  /** A binary column's bytes (`binaryFile`'s `content`, a Parquet binary column). */
  def getBinary(i: Int): Array[Byte]
  def getString(i: Int): String
  /** Any numeric or boolean column as a double (true is 1). */
  def getDouble(i: Int): Double
  /** An array of numbers or an ml Vector, as floats (a sparse vector's gaps are zeros). */
  def getFloats(i: Int): Array[Float]
  /** A struct column (Spark's `image` column, say) as a Row of its fields. */
  def getStruct(i: Int): Row
  /** Where the record came from, for error messages: "row 17 of input partition 3 of the training data". */
  def where: String
}

/** What a transform may know about the call. */
trait TransformContext {
  /** True while training (augment); false for validation rows and in `BiosModel.transform`. */
  def training: Boolean
  /** The training epoch (0 for inference). */
  def epoch: Int
  /**
   * A fresh random source for this record, a pure function of the fit's seed, the epoch and the
   * record's origin (input partition, row): the same on every worker count, thread and attempt.
   */
  def random: java.util.SplittableRandom
}

/** Where a transform writes a record's features. */
trait FeatureWriter {
  def features(values: Array[Float]): Unit
  def features(values: Array[Float], offset: Int, length: Int): Unit
}
