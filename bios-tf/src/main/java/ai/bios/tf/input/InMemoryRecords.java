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
  private final float[] weights; // per record, or null

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
    this.weights = null;
  }

  private InMemoryRecords(InMemoryRecords base, float[] weights) {
    this.features = base.features;
    this.labels = base.labels;
    this.featureSize = base.featureSize;
    this.labelWidth = base.labelWidth;
    this.size = base.size;
    this.weights = weights;
  }

  /** These records with a sample weight each ({@link RecordWriter#weight}); {@code weights} is not copied. */
  public InMemoryRecords withWeights(float[] weights) {
    if (weights.length != size) {
      throw new IllegalArgumentException(weights.length + " weights for " + size + " records");
    }
    return new InMemoryRecords(this, weights);
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public void read(int index, int epoch, RecordWriter out) {
    out.features(features, index * featureSize, featureSize);
    out.labels(labels, index * labelWidth, labelWidth);
    if (weights != null) {
      out.weight(weights[index]);
    }
  }
}
