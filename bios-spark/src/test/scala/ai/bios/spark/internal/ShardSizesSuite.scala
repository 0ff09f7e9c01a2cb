package ai.bios.spark.internal

import ai.bios.spark.LocalSpark
import org.apache.spark.ml.linalg.Vectors
import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

import scala.util.Random

/**
 * The training-row counts the driver computes for a cosine schedule's total steps are the ones the
 * shuffle really deals to each worker, validation rows left out.
 */
class ShardSizesSuite extends AnyFunSuite with LocalSpark {

  test("trainingShardSizes equals the rows the shard shuffle deals each worker, for uneven partitions and validation rows") {
    val session = spark
    import session.implicits._
    val rnd = new Random(5)
    for (workers <- Seq(1, 2, 3); trial <- 0 until 3) {
      val partitions = 1 + rnd.nextInt(6)
      val rows = (0 until 40 + rnd.nextInt(60)).map(i => (Vectors.dense(i.toDouble), 0.0, rnd.nextInt(4) == 0))
      val df = rows.toDF("features", "label", "isVal").repartition(partitions)
      val decoder = new RowDecoder("features", 0, 1, "label", 1, 1, "the training data")
      val validation = BarrierTraining.ValidationRows(2, "isVal", "validationIndicatorCol")
      val dealt = BarrierTraining.shard(df, workers, decoder, 2)
        .mapPartitions(it => Iterator(it.count { case (_, row: Row) => !row.getBoolean(2) }.toLong))
        .collect()
      assert(BarrierTraining.trainingShardSizes(df, workers, direct = false, Some(validation)).toSeq == dealt.toSeq,
        s"$workers workers, $partitions partitions")
      val all = BarrierTraining.shard(df, workers, decoder, 2).mapPartitions(it => Iterator(it.size.toLong)).collect()
      assert(BarrierTraining.trainingShardSizes(df, workers, direct = false, None).toSeq == all.toSeq)
    }
  }
}
