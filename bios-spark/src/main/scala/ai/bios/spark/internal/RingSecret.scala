package ai.bios.spark.internal

import ai.bios.tf.collective.RingOptions
import org.apache.spark.ml.bios.SparkInternals

import java.nio.charset.StandardCharsets
import java.security.SecureRandom
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

/**
 * Where a fit's ring secret comes from, the one rule for it.
 *
 * With `spark.authenticate` on, the secret is derived on each executor as
 * HMAC-SHA256(Spark's secret, "bios-ring-v1" || nonce), where the nonce is fresh per fit and ships
 * in the task: what travels in the serialized task proves nothing without Spark's own secret,
 * which Spark hands to its executors itself. With it off, a fresh random secret ships in the task
 * (as protected as the task itself).
 */
private[spark] final case class RingSecret(nonce: Array[Byte], derived: Boolean) {
  override def toString: String = s"RingSecret(derived=$derived)" // never the bytes

  /** The ring options a task uses: `base` with this fit's secret. Call on the executor. */
  def options(base: RingOptions): RingOptions =
    if (!derived) base.withSecret(nonce)
    else base.withSecret(RingSecret.derive(SparkInternals.authenticationSecret().getOrElse(
      throw new IllegalStateException("the fit derives its ring secret from spark.authenticate's secret, but " +
        "this executor's Spark has none; set spark.authenticate consistently on the driver and executors")), nonce))
}

private[spark] object RingSecret {
  /** A fresh secret for one fit: derived from Spark's when Spark authenticates, else random. */
  def forFit(): RingSecret = {
    val nonce = new Array[Byte](32)
    new SecureRandom().nextBytes(nonce)
    RingSecret(nonce, derived = SparkInternals.authenticationSecret().isDefined)
  }

  def derive(sparkSecret: Array[Byte], nonce: Array[Byte]): Array[Byte] = {
    val mac = Mac.getInstance("HmacSHA256")
    mac.init(new SecretKeySpec(sparkSecret, "HmacSHA256"))
    mac.update("bios-ring-v1".getBytes(StandardCharsets.US_ASCII))
    mac.doFinal(nonce)
  }
}
