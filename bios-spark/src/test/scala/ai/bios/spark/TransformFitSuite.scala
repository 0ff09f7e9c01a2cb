package ai.bios.spark

import ai.bios.spark.internal.BarrierTraining
import ai.bios.spark.transform.{FeatureWriter, InputRecord, RecordTransform, TextTransform, TransformContext}
import ai.bios.tf.BadInputException
import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vector, Vectors}
import org.apache.spark.ml.param.ParamMap
import org.apache.spark.sql.{DataFrame, Dataset, Row}
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.Files
import scala.jdk.CollectionConverters._

/**
 * 8 bytes of a binary column -> 8 floats (byte x scale); in training, half the records (drawn
 * from ctx.random) are reversed: an augmentation the label (the byte sum) does not see. `fit`
 * learns the scale (1/255), so an unfitted transform would fail.
 */
class FlipBytes(val scale: Float = 0f, val flip: Boolean = true) extends RecordTransform {
  override def inputCols: Array[String] = Array("bytes")
  override def featureSize: Int = 8
  override def deterministic: Boolean = !flip
  override def fit(dataset: Dataset[Row]): RecordTransform = new FlipBytes(1f / 255, flip)
  override def transform(record: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit = {
    require(scale > 0, "not fitted")
    val f = FlipBytes.features(record.getBinary(0), scale)
    if (flip && ctx.training && ctx.random.nextBoolean()) {
      out.features(f.reverse)
    } else out.features(f)
  }
}

object FlipBytes {
  def features(b: Array[Byte], scale: Float): Array[Float] = Array.tabulate(8)(i => (b(i) & 0xFF) * scale)
}

/** [[FlipBytes]] that throws on the record whose first two bytes are 0xFF. */
final class FailingBytes extends FlipBytes(1f / 255) {
  override def fit(dataset: Dataset[Row]): RecordTransform = this
  override def transform(record: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit = {
    val b = record.getBinary(0)
    if (b(0) == -1 && b(1) == -1) throw new IllegalStateException("cannot decode this record")
    super.transform(record, ctx, out)
  }
}

/** [[FlipBytes]] whose scale is a setter and whose fit returns this, as ImageTransform's does. */
final class SettableScale(var scale: Float) extends RecordTransform {
  override def inputCols: Array[String] = Array("bytes")
  override def featureSize: Int = 8
  override def deterministic: Boolean = true
  override def transform(record: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit =
    out.features(FlipBytes.features(record.getBinary(0), scale))
}

/** [[FlipBytes]] writing NaN as feature 5 of the record whose first two bytes are 0xFF. */
final class NaNBytes extends FlipBytes(1f / 255, flip = false) {
  override def fit(dataset: Dataset[Row]): RecordTransform = this
  override def transform(record: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit = {
    val b = record.getBinary(0)
    val f = FlipBytes.features(b, scale)
    if (b(0) == -1 && b(1) == -1) f(5) = Float.NaN
    out.features(f)
  }
}

/** Writes `size` zeros: a transform for a model of another input size. */
final class Zeros(size: Int) extends RecordTransform {
  override def inputCols: Array[String] = Array("bytes")
  override def featureSize: Int = size
  override def transform(record: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit =
    out.features(new Array[Float](size))
}

/** Input transforms through the estimator: determinism, the encoded cache, errors, inference, save/load. */
class TransformFitSuite extends AnyFunSuite with LocalSparkWithTestHooks {
  override protected def extraConf: Map[String, String] = FaultHooks.Conf

  private val spec = ModelSpec.builder(8).dense(8, Activation.TANH).dense(2, Activation.NONE).seed(3).build()
  private lazy val scratch = Files.createTempDirectory("bios-transform").toFile

  override protected def afterAll(): Unit =
    try super.afterAll() finally org.apache.commons.io.FileUtils.deleteQuietly(scratch)

  private val schema = StructType(Seq(StructField("bytes", BinaryType), StructField("label", DoubleType)))

  /** 320 rows in 4 partitions of 80; label: whether the bytes sum past the middle. `marked` gets 0xFF 0xFF. */
  private def data(marked: Option[Int] = None): DataFrame = {
    val rnd = new scala.util.Random(5)
    val rows = (0 until 320).map { i =>
      val b = Array.fill(8)(rnd.nextInt(200).toByte)
      if (marked.contains(i)) { b(0) = -1; b(1) = -1 }
      Row(b, if (b.map(_ & 0xFF).sum > 800) 1.0 else 0.0)
    }
    spark.createDataFrame(spark.sparkContext.parallelize(rows, 4), schema)
  }

  private def estimator(t: RecordTransform = new FlipBytes()) = new BiosEstimator().setModelSpec(spec)
    .setTransform(t).setNumWorkers(2).setBatchSize(32).setEpochs(2).setLearningRate(0.02).setSeed(11)

  test("inputThreads 1 and 2, simple and efficient: bitwise-identical weights with a random augmentation") {
    val df = data()
    val fits = for (mode <- Seq("simple", "efficient"); threads <- Seq(1, 2))
      yield s"$mode/$threads" -> estimator().setExecutionMode(mode).setInputThreads(threads).fit(df)
    val (_, first) = fits.head
    assert(first.summary.lossHistory.last < first.summary.lossHistory.head, first.summary.lossHistory.toSeq)
    fits.tail.foreach { case (name, m) => assert(m.getWeights.sameElements(first.getWeights), name) }
    fits.foreach { case (name, m) =>
      // simple mode transforms every record on the loop's thread: it reports 1 whatever inputThreads says
      val expected = if (name.startsWith("simple")) 1 else name.last.asDigit
      assert(m.summary.workers.forall(_.inputThreads == expected), s"$name reports ${m.summary.workers.map(_.inputThreads)}")
    }
    val plain = estimator(new FlipBytes(flip = false)).fit(df)
    assert(!plain.getWeights.sameElements(first.getWeights), "the augmentation changes what is trained")
  }

  test("sharding=direct: each task transforms its own input partition's rows; simple equals efficient") {
    val df = data().repartition(2)
    val simple = estimator().setSharding("direct").setExecutionMode("simple").fit(df)
    val efficient = estimator().setSharding("direct").setExecutionMode("efficient").setInputThreads(2).fit(df)
    assert(simple.summary.workers.map(_.records).sum == 320)
    assert(efficient.getWeights.sameElements(simple.getWeights))
  }

  test("the encoded cache spilled to disk replays bitwise as in memory; cacheTransformed equals transforming") {
    val df = data()
    val inMemory = estimator().setEpochs(3).fit(df)
    assert(inMemory.summary.workers.forall(_.spilledRecords == 0))
    spark.conf.set("spark.bios.cacheMemory", "1k") // a few dozen encoded rows per task
    val spilled = try estimator().setEpochs(3).fit(df) finally spark.conf.unset("spark.bios.cacheMemory")
    assert(spilled.summary.workers.forall(_.spilledRecords > 100), spilled.summary.workers.map(_.spilledRecords))
    assert(spilled.getWeights.sameElements(inMemory.getWeights))

    val deterministic = estimator(new FlipBytes(flip = false)).setEpochs(3)
    val transformed = deterministic.fit(df)
    val kept = deterministic.copy(ParamMap.empty).setCacheTransformed(true).setExecutionMode("simple").fit(df)
    assert(kept.getWeights.sameElements(transformed.getWeights))
    val e = intercept[IllegalArgumentException](estimator().setCacheTransformed(true).fit(df))
    assert(e.getMessage.contains("cacheTransformed") && e.getMessage.contains("deterministic"), e.getMessage)
  }

  test("a stage retry resumes from the checkpoint and the transform gives the same weights as an unfailed run") {
    def fit(dir: String, failAt: Option[String]): BiosModel = {
      failAt.foreach(f => spark.sparkContext.setLocalProperty(FaultHooks.Property, f))
      try estimator().setExecutionMode("efficient").setCheckpointDir(new java.io.File(scratch, dir).toURI.toString)
        .setCheckpointInterval(4).fit(data())
      finally spark.sparkContext.setLocalProperty(FaultHooks.Property, null)
    }
    val clean = fit("clean", None)
    val faulted = fit("faulted", Some("1:13"))
    assert(faulted.summary.workers.map(_.resumedFrom).distinct.forall(_ >= 12), faulted.summary.workers.map(_.resumedFrom))
    assert(faulted.getWeights.sameElements(clean.getWeights))
  }

  test("a transform that throws fails the fit naming the partition and row first, keeping the cause") {
    // row 37 of input partition 2 (80 rows per partition)
    for (mode <- Seq("simple", "efficient")) {
      val e = intercept[BadInputException](estimator(new FailingBytes).setExecutionMode(mode).fit(data(Some(2 * 80 + 37))))
      assert(e.getMessage.startsWith("row 37 of input partition 2 of the training data: the input transform " +
        classOf[FailingBytes].getName + " failed"), e.getMessage)
      assert(e.getMessage.contains("cannot decode this record"), e.getMessage)
    }
  }

  test("inference applies the fitted transform without augmentation; save and load keep it and the predictions") {
    val df = data()
    val model = estimator().setValidationFraction(0.2).fit(df)
    assert(model.summary.history.forall(h => h.validationRecords() > 0 && !h.valLoss().isNaN), "validation rows are transformed and evaluated")
    assert(model.getTransform.asInstanceOf[FlipBytes].scale == 1f / 255, "the model keeps the fitted transform")
    val predicted = model.transform(df).select("probability").collect().map(_.getAs[Vector](0))
    // the same weights on hand-made features: no flip, the fitted scale
    val handMade = spark.createDataFrame(df.collect().toSeq.map(r =>
        Row(Vectors.dense(FlipBytes.features(r.getAs[Array[Byte]](0), 1f / 255).map(_.toDouble)), r.getDouble(1))).asJava,
      StructType(Seq(StructField("features", SQLDataTypes.VectorType), StructField("label", DoubleType))))
    val plain = model.copy(ParamMap.empty).setTransform(null)
    val expected = plain.transform(handMade).select("probability").collect().map(_.getAs[Vector](0))
    assert(predicted.sameElements(expected))

    val path = new java.io.File(scratch, "model").getPath
    model.write.overwrite().save(path)
    assert(new java.io.File(path, "data/transform.ser").isFile)
    val loaded = BiosModel.load(path)
    assert(loaded.getTransform.asInstanceOf[FlipBytes].scale == 1f / 255)
    assert(loaded.transform(df).select("probability").collect().map(_.getAs[Vector](0)).sameElements(predicted))
    val estimatorPath = new java.io.File(scratch, "estimator").getPath
    estimator().setInputThreads(3).write.overwrite().save(estimatorPath)
    val reloaded = BiosEstimator.load(estimatorPath)
    assert(reloaded.getTransform.isInstanceOf[FlipBytes] && reloaded.getInputThreads == "3", "the estimator keeps its transform")
  }

  test("bad transform settings fail before training, naming the column, size or param and the fix") {
    val df = data()
    val missing = intercept[IllegalArgumentException](estimator().fit(df.withColumnRenamed("bytes", "content")))
    assert(missing.getMessage.contains("'bytes'") && missing.getMessage.contains("does not exist"), missing.getMessage)
    val other = ModelSpec.builder(6).dense(2, Activation.NONE).build()
    val size = intercept[IllegalArgumentException](estimator().setModelSpec(other).fit(df))
    assert(size.getMessage.contains("writes 8 features") && size.getMessage.contains("6 values"), size.getMessage)
    val threads = intercept[IllegalArgumentException](estimator().setInputThreads("0"))
    assert(threads.getMessage.contains("inputThreads") && threads.getMessage.contains("auto"), threads.getMessage)
    assert(estimator().setInputThreads("AUTO").getInputThreads == "auto")
    // auto: the task's CPUs less one for the loop, at least one
    assert(Seq(1, 2, 8).map(BarrierTraining.inputThreads(None, _)) == Seq(1, 1, 7))
    assert(BarrierTraining.inputThreads(Some(3), 1) == 3)
    assert(estimator().copy(ParamMap.empty).getTransform.isInstanceOf[FlipBytes], "copy keeps the transform")
  }

  test("a NaN from the transform fails training and inference naming the row it came from and the transform") {
    // row 37 of input partition 2 (80 rows per partition)
    for (mode <- Seq("simple", "efficient")) {
      val e = intercept[BadInputException](estimator(new NaNBytes).setExecutionMode(mode).setInputThreads(2)
        .fit(data(Some(2 * 80 + 37))))
      assert(e.getMessage.startsWith("row 37 of input partition 2 of the training data: the input transform " +
        classOf[NaNBytes].getName) && e.getMessage.contains("value 5 is NaN"), s"$mode: ${e.getMessage}")
    }
    val model = estimator(new NaNBytes).setEpochs(1).fit(data())
    val e = intercept[Exception](model.transform(data(Some(80 + 3))).collect())
    val bad = Iterator.iterate[Throwable](e)(_.getCause).takeWhile(_ != null).collectFirst { case b: BadInputException => b }
    assert(bad.exists(b => b.getMessage.startsWith("row 3 of input partition 1 of the data to transform: the input " +
      "transform") && b.getMessage.contains("value 5 is NaN")), e)
  }

  test("a model keeps its own transform: later estimator setters, getTransform's copy and copy() leave it alone") {
    val df = data()
    val t = new SettableScale(1f / 255)
    val est = estimator(t).setEpochs(1)
    val model = est.fit(df)
    def predictions(m: BiosModel) = m.transform(df).select("probability").collect().map(_.getAs[Vector](0))
    val before = predictions(model)
    t.scale = 7f // what a later setter on the estimator's transform does
    model.getTransform.asInstanceOf[SettableScale].scale = 3f
    assert(model.getTransform.asInstanceOf[SettableScale].scale == 1f / 255)
    assert(predictions(model).sameElements(before))
    assert(predictions(model.copy(ParamMap.empty)).sameElements(before))
    assert(est.getTransform.asInstanceOf[SettableScale].scale == 7f, "the estimator's transform is the caller's")
  }

  test("a model given a transform of another featureSize fails before any task, naming both sizes") {
    val model = estimator(new FlipBytes(flip = false)).setEpochs(1).fit(data())
    for (size <- Seq(6, 12)) {
      val e = intercept[IllegalArgumentException](model.copy(ParamMap.empty).setTransform(new Zeros(size)).transform(data()))
      assert(e.getMessage.contains(s"writes $size features") && e.getMessage.contains("has 8 values"), e.getMessage)
    }
  }

  test("the transform is fitted on the training rows only: a term only validation rows hold is not in the vocabulary") {
    val rows = (0 until 64).map { i =>
      val held = i % 8 == 0
      Row(if (held) s"zebra ${if (i % 16 == 0) "good" else "bad"}" else if (i % 2 == 0) "good day" else "bad day",
        if (i % 2 == 0) 1.0 else 0.0, held)
    }
    val df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), StructType(Seq(StructField("text", StringType),
      StructField("label", DoubleType), StructField("held", BooleanType))))
    val text = TextTransform.builder("text").maxLength(4).learnVocabulary(30, 1).build()
    val textSpec = ModelSpec.builder(text.featureSize).featureColumns(text.sequenceColumn(4)).globalAvgPool()
      .dense(2, Activation.NONE).seed(1).build()
    val model = new BiosEstimator().setModelSpec(textSpec).setTransform(text).setNumWorkers(2).setBatchSize(16)
      .setEpochs(1).setValidationIndicatorCol("held").fit(df)
    val vocabulary = model.getTransform.asInstanceOf[TextTransform].vocabulary.toSet
    assert(vocabulary == Set("good", "bad", "day"), vocabulary)
    assert(model.summary.history.head.validationRecords() == 8)
  }

  test("no Bios thread outlives the failed, retried and finished fits of this suite") {
    val left = Thread.getAllStackTraces.keySet().asScala.filter(t => t.isAlive && t.getName.startsWith("bios-"))
    assert(left.isEmpty, left.map(_.getName))
  }
}
