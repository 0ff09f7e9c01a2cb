package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import ai.bios.tf.collective.Collective;
import ai.bios.tf.concurrent.InputPool;
import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.RecordSource;
import ai.bios.tf.model.Evaluation;
import ai.bios.tf.model.Loss;
import ai.bios.tf.model.TrainableModel;

/**
 * Evaluates the validation records at the end of an epoch: each worker runs its own shard through
 * {@link TrainableModel#evaluate} in stored order (batches of its share of the global batch; records
 * read as epoch 0, so augmentation never varies them), then the workers sum loss, count, correct
 * records and a {@link #BINS}-bin histogram of positive and negative scores through the collective.
 * Every worker then computes the same metrics from the same sums.
 *
 * <p>Runs on the training loop's thread, between steps (the feeder, if any, only reads training
 * records). A {@link ai.bios.tf.input.ParallelRecordSource} is transformed on the run's input
 * threads when it has them (they may be building a training batch at the same time; each caller
 * can finish its own batch alone). Owns its batch assembler, not the threads.
 */
final class Validation implements AutoCloseable {
  /** Score bins of the AUC histogram, over [0, 1]. */
  static final int BINS = 1000;
  /** Statistics one {@link Collective#allReduceStats} call carries at most (the ring's frame). */
  private static final int STATS_PER_CALL = 64;
  private static final int HEAD = 4; // loss sum, count, correct, weight sum

  private final TrainableModel model;
  private final RecordSource source;
  private final Collective collective;
  private final BatchAssembler assembler;
  private final InputPool threads;
  private final double[] sums = new double[HEAD + 2 * BINS];

  /**
   * @param source this worker's validation records, complete by the end of the first epoch
   * @param threads the run's input threads, or null
   */
  Validation(TrainableModel model, RecordSource source, Collective collective, int batch, InputPool threads) {
    this.model = model;
    this.threads = threads;
    this.source = source;
    this.collective = collective;
    this.assembler = new BatchAssembler(model.spec(), batch, model.lossOptions().sampleWeights());
  }

  /** The metrics of the current weights. */
  Metrics evaluate() {
    java.util.Arrays.fill(sums, 0);
    int n = source.size();
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    for (int from = 0; from < n; from += assembler.batchSize()) {
      int to = Math.min(n, from + assembler.batchSize());
      Evaluation e;
      try (Batch b = assemble(order, from, to)) {
        e = model.evaluate(b);
      }
      sums[0] += e.lossSum();
      sums[1] += e.count();
      sums[2] += Math.max(0, e.correct());
      sums[3] += e.weightSum();
      if (e.binary()) {
        for (int i = 0; i < e.count(); i++) {
          sums[HEAD + (e.positives()[i] ? 0 : BINS) + bin(e.scores()[i])] += 1;
        }
      }
    }
    sum(collective, sums);
    long count = Math.round(sums[1]);
    boolean binary = Evaluation.binaryClassifier(model.spec());
    // a weighted loss is the weighted mean, as in training: divided by the records' weight sum
    double loss = count == 0 ? Double.NaN : model.lossOptions().weighted() ? sums[0] / sums[3] : sums[0] / count;
    double accuracy = count == 0 || model.spec().loss() == Loss.MEAN_SQUARED_ERROR ? Double.NaN : sums[2] / count;
    double auc = binary ? auc(sums, HEAD, HEAD + BINS) : Double.NaN;
    return new Metrics(loss, accuracy, auc, count);
  }

  private Batch assemble(int[] order, int from, int to) {
    try {
      return assembler.assemble(source, order, from, to, 0, from, threads);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BiosException("interrupted while reading validation records " + from + ".." + (to - 1), e);
    }
  }

  /** The validation metrics of one epoch; NaN where undefined. */
  record Metrics(double loss, double accuracy, double auc, long records) {}

  /** The histogram bin of a score in [0, 1] (clamped). */
  static int bin(float score) {
    int b = (int) (score * BINS);
    return Math.max(0, Math.min(BINS - 1, b));
  }

  /**
   * The AUC of the score histograms of positives ({@code h[pos, pos + BINS)}) and negatives: the
   * chance a positive scores above a negative, a tie (the same bin) counting one half. NaN when
   * either class is missing.
   */
  static double auc(double[] h, int pos, int neg) {
    double positives = 0;
    double negatives = 0;
    double pairs = 0;
    for (int b = 0; b < BINS; b++) {
      pairs += h[pos + b] * (negatives + 0.5 * h[neg + b]);
      positives += h[pos + b];
      negatives += h[neg + b];
    }
    return positives == 0 || negatives == 0 ? Double.NaN : pairs / (positives * negatives);
  }

  /** Sums {@code stats} across workers in calls the ring can carry. */
  static void sum(Collective collective, double[] stats) {
    double[] part = new double[STATS_PER_CALL];
    for (int from = 0; from < stats.length; from += STATS_PER_CALL) {
      int n = Math.min(STATS_PER_CALL, stats.length - from);
      double[] p = n == STATS_PER_CALL ? part : new double[n];
      System.arraycopy(stats, from, p, 0, n);
      collective.allReduceStats(p);
      System.arraycopy(p, 0, stats, from, n);
    }
  }

  @Override
  public void close() {
    assembler.close();
  }
}
