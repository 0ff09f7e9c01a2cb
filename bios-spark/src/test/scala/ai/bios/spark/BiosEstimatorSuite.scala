package ai.bios.spark

import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.SparkException
import org.apache.spark.ml.linalg.{Vector, Vectors}
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.functions.col
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.Files
import scala.util.Random

class BiosEstimatorSuite extends AnyFunSuite with LocalSpark {

  private val spec = ModelSpec.builder(6).dense(16, Activation.RELU).dense(2, Activation.NONE).seed(3).build()

  /** Two classes split by a known hyperplane: a perfect classifier exists. */
  private def hyperplane(n: Int, seed: Long, partitions: Int = 3): DataFrame = {
    val rnd = new Random(seed)
    val w = Array(1.0, -2.0, 0.5, 1.5, -1.0, 0.7)
    val rows = (0 until n).map { _ =>
      val x = Array.fill(6)(rnd.nextGaussian())
      val y = if (x.zip(w).map { case (a, b) => a * b }.sum > 0) 1.0 else 0.0
      Row(Vectors.dense(x), y)
    }
    val schema = StructType(Seq(StructField("features", org.apache.spark.ml.linalg.SQLDataTypes.VectorType),
      StructField("label", DoubleType)))
    spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions), schema)
  }

  private def estimator(workers: Int = 2, mode: String = "efficient") = new BiosEstimator()
    .setModelSpec(spec).setNumWorkers(workers).setBatchSize(64).setEpochs(4).setLearningRate(0.01)
    .setExecutionMode(mode).setSeed(7)

  private def accuracy(df: DataFrame): Double =
    df.where(col("prediction") === col("label")).count().toDouble / df.count()

  test("two barrier workers learn a hyperplane, training before their shards have fully arrived") {
    val model = estimator().setShuffleWindow(100).fit(hyperplane(3000, 1))
    val acc = accuracy(model.transform(hyperplane(1000, 2)))
    assert(acc > 0.93, s"accuracy $acc")
    val s = model.summary
    assert(s.workers.map(_.rank) == Seq(0, 1))
    assert(s.workers.map(_.records).sum == 3000, "every row is used once per epoch")
    // Training began once the window (100) and one local batch (32) had arrived, not the whole shard.
    assert(s.workers.forall(w => w.recordsBeforeTraining >= 100 && w.recordsBeforeTraining <= 100 + 32),
      s.workers.map(w => s"${w.recordsBeforeTraining} of ${w.records}"))
    assert(s.lossHistory.last < s.lossHistory.head)
    assert(s.workers.forall(w => w.deviceIdleFraction >= 0 && w.deviceIdleFraction <= 1))
  }

  test("the same two-worker fit twice, and simple vs efficient, give bitwise-identical weights") {
    val data = hyperplane(1000, 3)
    val a = estimator(mode = "efficient").fit(data)
    val b = estimator(mode = "efficient").fit(data)
    val c = estimator(mode = "simple").fit(data)
    assert(a.getWeights.sameElements(b.getWeights))
    assert(a.summary.lossHistory.sameElements(b.summary.lossHistory))
    assert(a.getWeights.sameElements(c.getWeights), "simple and efficient on Spark")
    val other = estimator().setSeed(8).fit(data)
    assert(!a.getWeights.sameElements(other.getWeights), "a different seed changes the run (the test can fail)")
  }

  test("2 workers with global batch B follow 1 worker with batch B within 1e-5 relative loss per step") {
    // One input partition and no reshuffling: rows are dealt to the workers by position, so at every
    // step the two workers' batches together are exactly the single worker's batch.
    val data = hyperplane(640, 11, partitions = 1)
    def run(workers: Int) = estimator(workers).setShuffle(false).setBatchSize(64).setEpochs(2).fit(data)
    val one = run(1).summary.lossHistory
    val two = run(2).summary.lossHistory
    assert(one.length == two.length && one.length == 20)
    for (s <- one.indices) {
      assert(math.abs(two(s) - one(s)) / math.abs(one(s)) < 1e-5, s"step $s: ${two(s)} vs ${one(s)}")
    }
  }

  test("a shard past spark.bios.cacheMemory spills to local disk and trains bitwise the same") {
    val data = hyperplane(900, 12)
    val inMemory = estimator().setEpochs(2).fit(data)
    assert(inMemory.summary.workers.forall(_.spilledRecords == 0))
    spark.conf.set("spark.bios.cacheMemory", "2k") // ~70 rows of 7 floats, for this session
    val spilled = try estimator().setEpochs(2).fit(data)
    finally spark.conf.unset("spark.bios.cacheMemory")
    assert(spilled.summary.workers.forall(w => w.spilledRecords > 300), spilled.summary.workers.map(_.spilledRecords))
    assert(spilled.getWeights.sameElements(inMemory.getWeights))
  }

  test("a shard reads map outputs in map order: the same rows in the same order on every read, no sort") {
    // 11 map outputs of very different sizes (one empty), more than the reader fetches ahead.
    val sizes = Seq(0, 1, 700, 3, 2500, 40, 1, 999, 12, 0, 64)
    val keyed = spark.sparkContext.parallelize(sizes, sizes.length).mapPartitionsWithIndex { (p, it) =>
      it.flatMap(n => (0 until n).iterator.map(i => ((p.toLong << 32) | i, s"$p/$i")))
    }
    val shards = new org.apache.spark.ml.bios.MapOrderedShuffledRDD[Long, String](keyed,
      new org.apache.spark.HashPartitioner(3), ai.bios.spark.conf.BiosConf.ShuffleMapsAhead.default)
    val first = shards.glom().collect()
    val second = shards.glom().collect()
    assert(first.map(_.toSeq).toSeq == second.map(_.toSeq).toSeq, "the same order on every read")
    for (shard <- first) {
      assert(shard.map(_._1).sameElements(shard.map(_._1).sorted), "map order, and write order within a map output")
    }
    assert(first.map(_.length).sum == sizes.sum && first.flatten.map(_._2).toSet.size == sizes.sum,
      "every row once")
  }

  test("sharding=direct: the upstream ETL runs lazily inside the training tasks while the first epoch trains") {
    val base = hyperplane(3000, 1, partitions = 2)
    val preparedInTraining = spark.sparkContext.longAccumulator("rows prepared inside a training task")
    val etl = spark.createDataFrame(base.rdd.mapPartitions { rows =>
      rows.map { r =>
        if (org.apache.spark.TaskContext.get().isInstanceOf[org.apache.spark.BarrierTaskContext]) {
          preparedInTraining.add(1)
        }
        r
      }
    }, base.schema)
    val model = estimator().setSharding("direct").setShuffleWindow(100).fit(etl)
    assert(preparedInTraining.value == 3000, "every row's ETL ran inside a training task, none in a stage before")
    val s = model.summary
    assert(s.workers.map(_.records).sum == 3000)
    assert(s.workers.forall(w => w.recordsBeforeTraining <= 100 + 32 && w.recordsBeforeTraining < w.records),
      s.workers.map(w => s"${w.recordsBeforeTraining} of ${w.records}"))
    assert(accuracy(model.transform(hyperplane(1000, 2))) > 0.93)
    val wrong = intercept[IllegalArgumentException](estimator().setSharding("direct").fit(hyperplane(100, 6, partitions = 3)))
    assert(wrong.getMessage.contains("3 partitions for numWorkers=2") && wrong.getMessage.contains("repartition"),
      wrong.getMessage)
    // Two partitions, but made by coalesce: Spark's barrier mode refuses that lineage; say so before launch.
    val coalesced = intercept[IllegalArgumentException](
      estimator().setSharding("direct").fit(hyperplane(100, 6, partitions = 4).coalesce(2)))
    assert(coalesced.getMessage.contains("has 4 partitions, not 2") && coalesced.getMessage.contains("repartition(2)"),
      coalesced.getMessage)
  }

  test("uneven and empty partitions: every row is used once per epoch, no hang") {
    val df = hyperplane(301, 4, partitions = 7).repartition(5)
    val model = estimator(workers = 2).setBatchSize(10).setEpochs(1).fit(df)
    assert(model.summary.workers.map(_.records).sum == 301)
    assert(math.abs(model.summary.workers(0).records - model.summary.workers(1).records) <= 5,
      "shards differ by at most one row per input partition")
    assert(model.summary.steps == model.summary.lossHistory.length)
  }

  test("arrays of floats work as features, and the prediction columns are added") {
    val df = hyperplane(500, 5).rdd.map { r =>
      Row(r.getAs[Vector](0).toArray.map(_.toFloat).toSeq, r.getDouble(1))
    }
    val schema = StructType(Seq(StructField("f", ArrayType(FloatType)), StructField("y", DoubleType)))
    val data = spark.createDataFrame(df, schema)
    val model = estimator().setFeaturesCol("f").setLabelCol("y").fit(data)
    val out = model.transform(data)
    assert(out.columns.toSeq == Seq("f", "y", "prediction", "probability"))
    val p = out.select("probability").head().getAs[Vector](0)
    assert(math.abs(p(0) + p(1) - 1.0) < 1e-5)
  }

  test("transform scores every row of partitions spanning several inference batches") {
    val model = estimator().setEpochs(1).fit(hyperplane(500, 9))
    val big = hyperplane(2500, 10, partitions = 1) // 1024-row batches: two full, one partial
    val scored = model.transform(big).select("probability", "prediction").collect()
    assert(scored.length == 2500)
    assert(scored.forall { r =>
      val p = r.getAs[Vector](0)
      math.abs(p(0) + p(1) - 1) < 1e-5 && r.getDouble(1) == (if (p(1) > p(0)) 1.0 else 0.0)
    })
  }

  test("schema and parameter errors name the column or param, before any cluster work") {
    val data = hyperplane(100, 6)
    val missing = intercept[IllegalArgumentException](estimator().setFeaturesCol("nope").fit(data))
    assert(missing.getMessage.contains("'nope' does not exist"), missing.getMessage)
    val text = data.withColumn("label", col("label").cast("string"))
    val wrongType = intercept[IllegalArgumentException](estimator().fit(text))
    assert(wrongType.getMessage.contains("label column 'label' has type string") &&
      wrongType.getMessage.contains("StringIndexer"), wrongType.getMessage)
    val small = intercept[IllegalArgumentException](estimator(workers = 2).setBatchSize(1).fit(data))
    assert(small.getMessage.contains("batchSize=1") && small.getMessage.contains("numWorkers=2"))
    val slots = intercept[IllegalStateException](estimator(workers = 3).fit(data))
    assert(slots.getMessage.contains("numWorkers=3") && slots.getMessage.contains("has 2 task slots"),
      slots.getMessage)
    val badParam = intercept[IllegalArgumentException](estimator().setExecutionMode("fast"))
    assert(badParam.getMessage.contains("executionMode"), badParam.getMessage)
    val badWindow = intercept[IllegalArgumentException](estimator().setShuffleWindow(0))
    assert(badWindow.getMessage.contains("shuffleWindow") && badWindow.getMessage.contains("0"), badWindow.getMessage)
    val empty = intercept[IllegalArgumentException](estimator().fit(data.limit(0)))
    assert(empty.getMessage.contains("empty"), empty.getMessage)
  }

  test("the Spark UI's jobs page names the Bios fit (job group and description), and the caller's are restored") {
    val seen = new java.util.concurrent.ConcurrentLinkedQueue[String]()
    val listener = new org.apache.spark.scheduler.SparkListener {
      override def onJobStart(e: org.apache.spark.scheduler.SparkListenerJobStart): Unit =
        Option(e.properties).flatMap(p => Option(p.getProperty("spark.job.description"))).foreach(seen.add)
    }
    spark.sparkContext.addSparkListener(listener)
    spark.sparkContext.setJobDescription("the caller's")
    try {
      val est = estimator()
      est.fit(hyperplane(200, 6))
      // Listener events arrive asynchronously: wait (bounded) for the bus to deliver them.
      val deadline = System.nanoTime() + 30L * 1000 * 1000 * 1000
      while (!seen.toArray.exists(_.toString.startsWith(s"Bios fit ${est.uid}")) && System.nanoTime() < deadline) {
        Thread.onSpinWait()
      }
      assert(seen.toArray.exists(_.toString == s"Bios fit ${est.uid}: 2 workers, 4 epochs, efficient mode"),
        seen.toArray.mkString(" | "))
      assert(spark.sparkContext.getLocalProperty("spark.job.description") == "the caller's")
    } finally {
      spark.sparkContext.setJobDescription(null)
      spark.sparkContext.removeSparkListener(listener)
    }
  }

  test("bad rows fail the fit before training, naming the column, input partition, row and fix") {
    val schema = StructType(Seq(StructField("features", org.apache.spark.ml.linalg.SQLDataTypes.VectorType),
      StructField("label", DoubleType)))
    def fitWith(bad: Row): Throwable = {
      val rows = hyperplane(200, 7).collect().toSeq :+ bad
      val df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), schema)
      // Bios's error is what fit throws (the row, the value, the fix), with Spark's as its cause.
      val e = intercept[ai.bios.tf.BadInputException](estimator().setEpochs(1).fit(df))
      assert(e.getCause.isInstanceOf[SparkException], e.getCause)
      e
    }
    val wrongSize = fitWith(Row(Vectors.dense(1, 2, 3), 0.0))
    assert(wrongSize.getMessage.contains("column 'features', row 100 of input partition 1") &&
      wrongSize.getMessage.contains("has 3 values, expected 6"), wrongSize.getMessage)
    val nullFeatures = fitWith(Row(null, 1.0))
    assert(nullFeatures.getMessage.contains("column 'features'") && nullFeatures.getMessage.contains("null"))
    val nan = fitWith(Row(Vectors.dense(1, 2, Double.NaN, 4, 5, 6), 1.0))
    assert(nan.getMessage.contains("value 2 is NaN"), nan.getMessage)
    val label = fitWith(Row(Vectors.dense(1, 2, 3, 4, 5, 6), 5.0))
    assert(label.getMessage.contains("label 5.0") && label.getMessage.contains("[0, 1]"), label.getMessage)
    // With sharding=direct rows are checked as the training task reads them, mid-training. The task
    // that reads the bad row fails naming it and tells its ring neighbour why before leaving, so
    // whichever task's failure Spark reports (after its stage retries) names the row.
    val rows = hyperplane(200, 7).collect().toSeq :+ Row(Vectors.dense(1, 2, 3), 0.0)
    val direct = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), schema)
    val e = intercept[ai.bios.tf.BiosException](estimator().setSharding("direct").setEpochs(1).fit(direct))
    assert(e.getCause.isInstanceOf[SparkException], e.getCause)
    assert(e.getMessage.startsWith("column 'features'") || e.getMessage.contains("failed: BadInputException"),
      "Bios's sentence comes first, not Spark's wrapper: " + e.getMessage)
    assert(e.getMessage.contains("column 'features', row 100 of input partition 1") &&
      e.getMessage.contains("has 3 values, expected 6"), e.getMessage)
  }

  test("a category id a feature column cannot look up fails fit and transform, naming the column and row") {
    import ai.bios.tf.model.LayerSpec
    val catSpec = ModelSpec.builder(3)
      .featureColumns(LayerSpec.numeric("x", 0, 2), LayerSpec.categorical("colour", 2, 3, 2))
      .dense(2, Activation.NONE).seed(3).build()
    val schema = StructType(Seq(StructField("features", org.apache.spark.ml.linalg.SQLDataTypes.VectorType),
      StructField("label", DoubleType)))
    val good = (0 until 100).map(i => Row(Vectors.dense(i * 0.01, 1.0, (i % 3).toDouble), (i % 2).toDouble))
    def frame(extra: Row): DataFrame = spark.createDataFrame(spark.sparkContext.parallelize(good :+ extra, 2), schema)
    val fitFailure = intercept[ai.bios.tf.BadInputException](estimator().setModelSpec(catSpec).setEpochs(1)
      .fit(frame(Row(Vectors.dense(0, 0, 3), 0.0))))
    assert(fitFailure.getMessage.contains("column 'features', row 50 of input partition 1") &&
      fitFailure.getMessage.contains("categorical column 'colour'") && fitFailure.getMessage.contains("[0, 2]"),
      fitFailure.getMessage)
    val model = estimator().setModelSpec(catSpec).setEpochs(1).fit(frame(Row(Vectors.dense(0, 0, 2), 0.0)))
    val transformFailure = intercept[Exception](model.transform(frame(Row(Vectors.dense(0, 0, 1.5), 0.0))).collect())
    assert(transformFailure.getMessage.contains("categorical column 'colour'") &&
      transformFailure.getMessage.contains("value 2 is 1.5"), transformFailure.getMessage)
  }

  test("estimator and model save and load round trips on the local file system") {
    val dir = Files.createTempDirectory("bios-rw").toFile
    try {
      val est = estimator().setEpochs(2)
      est.write.overwrite().save(new java.io.File(dir, "est").getPath)
      val est2 = BiosEstimator.load(new java.io.File(dir, "est").getPath)
      assert(est2.uid == est.uid && est2.getEpochs == 2 && est2.getModelSpec == spec)
      val data = hyperplane(500, 8)
      val model = est.fit(data)
      model.write.overwrite().save(new java.io.File(dir, "model").getPath)
      val loaded = BiosModel.load(new java.io.File(dir, "model").getPath)
      assert(loaded.uid == model.uid)
      assert(loaded.getWeights.sameElements(model.getWeights))
      val p1 = model.transform(data).select("probability").collect().map(_.getAs[Vector](0))
      val p2 = loaded.transform(data).select("probability").collect().map(_.getAs[Vector](0))
      assert(p1.sameElements(p2))
      assert(!loaded.hasSummary)
      // And as a TensorFlow SavedModel, served outside Spark with the same probabilities.
      val saved = new java.io.File(dir, "savedmodel").getPath
      loaded.exportSavedModel(saved)
      val first = data.head().getAs[Vector](0).toArray.map(_.toFloat)
      val bundle = org.tensorflow.SavedModelBundle.load(saved, "serve")
      try {
        val x = org.tensorflow.types.TFloat32.tensorOf(org.tensorflow.ndarray.Shape.of(1, 6),
          (t: org.tensorflow.types.TFloat32) => t.asRawTensor().data().asFloats().write(first))
        try {
          val r = bundle.function("serving_default").call(java.util.Map.of[String, org.tensorflow.Tensor]("features", x))
          try {
            val out = new Array[Float](2)
            r.get("prediction").get().asRawTensor().data().asFloats().read(out)
            assert(math.abs(out(1) - p1(0)(1)) < 1e-6, s"${out.toSeq} vs ${p1(0)}")
          } finally r.close()
        } finally x.close()
      } finally bundle.close()
    } finally {
      org.apache.commons.io.FileUtils.deleteQuietly(dir)
    }
  }
}
