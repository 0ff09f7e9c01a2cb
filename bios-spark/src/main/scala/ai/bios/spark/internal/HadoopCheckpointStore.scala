package ai.bios.spark.internal

import ai.bios.tf.checkpoint.{Checkpoint, CheckpointStore, RunIdentity}
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileSystem, Path}

import java.io.{BufferedInputStream, BufferedOutputStream, IOException}
import java.util.{Optional, UUID}
import scala.jdk.CollectionConverters._

/**
 * Checkpoints on any Hadoop file system (file://, hdfs://, s3a://, whatever the cluster's Hadoop
 * configuration knows): `ckpt-<step>.bios`, written under a hidden temporary name and renamed
 * when complete, the newest `keep` kept, older ones deleted only after a newer one is complete.
 * (On object stores without atomic rename, such as S3, the rename is a copy: a crash mid-copy
 * leaves a file that fails its checksum and is skipped.)
 */
private[spark] final class HadoopCheckpointStore(dir: String, keep: Int, hadoopConf: Map[String, String])
  extends CheckpointStore with Serializable {

  require(keep >= 1, s"keepCheckpoints must be >= 1, was $keep")

  @transient private lazy val root = new Path(dir)
  @transient private lazy val fs: FileSystem = {
    val conf = new Configuration()
    hadoopConf.foreach { case (k, v) => conf.set(k, v) }
    root.getFileSystem(conf)
  }

  override def location(): String = dir

  private def pathFor(step: Long) = new Path(root, f"ckpt-$step%012d.bios")

  override def write(c: Checkpoint): Unit = {
    try fs.mkdirs(root) catch {
      case e: IOException => throw new IOException(s"checkpointDir $dir cannot be created: $e; point " +
        "checkpointDir at a writable directory", e)
    }
    val target = pathFor(c.nextStep())
    val tmp = new Path(root, s".${target.getName}.tmp-${UUID.randomUUID()}")
    try {
      val out = new BufferedOutputStream(fs.create(tmp, false), 1 << 16)
      try c.writeTo(out) finally out.close()
      if (fs.exists(target)) fs.delete(target, false) // a retried attempt rewrites the same step
      if (!fs.rename(tmp, target)) {
        throw new IOException(s"could not rename $tmp to $target in checkpointDir $dir")
      }
    } catch {
      case e: IOException =>
        try fs.delete(tmp, false) catch { case _: IOException => }
        throw new IOException(s"checkpoint for step ${c.nextStep()} could not be written to checkpointDir $dir: " +
          s"${e.getMessage}; check that it is writable", e)
    }
    val all = steps()
    all.dropRight(keep).foreach(s => fs.delete(pathFor(s), false))
  }

  /**
   * Creates the directory and a probe file in it; fails within seconds, naming checkpointDir, if it
   * cannot: the probe's client gives up on an unreachable server after one short connection attempt
   * instead of Hadoop's default minutes of retries.
   */
  def probeWritable(): Unit = {
    val conf = new Configuration()
    hadoopConf.foreach { case (k, v) => conf.set(k, v) }
    conf.setInt("ipc.client.connect.max.retries", 0)
    conf.setInt("ipc.client.connect.max.retries.on.timeouts", 0)
    conf.setInt("ipc.client.connect.timeout", 5000)
    conf.setInt("dfs.client.failover.max.attempts", 0)
    val probe = new Path(root, s".bios-probe-${UUID.randomUUID()}")
    try {
      val probeFs = FileSystem.newInstance(root.toUri, conf)
      try {
        probeFs.mkdirs(root)
        probeFs.create(probe, false).close()
        probeFs.delete(probe, false)
      } finally probeFs.close()
    } catch {
      case e: IOException => throw new IllegalArgumentException(s"checkpointDir $dir is not writable or not " +
        s"reachable: ${e.getMessage}; point checkpointDir at a directory this job can write, on a file system " +
        "every executor reaches", e)
    }
  }

  /** The identity of the newest checkpoint, if any. */
  def latestIdentity(): Option[RunIdentity] = Option(latest().orElse(null)).map(_.identity())

  /** Steps of complete checkpoints, oldest first. */
  def steps(): Seq[Long] = {
    if (!fs.exists(root)) return Seq.empty
    val name = "ckpt-(\\d{12})\\.bios".r
    fs.listStatus(root).toSeq.map(_.getPath.getName).collect { case name(s) => s.toLong }.sorted
  }

  override def read(step: Long): Optional[Checkpoint] = {
    val p = pathFor(step)
    if (!fs.exists(p)) return Optional.empty()
    val in = new BufferedInputStream(fs.open(p), 1 << 16)
    try Optional.of(Checkpoint.readFrom(in, p.toString)) finally in.close()
  }

  override def latest(): Optional[Checkpoint] = {
    val failures = new IOException(s"no checkpoint in $dir verifies")
    for (s <- steps().reverseIterator) {
      try return read(s) catch { case e: IOException => failures.addSuppressed(e) }
    }
    if (failures.getSuppressed.nonEmpty) throw failures
    Optional.empty()
  }
}

private[spark] object HadoopCheckpointStore {
  def apply(dir: String, keep: Int, conf: Configuration): HadoopCheckpointStore =
    new HadoopCheckpointStore(dir, keep, conf.iterator().asScala.map(e => e.getKey -> e.getValue).toMap)
}
