package ai.bios.spark

import ai.bios.spark.internal.{BiosDriverPlugin, Progress}
import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.ml.param.ParamMap
import org.apache.spark.ml.tuning.{CrossValidator, ParamGridBuilder}
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.types._
import org.json4s._
import org.json4s.jackson.JsonMethods.parse
import org.scalatest.funsuite.AnyFunSuite

import scala.util.Random

/** Validation rows, per-epoch history and early stopping through the estimator. */
class ValidationSuite extends AnyFunSuite with LocalSpark {

  private val spec = ModelSpec.builder(6).dense(16, Activation.RELU).dense(2, Activation.NONE).seed(3).build()

  /**
   * Rows split by a known hyperplane; every 4th row is marked in `isVal` (its label flipped with
   * `contradict`, so the validation loss rises as the model learns).
   */
  private def data(n: Int, seed: Long, partitions: Int = 3, contradict: Boolean = false): DataFrame = {
    val rnd = new Random(seed)
    val w = Array(1.0, -2.0, 0.5, 1.5, -1.0, 0.7)
    val rows = (0 until n).map { i =>
      val x = Array.fill(6)(rnd.nextGaussian())
      val y = if (x.zip(w).map { case (a, b) => a * b }.sum > 0) 1.0 else 0.0
      val isVal = i % 4 == 0
      Row(Vectors.dense(x), if (isVal && contradict) 1 - y else y, isVal, i.toDouble)
    }
    val schema = StructType(Seq(StructField("features", SQLDataTypes.VectorType), StructField("label", DoubleType),
      StructField("isVal", BooleanType), StructField("id", DoubleType)))
    spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions), schema)
  }

  private def estimator(epochs: Int = 3) = new BiosEstimator()
    .setModelSpec(spec).setNumWorkers(2).setBatchSize(64).setEpochs(epochs).setLearningRate(0.01).setSeed(7)

  test("a fit with validationIndicatorCol on 2 workers returns the per-epoch history with validation metrics") {
    val model = estimator().setValidationIndicatorCol("isVal").fit(data(1200, 1))
    val s = model.summary
    assert(s.epochsRun == 3 && s.history.map(_.epoch) == Seq(0, 1, 2))
    assert(s.workers.map(_.records).sum == 900, "validation rows are not trained on")
    for (e <- s.history) {
      assert(e.validationRecords == 300 && e.records == 900, e)
      assert(e.valLoss > 0 && e.valAccuracy >= 0 && e.valAccuracy <= 1 && e.valAuc > 0.5 && e.trainLoss > 0, e)
      assert(e.learningRate == 0.01)
    }
    assert(s.history.last.valAccuracy > 0.85, s.history.last)
    assert(s.history.last.valLoss < s.history.head.valLoss, "it learns")
    assert(s.bestEpoch == -1 && !s.stoppedEarly, "no early stopping asked for")
    assert(s.getHistory.get(2).valAuc == s.history(2).valAuc, "Java view")
    val df = s.historyDataFrame(spark)
    assert(df.count() == 3 && df.columns.toSeq == Seq("epoch", "train_loss", "records", "val_loss", "val_accuracy",
      "val_auc", "validation_records", "learning_rate", "seconds"))
    assert(df.where("epoch = 2").head().getAs[Double]("val_auc") == s.history(2).valAuc)
    implicit val formats: Formats = DefaultFormats
    val j = parse(s.toJson)
    assert((j \ "epochs_run").extract[Int] == 3)
    assert(((j \ "history")(1) \ "val_accuracy").extract[Double] == s.history(1).valAccuracy)
    assert(((j \ "history")(1) \ "validation_records").extract[Long] == 300)
  }

  test("early stopping on 2 workers stops when the validation loss stops improving, keeping the best epoch") {
    val s = estimator(epochs = 12).setValidationIndicatorCol("isVal").setEarlyStoppingPatience(2)
      .fit(data(1200, 2, contradict = true)).summary
    assert(s.stoppedEarly && s.epochsRun < 12, s.history)
    assert(s.epochsRun == s.bestEpoch + 2 + 1, "patience 2: two epochs after the best")
    val best = s.history(s.bestEpoch).valLoss
    assert(s.history.forall(_.valLoss >= best), "the best epoch has the lowest val_loss")
  }

  test("validationFraction holds out the same rows on reruns, whatever the partitioning") {
    def fit(partitions: Int) = estimator(epochs = 1).setValidationFraction(0.2).fit(data(1000, 3, partitions)).summary
    val a = fit(3)
    val b = fit(3)
    val c = fit(5)
    val held = a.history.head.validationRecords
    assert(held > 120 && held < 280, s"about 20% of 1000: $held")
    assert(a.history.head.records == 1000 - held)
    assert(b.history.map(_.withoutTime) == a.history.map(_.withoutTime), "bitwise the same rerun")
    assert(c.history.head.validationRecords == held, "the pick does not depend on the partitioning")
    val other = estimator(epochs = 1).setValidationFraction(0.2).setSeed(8).fit(data(1000, 3)).summary
    assert(other.history.head.valLoss != a.history.head.valLoss, "another seed holds out other rows (the test can fail)")
  }

  test("bad validation params fail naming the param or column, the value and the fix") {
    val fraction = intercept[IllegalArgumentException](new BiosEstimator().setValidationFraction(1.5))
    assert(fraction.getMessage.contains("validationFraction") && fraction.getMessage.contains("1.5") &&
      fraction.getMessage.contains("[0, 1)"), fraction.getMessage)
    val metric = intercept[IllegalArgumentException](new BiosEstimator().setEarlyStoppingMetric("f1"))
    assert(metric.getMessage.contains("earlyStoppingMetric") && metric.getMessage.contains("val_auc"), metric.getMessage)
    val e = new BiosEstimator()
    val viaMap = intercept[IllegalArgumentException](e.copy(ParamMap(e.earlyStoppingPatience -> -1)))
    assert(viaMap.getMessage.contains("earlyStoppingPatience"), viaMap.getMessage)
    assert(new BiosEstimator().setEarlyStoppingMetric("VAL_AUC").getEarlyStoppingMetric == "val_auc")

    val df = data(100, 4)
    val missing = intercept[IllegalArgumentException](estimator().setValidationIndicatorCol("nope").fit(df))
    assert(missing.getMessage.contains("validationIndicatorCol 'nope' does not exist") &&
      missing.getMessage.contains("isVal"), missing.getMessage)
    val notBoolean = intercept[IllegalArgumentException](estimator().setValidationIndicatorCol("id").fit(df))
    assert(notBoolean.getMessage.contains("validationIndicatorCol 'id' has type double") &&
      notBoolean.getMessage.contains("must be boolean"), notBoolean.getMessage)
    val both = intercept[IllegalArgumentException](
      estimator().setValidationIndicatorCol("isVal").setValidationFraction(0.1).fit(df))
    assert(both.getMessage.contains("set only one"), both.getMessage)
    val noRows = intercept[IllegalArgumentException](estimator().setEarlyStoppingPatience(2).fit(df))
    assert(noRows.getMessage.contains("earlyStoppingPatience=2 needs validation rows"), noRows.getMessage)
  }

  test("the driver's progress line shows the newest validation metric when there is one") {
    val p = Progress("run", 0, 1, 10, 40, 0.5, 100, 0.1, 0.2, 1000000000L)
    assert(!BiosDriverPlugin.line(p, p, p).contains("val_"), "none without validation")
    val v = p.copy(validationMetric = "val_auc", validationValue = 0.875)
    assert(BiosDriverPlugin.line(v, v, v).contains("loss 0.5000 val_auc 0.8750 "), BiosDriverPlugin.line(v, v, v))
    assert(!BiosDriverPlugin.line(p.copy(validationMetric = "val_loss"), p, p).contains("val_loss"),
      "none before the first epoch ends")
  }

  test("CrossValidator over 2 learning rates copies the validation params into every fit") {
    val bios = estimator(epochs = 2).setValidationFraction(0.2).setEarlyStoppingPatience(3)
      .setEarlyStoppingMetric("val_accuracy")
    val grid = new ParamGridBuilder().addGrid(bios.learningRate, Array(0.001, 0.02)).build()
    val cv = new CrossValidator().setEstimator(bios).setEstimatorParamMaps(grid).setNumFolds(2).setSeed(1)
      .setEvaluator(new MulticlassClassificationEvaluator().setMetricName("accuracy"))
    val model = cv.fit(data(600, 5).drop("isVal"))
    assert(model.avgMetrics.length == 2 && model.avgMetrics.forall(_ > 0.5), model.avgMetrics.toSeq)
    val best = model.bestModel.asInstanceOf[BiosModel]
    assert(best.getValidationFraction == 0.2 && best.getEarlyStoppingPatience == 3 &&
      best.getEarlyStoppingMetric == "val_accuracy")
    val s = best.summary
    assert(s.epochsRun == 2 && s.history.forall(e => e.validationRecords > 0 && !e.valAccuracy.isNaN), s.history)
    assert(s.bestEpoch >= 0, "early stopping watched val_accuracy")
  }
}
