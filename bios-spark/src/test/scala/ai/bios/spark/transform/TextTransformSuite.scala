package ai.bios.spark.transform

import java.io.{ByteArrayInputStream, ByteArrayOutputStream, ObjectInputStream, ObjectOutputStream}
import java.nio.charset.StandardCharsets
import java.util.concurrent.{Callable, Executors, TimeUnit}
import java.util.{Locale, SplittableRandom}

import ai.bios.spark.LocalSpark
import ai.bios.tf.input.RecordChecks
import ai.bios.tf.model.{Activation, ComputeOptions, ModelSpec, OptimizerSpec, TrainableModel}
import org.apache.spark.sql.types.{DataType, IntegerType, StringType, StructField, StructType}
import org.apache.spark.sql.{DataFrame, Row}
import org.scalatest.funsuite.AnyFunSuite
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.TFloat32

import scala.jdk.CollectionConverters._

/** TextTransform: tokenising, the three vocabularies, ids, fitting, errors, serialization. */
class TextTransformSuite extends AnyFunSuite with LocalSpark {

  /** A record of one column, as the training task hands it to a transform. */
  private final class OneText(text: String) extends InputRecord {
    def size: Int = 1
    def isNullAt(i: Int): Boolean = { require(i == 0); text == null }
    def dataType(i: Int): DataType = { require(i == 0); StringType }
    def getBinary(i: Int): Array[Byte] = throw new UnsupportedOperationException
    def getString(i: Int): String = { require(i == 0); text }
    def getDouble(i: Int): Double = throw new UnsupportedOperationException
    def getFloats(i: Int): Array[Float] = throw new UnsupportedOperationException
    def getStruct(i: Int): Row = throw new UnsupportedOperationException
    def where: String = "row 0 of a test"
  }

  private object Ctx extends TransformContext {
    def training: Boolean = true
    def epoch: Int = 0
    def random: SplittableRandom = new SplittableRandom(1)
  }

  /** Collects the features written; fails on a second call. */
  private final class Capture extends FeatureWriter {
    var values: Array[Float] = _
    def features(v: Array[Float]): Unit = features(v, 0, v.length)
    def features(v: Array[Float], offset: Int, length: Int): Unit = {
      assert(values == null, "one features call per record")
      values = java.util.Arrays.copyOfRange(v, offset, offset + length)
    }
  }

  private def run(t: TextTransform, text: String): Array[Float] = {
    val c = new Capture
    t.transform(new OneText(text), Ctx, c)
    c.values
  }

  private def texts(values: Seq[String], partitions: Int = 2): DataFrame = spark.createDataFrame(
    spark.sparkContext.parallelize(values.map(Row(_)), partitions),
    StructType(Seq(StructField("text", StringType))))

  private def words(text: String, ngrams: Int = 1): Seq[String] =
    TextTransform.builder("text").ngrams(ngrams).hashing(8).build().tokens(text).toSeq

  test("tokenising lowercases, splits on punctuation and spaces, and keeps digits inside words") {
    assert(words("Hello, World! It's GREAT...") == Seq("hello", "world", "it", "s", "great"))
    assert(words("iPhone 15 Pro-Max, 2x4 lumber; 3.5mm") == Seq("iphone", "15", "pro", "max", "2x4", "lumber", "3", "5mm"))
    assert(words("tabs\tand\nnew-lines__underscores") == Seq("tabs", "and", "new", "lines", "underscores"))
    assert(words("") == Seq.empty && words("  ...!!! -- ") == Seq.empty)
  }

  test("tokenising keeps Unicode letters and accents, puts accents in one form, and splits ideographs") {
    assert(words("Café CAFÉ naïve Straße ÉCOLE") == Seq("café", "café", "naïve", "straße", "école"))
    val decomposed = "cafe\u0301" // e + combining acute accent: the same word as the precomposed é
    assert(words(decomposed) == Seq("caf\u00e9"))
    assert(words("ПРИВЕТ, мир! ΣΟΦΊΑ") == Seq("привет", "мир", "σοφία"))
    assert(words("我爱北京 OK") == Seq("我", "爱", "北", "京", "ok"))
  }

  test("lowercasing does not depend on the JVM's default locale") {
    val before = Locale.getDefault
    try {
      Locale.setDefault(Locale.forLanguageTag("tr-TR")) // "I".toLowerCase() is a dotless ı here
      assert(words("TITLE IS FINE") == Seq("title", "is", "fine"))
    } finally Locale.setDefault(before)
  }

  test("ngrams follow each word with the phrases it ends") {
    assert(words("not good at all", 2) == Seq("not", "good", "not good", "at", "good at", "all", "at all"))
    assert(words("a b c", 3) == Seq("a", "b", "a b", "c", "b c", "a b c"))
    val t = TextTransform.builder("text").ngrams(2).maxLength(4).hashing(8).build()
    assert(t.ids("not good at all").count(_ != 0) == 4, "n-grams count against maxLength")
  }

  test("the hash is the reference MurmurHash3 x86_32 of the UTF-8 bytes, and hashed ids are pinned") {
    def m(s: String, seed: Int) = TextTokenizer.murmur3(s.getBytes(StandardCharsets.UTF_8), seed)
    // Published test vectors of MurmurHash3_x86_32: the algorithm, not a JVM's String.hashCode.
    assert(m("", 0) == 0)
    assert(m("", 1) == 0x514e28b7)
    assert(m("hello", 0) == 0x248bfa47)
    assert(m("The quick brown fox jumps over the lazy dog", 0) == 0x2e4ff723)
    val t = TextTransform.builder("text").maxLength(6).hashing(1000).build()
    assert(t.cardinality == 1002 && t.isFitted && t.hashBuckets == 1000)
    // These ids are saved inside trained models: they must never change (any JVM, any machine).
    val pinned = t.ids("great product, not bad. 北")
    // "great", "product", "not", "bad", "北" (1000 buckets, seed 0x5eed), then padding.
    assert(pinned.toSeq == Seq(754, 380, 447, 429, 831, 0), pinned.mkString(","))
    assert(pinned.take(5).forall(id => id >= 2 && id < 1002))
  }

  test("ids: out-of-vocabulary terms are 1, padding is 0, long texts are cut at maxLength") {
    val t = TextTransform.builder("text").maxLength(5).vocabulary(Array("good", "bad", "not bad")).build()
    assert(t.cardinality == 5 && t.isFitted && t.vocabulary.toSeq == Seq("good", "bad", "not bad"))
    assert(t.ids("Good, very GOOD").toSeq == Seq(2, 1, 2, 0, 0))
    assert(t.ids("bad bad bad bad bad bad bad good").toSeq == Seq(3, 3, 3, 3, 3))
    assert(t.ids("").toSeq == Seq(0, 0, 0, 0, 0) && t.ids("?!").toSeq == Seq(0, 0, 0, 0, 0))
    val bigrams = TextTransform.builder("text").maxLength(4).ngrams(2).vocabulary(java.util.List.of("bad", "not bad")).build()
    assert(bigrams.ids("not bad").toSeq == Seq(1, 2, 3, 0))
    assert(t.featureSize == 5 && t.inputCols.toSeq == Seq("text") && t.deterministic)
    assert(run(t, "good bad zzz").toSeq == Seq(2f, 3f, 1f, 0f, 0f), "transform writes the ids as floats")
    assert(run(t, "").toSeq == Seq(0f, 0f, 0f, 0f, 0f))
  }

  test("a null text fails naming the column and the fix") {
    val t = TextTransform.builder("review").hashing(16).build()
    val e = intercept[IllegalArgumentException](run(t, null))
    assert(e.getMessage.contains("`review` is null") && e.getMessage.contains("na.fill"), e.getMessage)
  }

  test("fit learns the most frequent terms, at least minCount times, ties broken by term, the same on any partitioning") {
    // a: 3, c: 3, b: 2, d: 1, e: 1
    val rows = Seq("b a a c", "A b d", "c, C e")
    val learn = TextTransform.builder("text").maxLength(4).learnVocabulary(4, 1).build()
    assert(!learn.isFitted && learn.cardinality == 6 && learn.vocabulary.isEmpty)
    val fitted = learn.fit(texts(rows))
    assert(fitted.vocabulary.toSeq == Seq("a", "c", "b", "d"), "count descending, then term (d before e)")
    assert(fitted.cardinality == 6 && fitted.isFitted)
    assert(fitted.ids("e d c b a").toSeq == Seq(1, 5, 3, 4))
    for (p <- Seq(1, 3, 5)) {
      assert(learn.fit(texts(rows.reverse, p)).vocabulary.toSeq == fitted.vocabulary.toSeq, s"$p partitions")
    }
    val top2 = TextTransform.builder("text").learnVocabulary(2, 1).build().fit(texts(rows))
    assert(top2.vocabulary.toSeq == Seq("a", "c") && top2.cardinality == 4, "maxVocabulary")
    val frequent = TextTransform.builder("text").learnVocabulary(100, 2).build().fit(texts(rows))
    assert(frequent.vocabulary.toSeq == Seq("a", "c", "b") && frequent.cardinality == 5, "minCount")
    val pairs = TextTransform.builder("text").ngrams(2).learnVocabulary(3, 1).build().fit(texts(Seq("x y", "x y", "y x")))
    assert(pairs.vocabulary.toSeq == Seq("x", "y", "x y"), "n-grams are counted as terms")
    assert(fitted.fit(texts(Seq("z z z"))) eq fitted, "a fitted transform keeps its vocabulary")
    val hashing = TextTransform.builder("text").hashing(8).build()
    assert(hashing.fit(texts(rows)) eq hashing, "hashing has nothing to fit")
  }

  test("fit fails on null texts (saying how many), on an empty result, and transform fails before fit") {
    val learn = TextTransform.builder("text").learnVocabulary(10, 2).build()
    val nulls = intercept[IllegalArgumentException](learn.fit(texts(Seq("a a", null, "b", null))))
    assert(nulls.getMessage.contains("`text` is null in 2 rows") && nulls.getMessage.contains("na.drop"), nulls.getMessage)
    val none = intercept[IllegalArgumentException](learn.fit(texts(Seq("a b", "c"))))
    assert(none.getMessage.contains("minCount = 2") && none.getMessage.contains("lower minCount"), none.getMessage)
    val early = intercept[IllegalStateException](run(learn, "a"))
    assert(early.getMessage.contains("call fit(dataset) first"), early.getMessage)
  }

  test("Java serialization keeps the learned vocabulary and the ids") {
    val fitted = TextTransform.builder("text").maxLength(6).ngrams(2).learnVocabulary(50, 1).build()
      .fit(texts(Seq("the sound is great", "great sound, poor battery", "battery died")))
    val back = roundTrip(fitted)
    assert(back.vocabulary.toSeq == fitted.vocabulary.toSeq && back.cardinality == fitted.cardinality)
    assert(back.maxLength == 6 && back.ngrams == 2 && back.inputCol == "text" && back.isFitted)
    for (s <- Seq("great sound", "the battery is poor", "unknown words only", "")) {
      assert(back.ids(s).toSeq == fitted.ids(s).toSeq, s)
      assert(run(back, s).toSeq == run(fitted, s).toSeq, s)
    }
    val hashing = TextTransform.builder("text").maxLength(3).hashing(1000).build()
    assert(roundTrip(hashing).ids("great product").toSeq == Seq(754, 380, 0) && roundTrip(hashing).hashBuckets == 1000)
  }

  private def roundTrip(t: TextTransform): TextTransform = {
    val bytes = new ByteArrayOutputStream()
    val out = new ObjectOutputStream(bytes)
    out.writeObject(t)
    out.close()
    new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray)).readObject().asInstanceOf[TextTransform]
  }

  test("every serialized class of a TextTransform has a fixed serialVersionUID, so adding a field keeps saved models loadable") {
    for (c <- Seq(classOf[TextTransform], classOf[TextTransform.Hashing], classOf[TextTransform.Learn],
        classOf[TextTransform.Terms])) {
      assert(java.io.ObjectStreamClass.lookup(c).getSerialVersionUID == 1L, c.getName)
    }
  }

  test("bad settings fail naming the setting, the value and the fix") {
    def msg(f: => Any): String = intercept[IllegalArgumentException](f).getMessage
    val b = TextTransform.builder("text")
    val length = msg(b.maxLength(0))
    assert(length.startsWith("`TextTransform.maxLength` must be >= 1") && length.contains("padded") && length.endsWith("was 0"),
      length)
    assert(msg(b.ngrams(4)).contains("`TextTransform.ngrams` must be 1") && msg(b.ngrams(4)).endsWith("was 4"))
    assert(msg(b.hashing(0)).contains("`TextTransform.hashing.buckets` must be in [1, 16777214]") && msg(b.hashing(0)).endsWith("was 0"))
    assert(msg(b.hashing(1 << 24)).endsWith("was 16777216"))
    assert(msg(b.learnVocabulary(0, 1)).contains("`TextTransform.learnVocabulary.maxVocabulary`"))
    assert(msg(b.learnVocabulary(10, 0)).contains("`TextTransform.learnVocabulary.minCount` must be >= 1"))
    assert(msg(b.vocabulary(Array("good", "Bad"))).contains("term 1 = \"Bad\"") &&
      msg(b.vocabulary(Array("good", "Bad"))).contains("tokenises to \"bad\""))
    assert(msg(b.vocabulary(Array("good", "good"))).contains("must not repeat a term"))
    assert(msg(b.vocabulary(Array.empty[String])).contains("`TextTransform.vocabulary` must hold at least one term"))
    assert(msg(TextTransform.builder(" ")).contains("`TextTransform.inputCol` must name the string column"))
  }

  test("validateSchema refuses a missing or non-string column, naming it, its type and the fix") {
    val t = TextTransform.builder("text").hashing(8).build()
    t.validateSchema(StructType(Seq(StructField("text", StringType), StructField("label", IntegerType))))
    val wrong = intercept[IllegalArgumentException](t.validateSchema(StructType(Seq(StructField("text", IntegerType)))))
    assert(wrong.getMessage.contains("`text` as text, but it is int") && wrong.getMessage.contains("cast(\"string\")"),
      wrong.getMessage)
    val missing = intercept[IllegalArgumentException](t.validateSchema(StructType(Seq(StructField("body", StringType)))))
    assert(missing.getMessage.contains("column `text`, which the data does not have (columns: body)"), missing.getMessage)
    val learn = TextTransform.builder("text").build()
    intercept[IllegalArgumentException](learn.fit(spark.range(3).toDF("text")))
  }

  test("concurrent transforms on several threads write what one thread writes") {
    val t = TextTransform.builder("text").maxLength(12).ngrams(2)
      .vocabulary((0 until 200).map(i => "w" + i).toArray).build()
    val rnd = new SplittableRandom(5)
    val inputs = Array.fill(400)((0 until 1 + rnd.nextInt(20)).map(_ => "W" + rnd.nextInt(260)).mkString(" "))
    val expected = inputs.map(s => run(t, s).toSeq)
    val shared = roundTrip(t) // as on an executor: its term index is built by the first call, on some thread
    val pool = Executors.newFixedThreadPool(4)
    try {
      val tasks = (0 until 8).map(k => new Callable[Seq[Seq[Float]]] {
        def call(): Seq[Seq[Float]] = inputs.indices.map(i => run(shared, inputs((i + k * 50) % inputs.length)).toSeq)
      })
      val results = pool.invokeAll(tasks.asJava).asScala.map(_.get())
      for ((r, k) <- results.zipWithIndex; i <- inputs.indices) {
        assert(r(i) == expected((i + k * 50) % inputs.length), s"task $k input $i")
      }
    } finally {
      pool.shutdown()
      assert(pool.awaitTermination(30, TimeUnit.SECONDS))
    }
  }

  test("the ids fit the model's sequence column: accepted by its record checks and embedded by its graph") {
    val fitted = TextTransform.builder("text").maxLength(8).learnVocabulary(30, 1).build()
      .fit(texts(Seq("a fine day", "a bad day", "fine fine")))
    for (t <- Seq(fitted, TextTransform.builder("text").maxLength(8).hashing(50).build())) {
      val spec = ModelSpec.builder(t.featureSize).featureColumns(t.sequenceColumn(4)).globalAvgPool()
        .dense(2, Activation.NONE).seed(1).build()
      assert(spec.featureColumns().get(0) == ai.bios.tf.model.LayerSpec.sequence("text", 0, 8, t.cardinality, 4))
      val checks = RecordChecks.forRecords(spec)
      val batch = Seq("a fine day", "never seen words here at all, none of them", "", "fine")
      val rows = batch.map(s => run(t, s))
      for ((r, row) <- rows.zipWithIndex; (v, i) <- r.zipWithIndex) checks.checkFeature(v, i, row)
      val model = new TrainableModel(spec, OptimizerSpec.sgd(0.1), ComputeOptions.cpu())
      try {
        val x = TFloat32.tensorOf(Shape.of(rows.length, t.featureSize), DataBuffers.of(rows.flatten.toArray, true, false))
        try {
          val p = model.predict(x)
          assert(p.length == 2 * rows.length && p.forall(v => v > 0 && v < 1), p.mkString(","))
        } finally x.close()
      } finally model.close()
    }
  }
}
