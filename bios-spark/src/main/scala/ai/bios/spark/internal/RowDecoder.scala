package ai.bios.spark.internal

import ai.bios.tf.BadInputException
import ai.bios.tf.model.Loss
import org.apache.spark.ml.linalg.{SQLDataTypes, Vector}
import org.apache.spark.sql.Row
import org.apache.spark.sql.types._

/**
 * Reads features (and labels) out of rows into float arrays, checking every value. Errors name the
 * column, the row (its position in the partition `where` names) and the fix.
 */
private[spark] final class RowDecoder(
    featuresCol: String, featuresIndex: Int, val featureSize: Int,
    labelCol: String, labelIndex: Int, val labelWidth: Int, where: String,
    loss: Loss = Loss.MEAN_SQUARED_ERROR, outputs: Int = 1) extends Serializable {

  /** The same decoder, naming `rowsOf` (e.g. "input partition 3 of the training data") in its errors. */
  def in(rowsOf: String): RowDecoder = new RowDecoder(featuresCol, featuresIndex, featureSize, labelCol, labelIndex,
    labelWidth, rowsOf, loss, outputs)

  def features(row: Row, rowNumber: Long, out: Array[Float], at: Int): Unit = {
    if (row.isNullAt(featuresIndex)) {
      throw bad(featuresCol, rowNumber, "is null",
        "drop or impute rows with missing features (e.g. na.drop or Imputer) before fitting")
    }
    row.get(featuresIndex) match {
      case v: Vector =>
        checkSize(v.size, rowNumber)
        if (!v.isInstanceOf[org.apache.spark.ml.linalg.DenseVector]) {
          java.util.Arrays.fill(out, at, at + featureSize, 0f) // sparse: the gaps are zeros
        }
        v.foreachActive { (j, x) => out(at + j) = x.toFloat }
        var i = 0
        while (i < featureSize) {
          checkFinite(out(at + i), i, rowNumber)
          i += 1
        }
      case s: scala.collection.Seq[_] =>
        checkSize(s.length, rowNumber)
        var i = 0
        val it = s.iterator
        while (it.hasNext) {
          val x = it.next()
          if (x == null) {
            throw bad(featuresCol, rowNumber, s"has a null at position $i", "impute or drop missing values")
          }
          val f = x match {
            case d: Double => d.toFloat
            case f: Float => f
            case n: Number => n.floatValue()
          }
          checkFinite(f, i, rowNumber)
          out(at + i) = f
          i += 1
        }
    }
  }

  def label(row: Row, rowNumber: Long, out: Array[Float], at: Int): Unit = {
    if (row.isNullAt(labelIndex)) {
      throw bad(labelCol, rowNumber, "is null", "drop rows without a label before fitting")
    }
    row.get(labelIndex) match {
      case n: Number if labelWidth == 1 => out(at) = checkLabel(n.doubleValue(), 0, rowNumber)
      case v: Vector if v.size == labelWidth =>
        var i = 0
        while (i < labelWidth) { out(at + i) = checkLabel(v(i), i, rowNumber); i += 1 }
      case other =>
        throw bad(labelCol, rowNumber, s"is $other",
          s"give $labelWidth label value(s) per row, as the model's loss and outputs require")
    }
  }

  /** Checks labels on the map side of the sharding shuffle, before training starts, so bad data fails the fit at once. */
  private def checkLabel(v: Double, i: Int, rowNumber: Long): Float = {
    if (v.isNaN || v.isInfinite) {
      throw bad(labelCol, rowNumber, s"value $i is $v", "drop rows without a finite label")
    }
    loss match {
      case Loss.SOFTMAX_CROSS_ENTROPY if v != Math.rint(v) || v < 0 || v >= outputs =>
        throw bad(labelCol, rowNumber, s"is label $v, not a class index in [0, ${outputs - 1}]",
          "index the labels (StringIndexer) or give the last dense layer as many units as there are classes")
      case Loss.SIGMOID_CROSS_ENTROPY if v != 0.0 && v != 1.0 =>
        throw bad(labelCol, rowNumber, s"value $i is $v", "sigmoid cross-entropy takes labels 0 or 1 (binarize the column)")
      case _ =>
    }
    v.toFloat
  }

  private def checkSize(size: Int, rowNumber: Long): Unit = {
    if (size != featureSize) {
      throw bad(featuresCol, rowNumber, s"has $size values, expected $featureSize (the model's input size)",
        "make every row's features the model's input size (check the VectorAssembler inputs)")
    }
  }

  private def checkFinite(f: Float, i: Int, rowNumber: Long): Unit = {
    if (f.isNaN || f.isInfinite) {
      throw bad(featuresCol, rowNumber, s"value $i is $f", "impute or drop NaN and infinite values before fitting")
    }
  }

  private def bad(col: String, rowNumber: Long, what: String, fix: String) =
    new BadInputException(s"column '$col', row $rowNumber of $where: $what; $fix")
}

private[spark] object RowDecoder {
  /** Checks the columns exist with usable types; names the column and the type it found. */
  def validateSchema(schema: StructType, featuresCol: String, labelCol: Option[String]): Unit = {
    def field(name: String, role: String): StructField = schema.fields.find(_.name == name).getOrElse(
      throw new IllegalArgumentException(s"$role column '$name' does not exist; columns are " +
        schema.fieldNames.mkString(", ") + s" (set ${role}Col to one of them)"))
    val f = field(featuresCol, "features")
    f.dataType match {
      case t if t == SQLDataTypes.VectorType =>
      case ArrayType(FloatType | DoubleType, _) =>
      case other => throw new IllegalArgumentException(
        s"features column '$featuresCol' has type ${other.simpleString}; it must be an ml Vector or " +
          "array<float|double> (assemble numeric columns with VectorAssembler)")
    }
    labelCol.foreach { name =>
      field(name, "label").dataType match {
        case _: NumericType =>
        case t if t == SQLDataTypes.VectorType =>
        case other => throw new IllegalArgumentException(
          s"label column '$name' has type ${other.simpleString}; it must be numeric (index string labels " +
            "with StringIndexer) or an ml Vector")
      }
    }
  }
}
