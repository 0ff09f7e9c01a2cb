package ai.bios.tf.exec;

import ai.bios.tf.BadInputException;
import ai.bios.tf.BiosException;
import ai.bios.tf.collective.Collective;
import ai.bios.tf.input.Batch;
import ai.bios.tf.model.TrainableModel;

/**
 * The part of a step that changes the model, identical in every schedule: gradients of the batch's
 * loss sum, aggregation of sums and counts across workers, the non-finite check, the optimizer
 * update. Runs on one thread (the training loop or the device thread); owns the gradient buffer.
 */
final class StepExecutor {
  private final TrainableModel model;
  private final Collective collective;
  private final StepTimeline timeline;
  private final float[] gradients;
  private final boolean weighted;
  private final double[] stats; // loss sum, count, more-after votes, and with a weighted loss the weight sum

  StepExecutor(TrainableModel model, Collective collective, StepTimeline timeline) {
    this.model = model;
    this.collective = collective;
    this.timeline = timeline;
    this.gradients = new float[model.parameterCount()];
    this.weighted = model.lossOptions().weighted();
    this.stats = new double[weighted ? 4 : 3];
  }

  /** Runs the step on {@code batch} and closes the batch. */
  StepResult run(Batch batch) {
    return run(batch, false);
  }

  /**
   * Runs the step on {@code batch} and closes the batch; {@code moreAfter} is this worker's vote
   * that it has records for a later step, summed across workers with the loss and sample count.
   */
  StepResult run(Batch batch, boolean moreAfter) {
    long step = batch.step();
    long t0 = System.nanoTime();
    TrainableModel.GradientStats local;
    try (batch) {
      local = model.computeGradients(batch, gradients, step, collective.rank());
    }
    long t1 = System.nanoTime();
    timeline.record(step, Stage.COMPUTE, t0, t1);

    stats[0] = local.lossSum();
    stats[1] = local.count();
    stats[2] = moreAfter ? 1 : 0;
    if (weighted) {
      stats[3] = local.weightSum();
    }
    collective.allReduce(gradients, stats);
    long t2 = System.nanoTime();
    timeline.record(step, Stage.AGGREGATE, t1, t2);

    double lossSum = stats[0];
    long count = Math.round(stats[1]);
    if (count <= 0) {
      throw new BiosException("step " + step + ": no worker had a record for this step; "
          + "the training data is empty (check the input DataFrame or source)");
    }
    if (!Double.isFinite(lossSum)) {
      throw new BadInputException("step " + step + ": the loss is " + lossSum + " (over " + count
          + " samples), so the model would turn to NaN; lower learningRate, scale the features "
          + "(e.g. StandardScaler), or check the labels");
    }
    if (!weighted) {
      model.applyGradients(gradients, count);
      timeline.record(step, Stage.APPLY, t2, System.nanoTime());
      return new StepResult(step, lossSum / count, count, stats[2] > 0);
    }
    double weightSum = stats[3];
    if (!(weightSum > 0)) {
      throw new BadInputException("step " + step + ": every one of its " + count + " records has loss weight 0 "
          + "(sample weight times class weight), so the weighted mean loss is undefined; give some records a "
          + "weight > 0, or check the weight column and classWeights");
    }
    model.applyWeightedGradients(gradients, weightSum);
    timeline.record(step, Stage.APPLY, t2, System.nanoTime());
    return new StepResult(step, lossSum / weightSum, count, stats[2] > 0, weightSum);
  }
}
