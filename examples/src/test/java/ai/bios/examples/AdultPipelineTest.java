package ai.bios.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Adult ETL pipeline with Bios as its last stage reaches at least 84% test accuracy. */
class AdultPipelineTest {
  private static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("AdultPipelineTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void twoWorkersOnTheRealDataReachAtLeast84PercentOnTheTestSplit() {
    AdultPipeline.Result r = AdultPipeline.run(spark, "data/adult", "efficient", 2, 6);
    assertTrue(r.accuracy() >= 0.84, "accuracy " + r.accuracy());
    assertEquals(2, r.workers());
    assertTrue(r.toJson().contains("\"accuracy\":"), r.toJson());
  }
}
