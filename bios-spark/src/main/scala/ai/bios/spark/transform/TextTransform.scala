package ai.bios.spark.transform

import ai.bios.spark.BiosParams
import ai.bios.tf.InvalidSettingException
import ai.bios.tf.model.LayerSpec
import org.apache.spark.sql.{Dataset, Row}
import org.apache.spark.sql.functions.col
import org.apache.spark.sql.types.{StringType, StructType}

/**
 * Text to token ids: one string column becomes `maxLength` token ids (as floats), for a model whose
 * first layer is the sequence column [[sequenceColumn]] (an embedding of each id), typically followed
 * by `globalAvgPool` (a bag of embeddings) or `conv1d`.
 *
 * {{{
 * TextTransform text = TextTransform.builder("review").maxLength(64).ngrams(2)
 *     .learnVocabulary(20000, 2).build().fit(train);          // or .hashing(1 << 16)
 * ModelSpec spec = ModelSpec.builder(text.featureSize())
 *     .featureColumns(text.sequenceColumn(32)).globalAvgPool()
 *     .dense(32, Activation.RELU).dense(2, Activation.NONE).build();
 * new BiosEstimator().setTransform(text).setModelSpec(spec)...
 * }}}
 *
 * Words are found as [[TextTokenizer]] describes (lowercase, NFC, split on anything but letters,
 * digits and combining marks; ideographs alone), optionally followed by the n-grams they end
 * ([[tokens]] shows the terms of a text). Id 0 is padding, id 1 an out-of-vocabulary term; a term's
 * id comes from one of three vocabularies:
 *  - `hashing(buckets)`: `2 + murmur3(term's UTF-8 bytes, seed 0x5eed) mod buckets`, the same on
 *    every JVM and machine; nothing to fit, every term has an id (colliding terms share one);
 *  - `learnVocabulary(maxVocabulary, minCount)` (the default, 10000 and 1): [[fit]] counts the
 *    terms of the training rows with a Spark job and keeps the `maxVocabulary` most frequent terms
 *    seen at least `minCount` times, ties broken by the term (so a fit is deterministic); the most
 *    frequent gets id 2. The learned terms are saved with the transform (and the model);
 *  - `vocabulary(terms)`: a given list, the first term id 2.
 * A text's first `maxLength` terms are kept, the rest of the ids are 0; an empty text (or one with
 * no letters or digits) is all padding. A null text fails, naming the column.
 *
 * [[cardinality]], the embedding table's size, counts padding and out-of-vocabulary ids: `buckets
 * + 2`, or the vocabulary's size + 2. Before a `learnVocabulary` fit it is `maxVocabulary + 2`, the
 * most ids a fit can produce; build the model from the fitted transform to size its table to the
 * vocabulary found, and hand that fitted transform to the estimator ([[fit]] of a transform that
 * already has its vocabulary returns it unchanged). Ids are written as floats, exact below 2^24,
 * which bounds `cardinality`.
 *
 * Instances are immutable (build them with [[TextTransform.builder]]) and safe to call from any
 * number of threads; the output depends on the text only ([[deterministic]]).
 */
@SerialVersionUID(1L)
final class TextTransform private (
    val inputCol: String,
    val maxLength: Int,
    val ngrams: Int,
    private val vocab: TextTransform.Vocabulary)
    extends RecordTransform {
  import TextTransform._

  override def inputCols: Array[String] = Array(inputCol)

  override def featureSize: Int = maxLength

  override def deterministic: Boolean = true

  /** The embedding table size a model needs: every id this transform can write is below it. */
  def cardinality: Int = vocab.cardinality

  /** The hashing vocabulary's bucket count; 0 for a learned or given vocabulary. */
  def hashBuckets: Int = vocab match {
    case Hashing(b) => b
    case _ => 0
  }

  /** Whether the vocabulary is known: hashing, given, or learned by [[fit]]. */
  def isFitted: Boolean = vocab match {
    case _: Learn => false
    case _ => true
  }

  /** The learned or given terms, term `i` having id `i + 2`; empty for hashing and before a fit. */
  def vocabulary: Array[String] = vocab match {
    case t: Terms => t.terms.clone()
    case _ => Array.empty
  }

  /**
   * The model's feature column for this transform's ids: `LayerSpec.sequence(inputCol, 0,
   * maxLength, cardinality, embeddingDim)`, the only column of the model's `featureColumns`.
   */
  def sequenceColumn(embeddingDim: Int): LayerSpec.Sequence =
    LayerSpec.sequence(inputCol, 0, maxLength, cardinality, embeddingDim)

  /** The terms of `text` in order (words, each followed by the n-grams it ends), all of them. */
  def tokens(text: String): Array[String] = TextTokenizer.terms(text, ngrams, Int.MaxValue).toArray

  /** The `maxLength` ids this transform writes for `text`. Fails before a `learnVocabulary` fit. */
  def ids(text: String): Array[Int] = {
    val terms = TextTokenizer.terms(text, ngrams, maxLength)
    val out = new Array[Int](maxLength)
    var i = 0
    while (i < terms.length) { out(i) = vocab.id(terms(i)); i += 1 }
    out
  }

  override def validateSchema(schema: StructType): Unit = {
    val field = schema.fields.find(_.name == inputCol).getOrElse(throw new IllegalArgumentException(
      s"TextTransform reads column `$inputCol`, which the data does not have (columns: " +
        schema.fieldNames.mkString(", ") + "); name an existing string column in TextTransform.builder(column)"))
    if (field.dataType != StringType) {
      throw new IllegalArgumentException(s"TextTransform reads column `$inputCol` as text, but it is " +
        s"${field.dataType.simpleString}; cast it to a string (col(\"$inputCol\").cast(\"string\")) or " +
        "name a string column in TextTransform.builder(column)")
    }
  }

  /**
   * With `learnVocabulary`, learns the vocabulary from `dataset`'s `inputCol` with one Spark job
   * (terms counted per partition, merged, the top `maxVocabulary` taken by count, then term) and
   * returns the fitted transform; any other transform is returned unchanged. Fails on a null text
   * (saying how many) or when no term reaches `minCount`.
   */
  override def fit(dataset: Dataset[Row]): TextTransform = vocab match {
    case Learn(maxVocabulary, minCount) =>
      validateSchema(dataset.schema)
      val n = ngrams
      val counted = dataset.select(col(inputCol)).rdd
        .flatMap(r => if (r.isNullAt(0)) Iterator.single(NullKey) else TextTokenizer.terms(r.getString(0), n, Int.MaxValue))
        .map(t => (t, 1L))
        .reduceByKey(_ + _)
        .filter { case (t, c) => t == NullKey || c >= minCount }
        .takeOrdered(maxVocabulary + 1)(FitOrder)
      if (counted.headOption.exists(_._1 == NullKey)) {
        throw new IllegalArgumentException(s"TextTransform: column `$inputCol` is null in ${counted.head._2} " +
          "rows of the data to fit; drop those rows (na.drop) or replace nulls with \"\" (na.fill), which is all padding")
      }
      if (counted.isEmpty) {
        throw new IllegalArgumentException(s"TextTransform learned no term from column `$inputCol`: no term " +
          s"occurs at least minCount = $minCount times; lower minCount, or check the column holds text")
      }
      new TextTransform(inputCol, maxLength, ngrams, new Terms(counted.take(maxVocabulary).map(_._1)))
    case _ => this
  }

  override def transform(record: InputRecord, ctx: TransformContext, out: FeatureWriter): Unit = {
    if (record.isNullAt(0)) {
      throw new IllegalArgumentException(s"TextTransform: column `$inputCol` is null; drop such rows " +
        "(na.drop) or replace nulls with \"\" (na.fill), which is all padding")
    }
    val terms = TextTokenizer.terms(record.getString(0), ngrams, maxLength)
    val values = new Array[Float](maxLength)
    var i = 0
    while (i < terms.length) { values(i) = vocab.id(terms(i)).toFloat; i += 1 }
    out.features(values)
  }

  override def toString: String =
    s"TextTransform(inputCol=$inputCol, maxLength=$maxLength, ngrams=$ngrams, vocabulary=$vocab, cardinality=$cardinality)"
}

object TextTransform {

  /** The id of padding (after a text's last term). */
  final val PaddingId = 0

  /** The id of a term not in a learned or given vocabulary. */
  final val OutOfVocabularyId = 1

  /** The largest `cardinality`: ids are written as floats, which hold whole numbers exactly up to 2^24. */
  final val MaxCardinality: Int = 1 << 24

  /** A builder for a transform of the string column `inputCol`. */
  def builder(inputCol: String): Builder = new Builder(inputCol)

  /**
   * Settings of a [[TextTransform]]; each setter checks its value at once and fails naming the
   * setting, the value and the fix. Defaults: `maxLength` 64, `ngrams` 1,
   * `learnVocabulary(10000, 1)`.
   */
  final class Builder private[TextTransform] (inputCol: String) {
    if (inputCol == null || inputCol.trim.isEmpty) {
      bad("inputCol", "\"" + inputCol + "\"", "must name the string column to tokenise")
    }
    private var length = 64
    private var n = 1
    private var vocab: Vocabulary = Learn(10000, 1)

    /** Token ids per record, >= 1: longer texts are truncated, shorter ones padded with id 0. */
    def maxLength(v: Int): Builder = {
      if (v < 1) bad("maxLength", v, "must be >= 1: the token ids per record (longer texts are cut, shorter padded)")
      length = v
      this
    }

    /** 1 (words only, the default), 2 (also each pair of adjacent words) or 3 (also each triple). */
    def ngrams(v: Int): Builder = {
      if (v < 1 || v > 3) bad("ngrams", v, "must be 1 (words), 2 (words and word pairs) or 3 (and triples)")
      n = v
      this
    }

    /** Hashes each term to one of `buckets` ids (2 .. buckets + 1); nothing to fit. */
    def hashing(buckets: Int): Builder = {
      if (buckets < 1 || buckets > MaxCardinality - 2) {
        bad("hashing.buckets", buckets, s"must be in [1, ${MaxCardinality - 2}] (ids are exact floats below 2^24); " +
          "a few times the expected vocabulary, e.g. 1 << 16")
      }
      vocab = Hashing(buckets)
      this
    }

    /**
     * Learns the vocabulary in [[TextTransform.fit]]: the `maxVocabulary` most frequent terms seen
     * at least `minCount` times.
     */
    def learnVocabulary(maxVocabulary: Int, minCount: Int): Builder = {
      if (maxVocabulary < 1 || maxVocabulary > MaxCardinality - 2) {
        bad("learnVocabulary.maxVocabulary", maxVocabulary, s"must be in [1, ${MaxCardinality - 2}]: the most " +
          "terms to keep (each is a row of the model's embedding table)")
      }
      if (minCount < 1) bad("learnVocabulary.minCount", minCount, "must be >= 1: how often a term must occur to be kept")
      vocab = Learn(maxVocabulary, minCount)
      this
    }

    /**
     * A given vocabulary: `terms(i)` gets id `i + 2`. Each term must be one that [[TextTransform.tokens]]
     * produces (lowercase, no separators; an n-gram's words joined by one space).
     */
    def vocabulary(terms: Array[String]): Builder = {
      if (terms == null || terms.isEmpty) bad("vocabulary", "an empty list", "must hold at least one term")
      if (terms.length > MaxCardinality - 2) bad("vocabulary", s"${terms.length} terms", s"must hold at most ${MaxCardinality - 2}")
      val seen = new java.util.HashSet[String]()
      for ((t, i) <- terms.zipWithIndex) {
        if (t == null || t.isEmpty) bad("vocabulary", s"term $i = ${if (t == null) "null" else "\"\""}", "must not hold null or empty terms")
        if (!seen.add(t)) bad("vocabulary", s"term $i = \"$t\"", "must not repeat a term (it already has an id)")
        val words = TextTokenizer.terms(t, 1, Int.MaxValue)
        if (words.mkString(" ") != t) {
          bad("vocabulary", s"term $i = \"$t\"", "must be as the tokenizer writes terms, or it never matches: " +
            "this text tokenises to \"" + words.mkString(" ") + "\" (lowercase words, an n-gram's words joined by one space)")
        }
      }
      vocab = new Terms(terms.clone())
      this
    }

    /** As above, from a Java list. */
    def vocabulary(terms: java.util.List[String]): Builder =
      vocabulary(if (terms == null) null else terms.toArray(new Array[String](0)))

    def build(): TextTransform = new TextTransform(inputCol, length, n, vocab)
  }

  private def bad(setting: String, value: Any, requirement: String): Nothing =
    BiosParams.param(throw new InvalidSettingException("TextTransform." + setting, value, requirement))

  /** Where term ids come from. Read-only once built: safe to share between threads. */
  private[transform] sealed trait Vocabulary extends Serializable {
    def cardinality: Int
    def id(term: String): Int
  }

  @SerialVersionUID(1L)
  private[transform] final case class Hashing(buckets: Int) extends Vocabulary {
    def cardinality: Int = buckets + 2
    def id(term: String): Int = TextTokenizer.hashedId(term, buckets)
    override def toString: String = s"hashing($buckets buckets)"
  }

  @SerialVersionUID(1L)
  private[transform] final case class Learn(maxVocabulary: Int, minCount: Int) extends Vocabulary {
    def cardinality: Int = maxVocabulary + 2
    def id(term: String): Int = throw new IllegalStateException(
      s"TextTransform has not learned its vocabulary (learnVocabulary($maxVocabulary, $minCount)): call " +
        "fit(dataset) first, or pass it to BiosEstimator.setTransform, which fits it")
    override def toString: String = s"to learn (maxVocabulary=$maxVocabulary, minCount=$minCount)"
  }

  @SerialVersionUID(1L)
  private[transform] final class Terms(val terms: Array[String]) extends Vocabulary {
    @transient private lazy val index: java.util.HashMap[String, Integer] = {
      val m = new java.util.HashMap[String, Integer](terms.length * 2)
      for (i <- terms.indices) m.put(terms(i), i + 2)
      m
    }
    def cardinality: Int = terms.length + 2
    def id(term: String): Int = {
      val i = index.get(term)
      if (i == null) OutOfVocabularyId else i.intValue
    }
    override def toString: String = s"${terms.length} terms"
  }

  /** Stands for a null text while fitting; never a term, since terms are not empty. */
  private val NullKey = ""

  /** Null texts first (to report them), then by count, most frequent first, then by term. */
  private object FitOrder extends Ordering[(String, Long)] {
    def compare(a: (String, Long), b: (String, Long)): Int =
      if (a._1 == NullKey || b._1 == NullKey) java.lang.Boolean.compare(b._1 == NullKey, a._1 == NullKey)
      else if (a._2 != b._2) java.lang.Long.compare(b._2, a._2)
      else a._1.compareTo(b._1)
  }
}
