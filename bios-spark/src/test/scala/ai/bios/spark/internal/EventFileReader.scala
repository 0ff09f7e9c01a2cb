package ai.bios.spark.internal

import org.tensorflow.proto.Event

import java.io.{DataInputStream, EOFException, IOException, InputStream}
import java.nio.{ByteBuffer, ByteOrder}
import java.util.zip.CRC32C
import scala.collection.mutable

/**
 * Test-only reader of TensorBoard event files, written independently of [[TensorBoardWriter]]:
 * TFRecords as tensorflow/core/lib/io/record_reader.cc reads them (uint64 LE length, uint32 LE
 * masked CRC-32C of the length bytes, data, uint32 LE masked CRC-32C of the data), every CRC
 * verified, each record parsed as a `tensorflow.Event`.
 */
object EventFileReader {
  final case class Scalar(tag: String, step: Long, value: Float, wallTime: Double)

  /** Every record's payload; IOException on a CRC mismatch or a truncated record. */
  def records(in: InputStream): Seq[Array[Byte]] = {
    val data = new DataInputStream(in)
    val out = mutable.ArrayBuffer[Array[Byte]]()
    var more = true
    while (more) {
      val header = new Array[Byte](12)
      val first = data.read(header, 0, 1)
      if (first < 0) more = false
      else {
        data.readFully(header, 1, 11)
        val h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN)
        val length = h.getLong(0)
        if (h.getInt(8) != masked(header, 8)) throw new IOException(s"record ${out.size}: length CRC mismatch")
        if (length < 0 || length > Int.MaxValue) throw new IOException(s"record ${out.size}: bad length $length")
        val payload = new Array[Byte](length.toInt)
        val footer = new Array[Byte](4)
        try {
          data.readFully(payload)
          data.readFully(footer)
        } catch { case e: EOFException => throw new IOException(s"record ${out.size}: truncated", e) }
        if (ByteBuffer.wrap(footer).order(ByteOrder.LITTLE_ENDIAN).getInt != masked(payload, payload.length)) {
          throw new IOException(s"record ${out.size}: data CRC mismatch")
        }
        out += payload
      }
    }
    out.toSeq
  }

  def events(in: InputStream): Seq[Event] = records(in).map(r => Event.parseFrom(r))

  /** The scalars (`simple_value`) of the events, in file order. */
  def scalars(events: Seq[Event]): Seq[Scalar] = for {
    e <- events if e.hasSummary
    v <- scala.jdk.CollectionConverters.ListHasAsScala(e.getSummary.getValueList).asScala.toSeq
  } yield Scalar(v.getTag, e.getStep, v.getSimpleValue, e.getWallTime)

  /** crc32c::Mask: rotate right 15, add 0xa282ead8 (as unsigned 32-bit arithmetic). */
  private def masked(bytes: Array[Byte], length: Int): Int = {
    val crc = new CRC32C()
    crc.update(bytes, 0, length)
    val c = crc.getValue
    val rotated = ((c >> 15) | (c << 17)) & 0xffffffffL
    ((rotated + 0xa282ead8L) & 0xffffffffL).toInt
  }
}
