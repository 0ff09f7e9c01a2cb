package org.apache.spark.ml.bios

import org.apache.spark.{MapOutputTrackerMaster, Partition, Partitioner, ShuffleDependency, SparkEnv, TaskContext}
import org.apache.spark.rdd.{RDD, ShuffledRDDPartition}

import scala.collection.mutable
import scala.reflect.ClassTag

/**
 * A shuffle whose reduce side returns each partition's records map output by map output, in map
 * index order, and within one map output in the order the map task wrote them: a deterministic
 * order that needs no sort, so a reducer can start using the first records while later map
 * outputs are still being fetched. (Spark's `ShuffledRDD` hands blocks over in fetch order, which
 * varies from run to run.) Up to `mapsAhead` map outputs are fetched ahead of the one being read.
 */
final class MapOrderedShuffledRDD[K: ClassTag, V: ClassTag](
    @transient private var prev: RDD[(K, V)], part: Partitioner, mapsAhead: Int)
  extends RDD[(K, V)](prev.context, Nil) {

  private val numMaps = prev.partitions.length

  override val partitioner: Option[Partitioner] = Some(part)

  override def getDependencies: Seq[org.apache.spark.Dependency[_]] =
    List(new ShuffleDependency[K, V, V](prev, part))

  override protected def getPartitions: Array[Partition] =
    Array.tabulate[Partition](part.numPartitions)(i => new ShuffledRDDPartition(i))

  /** Where most of the partition's map output lives, as for Spark's own shuffled RDDs. */
  override protected def getPreferredLocations(partition: Partition): Seq[String] = {
    val dep = dependencies.head.asInstanceOf[ShuffleDependency[K, V, V]]
    SparkEnv.get.mapOutputTracker.asInstanceOf[MapOutputTrackerMaster]
      .getPreferredLocationsForShuffle(dep, partition.index)
  }

  override def compute(split: Partition, context: TaskContext): Iterator[(K, V)] = {
    val dep = dependencies.head.asInstanceOf[ShuffleDependency[K, V, V]]
    val metrics = context.taskMetrics().createTempShuffleReadMetrics()
    val reduce = split.index
    def open(map: Int): Iterator[(K, V)] = SparkEnv.get.shuffleManager
      .getReader[K, V](dep.shuffleHandle, map, map + 1, reduce, reduce + 1, context, metrics)
      .read().asInstanceOf[Iterator[(K, V)]]
    new Iterator[(K, V)] {
      private val opened = mutable.Queue[Iterator[(K, V)]]()
      private var nextMap = 0

      private def fill(): Unit = while (opened.size < mapsAhead && nextMap < numMaps) {
        opened.enqueue(open(nextMap)) // starts fetching that map output's block
        nextMap += 1
      }

      override def hasNext: Boolean = {
        fill()
        while (opened.nonEmpty && !opened.head.hasNext) {
          opened.dequeue()
          fill()
        }
        opened.nonEmpty
      }

      override def next(): (K, V) = {
        if (!hasNext) throw new NoSuchElementException("end of the shuffle partition")
        opened.head.next()
      }
    }
  }

  override def clearDependencies(): Unit = {
    super.clearDependencies()
    prev = null
  }
}
