package ai.bios.tf.exec;

import ai.bios.tf.concurrent.Threads;
import ai.bios.tf.collective.Collective;
import ai.bios.tf.input.Batch;
import ai.bios.tf.model.TrainableModel;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Futures-style API for custom training loops: {@link #submit} hands a batch to the device thread
 * and returns at once with a future for the step's result. Steps run and complete in submission
 * order; a step that fails fails every later future with the same cause (no step runs on a model
 * in an unknown state). The caller keeps the device busy by submitting the next batch before the
 * current future completes.
 *
 * <pre>{@code
 * try (AsyncStepRunner runner = new AsyncStepRunner(model, new LocalCollective())) {
 *   CompletableFuture<StepResult> last = null;
 *   for (Batch b : batches) last = runner.submit(b);
 *   last.join();
 * }
 * }</pre>
 *
 * <p>Owns one daemon thread, {@code bios-device}; {@link #close()} stops and joins it and closes
 * every batch not yet run (their futures fail with {@link CancellationException}).
 */
public final class AsyncStepRunner implements AutoCloseable {
  private record Pending(Batch batch, CompletableFuture<StepResult> result) {}

  private final StepExecutor executor;
  private final LinkedBlockingQueue<Pending> pending = new LinkedBlockingQueue<>();
  private final Thread device;
  private final Object lock = new Object();
  private Throwable failure; // guarded by lock
  private boolean closed; // guarded by lock

  public AsyncStepRunner(TrainableModel model, Collective collective) {
    this.executor = new StepExecutor(model, collective, new StepTimeline(0, 0));
    this.device = new Thread(this::runLoop, "bios-device");
    device.setDaemon(true);
    device.start();
  }

  /**
   * Queues a step on {@code batch} (ownership passes to the runner). The future completes with the
   * step's result, or exceptionally with the cause of this or an earlier step's failure.
   */
  public CompletableFuture<StepResult> submit(Batch batch) {
    Objects.requireNonNull(batch, "batch");
    CompletableFuture<StepResult> result = new CompletableFuture<>();
    synchronized (lock) {
      if (closed) {
        batch.close();
        throw new IllegalStateException("AsyncStepRunner is closed");
      }
      if (failure != null) {
        batch.close();
        result.completeExceptionally(failure);
        return result;
      }
      pending.add(new Pending(batch, result));
    }
    return result;
  }

  private void runLoop() {
    while (true) {
      Pending p;
      try {
        p = pending.take();
      } catch (InterruptedException e) {
        return; // close() interrupts; it fails what is left
      }
      Throwable earlier;
      synchronized (lock) {
        earlier = failure;
      }
      if (earlier != null) {
        p.batch().close();
        p.result().completeExceptionally(earlier);
        continue;
      }
      try {
        p.result().complete(executor.run(p.batch()));
      } catch (Throwable t) {
        synchronized (lock) {
          failure = t;
        }
        p.result().completeExceptionally(t);
        if (t instanceof Error e && !(t instanceof AssertionError)) {
          drain(t);
          throw e;
        }
      }
    }
  }

  private void drain(Throwable cause) {
    Pending p;
    while ((p = pending.poll()) != null) {
      p.batch().close();
      p.result().completeExceptionally(cause);
    }
  }

  /** Stops the device thread after its current step, joins it, fails and frees what is queued. */
  @Override
  public void close() {
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
    }
    device.interrupt();
    boolean interrupted = Threads.joinUninterruptibly(device, false);
    drain(new CancellationException("AsyncStepRunner closed before this step ran"));
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
