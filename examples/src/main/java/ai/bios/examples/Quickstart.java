package ai.bios.examples;

import java.util.Locale;
import org.apache.spark.sql.SparkSession;

/**
 * The quickstart: Spark embedded in this JVM (local mode, 2 task slots), the UCI Adult census CSVs
 * read and cleaned by an MLlib pipeline, and a Bios network trained on 2 barrier workers with live
 * progress from the Bios plugin. Ends with the accuracy on the held-out test split.
 *
 * <pre>examples/bin/run-example Quickstart [--mode simple|efficient] [--workers N] [--epochs N]</pre>
 */
public final class Quickstart {
  private Quickstart() {}

  public static void main(String[] args) {
    Args a = new Args(args);
    String mode = a.get("mode", "efficient");
    int workers = Integer.parseInt(a.get("workers", "2"));
    int epochs = Integer.parseInt(a.get("epochs", "12"));
    a.requireConsumed();
    SparkSession spark = AdultPipeline.localSpark("Bios quickstart",
        AdultPipeline.submittedMasterOr("local[" + Math.max(2, workers) + "]"))
        .config("spark.plugins", "ai.bios.spark.BiosPlugin")
        .config("spark.bios.progressInterval", "1s")
        .getOrCreate();
    try {
      System.out.printf(Locale.ROOT, "Training on the Adult census data: %d barrier workers, %s mode, %d epochs%n",
          workers, mode, epochs);
      AdultPipeline.Result r = AdultPipeline.run(spark, "examples/data/adult", mode, workers, epochs);
      System.out.printf(Locale.ROOT,
          "test accuracy: %.4f on adult.test.csv (trained in %.1f s, %d steps, %d epochs; kept epoch %d, validation accuracy %.4f)%n",
          r.accuracy(), r.trainSeconds(), r.steps(), r.epochsRun(), r.bestEpoch(), r.valAccuracy());
    } finally {
      spark.stop();
    }
  }
}
