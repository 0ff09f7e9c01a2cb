package ai.bios.spark.internal

import ai.bios.tf.checkpoint.{Checkpoint, CheckpointFiles, CheckpointStore, FileCheckpointStore, RunIdentity}
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileSystem, Path}

import java.io.{IOException, InputStream, OutputStream}
import java.util.{Optional, UUID}
import scala.jdk.CollectionConverters._

/**
 * Checkpoints on any Hadoop file system (file://, hdfs://, s3a://, whatever the cluster's Hadoop
 * configuration knows): the engine's [[FileCheckpointStore]] (naming, temporary name then rename,
 * keeping the newest `keep`, falling back past a file that does not verify) over [[HadoopCheckpointFiles]].
 * Serializable: the file system is opened where the store is used.
 */
private[spark] final class HadoopCheckpointStore(dir: String, keep: Int, hadoopConf: Map[String, String])
  extends CheckpointStore with Serializable {


  @transient private lazy val store = new FileCheckpointStore(new HadoopCheckpointFiles(dir, hadoopConf), keep)

  override def location(): String = dir
  override def write(c: Checkpoint): Unit = store.write(c)
  override def read(step: Long): Optional[Checkpoint] = store.read(step)
  override def latest(): Optional[Checkpoint] = store.latest()

  /** Steps of complete checkpoints, oldest first. */
  def steps(): Seq[Long] = store.steps().asScala.map(_.longValue).toSeq

  /** The identity of the newest checkpoint, if any. */
  def latestIdentity(): Option[RunIdentity] = Option(latest().orElse(null)).map(_.identity())

  /**
   * Creates the directory and a probe file in it; fails within seconds, naming checkpointDir, if it
   * cannot: the probe's client gives up on an unreachable server after one short connection attempt
   * instead of Hadoop's default minutes of retries.
   */
  def probeWritable(): Unit = {
    val conf = HadoopCheckpointFiles.configuration(hadoopConf)
    conf.setInt("ipc.client.connect.max.retries", 0)
    conf.setInt("ipc.client.connect.max.retries.on.timeouts", 0)
    conf.setInt("ipc.client.connect.timeout", 5000)
    conf.setInt("dfs.client.failover.max.attempts", 0)
    val root = new Path(dir)
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
}

private[spark] object HadoopCheckpointStore {
  def apply(dir: String, keep: Int, conf: Configuration): HadoopCheckpointStore =
    new HadoopCheckpointStore(dir, keep, conf.iterator().asScala.map(e => e.getKey -> e.getValue).toMap)
}

/**
 * [[CheckpointFiles]] in directory `dir` of a Hadoop file system. Rename replaces the target by
 * deleting it first (Hadoop's rename does not overwrite); on object stores it is a copy.
 */
private[spark] final class HadoopCheckpointFiles(dir: String, hadoopConf: Map[String, String])
  extends CheckpointFiles with Serializable {

  @transient private lazy val root = new Path(dir)
  @transient private lazy val fs: FileSystem = root.getFileSystem(HadoopCheckpointFiles.configuration(hadoopConf))

  private def path(name: String) = new Path(root, name)

  override def location(): String = dir
  override def pathOf(name: String): String = path(name).toString
  override def mkdirs(): Unit = fs.mkdirs(root)

  override def list(): java.util.List[String] =
    if (!fs.exists(root)) java.util.List.of() else fs.listStatus(root).toSeq.map(_.getPath.getName).asJava

  override def exists(name: String): Boolean = fs.exists(path(name))
  override def open(name: String): InputStream = fs.open(path(name))
  override def create(name: String): OutputStream = fs.create(path(name), false)

  override def rename(from: String, to: String): Unit = {
    if (fs.exists(path(to))) fs.delete(path(to), false)
    if (!fs.rename(path(from), path(to))) {
      throw new IOException(s"could not rename ${path(from)} to ${path(to)} in checkpointDir $dir")
    }
  }

  override def delete(name: String): Unit = fs.delete(path(name), false)
}

private[spark] object HadoopCheckpointFiles {
  def configuration(entries: Map[String, String]): Configuration = {
    val conf = new Configuration()
    entries.foreach { case (k, v) => conf.set(k, v) }
    conf
  }
}
