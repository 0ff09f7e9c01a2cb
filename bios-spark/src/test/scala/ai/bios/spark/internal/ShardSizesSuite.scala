package ai.bios.spark.internal

import org.scalatest.funsuite.AnyFunSuite

import scala.util.Random

/** The shard sizes a driver computes from partition row counts are the ones the shuffle deals. */
class ShardSizesSuite extends AnyFunSuite {

  test("shardSizes matches ShardPartitioner's dealing, row by row, for uneven and empty partitions") {
    val rnd = new Random(5)
    for (workers <- Seq(1, 2, 3, 7); trial <- 0 until 20) {
      val counts = Array.fill(1 + rnd.nextInt(9))(if (rnd.nextInt(4) == 0) 0L else rnd.nextInt(50).toLong)
      val dealt = new Array[Long](workers)
      val partitioner = new BarrierTraining.ShardPartitioner(workers)
      for (p <- counts.indices; i <- 0L until counts(p)) {
        dealt(partitioner.getPartition((p.toLong << 32) | i)) += 1
      }
      assert(BarrierTraining.shardSizes(counts, workers).toSeq == dealt.toSeq,
        s"$workers workers, partitions ${counts.mkString(",")}")
    }
  }
}
