package ai.bios.tf.input;

import java.util.Objects;

/**
 * Records held in Java arrays (immutable; safe to read from several threads): features row-major, {@code featureSize} floats per record, and
 * {@code labelWidth} label values per record.
 */
public final class InMemoryRecords implements RecordSource {
  private final float[] features;
  private final float[] labels;
  private final int featureSize;
  private final int labelWidth;
  private final int size;

  public InMemoryRecords(float[] features, int featureSize, float[] labels, int labelWidth) {
    this.features = Objects.requireNonNull(features, "features");
    this.labels = Objects.requireNonNull(labels, "labels");
    if (featureSize < 1 || labelWidth < 1) {
      throw new IllegalArgumentException("featureSize and labelWidth must be >= 1");
    }
    if (features.length % featureSize != 0 || labels.length % labelWidth != 0
        || features.length / featureSize != labels.length / labelWidth) {
      throw new IllegalArgumentException("features hold " + features.length / featureSize
          + " records of " + featureSize + " values, labels " + labels.length / labelWidth
          + " records of " + labelWidth + "; they must hold the same number of records");
    }
    this.featureSize = featureSize;
    this.labelWidth = labelWidth;
    this.size = features.length / featureSize;
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public void read(int index, int epoch, RecordWriter out) {
    out.features(features, index * featureSize, featureSize);
    out.labels(labels, index * labelWidth, labelWidth);
  }
}
