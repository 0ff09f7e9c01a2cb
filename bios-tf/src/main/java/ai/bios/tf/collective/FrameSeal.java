package ai.bios.tf.collective;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM for one direction of one ring connection: the frame header is authenticated data,
 * the frame's sequence number is the IV (never reused under one key, since sequence numbers only
 * grow on a connection and every connection has its own key). Used by one thread at a time.
 */
final class FrameSeal {
  static final int TAG = 16;
  final ByteBuffer wire;
  private final javax.crypto.Cipher cipher;
  private final SecretKeySpec key;
  private final byte[] iv = new byte[12];

  FrameSeal(byte[] key, int maxPayload) {
    this.key = new SecretKeySpec(key, "AES");
    this.wire = ByteBuffer.allocateDirect(maxPayload + TAG);
    try {
      this.cipher = javax.crypto.Cipher.getInstance("AES/GCM/NoPadding");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES/GCM unavailable", e);
    }
  }

  private javax.crypto.spec.GCMParameterSpec iv(int seq) {
    ByteBuffer.wrap(iv).putInt(0, 0).putLong(4, seq & 0xFFFFFFFFL);
    return new javax.crypto.spec.GCMParameterSpec(TAG * 8, iv);
  }

  ByteBuffer seal(int seq, ByteBuffer header, ByteBuffer payload) throws IOException {
    try {
      cipher.init(javax.crypto.Cipher.ENCRYPT_MODE, key, iv(seq));
      cipher.updateAAD(header.duplicate());
      wire.clear();
      cipher.doFinal(payload, wire);
      return wire.flip();
    } catch (GeneralSecurityException e) {
      throw new IOException("encrypting frame " + seq + " failed: " + e, e);
    }
  }

  void open(int seq, ByteBuffer header, ByteBuffer sealed, ByteBuffer out, int peer) throws IOException {
    try {
      cipher.init(javax.crypto.Cipher.DECRYPT_MODE, key, iv(seq));
      cipher.updateAAD(header);
      cipher.doFinal(sealed, out);
    } catch (GeneralSecurityException e) {
      throw new IOException("frame " + seq + " from rank " + peer + " failed authentication (altered or forged)", e);
    }
  }
}
