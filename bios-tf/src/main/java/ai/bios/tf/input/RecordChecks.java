package ai.bios.tf.input;

import ai.bios.tf.BadInputException;
import ai.bios.tf.model.LayerSpec;
import ai.bios.tf.model.Loss;
import ai.bios.tf.model.ModelSpec;
import java.io.Serializable;

/**
 * The checks every training record passes, with their messages, for the engine's
 * {@link BatchAssembler} and bios-spark's row decoder alike. A failure is a
 * {@link BadInputException} naming the column, the row, where the row comes from, the value found
 * and the fix: {@code column 'features', row 100 of input partition 1: has 3 values, expected 6 ...}.
 * Rows of the engine's {@link RecordSource} are named by their record index ({@code column
 * 'features', record 37: ...}).
 */
public final class RecordChecks implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String featuresCol;
  private final String labelCol;
  private final String where;
  private final int featureSize;
  private final String inputShape;
  private final Loss loss;
  private final int outputs;
  private final int labelWidth;
  private final int[] idCardinality; // per feature: > 0 where the feature is a category id, or null
  private final String[] idColumn; // per feature: the feature column that id belongs to

  /**
   * @param where what the rows are rows of (e.g. "the training data"), or null for the records of a
   *     {@link RecordSource}, named by their index
   * @param inputShape the model's input shape, for messages, or null when it is just {@code featureSize}
   */
  public RecordChecks(String featuresCol, String labelCol, String where, int featureSize, String inputShape,
      Loss loss, int outputs) {
    this.featuresCol = featuresCol;
    this.labelCol = labelCol;
    this.where = where;
    this.featureSize = featureSize;
    this.inputShape = inputShape;
    this.loss = loss;
    this.outputs = outputs;
    this.labelWidth = loss.labelWidth(outputs);
    this.idCardinality = null;
    this.idColumn = null;
  }

  private RecordChecks(RecordChecks base, String where, int[] idCardinality, String[] idColumn) {
    this.featuresCol = base.featuresCol;
    this.labelCol = base.labelCol;
    this.where = where;
    this.featureSize = base.featureSize;
    this.inputShape = base.inputShape;
    this.loss = base.loss;
    this.outputs = base.outputs;
    this.labelWidth = base.labelWidth;
    this.idCardinality = idCardinality;
    this.idColumn = idColumn;
  }

  /**
   * The same checks, also refusing a feature that {@code spec}'s feature columns read as a category
   * id (categorical and sequence columns) unless it is a whole number in {@code [0, cardinality)}.
   */
  public RecordChecks withIdsOf(ModelSpec spec) {
    int[] cardinality = null;
    String[] column = null;
    for (LayerSpec.Column c : spec.featureColumns()) {
      int card = c instanceof LayerSpec.Categorical k ? k.cardinality()
          : c instanceof LayerSpec.Sequence q ? q.cardinality() : 0;
      if (card == 0) {
        continue;
      }
      if (cardinality == null) {
        cardinality = new int[featureSize];
        column = new String[featureSize];
      }
      for (int i = c.first(); i < c.first() + c.width(); i++) {
        cardinality[i] = card;
        column[i] = c.name();
      }
    }
    return new RecordChecks(this, where, cardinality, column);
  }

  /** Checks for the records of a {@link RecordSource} training {@code spec}. */
  public static RecordChecks forRecords(ModelSpec spec) {
    return new RecordChecks("features", "label", null, spec.featureSize(), String.valueOf(spec.inputShape()),
        spec.loss(), spec.outputs()).withIdsOf(spec);
  }

  /** The same checks, naming {@code rowsOf} (e.g. "input partition 3 of the training data") in messages. */
  public RecordChecks in(String rowsOf) {
    return new RecordChecks(this, rowsOf, idCardinality, idColumn);
  }

  /** Label values per row: one class index for softmax cross-entropy, else one per model output. */
  public int labelWidth() {
    return labelWidth;
  }

  public BadInputException nullFeatures(long row) {
    return bad(featuresCol, row, "is null; every row needs " + featureSize + " feature values",
        "drop or impute rows with missing features (e.g. na.drop or Imputer) before fitting");
  }

  public BadInputException nullFeatureValue(int position, long row) {
    return bad(featuresCol, row, "has a null at position " + position, "impute or drop missing values");
  }

  /** Throws unless a row's features have the model's input size. */
  public void checkFeatureCount(int count, long row) {
    if (count != featureSize) {
      throw bad(featuresCol, row, "has " + count + " values, expected " + featureSize + " (the model's input size"
              + (inputShape == null ? "" : ", input shape " + inputShape) + ")",
          "got " + count + ", so make every row's features the model's input size (check the VectorAssembler "
              + "inputs)");
    }
  }

  /**
   * Throws unless feature {@code position} of a row is finite and, where a categorical or sequence
   * feature column reads it as a category id ({@link #withIdsOf}), a whole number in {@code [0,
   * cardinality)}.
   */
  public void checkFeature(double value, int position, long row) {
    String problem = featureProblem(value, position);
    if (problem != null) {
      throw new BadInputException(subject(featuresCol, row) + problem);
    }
  }

  /**
   * What {@link #checkFeature} finds wrong with feature {@code position} = {@code value} ("value 3
   * is NaN (feature 3 of 8); features must be finite ..."), without naming a column or row; null
   * when the value is fine. For callers that name the record their own way (input transforms).
   */
  public String featureProblem(double value, int position) {
    if (!Double.isFinite(value)) {
      return "value " + position + " is " + value + " (feature " + position + " of " + featureSize
          + "); features must be finite numbers: impute or drop NaN and infinite values before fitting";
    }
    if (idCardinality != null && idCardinality[position] > 0
        && (value != Math.rint(value) || value < 0 || value >= idCardinality[position])) {
      int card = idCardinality[position];
      return "value " + position + " is " + value + ", not an id of categorical column '" + idColumn[position]
          + "' (a whole number in [0, " + (card - 1) + "], cardinality " + card + "); index the column with "
          + "StringIndexer (handleInvalid=\"keep\" adds one bucket for unseen values: count it in the "
          + "cardinality), or raise the column's cardinality";
    }
    return null;
  }

  public BadInputException nullLabel(long row) {
    return bad(labelCol, row, "is null", "drop rows without a label before fitting");
  }

  /** A row whose label is {@code got} (a value, or a count of values) instead of {@link #labelWidth()} values. */
  public BadInputException labelCount(String got, long row) {
    return bad(labelCol, row, "is " + got + ", expected " + labelWidth + " label value(s)",
        "give " + labelWidth + " label value(s) per row, as the model's loss and outputs require"
            + (loss == Loss.SOFTMAX_CROSS_ENTROPY ? " (softmax cross-entropy: one class index)" : ""));
  }

  /**
   * Label value {@code position} of a row, checked for the loss: finite; a class index in
   * {@code [0, outputs - 1]} for softmax cross-entropy; 0 or 1 for sigmoid cross-entropy.
   */
  public float checkLabel(double value, int position, long row) {
    String label = labelWidth == 1 ? "label" : "label value " + position;
    if (!Double.isFinite(value)) {
      throw bad(labelCol, row, label + " is " + value, "labels must be finite numbers: drop rows without a finite label");
    }
    if (loss == Loss.SOFTMAX_CROSS_ENTROPY && (value != Math.rint(value) || value < 0 || value >= outputs)) {
      throw bad(labelCol, row, "label " + value + " is not a class index in [0, " + (outputs - 1) + "]",
          "index the labels (StringIndexer) or give the last dense layer as many units as there are classes");
    }
    if (loss == Loss.SIGMOID_CROSS_ENTROPY && value != 0.0 && value != 1.0) {
      throw bad(labelCol, row, label + " is " + value,
          "sigmoid cross-entropy takes labels 0 or 1 (binarize the label column)");
    }
    return (float) value;
  }

  /** A row whose weight column {@code weightCol} is null. */
  public BadInputException nullWeight(String weightCol, long row) {
    return bad(weightCol, row, "weight is null", "give every row a weight (fill nulls, e.g. na.fill(1.0, ...)) "
        + "or drop those rows");
  }

  /** Throws unless a row's sample weight (column {@code weightCol}) is finite and >= 0. */
  public float checkWeight(String weightCol, double value, long row) {
    if (!Double.isFinite(value) || value < 0) {
      throw bad(weightCol, row, "weight is " + value, "sample weights must be finite numbers >= 0 "
          + "(0 ignores the row): fix or drop that row");
    }
    return (float) value;
  }

  private BadInputException bad(String column, long row, String what, String fix) {
    return new BadInputException(subject(column, row) + what + "; " + fix);
  }

  private String subject(String column, long row) {
    return "column '" + column + "', " + (where == null ? "record " + row : "row " + row + " of " + where) + ": ";
  }
}
