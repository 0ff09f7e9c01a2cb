package ai.bios.spark.transform

import ai.bios.tf.BadInputException
import ai.bios.tf.image.{ImageDecoder, ImagePreprocessor, Pixels}
import org.apache.spark.sql.Row
import org.apache.spark.sql.types.{BinaryType, DataType, IntegerType, StructType}

/**
 * The built-in image transform: one input column of encoded JPEG/PNG bytes (a binary column, such
 * as `spark.read.format("binaryFile")`'s `content`) or of Spark's `image` struct
 * (`spark.read.format("image")`'s `image`: height, width, nChannels, mode, BGR data) becomes
 * `height x width x channels` NHWC floats:
 *
 * decode (TensorFlow's DecodeImage or ImageIO, format from the magic bytes) -> resize (antialiased bilinear) -> while training
 * only: random crop (of an image resized `cropScale` times larger; outside training its centre) and
 * random horizontal flip, both drawn from `ctx.random` -> `(v / 255 - mean[c]) / std[c]`.
 *
 * Defaults: input column `content`, decoder `tensorflow`, 224 x 224 x 3, no random crop, no flip, `cropScale` 1.125,
 * mean/std ImageNet's RGB statistics (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225), for one channel
 * 0.449 / 0.226. Channels 1 gives luma (0.299 R + 0.587 G + 0.114 B); alpha is dropped.
 *
 * A corrupt, truncated, empty or non-JPEG/PNG record fails the fit with its row and the reason
 * (the first bytes in hex). Java: `new ImageTransform("content").setSize(64, 64).setRandomCrop(true)`.
 * Holds settings only (no TensorFlow or ImageIO resources), so it serializes with the model.
 */
@SerialVersionUID(1L)
class ImageTransform(private var inputCol: String) extends RecordTransform {
  import ImageTransform._

  def this() = this("content")

  private var height = 224
  private var width = 224
  private var channels = 3
  private var randomCrop = false
  private var horizontalFlip = false
  private var cropScale = ImagePreprocessor.DEFAULT_CROP_SCALE
  private var mean: Array[Float] = _
  private var std: Array[Float] = _
  private var decoder = "tensorflow"
  @transient @volatile private var prep: ImagePreprocessor = _

  def getInputCol: String = inputCol
  def getHeight: Int = height
  def getWidth: Int = width
  def getChannels: Int = channels
  def getRandomCrop: Boolean = randomCrop
  def getHorizontalFlip: Boolean = horizontalFlip
  def getCropScale: Double = cropScale
  def getDecoder: String = decoder
  /** The per-channel means in use (the defaults unless set). */
  def getMean: Array[Float] = (if (mean != null) mean else defaults(channels)._1).clone()
  def getStd: Array[Float] = (if (std != null) std else defaults(channels)._2).clone()

  def setInputCol(value: String): this.type = change { inputCol = value }
  def setHeight(value: Int): this.type = change { height = value }
  def setWidth(value: Int): this.type = change { width = value }
  def setSize(height: Int, width: Int): this.type = change { this.height = height; this.width = width }
  /** 3 (RGB) or 1 (grayscale). */
  def setChannels(value: Int): this.type = change { channels = value }
  /** Training only: crop a random window of an image resized `cropScale` times larger. */
  def setRandomCrop(value: Boolean): this.type = change { randomCrop = value }
  /** Training only: mirror half the images left-right. */
  def setHorizontalFlip(value: Boolean): this.type = change { horizontalFlip = value }
  def setCropScale(value: Double): this.type = change { cropScale = value }
  /**
   * "tensorflow" (default: TensorFlow's DecodeImage, libjpeg-turbo, on the calling thread) or
   * "imageio" (the JDK's readers; slower, no native TensorFlow call). Both give the same pixels for
   * PNG; JPEG pixels differ by the libraries' rounding (a few levels).
   */
  def setDecoder(value: String): this.type = change {
    decoder = ImageDecoder.Backend.parse("decoder", value).name.toLowerCase(java.util.Locale.ROOT)
  }
  /** Per-channel means in [0, 1] units, one per channel. */
  @scala.annotation.varargs
  def setMean(values: Float*): this.type = change { mean = values.toArray }
  /** Per-channel standard deviations (> 0), one per channel. */
  @scala.annotation.varargs
  def setStd(values: Float*): this.type = change { std = values.toArray }

  override def inputCols: Array[String] = Array(inputCol)

  override def featureSize: Int = height * width * channels

  /** True when no augmentation is configured: the features depend on the image only. */
  override def deterministic: Boolean = !randomCrop && !horizontalFlip

  override def validateSchema(schema: StructType): Unit = {
    preprocessor() // settings errors first, on the driver
    val field = schema.fields.find(_.name == inputCol).getOrElse(throw new IllegalArgumentException(
      s"ImageTransform: input column `$inputCol` is not in the DataFrame (its columns: " +
        s"${schema.fieldNames.mkString(", ")}); set the column of encoded image bytes or Spark image " +
        "structs with setInputCol"))
    isBinary(field.dataType)
  }

  override def transform(record: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit = {
    if (record.isNullAt(0)) {
      throw new BadInputException(s"ImageTransform: column `$inputCol` is null; drop rows without an image " +
        s"(df.na.drop(Seq(\"$inputCol\")))")
    }
    val p = preprocessor()
    val buf = scratch(featureSize)
    val random = if (ctx.training) ctx.random else null
    try {
      // The type of this record's column, not of the DataFrame validateSchema last saw: one model may
      // transform a binary and an image-struct DataFrame, and tasks see the instance as it is when they run.
      if (isBinary(record.dataType(0))) p.process(record.getBinary(0), ctx.training, random, buf, 0)
      else p.process(sparkPixels(record.getStruct(0)), ctx.training, random, buf, 0)
    } catch {
      case e: BadInputException =>
        throw new BadInputException(s"ImageTransform: column `$inputCol`: ${e.getMessage}", e)
    }
    out.features(buf, 0, featureSize)
  }

  /**
   * True for a binary column (encoded bytes), false for Spark's image struct; throws naming the
   * column, its type and the fix otherwise.
   */
  private def isBinary(t: DataType): Boolean = t match {
    case BinaryType => true
    case s: StructType if isImageStruct(s) => false
    case _ => throw new IllegalArgumentException(
      s"ImageTransform: input column `$inputCol` has type ${t.simpleString}; it must be binary " +
        "(JPEG/PNG bytes, e.g. spark.read.format(\"binaryFile\")'s `content`) or Spark's image struct " +
        "(spark.read.format(\"image\")'s `image`); cast or decode the column into one of these")
  }

  private def change(set: => Unit): this.type = {
    set
    prep = null
    this
  }

  private def preprocessor(): ImagePreprocessor = {
    var p = prep
    if (p == null) {
      p = new ImagePreprocessor(height, width, channels, randomCrop, horizontalFlip, mean, std, cropScale,
        ImageDecoder.Backend.parse("decoder", decoder))
      prep = p
    }
    p
  }

  override def toString: String =
    s"ImageTransform(inputCol=$inputCol, ${height}x${width}x$channels, randomCrop=$randomCrop, " +
      s"horizontalFlip=$horizontalFlip, decoder=$decoder, cropScale=$cropScale, mean=${getMean.mkString("[", ",", "]")}, " +
      s"std=${getStd.mkString("[", ",", "]")})"
}

object ImageTransform {
  private val Scratch = ThreadLocal.withInitial[Array[Float]](() => new Array[Float](0))

  private def scratch(n: Int): Array[Float] = {
    var a = Scratch.get()
    if (a.length < n) {
      a = new Array[Float](n)
      Scratch.set(a)
    }
    a
  }

  private def defaults(channels: Int): (Array[Float], Array[Float]) =
    if (channels == 1) (ImagePreprocessor.DEFAULT_MEAN_GRAY, ImagePreprocessor.DEFAULT_STD_GRAY)
    else (ImagePreprocessor.DEFAULT_MEAN_RGB, ImagePreprocessor.DEFAULT_STD_RGB)

  /** Spark's image struct fields (`ImageSchema.columnSchema`); others may be present too. */
  private val ImageFields = Seq("height" -> IntegerType, "width" -> IntegerType, "nChannels" -> IntegerType,
    "data" -> BinaryType)

  private def isImageStruct(s: StructType): Boolean =
    ImageFields.forall { case (n, ft) => s.fields.exists(f => f.name == n && f.dataType == ft) }

  /** The pixels of a Spark image struct row (by field name when the row has a schema, else ImageSchema's order). */
  private[transform] def sparkPixels(row: Row): Pixels = {
    def idx(name: String, fallback: Int): Int = if (row.schema != null) row.fieldIndex(name) else fallback
    val (h, w, c, d) = (idx("height", 1), idx("width", 2), idx("nChannels", 3), idx("data", 5))
    if (row.isNullAt(d) || (!row.isNullAt(h) && row.getInt(h) < 0)) {
      throw new BadInputException("the image struct has no data (Spark's image source leaves it empty for files " +
        "it cannot decode, with dropInvalid=false); read with dropInvalid=true or filter such rows out")
    }
    Pixels.sparkImage(row.getInt(h), row.getInt(w), row.getInt(c), row.getAs[Array[Byte]](d))
  }
}
