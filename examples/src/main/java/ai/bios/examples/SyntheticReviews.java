package ai.bios.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Short product reviews with a positive (1) or negative (0) label, made up deterministically: review
 * {@code id} of {@code seed} is a pure function of the two, so any subset, order or partitioning of
 * ids gives the same rows, and train and test sets are disjoint id ranges of one distribution.
 *
 * <p>A review has a hidden sentiment. Its clauses praise or criticise an aspect of a product, mostly
 * agreeing with that sentiment but not always (mixed reviews); some flip a word with a negation
 * ("not terrible", "would not buy again", which a bag of words reads the wrong way unless it sees
 * word pairs); neutral clauses about delivery, price and gifts carry no signal; a few reviews have
 * no opinion at all; words get typos; and a few labels are wrong, as ratings are. So a model of the
 * words reaches well above chance but not 100%: a reader who counts the opinions perfectly and
 * follows the majority would score about 0.88 (worked out from the rates below), a bag-of-words naive Bayes scores about 0.83 (see
 * {@code SyntheticReviewsTest}).
 *
 * <p>Columns: {@code id} (long), {@code text} (string), {@code label} (double: 1 positive, 0 negative).
 */
public final class SyntheticReviews {
  private SyntheticReviews() {}

  /** One review: its text and label (1 positive, 0 negative). */
  public record Review(String text, int label) {}

  /** The rows' schema: id, text, label. */
  public static final StructType SCHEMA = new StructType()
      .add("id", DataTypes.LongType, false)
      .add("text", DataTypes.StringType, false)
      .add("label", DataTypes.DoubleType, false);

  private static final String[] PRODUCTS = {"headphones", "blender", "backpack", "desk lamp", "keyboard",
      "charger", "kettle", "jacket", "phone case", "vacuum", "coffee maker", "water bottle", "mouse", "speaker",
      "tent", "drill", "pillow", "watch", "camera bag", "router"};
  private static final String[] ASPECTS = {"sound", "battery", "fabric", "handle", "screen", "motor", "zipper",
      "cable", "lid", "strap", "buttons", "finish", "packaging", "instructions", "fit", "color", "quality", "build"};
  private static final String[] GOOD = {"excellent", "great", "perfect", "amazing", "fantastic", "solid", "sturdy",
      "comfortable", "reliable", "superb", "lovely", "impressive", "good", "nice"};
  private static final String[] BAD = {"terrible", "awful", "flimsy", "useless", "poor", "defective", "cheap",
      "disappointing", "horrible", "broken", "noisy", "faulty", "bad", "weak"};
  private static final String[] GOOD_PHRASES = {"i love it", "works perfectly", "highly recommend it",
      "worth every penny", "five stars", "exceeded my expectations", "would buy again", "very happy with it",
      "my {person} loves it", "does exactly what it should"};
  private static final String[] BAD_PHRASES = {"stopped working after a week", "i returned it", "waste of money",
      "i want a refund", "one star", "fell apart quickly", "would never buy again", "very unhappy with it",
      "my {person} hates it", "does not do what it should"};
  /** Negations of the other side: they read as the opposite of their words. */
  private static final String[] GOOD_NEGATED = {"not bad at all", "no complaints", "never had a problem",
      "not disappointed", "nothing to complain about"};
  private static final String[] BAD_NEGATED = {"not good at all", "not worth it", "would not buy again",
      "not happy", "not recommended", "never worked right"};
  private static final String[] NEUTRAL = {"i bought this for my {person}", "it arrived on {day}",
      "delivery took {n} days", "i have used it {n} times", "the {aspect} is {plain}", "the box was {plain}",
      "i paid {n}0 dollars", "it came in {plain}", "ordered it on {day} for a trip", "this is my {nth} {product}",
      "i use it every {day}", "the {product} is {plain} and {plain}"};
  private static final String[] PERSON = {"son", "daughter", "wife", "husband", "mother", "father", "friend", "office"};
  private static final String[] DAY = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
  private static final String[] PLAIN = {"black", "blue", "white", "small", "large", "heavy", "light", "standard",
      "grey", "plastic", "metal", "red"};
  private static final String[] NTH = {"first", "second", "third", "fourth"};
  private static final String[] JOINS = {". ", ", ", " and ", ". ", "! ", " but ", "; "};

  /** The share of labels flipped at random, as real ratings disagree with their text now and then. */
  static final double LABEL_NOISE = 0.03;

  /** Review {@code id} of {@code seed}: the same text and label on every call and machine. */
  public static Review review(long seed, long id) {
    SplittableRandom r = new SplittableRandom(mix(mix(seed) + id));
    int sentiment = r.nextInt(2);
    String product = pick(r, PRODUCTS);
    List<String> clauses = new ArrayList<>();
    // 5% of reviews state no opinion; the rest 1 to 3 opinions, each agreeing with the sentiment 90% of the time.
    int opinions = r.nextDouble() < 0.05 ? 0 : 1 + r.nextInt(3);
    for (int i = 0; i < opinions; i++) {
      boolean positive = (r.nextDouble() < 0.9) == (sentiment == 1);
      clauses.add(opinion(r, positive, product));
    }
    int neutral = 1 + r.nextInt(3);
    for (int i = 0; i < neutral; i++) {
      clauses.add(fill(r, pick(r, NEUTRAL), product));
    }
    shuffle(r, clauses);
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < clauses.size(); i++) {
      if (i > 0) {
        text.append(pick(r, JOINS));
      }
      text.append(noise(r, clauses.get(i)));
    }
    if (r.nextDouble() < 0.3) {
      text.append(r.nextBoolean() ? "!" : ".");
    }
    text.setCharAt(0, Character.toUpperCase(text.charAt(0)));
    int label = r.nextDouble() < LABEL_NOISE ? 1 - sentiment : sentiment;
    return new Review(text.toString(), label);
  }

  /** Reviews {@code firstId .. firstId + count - 1} of {@code seed} as a DataFrame of {@code partitions} partitions. */
  public static Dataset<Row> generate(SparkSession spark, long seed, long firstId, long count, int partitions) {
    return spark.range(firstId, firstId + count, 1, partitions).map((MapFunction<Long, Row>) id -> {
      Review v = review(seed, id);
      return RowFactory.create(id, v.text(), (double) v.label());
    }, Encoders.row(SCHEMA));
  }

  private static String opinion(SplittableRandom r, boolean positive, String product) {
    double kind = r.nextDouble();
    String adjective = pick(r, positive ? GOOD : BAD);
    String very = r.nextDouble() < 0.25 ? pick(r, new String[] {"very ", "really ", "quite ", "so "}) : "";
    String s;
    if (kind < 0.35) {
      s = "the " + pick(r, ASPECTS) + " is " + very + adjective;
    } else if (kind < 0.5) {
      s = "the " + product + " is " + very + adjective;
    } else if (kind < 0.75) {
      s = pick(r, positive ? GOOD_PHRASES : BAD_PHRASES);
    } else if (kind < 0.88) {
      s = pick(r, positive ? GOOD_NEGATED : BAD_NEGATED);
    } else {
      // "the zipper is not flimsy": the opposite side's adjective, negated.
      s = "the " + pick(r, ASPECTS) + " is " + (r.nextBoolean() ? "not " : "never ") + pick(r, positive ? BAD : GOOD);
    }
    return fill(r, s, product);
  }

  private static String fill(SplittableRandom r, String template, String product) {
    return template.replace("{person}", pick(r, PERSON)).replace("{day}", pick(r, DAY))
        .replace("{n}", Integer.toString(2 + r.nextInt(9))).replace("{aspect}", pick(r, ASPECTS))
        .replace("{plain}", pick(r, PLAIN)).replace("{nth}", pick(r, NTH)).replace("{product}", product);
  }

  /** Typos in about 5% of the words (a dropped, doubled or swapped letter) and the odd shouted word. */
  private static String noise(SplittableRandom r, String clause) {
    String[] words = clause.split(" ");
    for (int i = 0; i < words.length; i++) {
      String w = words[i];
      double u = r.nextDouble();
      if (w.length() > 3 && u < 0.05) {
        int at = 1 + r.nextInt(w.length() - 2);
        words[i] = switch (r.nextInt(3)) {
          case 0 -> w.substring(0, at) + w.substring(at + 1);
          case 1 -> w.substring(0, at) + w.charAt(at) + w.substring(at);
          default -> w.substring(0, at) + w.charAt(at + 1) + w.charAt(at) + w.substring(at + 2);
        };
      } else if (u > 0.98) {
        words[i] = w.toUpperCase(Locale.ROOT);
      }
    }
    return String.join(" ", words);
  }

  private static String pick(SplittableRandom r, String[] options) {
    return options[r.nextInt(options.length)];
  }

  private static void shuffle(SplittableRandom r, List<String> items) {
    for (int i = items.size() - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      String t = items.get(i);
      items.set(i, items.get(j));
      items.set(j, t);
    }
  }

  /** SplitMix64's finaliser: nearby seeds and ids give unrelated random streams. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
