package org.apache.spark

/** Test access to Spark internals (`private[spark]`), the way Spark's own tests reach them. */
object BiosTestAccess {
  /** Returns once every event posted so far has reached every listener (bounded by 30 s). */
  def drainListeners(sc: SparkContext): Unit = sc.listenerBus.waitUntilEmpty(30000L)
}
