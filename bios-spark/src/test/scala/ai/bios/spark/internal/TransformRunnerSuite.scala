package ai.bios.spark.internal

import ai.bios.spark.transform.{FeatureWriter, InputRecord, RecordTransform, TransformContext}
import ai.bios.tf.BadInputException
import ai.bios.tf.model.{Activation, LayerSpec, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.Row
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

/** Reads every supported column kind; features = [double, floats..., struct's int, string length, binary length, random]. */
class ReadAll extends RecordTransform {
  override def inputCols: Array[String] = Array("n", "v", "a", "img", "s", "b")
  override def featureSize: Int = 9
  override def transform(r: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit = {
    val v = r.getFloats(1)
    val a = r.getFloats(2)
    out.features(Array(r.getDouble(0).toFloat, v(0), v(1), a(0), a(1), r.getStruct(3).getInt(1).toFloat,
      r.getString(4).length.toFloat, r.getBinary(5).length.toFloat, ctx.random.nextInt(1000).toFloat))
  }
}

/** The input record a transform sees, from the task cache's UnsafeRow and from inference's converted row alike. */
class TransformRunnerSuite extends AnyFunSuite {
  private val image = StructType(Seq(StructField("origin", StringType), StructField("height", IntegerType)))
  private val schema = StructType(Seq(StructField("label", DoubleType), StructField("n", IntegerType),
    StructField("v", SQLDataTypes.VectorType), StructField("a", ArrayType(DoubleType)), StructField("img", image),
    StructField("s", StringType), StructField("b", BinaryType)))
  private val row = Row(1.0, 7, Vectors.sparse(2, Array(1), Array(2.5)), Seq(0.5, -1.0), Row("x.png", 32), "héllo",
    Array[Byte](1, 2, 3))

  /** A model taking `n` features. */
  private def specOf(n: Int): ModelSpec = ModelSpec.builder(n).dense(2, Activation.NONE).build()

  private def runner(t: RecordTransform, seed: Long, data: String): TransformRunner =
    TransformRunner.of(t, schema, specOf(t.featureSize), seed, data)

  private def run(r: TransformRunner, input: org.apache.spark.sql.catalyst.InternalRow, key: Long, epoch: Int): Seq[Float] = {
    var got: Seq[Float] = Nil
    r.apply(input, key, epoch, training = true, (v, o, n) => got = v.slice(o, o + n).toSeq)
    got
  }

  test("every column kind reads the same from the encoded cache's UnsafeRow and from a converted row") {
    val r = runner(new ReadAll, 5L, "the training data")
    val fromCache = run(r, r.encoder()(row), 42L, 1)
    val converted = run(r, r.project(row), 42L, 1)
    assert(fromCache == converted)
    assert(fromCache.take(8) == Seq(7f, 0f, 2.5f, 0.5f, -1f, 32f, 5f, 3f), fromCache)
  }

  test("dataType(i) is input column i's type in the DataFrame's schema, from the cache's row and a converted one") {
    var seen: Seq[DataType] = Nil
    val types = new ReadAll {
      override def transform(r: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit = {
        seen = (0 until r.size).map(r.dataType)
        out.features(new Array[Float](featureSize))
      }
    }
    val runner = this.runner(types, 5L, "the training data")
    val expected = types.inputCols.toSeq.map(c => schema(c).dataType)
    run(runner, runner.encoder()(row), 1L, 0)
    assert(seen == expected)
    seen = Nil
    run(runner, runner.project(row), 1L, 0)
    assert(seen == expected)
  }

  test("ctx.random is a pure function of (seed, epoch, record): equal for equal inputs, different otherwise") {
    val first = runner(new ReadAll, 5L, "the training data")
    val input = first.project(row)
    def draw(key: Long, epoch: Int, r: TransformRunner = first) = run(r, input, key, epoch).last
    assert(draw(42L, 1) == draw(42L, 1))
    val others = Seq(draw(43L, 1), draw(42L, 2), draw(42L, 1, runner(new ReadAll, 6L, "x")))
    assert(others.forall(_ != draw(42L, 1)), others)
    assert(TransformRunner.seedOf(5L, 1, 42L) == TransformRunner.seedOf(5L, 1, 42L))
  }

  test("a type the record cannot read, or a wrong feature count, names the row, the column and the transform") {
    val wrongType = new RecordTransform {
      override def inputCols: Array[String] = Array("s")
      override def featureSize: Int = 1
      override def transform(r: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit =
        out.features(Array(r.getDouble(0).toFloat))
    }
    val key = (3L << 32) | 9L
    val e = intercept[BadInputException](run(runner(wrongType, 0, "the training data"),
      runner(wrongType, 0, "").project(row), key, 0))
    assert(e.getMessage.startsWith("row 9 of input partition 3 of the training data: the input transform") &&
      e.getMessage.contains("input column 's' has type string"), e.getMessage)
    val short = new ReadAll { override def featureSize: Int = 4 }
    val s = intercept[BadInputException](run(runner(short, 0, "the data"),
      runner(short, 0, "").project(row), key, 0))
    assert(s.getMessage.startsWith("row 9 of input partition 3 of the data: the input transform") &&
      s.getMessage.contains("wrote 9 values") && s.getMessage.contains("featureSize is 4"), s.getMessage)
  }

  test("a NaN, infinite or out-of-range feature from the transform fails naming the row, the value and the transform") {
    val key = (3L << 32) | 9L
    def writing(values: Array[Float]) = new RecordTransform {
      override def inputCols: Array[String] = Array("n")
      override def featureSize: Int = 3
      override def transform(r: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit = out.features(values)
    }
    for ((values, what) <- Seq(Array(1f, 2f, Float.NaN) -> "value 2 is NaN", Array(Float.NegativeInfinity, 0f, 0f) ->
        "value 0 is -Infinity")) {
      val r = runner(writing(values), 0, "the training data")
      val e = intercept[BadInputException](run(r, r.project(row), key, 0))
      assert(e.getMessage.startsWith("row 9 of input partition 3 of the training data: the input transform") &&
        e.getMessage.contains(what) && e.getMessage.contains("finite"), e.getMessage)
    }
    // a sequence column of cardinality 5 reads ids 0..4: 5 is refused, naming the column
    val ids = ModelSpec.builder(3).featureColumns(LayerSpec.sequence("tokens", 0, 3, 5, 2)).flatten()
      .dense(2, Activation.NONE).build()
    val r = TransformRunner.of(writing(Array(1f, 5f, 0f)), schema, ids, 0, "the data to transform")
    val e = intercept[BadInputException](run(r, r.project(row), key, 0))
    assert(e.getMessage.startsWith("row 9 of input partition 3 of the data to transform: the input transform") &&
      e.getMessage.contains("value 1 is 5.0") && e.getMessage.contains("'tokens'"), e.getMessage)
    assert(run(TransformRunner.of(writing(Array(1f, 4f, 0f)), schema, ids, 0, "x"), r.project(row), key, 0) ==
      Seq(1f, 4f, 0f), "ids in range pass")
  }

  test("a runner for a model of another input size fails naming both sizes") {
    val e = intercept[IllegalArgumentException](TransformRunner.of(new ReadAll, schema, specOf(6), 0, "x"))
    assert(e.getMessage.contains("writes 9 features") && e.getMessage.contains("has 6 values"), e.getMessage)
  }
}
