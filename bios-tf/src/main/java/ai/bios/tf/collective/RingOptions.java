package ai.bios.tf.collective;

import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;

/**
 * How a worker joins the gradient ring ({@link RingCollective#connect}). Start from
 * {@link #of(byte[])} and change what differs with the {@code withX} methods; every value is
 * checked when the options are made.
 *
 * @param secret the per-job secret every worker proves to its neighbours (at least
 *     {@value #MIN_SECRET_BYTES} bytes; it never crosses the wire). Copied in and out.
 * @param timeout how long any one wait for a peer may last (joining, or one chunk) before the
 *     worker fails naming the peer
 * @param chunkFloats floats per frame: each segment moves in chunks this large, so sending,
 *     receiving and reducing overlap
 * @param encrypt whether every frame is also encrypted and authenticated with AES-256-GCM under a
 *     key derived per connection from the secret and both handshake nonces
 * @param authTimeout how long an incoming connection may take to authenticate: a silent client
 *     cannot hold the listener longer (never past {@code timeout})
 */
public record RingOptions(byte[] secret, Duration timeout, int chunkFloats, boolean encrypt, Duration authTimeout)
    implements java.io.Serializable {
  /** Default chunk: 256 KiB of floats. The one definition of the ring's default chunk size. */
  public static final int DEFAULT_CHUNK_FLOATS = 64 * 1024;

  /** Largest chunk: 1 GiB of floats (a frame's byte length must fit in an int). */
  public static final int MAX_CHUNK_FLOATS = 1 << 28;

  /** Default wait for a peer. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(600);

  /** Default time an incoming connection has to authenticate. */
  public static final Duration DEFAULT_AUTH_TIMEOUT = Duration.ofSeconds(10);

  /** Shortest job secret accepted. */
  public static final int MIN_SECRET_BYTES = 16;

  /** Checks every option; the message names the option, its bad value and what to pass instead. */
  public RingOptions {
    if (secret == null || secret.length < MIN_SECRET_BYTES) {
      throw new IllegalArgumentException("RingOptions.secret has " + (secret == null ? "no bytes (null)"
          : secret.length + " bytes") + ": the job secret must have at least " + MIN_SECRET_BYTES
          + " bytes; pass " + MIN_SECRET_BYTES + " or more random bytes (e.g. 32 from SecureRandom), the same on"
          + " every worker");
    }
    secret = secret.clone();
    requirePositive("timeout", timeout, "how long a worker may wait for a peer, e.g. the default " + DEFAULT_TIMEOUT);
    if (chunkFloats < 1 || chunkFloats > MAX_CHUNK_FLOATS) {
      throw new IllegalArgumentException("RingOptions.chunkFloats must be in [1, " + MAX_CHUNK_FLOATS + "], was "
          + chunkFloats + "; use RingOptions.DEFAULT_CHUNK_FLOATS (" + DEFAULT_CHUNK_FLOATS + ") unless tuning");
    }
    requirePositive("authTimeout", authTimeout, "e.g. the default " + DEFAULT_AUTH_TIMEOUT);
  }

  private static void requirePositive(String name, Duration d, String fix) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("RingOptions." + name + " must be positive, was " + d + "; pass " + fix);
    }
  }

  /** The defaults (no encryption) with {@code secret}. */
  public static RingOptions of(byte[] secret) {
    return new RingOptions(secret, DEFAULT_TIMEOUT, DEFAULT_CHUNK_FLOATS, false, DEFAULT_AUTH_TIMEOUT);
  }

  /** The same options with another secret. */
  public RingOptions withSecret(byte[] secret) {
    return new RingOptions(secret, timeout, chunkFloats, encrypt, authTimeout);
  }

  public RingOptions withTimeout(Duration timeout) {
    return new RingOptions(secret, timeout, chunkFloats, encrypt, authTimeout);
  }

  public RingOptions withChunkFloats(int chunkFloats) {
    return new RingOptions(secret, timeout, chunkFloats, encrypt, authTimeout);
  }

  public RingOptions withEncrypt(boolean encrypt) {
    return new RingOptions(secret, timeout, chunkFloats, encrypt, authTimeout);
  }

  public RingOptions withAuthTimeout(Duration authTimeout) {
    return new RingOptions(secret, timeout, chunkFloats, encrypt, authTimeout);
  }

  /** A copy of the secret. */
  @Override
  public byte[] secret() {
    return secret.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RingOptions other && Arrays.equals(secret, other.secret) && timeout.equals(other.timeout)
        && chunkFloats == other.chunkFloats && encrypt == other.encrypt && authTimeout.equals(other.authTimeout);
  }

  @Override
  public int hashCode() {
    return Objects.hash(Arrays.hashCode(secret), timeout, chunkFloats, encrypt, authTimeout);
  }

  /** Everything but the secret's bytes. */
  @Override
  public String toString() {
    return "RingOptions[secret=(" + secret.length + " bytes), timeout=" + timeout + ", chunkFloats=" + chunkFloats
        + ", encrypt=" + encrypt + ", authTimeout=" + authTimeout + "]";
  }
}
