package ai.bios.spark.internal

import ai.bios.spark.transform.{FeatureWriter, InputRecord, RecordTransform, TransformContext}
import ai.bios.tf.BadInputException
import ai.bios.tf.input.{RecordChecks, Seeds}
import ai.bios.tf.model.ModelSpec
import org.apache.spark.ml.linalg.Vector
import org.apache.spark.sql.Row
import org.apache.spark.sql.catalyst.{CatalystTypeConverters, InternalRow}
import org.apache.spark.sql.catalyst.expressions.{UnsafeProjection, UnsafeRow}
import org.apache.spark.sql.types._

import java.util.SplittableRandom
import scala.util.control.NonFatal

/**
 * Runs a user's [[RecordTransform]] on one record: the record's input columns (an `InternalRow` of
 * `inputSchema`: the task cache's `UnsafeRow`, or a converted row at inference) are shown to the
 * transform as an [[InputRecord]], with a [[TransformContext]] whose random source is
 * [[TransformRunner.seedOf]]`(seed, epoch, key)`. The one place a user transform is called, for
 * training, validation and `BiosModel.transform`.
 *
 * A record is named by its shard key ((input partition << 32) | row, see `BarrierTraining.shardKey`):
 * a failure of the transform becomes a [[BadInputException]] whose message starts with "row R of
 * input partition P of <data>", names the transform's class and keeps the original as its cause.
 * The features it writes pass the model's [[RecordChecks]] (exactly `featureSize` values, finite,
 * category ids in range) before anything else sees them, and a bad value fails the same way.
 *
 * Thread-safe: [[apply]] may run on several input threads at once (it allocates its per-call state).
 */
private[spark] final class TransformRunner(
    val transform: RecordTransform, inputIndex: Array[Int], val inputSchema: StructType, seed: Long,
    data: String, checks: RecordChecks) extends Serializable {

  val featureSize: Int = transform.featureSize
  private val className = transform.getClass.getName

  @transient private lazy val toCatalyst = CatalystTypeConverters.createToCatalystConverter(inputSchema)
  @transient private lazy val toScala: Array[Any => Any] = inputSchema.fields.map(f => f.dataType match {
    case s: StructType => CatalystTypeConverters.createToScalaConverter(s)
    case _ => null
  })

  /** The same runner naming `other` (e.g. "the data to transform") in its errors. */
  def naming(other: String): TransformRunner = new TransformRunner(transform, inputIndex, inputSchema, seed, other, checks)

  /** `row`'s input columns as a catalyst row (no copy of their values). */
  def project(row: Row): InternalRow = toCatalyst(Row.fromSeq(inputIndex.map(row.get))).asInstanceOf[InternalRow]

  /** An encoder for one thread: `row`'s input columns as an `UnsafeRow` (reused by the next call). */
  def encoder(): Row => UnsafeRow = {
    val projection = UnsafeProjection.create(inputSchema)
    row => projection(project(row))
  }

  /** Where record `key` came from, for messages. */
  def where(key: Long): String = TransformRunner.where(key, data)

  /**
   * Runs the transform on `record` (record `key`) and hands its features to `sink(values, offset,
   * length)`, which receives exactly `featureSize` values. Errors name the record (see above).
   */
  def apply(record: InternalRow, key: Long, epoch: Int, training: Boolean,
      sink: (Array[Float], Int, Int) => Unit): Unit = {
    val input = new Input(record, key)
    def fail(what: String): Nothing = throw new BadInputException(s"${input.where}: the input transform $className $what")
    val ctx = new Context(key, epoch, training)
    var written = 0
    val out = new FeatureWriter {
      override def features(values: Array[Float]): Unit =
        features(values, 0, if (values == null) -1 else values.length)
      override def features(values: Array[Float], offset: Int, length: Int): Unit = {
        if (written > 0) fail("called FeatureWriter.features twice; write each record's features in one call")
        if (values == null || length != featureSize) {
          fail(s"wrote ${if (values == null) "null" else s"$length values"} as features; its featureSize is " +
            s"$featureSize and the model's input must take exactly that many")
        }
        var i = 0
        while (i < length) {
          val problem = checks.featureProblem(values(offset + i), i)
          if (problem != null) fail(s"wrote a bad feature: $problem (or fix the transform)")
          i += 1
        }
        written += 1
        sink(values, offset, length)
      }
    }
    try {
      transform.transform(input, ctx, out)
    } catch {
      case e: BadInputException if Option(e.getMessage).exists(_.startsWith(input.where)) => throw e
      case e: BadInputException => throw new BadInputException(s"${input.where}: ${e.getMessage}", e)
      case NonFatal(e) => throw new BadInputException(s"${input.where}: the input transform $className failed: " +
        s"${e.getClass.getName}: ${e.getMessage}; fix the record or make the transform handle it", e)
    }
    if (written == 0) fail("wrote no features; RecordTransform.transform must call out.features once per record")
  }

  private final class Context(key: Long, val epoch: Int, val training: Boolean) extends TransformContext {
    override lazy val random: SplittableRandom = new SplittableRandom(TransformRunner.seedOf(seed, epoch, key))
  }

  private final class Input(row: InternalRow, key: Long) extends InputRecord {
    override def size: Int = inputSchema.length
    override def where: String = TransformRunner.this.where(key)
    override def isNullAt(i: Int): Boolean = row.isNullAt(i)
    override def dataType(i: Int): DataType = field(i).dataType
    private def field(i: Int): StructField = inputSchema.fields(i)
    private def notNull(i: Int): Unit = if (row.isNullAt(i)) {
      throw new IllegalArgumentException(s"input column '${field(i).name}' is null")
    }
    private def wrongType(i: Int, wanted: String): Nothing = throw new IllegalArgumentException(
      s"input column '${field(i).name}' has type ${field(i).dataType.simpleString}; $wanted")

    override def getBinary(i: Int): Array[Byte] = field(i).dataType match {
      case BinaryType => notNull(i); row.getBinary(i)
      case _ => wrongType(i, "getBinary reads binary columns")
    }
    override def getString(i: Int): String = field(i).dataType match {
      case _: StringType => notNull(i); row.getUTF8String(i).toString
      case _ => wrongType(i, "getString reads string columns")
    }
    override def getDouble(i: Int): Double = {
      notNull(i)
      field(i).dataType match {
        case DoubleType => row.getDouble(i)
        case FloatType => row.getFloat(i)
        case LongType => row.getLong(i).toDouble
        case IntegerType => row.getInt(i)
        case ShortType => row.getShort(i)
        case ByteType => row.getByte(i)
        case BooleanType => if (row.getBoolean(i)) 1.0 else 0.0
        case d: DecimalType => row.getDecimal(i, d.precision, d.scale).toDouble
        case _ => wrongType(i, "getDouble reads numeric and boolean columns")
      }
    }
    override def getFloats(i: Int): Array[Float] = {
      notNull(i)
      field(i).dataType match {
        case ArrayType(e, _) =>
          val a = row.getArray(i)
          Array.tabulate(a.numElements()) { j =>
            if (a.isNullAt(j)) throw new IllegalArgumentException(s"input column '${field(i).name}' has a null at $j")
            e match {
              case FloatType => a.getFloat(j)
              case DoubleType => a.getDouble(j).toFloat
              case IntegerType => a.getInt(j).toFloat
              case LongType => a.getLong(j).toFloat
              case ShortType => a.getShort(j).toFloat
              case ByteType => a.getByte(j).toFloat
              case _ => wrongType(i, "getFloats reads arrays of numbers and ml Vectors")
            }
          }
        case u: UserDefinedType[_] if classOf[Vector].isAssignableFrom(u.userClass) =>
          val v = u.asInstanceOf[UserDefinedType[Vector]].deserialize(row.getStruct(i, u.sqlType.asInstanceOf[StructType].length))
          v.toArray.map(_.toFloat)
        case _ => wrongType(i, "getFloats reads arrays of numbers and ml Vectors")
      }
    }
    override def getStruct(i: Int): Row = field(i).dataType match {
      case s: StructType => notNull(i); toScala(i)(row.getStruct(i, s.length)).asInstanceOf[Row]
      case _ => wrongType(i, "getStruct reads struct columns")
    }
  }
}

private[spark] object TransformRunner {

  /**
   * The seed of record `key`'s random source in `epoch`: the engine's [[Seeds.combine]] of the
   * fit's seed, the epoch and the record's shard key. The same record gets the same randomness on
   * every worker count, thread, mode and attempt.
   */
  def seedOf(seed: Long, epoch: Int, key: Long): Long = Seeds.combine(seed, epoch, key)

  /** "row R of input partition P of `data`" for shard key `key`. */
  def where(key: Long, data: String): String = s"row ${key & 0xFFFFFFFFL} of input partition ${key >>> 32} of $data"

  /**
   * A runner of `t` over `schema`'s columns `t.inputCols` for the model `spec` (whose record checks
   * its features pass), seeded by `seed`, naming `data` in errors.
   */
  def of(t: RecordTransform, schema: StructType, spec: ModelSpec, seed: Long, data: String): TransformRunner = {
    checkSize(t, spec)
    val idx = t.inputCols.map(schema.fieldIndex)
    new TransformRunner(t, idx, StructType(idx.map(schema.fields(_))), seed, data, RecordChecks.forRecords(spec))
  }

  /** Throws unless `t` writes as many features per record as `spec`'s input takes, naming both numbers. */
  def checkSize(t: RecordTransform, spec: ModelSpec): Unit = if (t.featureSize != spec.featureSize()) {
    throw new IllegalArgumentException(s"the input transform ${t.getClass.getName} writes " +
      s"${t.featureSize} features per record but the model spec's input has ${spec.featureSize()} values " +
      s"(${spec.inputShape()}); build the model spec with an input of ${t.featureSize} values, or " +
      "configure the transform to write the model's input size")
  }

  /**
   * Checks `t` against `schema` on the driver: every input column exists, and the transform's own
   * `validateSchema`.
   */
  def validate(t: RecordTransform, schema: StructType): Unit = {
    if (t.inputCols == null || t.inputCols.isEmpty) {
      throw new IllegalArgumentException(s"the input transform ${t.getClass.getName} names no inputCols; " +
        "it must read at least one column")
    }
    t.inputCols.foreach { c =>
      if (!schema.fieldNames.contains(c)) {
        throw new IllegalArgumentException(s"the input transform ${t.getClass.getName} reads column '$c', which " +
          s"does not exist; columns are ${schema.fieldNames.mkString(", ")} (set the transform's input column to " +
          "one of them)")
      }
    }
    t.validateSchema(schema)
  }
}
