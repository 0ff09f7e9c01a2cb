package ai.bios.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.spark.transform.TextTransform;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The made-up reviews are reproducible, balanced, varied, and learnable but not perfectly. */
class SyntheticReviewsTest {
  private static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("SyntheticReviewsTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void aReviewIsAPureFunctionOfSeedAndIdWhateverThePartitioning() {
    assertEquals(SyntheticReviews.review(7, 123), SyntheticReviews.review(7, 123));
    assertNotEquals(SyntheticReviews.review(7, 123).text(), SyntheticReviews.review(8, 123).text());
    assertNotEquals(SyntheticReviews.review(7, 123).text(), SyntheticReviews.review(7, 124).text());
    List<Row> two = SyntheticReviews.generate(spark, 7, 100, 300, 2).orderBy("id").collectAsList();
    List<Row> five = SyntheticReviews.generate(spark, 7, 100, 300, 5).orderBy("id").collectAsList();
    assertEquals(two, five);
    assertEquals(300, two.size());
    for (Row r : two) {
      SyntheticReviews.Review v = SyntheticReviews.review(7, r.getLong(0));
      assertEquals(v.text(), r.getString(1));
      assertEquals((double) v.label(), r.getDouble(2));
    }
    assertEquals(100L, two.get(0).getLong(0));
  }

  @Test
  void labelsAreBalancedAndTextsVaried() {
    int positive = 0;
    Set<String> texts = new HashSet<>();
    for (long id = 0; id < 4000; id++) {
      SyntheticReviews.Review v = SyntheticReviews.review(3, id);
      positive += v.label();
      texts.add(v.text());
      assertTrue(v.label() == 0 || v.label() == 1);
      assertTrue(!v.text().isBlank());
    }
    assertTrue(positive > 1800 && positive < 2200, positive + " positive of 4000");
    assertTrue(texts.size() > 3900, texts.size() + " distinct texts of 4000");
  }

  /**
   * A multinomial naive Bayes over words and word pairs (TextTransform's terms, add-one smoothing),
   * trained on 8000 reviews and scored on 2000 others: the signal is in the words, but not all of it.
   */
  @Test
  void aBagOfWordsModelLearnsItWellAboveChanceButNotPerfectly() {
    TextTransform terms = TextTransform.builder("text").ngrams(2).hashing(1).build();
    Map<String, int[]> counts = new HashMap<>();
    int[] total = new int[2];
    int[] docs = new int[2];
    for (long id = 0; id < 8000; id++) {
      SyntheticReviews.Review v = SyntheticReviews.review(11, id);
      docs[v.label()]++;
      for (String t : terms.tokens(v.text())) {
        counts.computeIfAbsent(t, k -> new int[2])[v.label()]++;
        total[v.label()]++;
      }
    }
    int right = 0;
    for (long id = 8000; id < 10000; id++) {
      SyntheticReviews.Review v = SyntheticReviews.review(11, id);
      double score = Math.log(docs[1]) - Math.log(docs[0]); // log P(positive | text) - log P(negative | text)
      for (String t : terms.tokens(v.text())) {
        int[] c = counts.getOrDefault(t, new int[2]);
        score += Math.log((c[1] + 1.0) / (total[1] + counts.size())) - Math.log((c[0] + 1.0) / (total[0] + counts.size()));
      }
      right += (score > 0 ? 1 : 0) == v.label() ? 1 : 0;
    }
    double accuracy = right / 2000.0;
    System.out.println("naive Bayes on SyntheticReviews: test accuracy " + accuracy);
    assertTrue(accuracy > 0.75 && accuracy < 0.93, "accuracy " + accuracy);
  }
}
