package ai.bios.spark.conf

import ai.bios.tf.InvalidSettingException
import org.apache.spark.SparkConf
import org.apache.spark.network.util.JavaUtils
import org.apache.spark.sql.SparkSession

import java.time.Duration
import java.util.Locale
import java.util.concurrent.TimeUnit
import scala.util.control.NonFatal

/**
 * One `spark.bios.*` key: its type, default, doc and check, declared once in [[BiosConf]].
 *
 * Values are read from the Spark conf, or for a fit or transform from the session's runtime conf
 * (`spark.conf.set(...)` in a notebook), which falls back to the Spark conf. A value that does not
 * parse or check fails with an `IllegalArgumentException` (as Spark's own settings do) naming the
 * key, the value and what it must be; its cause is the engine's [[InvalidSettingException]].
 *
 * @param key the full key
 * @param defaultText the default as a user would write it
 * @param doc what the key does, one or two sentences
 * @param internal for Bios's own tests: left out of the configuration reference
 * @param typeName what a value must be, for errors and the reference ("duration", "size", ...)
 */
final class ConfEntry[T] private[conf] (
    val key: String,
    val defaultText: String,
    val doc: String,
    val internal: Boolean,
    val typeName: String,
    parse: String => T) extends Serializable {

  /** The default, typed. */
  def default: T = parse(defaultText)

  /** The value in `conf`, or the default. */
  def get(conf: SparkConf): T = from(conf.getOption(key))

  /** The value in the session's runtime conf (which falls back to the Spark conf), or the default. */
  def get(session: SparkSession): T = from(session.conf.getOption(key))

  private def from(value: Option[String]): T = value match {
    case None => default
    case Some(v) => parseChecked(v)
  }

  private def parseChecked(v: String): T = {
    val bad = try return parse(v.trim) catch {
      case e: InvalidSettingException => e // names this key already
      case NonFatal(_) => new InvalidSettingException(key, "\"" + v + "\"", s"must be a $typeName")
    }
    throw new IllegalArgumentException(bad.getMessage, bad)
  }

  override def toString: String = s"$key=$defaultText"
}

/** Builds entries and records them in declaration order, for the reference. */
private[conf] final class ConfRegistry {
  private val declared = scala.collection.mutable.ArrayBuffer[ConfEntry[_]]()

  def entries: Seq[ConfEntry[_]] = declared.toSeq

  private def add[T](e: ConfEntry[T]): ConfEntry[T] = {
    require(e.key.startsWith("spark.bios."), s"${e.key} is not a spark.bios. key")
    require(!declared.exists(_.key == e.key), s"${e.key} is declared twice")
    e.default // the default must pass its own check
    declared += e
    e
  }

  /**
   * A duration such as `500ms`, `10s`, `5min`, `1h`; a bare number is in `bareUnit` (seconds, or
   * milliseconds for a key that always read it so).
   */
  def duration(key: String, default: String, doc: String, bareUnit: TimeUnit = TimeUnit.SECONDS,
      internal: Boolean = false): ConfEntry[Duration] = {
    val bare = if (bareUnit == TimeUnit.MILLISECONDS) "ms" else bareUnit.name().toLowerCase(Locale.ROOT)
    add(new ConfEntry[Duration](key, default, doc, internal,
        s"duration such as 500ms, 10s or 5min (> 0; a bare number is in $bare)", v => {
      val d = Duration.ofMillis(TimeUnit.MILLISECONDS.convert(JavaUtils.timeStringAs(v, bareUnit), bareUnit))
      if (d.isZero || d.isNegative) throw new InvalidSettingException(key, "\"" + v + "\"", "must be > 0")
      d
    }))
  }

  /** A size in bytes such as `512k`, `256m`, `4g` (a bare number is in bytes). */
  def bytes(key: String, default: String, doc: String, min: Long = 1, max: Long = Long.MaxValue,
      internal: Boolean = false): ConfEntry[Long] = {
    val range = if (max == Long.MaxValue) s">= $min bytes" else s"$min bytes to ${ConfRegistry.bytesText(max)}"
    add(new ConfEntry[Long](key, default, doc, internal, s"size such as 512k, 256m or 4g ($range)", v => {
      val b = JavaUtils.byteStringAsBytes(v)
      if (b < min || b > max) throw new InvalidSettingException(key, "\"" + v + "\"", s"must be $range")
      b
    }))
  }

  /** A whole number `>= min`. */
  def int(key: String, default: Int, doc: String, min: Int, internal: Boolean = false): ConfEntry[Int] =
    add(new ConfEntry[Int](key, default.toString, doc, internal, s"whole number >= $min", v =>
      InvalidSettingException.atLeast(key, v.toInt, min)))

  /** Free text (empty allowed). */
  def string(key: String, default: String, doc: String, internal: Boolean = false): ConfEntry[String] =
    add(new ConfEntry[String](key, default, doc, internal, "string", identity))
}

private[conf] object ConfRegistry {
  /** `d` as a user would write it: the largest whole unit. */
  def durationText(d: Duration): String = {
    val ms = d.toMillis
    if (ms % 3600000 == 0) s"${ms / 3600000}h"
    else if (ms % 60000 == 0) s"${ms / 60000}min"
    else if (ms % 1000 == 0) s"${ms / 1000}s"
    else s"${ms}ms"
  }

  /** `bytes` as a user would write it: the largest whole binary unit. */
  def bytesText(bytes: Long): String = {
    val units = Seq(40 -> "t", 30 -> "g", 20 -> "m", 10 -> "k")
    units.collectFirst { case (shift, u) if bytes >= (1L << shift) && bytes % (1L << shift) == 0 => s"${bytes >> shift}$u" }
      .getOrElse(bytes.toString.toLowerCase(Locale.ROOT))
  }
}
