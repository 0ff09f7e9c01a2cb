package ai.bios.spark

import ai.bios.spark.conf.BiosConf
import ai.bios.spark.internal.{BarrierTraining, Inference, RowDecoder, TransformRunner}
import ai.bios.spark.transform.RecordTransform
import ai.bios.tf.model.{ComputeOptions, Loss, ModelSpec, OptimizerSpec, TrainableModel}
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.spark.ml.Model
import org.apache.spark.ml.bios.SparkInternals
import org.apache.spark.ml.linalg.SQLDataTypes.VectorType
import org.apache.spark.ml.param.ParamMap
import org.apache.spark.ml.util._
import org.apache.spark.sql.{DataFrame, Dataset, SparkSession}
import org.apache.spark.sql.types.{DoubleType, StructField, StructType}
import org.json4s.JsonAST.JObject

import java.io.{DataInputStream, DataOutputStream, ObjectInputStream, ObjectOutputStream, ObjectStreamClass}

/**
 * A trained Bios model: the model spec (a param), its weights and, if it was trained with one, its
 * fitted input transform. `transform` runs batched inference in each partition through the
 * prefetching queue and adds the prediction column (and, for classifiers, the class-probability
 * column); with an input transform it makes each row's features with it (`training = false`: no
 * augmentation) instead of reading featuresCol. The model keeps its own copy of the transform it
 * trained with: changing the estimator's transform later, or the one [[getTransform]] returns,
 * does not change the model's.
 */
class BiosModel private[spark] (override val uid: String, private[spark] val weights: Array[Float])
  extends Model[BiosModel] with BiosParams with MLWritable {

  private var trainingSummary: Option[TrainingSummary] = None

  private[spark] def setSummary(s: TrainingSummary): this.type = {
    trainingSummary = Some(s)
    this
  }

  /** The summary of the fit that produced this model (not kept by save/load). */
  def summary: TrainingSummary = trainingSummary.getOrElse(throw new IllegalStateException(
    "this BiosModel has no training summary (it was loaded, not fitted)"))

  def hasSummary: Boolean = trainingSummary.isDefined

  private var inputTransform: Option[RecordTransform] = None

  /** Keeps a copy of `t` (see [[BiosModel.copyOf]]), so nothing outside the model can change it. */
  private[spark] def setTransform(t: RecordTransform): this.type = keepTransform(Option(t).map(BiosModel.copyOf))

  /** Keeps `t` itself: a copy no one else holds (the fit's, or another model's, which never changes it). */
  private[spark] def keepTransform(t: Option[RecordTransform]): this.type = {
    inputTransform = t
    this
  }

  /**
   * A copy of the fitted input transform the model makes its features with (null: none;
   * featuresCol is read). Changing the copy does not change the model.
   */
  def getTransform: RecordTransform = inputTransform.map(BiosModel.copyOf).orNull

  /** The trained weights, flattened in layer order. */
  def getWeights: Array[Float] = weights.clone()

  def setFeaturesCol(v: String): this.type = set(featuresCol, v)
  def setPredictionCol(v: String): this.type = set(predictionCol, v)
  def setProbabilityCol(v: String): this.type = set(probabilityCol, v)

  override def transformSchema(schema: StructType): StructType = {
    inputTransform match {
      case Some(t) =>
        TransformRunner.validate(t, schema)
        TransformRunner.checkSize(t, getModelSpec)
      case None => RowDecoder.validateSchema(schema, getFeaturesCol, None)
    }
    BiosModel.outputSchema(schema, getModelSpec, getPredictionCol, getProbabilityCol)
  }

  override def transform(dataset: Dataset[_]): DataFrame = {
    val outSchema = transformSchema(dataset.schema, logging = true)
    val df = dataset.toDF()
    val spark = df.sparkSession
    val bcWeights = spark.sparkContext.broadcast(weights)
    val spec = getModelSpec
    val specJson = spec.toJson
    val batchSize = BiosConf.InferenceBatchSize.get(spark)
    val depth = BiosConf.InferencePrefetchDepth.get(spark)
    val rows = inputTransform match {
      case Some(t) =>
        // Row n of partition p is record shardKey(p, n) for errors and ctx.random (epoch 0, no augmentation).
        val runner = TransformRunner.of(t, df.schema, spec, getSeed, "the data to transform")
        df.rdd.mapPartitionsWithIndex { (p, it) =>
          Inference.run(it, specJson, bcWeights.value, (row, n, out, at) =>
            runner.apply(runner.project(row), BarrierTraining.shardKey(p, n), 0, training = false,
              (values, offset, length) => System.arraycopy(values, offset, out, at, length)), batchSize, depth)
        }
      case None =>
        val decoder = new RowDecoder(getFeaturesCol, df.schema.fieldIndex(getFeaturesCol), spec.featureSize(),
          "", -1, 0, "the data to transform", idsOf = spec)
        df.rdd.mapPartitions(it => Inference.run(it, specJson, bcWeights.value, decoder.features, batchSize, depth))
    }
    spark.createDataFrame(rows, outSchema)
  }

  override def copy(extra: ParamMap): BiosModel = {
    val m = copyValues(new BiosModel(uid, weights), extra).setParent(parent).keepTransform(inputTransform)
    trainingSummary.foreach(m.setSummary)
    m
  }

  override def write: MLWriter = new BiosModel.Writer(this)

  /**
   * Exports a TensorFlow SavedModel (tag `serve`, signature `serving_default`: input `features`,
   * output `prediction`) to `path` on any Hadoop file system, for serving outside Spark.
   */
  def exportSavedModel(path: String): Unit = {
    val local = java.nio.file.Files.createTempDirectory("bios-savedmodel")
    try {
      val model = new TrainableModel(getModelSpec, OptimizerSpec.sgd(1.0), ComputeOptions.cpu())
      try {
        model.importWeights(weights)
        model.exportSavedModel(local.resolve("model"))
      } finally model.close()
      val target = new Path(path)
      val fs = target.getFileSystem(SparkSession.active.sparkContext.hadoopConfiguration)
      if (fs.exists(target)) {
        throw new IllegalArgumentException(s"SavedModel path $path already exists; choose a new path")
      }
      fs.copyFromLocalFile(false, true, new Path(local.resolve("model").toUri), target)
    } finally {
      org.apache.commons.io.FileUtils.deleteQuietly(local.toFile)
    }
  }
}

object BiosModel extends MLReadable[BiosModel] {

  /** The output schema: the input, plus the prediction (and probability, for classifiers). */
  private[spark] def outputSchema(schema: StructType, spec: ModelSpec, prediction: String,
      probability: String): StructType = {
    for (c <- Seq(prediction) ++ (if (classifier(spec)) Seq(probability) else Nil)) {
      if (schema.fieldNames.contains(c)) {
        throw new IllegalArgumentException(s"output column '$c' already exists; set predictionCol/probabilityCol " +
          "to a new name")
      }
    }
    val predictionType = if (spec.loss() == Loss.MEAN_SQUARED_ERROR && spec.outputs() > 1) VectorType else DoubleType
    var out = schema.add(StructField(prediction, predictionType, nullable = false))
    if (classifier(spec)) {
      out = out.add(StructField(probability, VectorType, nullable = false))
    }
    out
  }

  private[spark] def classifier(spec: ModelSpec): Boolean = spec.loss() != Loss.MEAN_SQUARED_ERROR

  override def read: MLReader[BiosModel] = new Reader

  override def load(path: String): BiosModel = super.load(path)

  private class Writer(instance: BiosModel) extends MLWriter {
    override protected def saveImpl(path: String): Unit = {
      SparkInternals.saveMetadata(instance, path, sc, JObject())
      val file = new Path(path, "data/weights.bin")
      val fs = file.getFileSystem(sc.hadoopConfiguration)
      val out = new DataOutputStream(new java.io.BufferedOutputStream(fs.create(file, true), 1 << 16))
      try {
        out.writeInt(instance.weights.length)
        instance.weights.foreach(w => out.writeFloat(w))
      } finally {
        out.close()
      }
      instance.inputTransform.foreach(saveTransform(_, path, sc.hadoopConfiguration))
    }
  }

  /** Saves `t` under the stage directory `path` (see [[TransformFile]]). */
  private[spark] def saveTransform(t: RecordTransform, path: String, conf: Configuration): Unit = {
    val file = new Path(path, TransformFile)
    val o = new ObjectOutputStream(file.getFileSystem(conf).create(file, true))
    try o.writeObject(t) finally o.close()
  }

  /** The transform saved under the stage directory `path`, if one was. */
  private[spark] def loadTransform(path: String, conf: Configuration): Option[RecordTransform] = {
    val file = new Path(path, TransformFile)
    val fs = file.getFileSystem(conf)
    if (!fs.exists(file)) None else Some(readTransform(fs.open(file)))
  }

  /** Reads a serialized transform from `stream` (closing it), with the thread's context class loader. */
  private def readTransform(stream: java.io.InputStream): RecordTransform = {
    val loader = Thread.currentThread().getContextClassLoader
    val in = new ObjectInputStream(stream) {
      override def resolveClass(d: ObjectStreamClass): Class[_] =
        try Class.forName(d.getName, false, loader) catch { case _: ClassNotFoundException => super.resolveClass(d) }
    }
    try in.readObject().asInstanceOf[RecordTransform] finally in.close()
  }

  /**
   * A deep copy of `t` (a Java serialization round trip, as saving and loading a model does), so a
   * model's transform shares no mutable state with the estimator's or a caller's. A transform that
   * cannot be serialized fails here, on the driver, naming its class and the cause.
   */
  private[spark] def copyOf(t: RecordTransform): RecordTransform = {
    val bytes = new java.io.ByteArrayOutputStream()
    val out = new ObjectOutputStream(bytes)
    try out.writeObject(t) catch {
      case e: java.io.NotSerializableException => throw new IllegalArgumentException(s"the input transform " +
        s"${t.getClass.getName} cannot be serialized: ${e.getMessage} is not Serializable; make every field of " +
        "the transform Serializable (or @transient and rebuilt on use)", e)
    } finally out.close()
    readTransform(new java.io.ByteArrayInputStream(bytes.toByteArray))
  }

  /**
   * Where a model keeps its input transform: Java serialization of the fitted transform, read back
   * with the thread's context class loader (the transform's class must be on the classpath).
   */
  private val TransformFile = "data/transform.ser"

  private class Reader extends MLReader[BiosModel] {
    override def load(path: String): BiosModel = {
      val (uid, setParams) = SparkInternals.loadMetadata(path, sc, classOf[BiosModel].getName)
      val file = new Path(path, "data/weights.bin")
      val fs = file.getFileSystem(sc.hadoopConfiguration)
      val in = new DataInputStream(new java.io.BufferedInputStream(fs.open(file), 1 << 16))
      val weights = try {
        val n = in.readInt()
        Array.fill(n)(in.readFloat())
      } finally {
        in.close()
      }
      val model = new BiosModel(uid, weights)
      setParams(model)
      model.keepTransform(loadTransform(path, sc.hadoopConfiguration))
      val expected = ModelSpec.fromJson(model.getOrDefault(model.modelSpec))
      require(expected != null, s"$path has no model spec")
      model
    }
  }
}
