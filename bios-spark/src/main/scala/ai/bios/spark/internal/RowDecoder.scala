package ai.bios.spark.internal

import ai.bios.tf.input.RecordChecks
import ai.bios.tf.model.{Loss, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vector}
import org.apache.spark.sql.Row
import org.apache.spark.sql.types._

/**
 * Reads features (and labels) out of rows into float arrays, checking every value with the engine's
 * [[RecordChecks]]. Errors name the column, the row (its position in the partition `where` names),
 * the value and the fix.
 */
private[spark] final class RowDecoder(
    featuresCol: String, featuresIndex: Int, val featureSize: Int,
    labelCol: String, labelIndex: Int, val labelWidth: Int, where: String,
    loss: Loss = Loss.MEAN_SQUARED_ERROR, outputs: Int = 1, idsOf: ModelSpec = null,
    weightCol: String = null, weightIndex: Int = -1) extends Serializable {

  /** The same decoder, naming `rowsOf` (e.g. "input partition 3 of the training data") in its errors. */
  def in(rowsOf: String): RowDecoder = new RowDecoder(featuresCol, featuresIndex, featureSize, labelCol, labelIndex,
    labelWidth, rowsOf, loss, outputs, idsOf, weightCol, weightIndex)

  /** Whether rows carry a features column (not with an input transform, which makes the features). */
  def hasFeatures: Boolean = featuresIndex >= 0

  /** Whether rows carry a sample weight (a weightCol). */
  def weighted: Boolean = weightIndex >= 0

  /** With `idsOf`, features its categorical and sequence columns read must be category ids. */
  private val checks = {
    val plain = new RecordChecks(featuresCol, labelCol, where, featureSize, null, loss, outputs)
    if (idsOf == null) plain else plain.withIdsOf(idsOf)
  }

  def features(row: Row, rowNumber: Long, out: Array[Float], at: Int): Unit = {
    if (row.isNullAt(featuresIndex)) throw checks.nullFeatures(rowNumber)
    row.get(featuresIndex) match {
      case v: Vector =>
        checks.checkFeatureCount(v.size, rowNumber)
        if (!v.isInstanceOf[org.apache.spark.ml.linalg.DenseVector]) {
          java.util.Arrays.fill(out, at, at + featureSize, 0f) // sparse: the gaps are zeros
        }
        v.foreachActive { (j, x) => out(at + j) = x.toFloat }
        var i = 0
        while (i < featureSize) {
          checks.checkFeature(out(at + i), i, rowNumber)
          i += 1
        }
      case s: scala.collection.Seq[_] =>
        checks.checkFeatureCount(s.length, rowNumber)
        var i = 0
        val it = s.iterator
        while (it.hasNext) {
          val x = it.next()
          if (x == null) throw checks.nullFeatureValue(i, rowNumber)
          val f = x match {
            case d: Double => d.toFloat
            case f: Float => f
            case n: Number => n.floatValue()
          }
          checks.checkFeature(f, i, rowNumber)
          out(at + i) = f
          i += 1
        }
    }
  }

  /** Row `rowNumber`'s sample weight, checked: finite and >= 0 (a null fails naming weightCol and the row). */
  def weight(row: Row, rowNumber: Long): Float = {
    if (row.isNullAt(weightIndex)) throw checks.nullWeight(weightCol, rowNumber)
    checks.checkWeight(weightCol, row.get(weightIndex).asInstanceOf[Number].doubleValue(), rowNumber)
  }

  /** Also checks labels on the map side of the sharding shuffle, before training starts, so bad data fails the fit at once. */
  def label(row: Row, rowNumber: Long, out: Array[Float], at: Int): Unit = {
    if (row.isNullAt(labelIndex)) throw checks.nullLabel(rowNumber)
    row.get(labelIndex) match {
      case n: Number if labelWidth == 1 => out(at) = checks.checkLabel(n.doubleValue(), 0, rowNumber)
      case v: Vector if v.size == labelWidth =>
        var i = 0
        while (i < labelWidth) { out(at + i) = checks.checkLabel(v(i), i, rowNumber); i += 1 }
      case other => throw checks.labelCount(String.valueOf(other), rowNumber)
    }
  }
}

private[spark] object RowDecoder {
  /** Checks the columns exist with usable types; names the column and the type it found. */
  def validateSchema(schema: StructType, featuresCol: String, labelCol: Option[String]): Unit = {
    val f = field(schema, featuresCol, "features")
    f.dataType match {
      case t if t == SQLDataTypes.VectorType =>
      case ArrayType(FloatType | DoubleType, _) =>
      case other => throw new IllegalArgumentException(
        s"features column '$featuresCol' has type ${other.simpleString}; it must be an ml Vector or " +
          "array<float|double> (assemble numeric columns with VectorAssembler)")
    }
    labelCol.foreach(validateLabel(schema, _))
  }

  /** Checks the label column exists and is numeric or an ml Vector; names it and the type found. */
  def validateLabel(schema: StructType, name: String): Unit =
    field(schema, name, "label").dataType match {
      case _: NumericType =>
      case t if t == SQLDataTypes.VectorType =>
      case other => throw new IllegalArgumentException(
        s"label column '$name' has type ${other.simpleString}; it must be numeric (index string labels " +
          "with StringIndexer) or an ml Vector")
    }

  private def field(schema: StructType, name: String, role: String): StructField =
    schema.fields.find(_.name == name).getOrElse(
      throw new IllegalArgumentException(s"$role column '$name' does not exist; columns are " +
        schema.fieldNames.mkString(", ") + s" (set ${role}Col to one of them)"))

  /** Checks the weight column (if any) exists and is numeric; names it and the type found. */
  def validateWeightColumn(schema: StructType, weightCol: String): Unit = if (weightCol.nonEmpty) {
    val f = schema.fields.find(_.name == weightCol).getOrElse(throw new IllegalArgumentException(
      s"weightCol '$weightCol' does not exist; columns are ${schema.fieldNames.mkString(", ")} (set weightCol " +
        "to a numeric column of sample weights, or to \"\" for none)"))
    f.dataType match {
      case _: NumericType =>
      case other => throw new IllegalArgumentException(s"weightCol '$weightCol' has type ${other.simpleString}; " +
        "it must be numeric (each row's loss weight, finite and >= 0): cast it to double")
    }
  }
}
