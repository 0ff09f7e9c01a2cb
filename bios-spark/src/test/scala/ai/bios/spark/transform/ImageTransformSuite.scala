package ai.bios.spark.transform

import ai.bios.spark.LocalSpark
import ai.bios.tf.BadInputException
import java.awt.image.BufferedImage
import java.io.{ByteArrayInputStream, ByteArrayOutputStream, ObjectInputStream, ObjectOutputStream}
import java.nio.file.Files
import java.util.SplittableRandom
import javax.imageio.ImageIO
import org.apache.spark.ml.image.ImageSchema
import ai.bios.spark.BiosEstimator
import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.linalg.Vector
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.functions.{col, regexp_extract, when}
import org.apache.spark.sql.types.{ArrayType, BinaryType, DataType, FloatType, StringType, StructField, StructType}
import org.scalatest.funsuite.AnyFunSuite

/** A record of one column, as Bios's input threads would hand it over; its type from the value unless given. */
final class FakeRecord(value: Any, columnType: DataType = null) extends InputRecord {
  override def size: Int = 1
  override def isNullAt(i: Int): Boolean = value == null
  override def dataType(i: Int): DataType = if (columnType != null) columnType else value match {
    case _: Array[Byte] => BinaryType
    case r: Row if r.schema != null => r.schema
    case _: Row => ImageSchema.columnSchema
    case _: String => StringType
    case _ => throw new IllegalStateException(s"FakeRecord: give the type of $value")
  }
  override def getBinary(i: Int): Array[Byte] = value.asInstanceOf[Array[Byte]]
  override def getString(i: Int): String = value.asInstanceOf[String]
  override def getDouble(i: Int): Double = value.asInstanceOf[Double]
  override def getFloats(i: Int): Array[Float] = value.asInstanceOf[Array[Float]]
  override def getStruct(i: Int): Row = value.asInstanceOf[Row]
  override def where: String = "row 0 of a test"
}

/** A context whose random must not be touched unless `training`. */
final class FakeContext(override val training: Boolean, seed: Long) extends TransformContext {
  var randomCalls = 0
  override def epoch: Int = 0
  override def random: SplittableRandom = { randomCalls += 1; new SplittableRandom(seed) }
}

final class Capture extends FeatureWriter {
  var values: Array[Float] = _
  override def features(v: Array[Float]): Unit = features(v, 0, v.length)
  override def features(v: Array[Float], offset: Int, length: Int): Unit = {
    assert(values == null, "exactly one features call per record")
    values = java.util.Arrays.copyOfRange(v, offset, offset + length)
  }
}

class ImageTransformSuite extends AnyFunSuite with LocalSpark {

  private def picture(w: Int, h: Int): BufferedImage = {
    val img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR)
    for (y <- 0 until h; x <- 0 until w) {
      img.setRGB(x, y, ((x * 255 / w) << 16) | ((y * 255 / h) << 8) | (128 + (100 * math.sin(x * 0.3 + y * 0.2)).toInt))
    }
    img
  }

  private def encode(img: BufferedImage, format: String): Array[Byte] = {
    val out = new ByteArrayOutputStream()
    assert(ImageIO.write(img, format, out))
    out.toByteArray
  }

  private def run(t: RecordTransform, value: Any, ctx: TransformContext): Array[Float] = {
    val c = new Capture
    t.transform(new FakeRecord(value), ctx, c)
    assert(c.values.length == t.featureSize)
    c.values
  }

  test("validateSchema accepts binary and Spark's image struct and names column, type and fix otherwise") {
    val binary = StructType(Seq(StructField("path", StringType), StructField("content", BinaryType)))
    new ImageTransform().validateSchema(binary)
    new ImageTransform("image").validateSchema(ImageSchema.imageSchema)
    val missing = intercept[IllegalArgumentException](new ImageTransform("pixels").validateSchema(binary))
    assert(missing.getMessage.contains("`pixels`") && missing.getMessage.contains("path, content") &&
      missing.getMessage.contains("setInputCol"), missing.getMessage)
    val wrong = intercept[IllegalArgumentException](
      new ImageTransform("path").validateSchema(binary))
    assert(wrong.getMessage.contains("`path`") && wrong.getMessage.contains("string") &&
      wrong.getMessage.contains("binaryFile"), wrong.getMessage)
    val floats = StructType(Seq(StructField("x", ArrayType(FloatType))))
    assert(intercept[IllegalArgumentException](new ImageTransform("x").validateSchema(floats))
      .getMessage.contains("array<float>"))
    val bad = intercept[ai.bios.tf.InvalidSettingException](new ImageTransform().setChannels(2).validateSchema(binary))
    assert(bad.setting == "channels")
  }

  test("featureSize, deterministic and Java serialization follow the settings") {
    val t = new ImageTransform("content").setSize(12, 20).setChannels(1)
    assert(t.featureSize == 240)
    assert(t.deterministic)
    assert(!t.setHorizontalFlip(true).deterministic)
    assert(!new ImageTransform().setRandomCrop(true).deterministic)
    t.setMean(0.5f).setStd(0.25f)
    val bytes = new ByteArrayOutputStream()
    new ObjectOutputStream(bytes).writeObject(t)
    val back = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray)).readObject().asInstanceOf[ImageTransform]
    assert(back.toString == t.toString)
    val png = encode(picture(30, 18), "png")
    assert(run(back, png, new FakeContext(false, 1)) sameElements run(t, png, new FakeContext(false, 1)))
  }

  test("binaryFile bytes and the image source's struct of the same files give the same floats") {
    val dir = Files.createTempDirectory("bios-images")
    Files.write(dir.resolve("a.png"), encode(picture(40, 30), "png"))
    Files.write(dir.resolve("b.jpg"), encode(picture(33, 47), "jpeg"))
    val files = spark.read.format("binaryFile").load(dir.toString).select("path", "content")
      .collect().map(r => r.getString(0).split('/').last -> r.getAs[Array[Byte]](1)).toMap
    val images = spark.read.format("image").load(dir.toString).select("image")
    val structs = images.collect().map { r =>
      val s = r.getStruct(0)
      s.getString(0).split('/').last -> s
    }.toMap
    assert(files.keySet == Set("a.png", "b.jpg") && structs.keySet == files.keySet)
    val fromBytes = new ImageTransform("content").setSize(16, 16)
    fromBytes.validateSchema(StructType(Seq(StructField("content", BinaryType))))
    val fromStruct = new ImageTransform("image").setSize(16, 16)
    fromStruct.validateSchema(images.schema)
    val viaImageIo = new ImageTransform("content").setSize(16, 16).setDecoder("imageio")
    for (name <- files.keys) {
      val a = run(fromBytes, files(name), new FakeContext(false, 3))
      val b = run(fromStruct, structs(name), new FakeContext(false, 3))
      // The image source decodes with ImageIO and keeps BGR order, which the transform reads back as RGB.
      assert(run(viaImageIo, files(name), new FakeContext(false, 3)) sameElements b, name)
      if (name.endsWith(".png")) assert(a sameElements b, name)
      else { // TensorFlow decodes this JPEG at 1/2 DCT scale with libjpeg-turbo: within ~10 of 255 levels
        val diffs = a.zip(b).map { case (x, y) => math.abs(x - y) }
        assert(diffs.sum / diffs.length < 0.15 && diffs.max < 1.0, s"$name: mean ${diffs.sum / diffs.length}, max ${diffs.max}")
      }
    }
  }

  test("one model transforms a binaryFile and an image-source DataFrame, whichever action runs first") {
    // Spark serializes the transform when an action runs, not when transform() is called: a type kept by
    // validateSchema would make `a` run with `b`'s column type.
    val dir = Files.createTempDirectory("bios-two-frames")
    try {
      for (i <- 0 until 8) Files.write(dir.resolve(s"p$i.png"), encode(picture(20 + 3 * i, 16 + 2 * i), "png"))
      val name = regexp_extract(col("path"), "(p\\d)\\.png$", 1)
      val bytes = spark.read.format("binaryFile").load(dir.toString).select(name.as("name"), col("content"))
        .withColumn("label", when(col("name") < "p4", 1.0).otherwise(0.0))
      val images = spark.read.format("image").load(dir.toString) // the same model input column, as a struct
        .select(regexp_extract(col("image.origin"), "(p\\d)\\.png$", 1).as("name"), col("image").as("content"))
      val spec = ModelSpec.builder(4 * 4 * 3).dense(2, Activation.NONE).seed(1).build()
      val model = new BiosEstimator().setModelSpec(spec).setTransform(new ImageTransform("content").setSize(4, 4))
        .setNumWorkers(1).setBatchSize(4).setEpochs(1).fit(bytes)
      def probabilities(df: DataFrame): Map[String, Seq[Double]] =
        df.select("name", "probability").collect().map(r => r.getString(0) -> r.getAs[Vector](1).toArray.toSeq).toMap
      val a = model.transform(bytes)
      val b = model.transform(images)
      val fromBytes = probabilities(a) // runs after the image DataFrame was validated
      val fromImages = probabilities(b)
      val c = model.transform(images)
      val d = model.transform(bytes)
      val imagesAgain = probabilities(c) // runs after the binary DataFrame was validated
      assert(fromBytes.size == 8 && fromBytes.keySet == fromImages.keySet, fromBytes.keySet)
      assert(imagesAgain == fromImages && probabilities(d) == fromBytes)
      // PNG: the image source's pixels are the decoded bytes', so the predictions are bitwise equal.
      assert(fromBytes == fromImages)
    } finally org.apache.commons.io.FileUtils.deleteQuietly(dir.toFile)
  }

  test("inference never draws from the random; training crops and flips from it, reproducibly") {
    val png = encode(picture(50, 40), "png")
    val t = new ImageTransform().setSize(16, 16).setRandomCrop(true).setHorizontalFlip(true)
    val infer = new FakeContext(false, 9)
    val plain = run(t, png, infer)
    assert(infer.randomCalls == 0)
    assert(plain sameElements run(t, png, new FakeContext(false, 10)))
    val trained = (0 until 6).map(s => run(t, png, new FakeContext(true, s)))
    assert(trained.zip((0 until 6).map(s => run(t, png, new FakeContext(true, s)))).forall { case (a, b) => a sameElements b })
    assert(trained.exists(a => !(a sameElements plain)), "some draw crops off centre or flips")
  }

  test("bad records fail naming the column and what is wrong") {
    val t = new ImageTransform("content").setSize(8, 8)
    t.validateSchema(StructType(Seq(StructField("content", BinaryType))))
    val nul = intercept[BadInputException](run(t, null, new FakeContext(false, 0)))
    assert(nul.getMessage.contains("`content` is null"), nul.getMessage)
    val text = intercept[BadInputException](run(t, "not a picture".getBytes("UTF-8"), new FakeContext(true, 0)))
    assert(text.getMessage.contains("`content`") && text.getMessage.contains("not an image") &&
      text.getMessage.contains("6e 6f 74"), text.getMessage)
    val jpeg = encode(picture(64, 64), "jpeg")
    val cut = intercept[BadInputException](run(t, jpeg.take(jpeg.length / 2), new FakeContext(true, 0)))
    assert(cut.getMessage.contains("truncated or corrupt JPEG"), cut.getMessage)
    val s = new ImageTransform("image").setSize(8, 8)
    s.validateSchema(ImageSchema.imageSchema)
    val invalid = Row("file:/x.jpg", -1, -1, -1, -1, Array.emptyByteArray)
    assert(intercept[BadInputException](run(s, invalid, new FakeContext(false, 0))).getMessage.contains("dropInvalid"))
  }

  test("a truncated JPEG among binaryFile rows fails the fit naming its row, partition and what is wrong, in both modes") {
    val dir = Files.createTempDirectory("bios-corrupt")
    try {
      for (i <- 0 until 12) {
        val jpeg = encode(picture(24 + i, 20 + i), "jpeg")
        Files.write(dir.resolve(f"p$i%02d.jpg"), if (i == 7) jpeg.take(jpeg.length / 2) else jpeg)
      }
      // One input partition, files in name order: p07.jpg is row 7 of input partition 0.
      val files = spark.read.format("binaryFile").load(dir.toString).orderBy("path").coalesce(1)
        .withColumn("label", when(regexp_extract(col("path"), "p(\\d\\d)\\.jpg$", 1) < "06", 1.0).otherwise(0.0))
      val spec = ModelSpec.builder(4 * 4 * 3).dense(2, Activation.NONE).seed(1).build()
      for (mode <- Seq("simple", "efficient")) {
        val e = intercept[BadInputException](new BiosEstimator().setModelSpec(spec).setExecutionMode(mode)
          .setTransform(new ImageTransform("content").setSize(4, 4)).setInputThreads(2)
          .setNumWorkers(1).setBatchSize(4).setEpochs(1).fit(files))
        assert(e.getMessage.startsWith("row 7 of input partition 0 of the training data"), s"$mode: ${e.getMessage}")
        assert(e.getMessage.contains("truncated or corrupt JPEG"), s"$mode: ${e.getMessage}")
      }
    } finally org.apache.commons.io.FileUtils.deleteQuietly(dir.toFile)
  }
}
