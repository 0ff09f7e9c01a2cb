package ai.bios.spark

import ai.bios.tf.model.{Activation, ModelContext, ModelFunction, ModelSpec}
import org.apache.spark.ml.{Pipeline, PipelineModel}
import org.apache.spark.ml.feature.VectorAssembler
import org.apache.spark.ml.linalg.Vector
import org.apache.spark.sql.DataFrame
import org.scalatest.funsuite.AnyFunSuite
import ai.bios.tf.model.ModelContext.Initializer
import org.tensorflow.Operand
import org.tensorflow.ndarray.Shape
import org.tensorflow.op.core.ReduceSum
import org.tensorflow.types.TFloat32

import java.nio.file.Files

/** dense(8, relu) then dense(2), written as a model function (a public class, no-arg constructor). */
class TwoDenseFunction extends ModelFunction {
  override def build(ctx: ModelContext): Operand[TFloat32] =
    ctx.dense(ctx.dense(ctx.features(), 8, Activation.RELU), ctx.outputs(), Activation.NONE)
}

/** The README's example: wide & deep with a bilinear interaction of the first features and the rest. */
class WideDeepBilinear extends ModelFunction {
  override def build(ctx: ModelContext): Operand[TFloat32] = {
    val tf = ctx.tf
    val wide = ctx.dense(ctx.features, ctx.outputs, Activation.NONE)
    val deep = ctx.dense(ctx.dense(ctx.features, 32, Activation.RELU), ctx.outputs, Activation.NONE)
    val (u, v) = (ctx.slice(0, 1), ctx.slice(1, ctx.featureSize - 1))
    val w = ctx.variable("bilinear", Shape.of(1, ctx.featureSize - 1), Initializer.GLOROT_UNIFORM)
    val pair = tf.reduceSum(tf.math.mul(tf.linalg.matMul(u, w), v), tf.constant(1), ReduceSum.keepDims(true))
    tf.math.add(tf.math.add(wide, deep), pair) // broadcasts over the outputs
  }
}

/** A model function trained by BiosEstimator on 2 workers, saved in a pipeline and loaded again. */
class ModelFunctionSuite extends AnyFunSuite with LocalSpark {

  private def data(n: Int, seed: Long): DataFrame = {
    val s = spark
    import s.implicits._
    val rnd = new scala.util.Random(seed)
    (0 until n).map { _ =>
      val (a, b, c) = (rnd.nextGaussian(), rnd.nextGaussian(), rnd.nextGaussian())
      (a, b, c, if (a - 2 * b + 0.5 * c > 0) 1.0 else 0.0)
    }.toDF("a", "b", "c", "label")
  }

  private def fit(spec: ModelSpec, train: DataFrame): PipelineModel = new Pipeline().setStages(Array(
    new VectorAssembler().setInputCols(Array("a", "b", "c")).setOutputCol("features"),
    new BiosEstimator().setModelSpec(spec).setNumWorkers(2).setBatchSize(32).setLearningRate(0.02)))
    .fit(train)

  private def probabilities(model: PipelineModel, df: DataFrame): Seq[Vector] =
    model.transform(df).select("probability").collect().map(_.getAs[Vector](0)).toSeq

  test("a model function trains on 2 workers like its built-in equivalent, and its pipeline saves and loads") {
    val train = data(400, 2)
    val function = ModelSpec.builder(3).modelFunction(classOf[TwoDenseFunction], 2).seed(5).build()
    val builtIn = ModelSpec.builder(3).dense(8, Activation.RELU).dense(2, Activation.NONE).seed(5).build()
    val model = fit(function, train)
    val expected = probabilities(model, train)
    assert(expected == probabilities(fit(builtIn, train), train), "bitwise the same as the built-in layers")
    val dir = Files.createTempDirectory("bios-fn").toFile
    try {
      val path = new java.io.File(dir, "pipeline").getAbsolutePath
      model.write.overwrite().save(path)
      val loaded = PipelineModel.load(path)
      assert(loaded.stages.last.asInstanceOf[BiosModel].getModelSpec.modelFunction == classOf[TwoDenseFunction].getName)
      assert(probabilities(loaded, train) == expected)
    } finally org.apache.commons.io.FileUtils.deleteQuietly(dir)
  }

  test("the README's wide & deep bilinear function learns the data") {
    val train = data(400, 3)
    val spec = ModelSpec.builder(3).modelFunction(classOf[WideDeepBilinear], 2).seed(7).build()
    val model = fit(spec, train)
    val correct = model.transform(train).select("prediction", "label").collect()
      .count(r => r.getDouble(0) == r.getDouble(1))
    assert(correct > 0.8 * 400, s"$correct of 400 right")
  }
}
