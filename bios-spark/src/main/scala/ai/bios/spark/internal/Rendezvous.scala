package ai.bios.spark.internal

import ai.bios.tf.BiosException
import org.apache.spark.BarrierTaskContext

import java.time.Duration
import java.util.concurrent.{Executors, ScheduledExecutorService, TimeUnit}

/**
 * The one rendezvous of a training task (`BarrierTaskContext.allGather`), bounded by Bios.
 *
 * Spark bounds `allGather` only by `spark.barrier.sync.timeout` (a year by default) and ends it
 * early only when the task is killed. A worker that never arrives (stuck before the rendezvous,
 * alive, so its task is not lost) would hold every other worker's slot that long. Here a watchdog
 * thread interrupts the waiting task thread once `timeout` has passed; the task then fails naming
 * the timeout and the setting, and Spark retries the stage.
 *
 * Threads: the task thread calls [[gather]]; the watchdog (`bios-rendezvous-<rank>`, owned and
 * shut down by [[gather]]) only interrupts the task thread, and only while it is inside
 * `allGather` (guarded by `lock`), so no interrupt leaks into the task's later waits.
 */
private[spark] object Rendezvous {

  def gather(ctx: BarrierTaskContext, message: String, timeout: Duration, rank: Int): Array[String] = {
    val task = Thread.currentThread()
    val lock = new Object
    var inside = true // guarded by lock
    var fired = false // guarded by lock
    val watchdog: ScheduledExecutorService = Executors.newSingleThreadScheduledExecutor { r =>
      val t = new Thread(r, s"bios-rendezvous-$rank")
      t.setDaemon(true)
      t
    }
    watchdog.schedule(new Runnable {
      override def run(): Unit = lock.synchronized {
        if (inside) {
          fired = true
          task.interrupt()
        }
      }
    }, timeout.toNanos, TimeUnit.NANOSECONDS)
    try {
      ctx.allGather(message)
    } catch {
      case e: Throwable if lock.synchronized(fired) =>
        throw new BiosException(s"rank $rank: not every worker reached the rendezvous within $timeout " +
          "(spark.bios.rendezvousTimeout); a worker may be stuck before training. Spark retries the stage; " +
          "raise spark.bios.rendezvousTimeout if workers legitimately start that far apart", e)
    } finally {
      lock.synchronized {
        inside = false
        if (fired) Thread.interrupted() // the interrupt was for allGather only
      }
      watchdog.shutdownNow()
      watchdog.awaitTermination(1, TimeUnit.SECONDS)
    }
  }
}
