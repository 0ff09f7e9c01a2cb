package ai.bios.tf.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RingOptionsTest {
  private static final byte[] SECRET = "0123456789abcdef-job-secret".getBytes();

  @Test
  void defaultsAndWithers() {
    RingOptions o = RingOptions.of(SECRET);
    assertEquals(Duration.ofSeconds(600), o.timeout());
    assertEquals(64 * 1024, o.chunkFloats());
    assertFalse(o.encrypt());
    assertEquals(Duration.ofSeconds(10), o.authTimeout(), "the authentication deadline Bios always used");
    RingOptions p = o.withTimeout(Duration.ofSeconds(3)).withChunkFloats(64).withEncrypt(true)
        .withAuthTimeout(Duration.ofSeconds(2));
    assertEquals(new RingOptions(SECRET, Duration.ofSeconds(3), 64, true, Duration.ofSeconds(2)), p);
    assertEquals(Duration.ofSeconds(600), o.timeout(), "withX leaves the original alone");
  }

  @Test
  void theSecretIsCopiedInAndOutAndNeverPrinted() {
    byte[] mine = SECRET.clone();
    RingOptions o = RingOptions.of(mine);
    mine[0] = 'X';
    o.secret()[1] = 'Y';
    assertArrayEquals(SECRET, o.secret());
    assertFalse(o.toString().contains("0123456789"), o.toString());
    assertTrue(o.toString().contains(SECRET.length + " bytes"), o.toString());
  }

  @Test
  void badValuesAreRefusedNamingTheOptionTheValueAndTheFix() {
    String m = assertThrows(IllegalArgumentException.class, () -> RingOptions.of("short".getBytes())).getMessage();
    assertTrue(m.contains("RingOptions.secret") && m.contains("5 bytes") && m.contains("at least 16 bytes"), m);
    m = assertThrows(IllegalArgumentException.class, () -> RingOptions.of(null)).getMessage();
    assertTrue(m.contains("RingOptions.secret") && m.contains("null"), m);
    m = assertThrows(IllegalArgumentException.class, () -> RingOptions.of(SECRET).withChunkFloats(0)).getMessage();
    assertTrue(m.contains("RingOptions.chunkFloats") && m.contains("was 0") && m.contains("DEFAULT_CHUNK_FLOATS"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> RingOptions.of(SECRET).withChunkFloats(RingOptions.MAX_CHUNK_FLOATS + 1)).getMessage();
    assertTrue(m.contains("RingOptions.chunkFloats"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> RingOptions.of(SECRET).withTimeout(Duration.ZERO)).getMessage();
    assertTrue(m.contains("RingOptions.timeout") && m.contains("PT0S") && m.contains("pass"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> RingOptions.of(SECRET).withAuthTimeout(Duration.ofSeconds(-1))).getMessage();
    assertTrue(m.contains("RingOptions.authTimeout") && m.contains("PT-1S"), m);
    assertThrows(IllegalArgumentException.class, () -> RingOptions.of(SECRET).withTimeout(null));
  }
}
