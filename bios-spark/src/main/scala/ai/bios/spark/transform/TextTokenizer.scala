package ai.bios.spark.transform

import java.nio.charset.StandardCharsets
import java.text.Normalizer
import java.util.Locale

import scala.collection.mutable.ArrayBuffer
import scala.util.hashing.MurmurHash3

/**
 * The text rules of [[TextTransform]], kept free of state so any thread may call them.
 *
 * A text becomes words: lowercased with `Locale.ROOT` (the same on every machine, whatever its
 * default locale), put in Unicode NFC form (so "café" typed with a combining accent and with a
 * precomposed one are the same word), then split on every character that is not a letter, a digit
 * or a combining mark. An ideograph (Chinese characters, Japanese kanji) is a word of its own,
 * since those scripts do not separate words with spaces. With `ngrams = n > 1` each word is followed
 * by the 2..n-word phrases it ends, joined by one space ("not good" after "good").
 */
private[transform] object TextTokenizer {

  /** The seed of the hashing vocabulary's MurmurHash3 (x86, 32-bit) of a term's UTF-8 bytes. */
  val HashSeed: Int = 0x5eed

  /**
   * The first `limit` terms of `text`, in order (each word, then the n-grams it ends). Stops
   * scanning once it has `limit` terms, so a long text costs only what is kept.
   */
  def terms(text: String, ngrams: Int, limit: Int): ArrayBuffer[String] = {
    val out = new ArrayBuffer[String](math.min(limit, 64))
    if (limit <= 0) return out
    val s = Normalizer.normalize(text.toLowerCase(Locale.ROOT), Normalizer.Form.NFC)
    val recent = new Array[String](math.max(ngrams - 1, 0)) // the previous words, newest last
    var words = 0

    def word(w: String): Boolean = { // adds the word and its n-grams; false once `limit` is reached
      out += w
      var k = 2
      while (k <= ngrams && k <= words + 1 && out.length < limit) {
        val sb = new java.lang.StringBuilder()
        var j = recent.length - (k - 1)
        while (j < recent.length) { sb.append(recent(j)).append(' '); j += 1 }
        out += sb.append(w).toString
        k += 1
      }
      if (recent.length > 0) {
        System.arraycopy(recent, 1, recent, 0, recent.length - 1)
        recent(recent.length - 1) = w
      }
      words += 1
      out.length < limit
    }

    var start = -1
    var i = 0
    var going = true
    while (going && i < s.length) {
      val cp = s.codePointAt(i)
      val n = Character.charCount(cp)
      if (Character.isIdeographic(cp)) {
        if (start >= 0) going = word(s.substring(start, i))
        start = -1
        if (going) going = word(s.substring(i, i + n))
      } else if (isWordChar(cp)) {
        if (start < 0) start = i
      } else if (start >= 0) {
        going = word(s.substring(start, i))
        start = -1
      }
      i += n
    }
    if (going && start >= 0) word(s.substring(start))
    out
  }

  private def isWordChar(cp: Int): Boolean = Character.isLetterOrDigit(cp) || {
    val t = Character.getType(cp)
    t == Character.NON_SPACING_MARK || t == Character.COMBINING_SPACING_MARK || t == Character.ENCLOSING_MARK
  }

  /** MurmurHash3 x86 32-bit of `bytes` (the reference algorithm, from the Scala library). */
  def murmur3(bytes: Array[Byte], seed: Int): Int = MurmurHash3.bytesHash(bytes, seed)

  /** A term's id in a hashing vocabulary of `buckets` buckets: in `[2, buckets + 2)`. */
  def hashedId(term: String, buckets: Int): Int =
    2 + Math.floorMod(murmur3(term.getBytes(StandardCharsets.UTF_8), HashSeed), buckets)
}
