package ai.bios.spark.internal

import ai.bios.spark.TrainingSummary
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{ChecksumFileSystem, FSDataOutputStream, FileSystem, Path}
import org.tensorflow.proto.{Event, Summary}

import java.io.{IOException, OutputStream}
import java.nio.{ByteBuffer, ByteOrder}
import java.util.zip.CRC32C
import scala.collection.mutable

/**
 * One fit's TensorBoard run: an event file in its own directory `runDir`, on any Hadoop file system
 * (file:, hdfs:, s3a:, ...), written through a Hadoop stream.
 *
 * The format is TensorFlow's own. An event file is a sequence of TFRecords, framed as
 * tensorflow/core/lib/io/record_writer.cc writes them (see [[TensorBoardWriter.frame]]), each holding
 * one serialized `tensorflow.Event` (tensorflow/core/util/event.proto; the generated classes ship in
 * tensorflow-core-native as `org.tensorflow.proto.Event`). The first event carries the file version
 * `brain.Event:2`; every other one a `Summary` with one scalar (`simple_value`), which TensorBoard's
 * scalar dashboard reads. TensorBoard picks up any file whose name contains `tfevents`.
 *
 * Steps: TensorBoard step n is the n-th training step (1-based, as the progress line counts);
 * per-epoch scalars use the epoch number (1-based) as their step, under `epoch/`.
 *
 * Thread-safe: the driver plugin's message thread writes live progress while the fit's thread
 * writes the summary at the end; after [[close]] everything is dropped.
 */
private[spark] final class TensorBoardWriter private (val runDir: String, val file: String, out: FSDataOutputStream)
  extends AutoCloseable {

  private var closed = false
  /** (tag, step) of every scalar already written, so the end of the fit does not repeat a live one. */
  private val written = mutable.HashSet[(String, Long)]()

  /** Writes one scalar (as float, TensorBoard's `simple_value`) unless this tag has it at this step. */
  def scalar(tag: String, step: Long, value: Double, wallSeconds: Double): Unit = synchronized {
    if (!closed && written.add((tag, step))) {
      val summary = Summary.newBuilder().addValue(Summary.Value.newBuilder().setTag(tag).setSimpleValue(value.toFloat))
      write(Event.newBuilder().setWallTime(wallSeconds).setStep(step).setSummary(summary).build())
    }
  }

  /**
   * Per-epoch scalars (epoch 1-based), each as `epoch/<name>` at step `epoch`: the one call to
   * make for each finished epoch (training loss, validation loss, accuracy, AUC, ...).
   */
  def epoch(epoch: Int, metrics: Seq[(String, Double)], wallSeconds: Double = TensorBoardWriter.now()): Unit =
    metrics.foreach { case (name, v) => scalar(s"epoch/$name", epoch, v, wallSeconds) }

  /**
   * A worker's live progress (from the driver plugin): rank 0's loss, learning rate is left to
   * [[writeSummary]]; throughput from rank 0; each worker's input-wait and device-idle fractions.
   */
  def onProgress(p: Progress): Unit = synchronized {
    if (!closed && p.step > 0) {
      val wall = TensorBoardWriter.now()
      if (p.rank == 0) {
        scalar(TensorBoardWriter.Loss, p.step, p.loss, wall)
        scalar(TensorBoardWriter.SamplesPerSecond, p.step, p.samplesPerSecond, wall)
      }
      scalar(TensorBoardWriter.inputWait(p.rank), p.step, p.inputWaitFraction, wall)
      scalar(TensorBoardWriter.deviceIdle(p.rank), p.step, p.deviceIdleFraction, wall)
      out.hflush() // visible to TensorBoard while training (on object stores: when closed)
    }
  }

  /**
   * Everything the fit's summary holds that was not written live: the loss and learning rate of
   * every step, and at the last step the throughput and every worker's input-wait and device-idle
   * fractions over the whole run. Steps' wall times are spread evenly from `startSeconds` to
   * `endSeconds` (the summary holds no per-step time).
   */
  def writeSummary(s: TrainingSummary, learningRateAt: Long => Double, startSeconds: Double, endSeconds: Double): Unit =
    synchronized {
      val n = s.lossHistory.length
      def wall(step: Long) = startSeconds + (endSeconds - startSeconds) * step / math.max(1, n)
      s.lossHistory.indices.foreach { i =>
        val step = i + 1L
        scalar(TensorBoardWriter.Loss, step, s.lossHistory(i), wall(step))
        scalar(TensorBoardWriter.LearningRate, step, learningRateAt(i), wall(step))
      }
      if (n > 0) {
        scalar(TensorBoardWriter.SamplesPerSecond, n, s.samplesPerSecond, endSeconds)
        s.workers.foreach { w =>
          scalar(TensorBoardWriter.inputWait(w.rank), n, w.inputWaitFraction, endSeconds)
          scalar(TensorBoardWriter.deviceIdle(w.rank), n, w.deviceIdleFraction, endSeconds)
        }
      }
    }

  private def write(e: Event): Unit = TensorBoardWriter.frame(out, e.toByteArray)

  override def close(): Unit = synchronized {
    if (!closed) {
      closed = true
      out.close()
    }
  }
}

private[spark] object TensorBoardWriter {
  val Loss = "train/loss"
  val LearningRate = "train/learning_rate"
  val SamplesPerSecond = "train/samples_per_second"
  def inputWait(rank: Int): String = s"worker_$rank/input_wait_fraction"
  def deviceIdle(rank: Int): String = s"worker_$rank/device_idle_fraction"

  /** The first event of every file (tensorflow/core/util/event.proto: file_version). */
  val FileVersion = "brain.Event:2"

  def now(): Double = System.currentTimeMillis() / 1000.0

  /**
   * Creates `<dir>/<runName>/events.out.tfevents.<unix seconds>.<host>.bios` and writes its
   * file-version event; fails naming tensorBoardDir if it cannot (or if the run exists already).
   */
  def create(dir: String, runName: String, conf: Configuration): TensorBoardWriter = {
    val wall = now()
    val runDir = new Path(dir, runName)
    val file = new Path(runDir, s"events.out.tfevents.${wall.toLong}.${host()}.bios")
    val out = try {
      val fs = TensorBoardWriter.fileSystem(runDir, conf)
      fs.mkdirs(runDir)
      fs.create(file, false)
    } catch {
      case e: IOException => throw new IllegalArgumentException(s"tensorBoardDir $dir: cannot create the event file " +
        s"$file: ${e.getMessage}; point tensorBoardDir at a directory this driver can write", e)
    }
    val writer = new TensorBoardWriter(runDir.toString, file.toString, out)
    try {
      writer.write(Event.newBuilder().setWallTime(wall).setFileVersion(FileVersion).build())
      out.hflush()
    } catch {
      case e: Throwable =>
        writer.close()
        throw e
    }
    writer
  }

  /**
   * The file system of `path`; for a checksummed one (file:) its raw file system, so no
   * `.<name>.crc` file appears beside ours (TensorBoard would try to read `.events...crc` too).
   */
  def fileSystem(path: Path, conf: Configuration): FileSystem = path.getFileSystem(conf) match {
    case c: ChecksumFileSystem => c.getRawFileSystem
    case fs => fs
  }

  private def host(): String =
    try java.net.InetAddress.getLocalHost.getHostName.replaceAll("[^A-Za-z0-9._-]", "_")
    catch { case _: IOException => "localhost" }

  /**
   * Writes `data` as one TFRecord, as tensorflow/core/lib/io/record_writer.cc (RecordWriter::WriteRecord)
   * does: the length as uint64 little-endian, the masked CRC-32C of those 8 bytes (uint32 little-endian),
   * the data, then the masked CRC-32C of the data.
   */
  def frame(out: OutputStream, data: Array[Byte]): Unit = {
    val header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
    header.putLong(data.length.toLong)
    header.putInt(maskedCrc32c(header.array(), 0, 8))
    val footer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(maskedCrc32c(data, 0, data.length))
    out.write(header.array())
    out.write(data)
    out.write(footer.array())
  }

  /**
   * CRC-32C (Castagnoli) of the bytes, masked as tensorflow/core/lib/hash/crc32c.h (crc32c::Mask)
   * does: rotated right by 15 bits plus 0xa282ead8.
   */
  def maskedCrc32c(bytes: Array[Byte], offset: Int, length: Int): Int = {
    val crc = new CRC32C()
    crc.update(bytes, offset, length)
    val c = crc.getValue.toInt
    ((c >>> 15) | (c << 17)) + 0xa282ead8
  }
}
