package ai.bios.spark

import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.SparkException
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import scala.util.Random

/** Sample weights (weightCol), class weights and label smoothing through the estimator on 2 workers. */
class LossWeightsSuite extends AnyFunSuite with LocalSpark {

  private val spec = ModelSpec.builder(6).dense(16, Activation.RELU).dense(2, Activation.NONE).seed(3).build()

  private val schema = StructType(Seq(StructField("features", SQLDataTypes.VectorType),
    StructField("label", DoubleType), StructField("w", DoubleType)))

  /** Rows split by a hyperplane; class 1 rows weigh 3, class 0 rows 1 (column w). */
  private def rows(n: Int, seed: Long): Seq[Row] = {
    val rnd = new Random(seed)
    val w = Array(1.0, -2.0, 0.5, 1.5, -1.0, 0.7)
    (0 until n).map { _ =>
      val x = Array.fill(6)(rnd.nextGaussian())
      val y = if (x.zip(w).map { case (a, b) => a * b }.sum > 0.3) 1.0 else 0.0
      Row(Vectors.dense(x), y, if (y == 1.0) 3.0 else 1.0)
    }
  }

  private def frame(rs: Seq[Row]): DataFrame = spark.createDataFrame(spark.sparkContext.parallelize(rs, 3), schema)

  private def estimator() = new BiosEstimator()
    .setModelSpec(spec).setNumWorkers(2).setBatchSize(64).setEpochs(3).setLearningRate(0.01).setSeed(7)

  test("a fit with weightCol on 2 workers learns, differs from the unweighted fit and equals the class weights") {
    val df = frame(rows(1200, 1))
    val weighted = estimator().setWeightCol("w").fit(df)
    val plain = estimator().fit(df)
    val byClass = estimator().setClassWeights("1.0,3.0").fit(df)
    val s = weighted.summary
    assert(s.lossHistory.last < s.lossHistory.head, s"it learns: ${s.lossHistory.head} -> ${s.lossHistory.last}")
    val accuracy = weighted.transform(df).where("prediction = label").count().toDouble / 1200
    assert(accuracy > 0.85, accuracy)
    assert(!java.util.Arrays.equals(weighted.getWeights, plain.getWeights), "the weights change what is learned")
    // a class's weight is the same as that weight on every row of the class (to float rounding)
    weighted.getWeights.zip(byClass.getWeights).zipWithIndex.foreach { case ((a, b), i) =>
      assert(math.abs(a - b) <= 1e-4 * math.max(1, math.abs(a)), s"weight $i: $a vs $b")
    }
    // weight 3 on class 1 pulls predictions towards it: more rows predicted 1 than without weights
    def positives(m: BiosModel) = m.transform(df).where("prediction = 1").count()
    assert(positives(weighted) > positives(plain), s"${positives(weighted)} vs ${positives(plain)}")
    val smoothed = estimator().setLabelSmoothing(0.2).fit(df)
    assert(smoothed.summary.lossHistory.last > plain.summary.lossHistory.last,
      "smoothed targets cannot be fitted to zero loss")
  }

  test("a negative, NaN or null weight fails the fit naming the weight column, the row and the fix") {
    def fitWith(bad: Row): Throwable = {
      val df = spark.createDataFrame(spark.sparkContext.parallelize(rows(200, 2) :+ bad, 2), schema)
      val e = intercept[ai.bios.tf.BadInputException](estimator().setEpochs(1).setWeightCol("w").fit(df))
      assert(e.getCause.isInstanceOf[SparkException], e.getCause)
      e
    }
    val x = Vectors.dense(1, 2, 3, 4, 5, 6)
    for ((bad, shown) <- Seq((Row(x, 1.0, -2.0), "weight is -2.0"), (Row(x, 1.0, Double.NaN), "weight is NaN"),
        (Row(x, 1.0, null), "weight is null"))) {
      val m = fitWith(bad).getMessage
      assert(m.contains("column 'w', row 100 of input partition 1") && m.contains(shown), m)
    }
    val missing = intercept[IllegalArgumentException](estimator().setWeightCol("nope").fit(frame(rows(100, 3))))
    assert(missing.getMessage.contains("weightCol 'nope' does not exist"), missing.getMessage)
    val classes = intercept[IllegalArgumentException](estimator().setClassWeights("1,2,3").fit(frame(rows(100, 3))))
    assert(classes.getMessage.contains("classWeights") && classes.getMessage.contains("2 classes"), classes.getMessage)
  }
}
