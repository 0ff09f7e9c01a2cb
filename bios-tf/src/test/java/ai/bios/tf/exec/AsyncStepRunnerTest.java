package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.bios.tf.BadInputException;
import ai.bios.tf.Synthetic;
import ai.bios.tf.collective.LocalCollective;
import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.InMemoryRecords;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** The futures API: submission order, the same maths as the step loop, failures propagate forward. */
class AsyncStepRunnerTest {
  private static final InMemoryRecords DATA = ScheduleEquivalenceTest.DATA;

  private static Batch batch(BatchAssembler assembler, DataPlan plan, long step) {
    int epoch = plan.epochOf(step);
    return assembler.assemble(DATA, plan.order(epoch), plan.from(step), plan.to(step), epoch, step);
  }

  @Test
  void stepsCompleteInSubmissionOrderWithTheStepLoopsExactResults() {
    TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.SIMPLE).batchSize(32).epochs(1).seed(3).build();
    double[] expectedLosses;
    float[] expectedWeights;
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.sgd(0.1),
        ComputeOptions.cpu().withThreads(1, 1))) {
      expectedLosses = new StepLoop(model, DATA, config).run().lossHistory();
      expectedWeights = model.exportWeights();
    }
    DataPlan plan = new DataPlan(DATA.size(), 32, 16, 3, 0);
    List<Long> completionOrder = new ArrayList<>();
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.sgd(0.1),
            ComputeOptions.cpu().withThreads(1, 1));
        BatchAssembler assembler = new BatchAssembler(model.spec(), 32);
        AsyncStepRunner runner = new AsyncStepRunner(model, new LocalCollective())) {
      List<CompletableFuture<StepResult>> futures = new ArrayList<>();
      for (long s = 0; s < 16; s++) {
        CompletableFuture<StepResult> f = runner.submit(batch(assembler, plan, s));
        f.thenAccept(r -> {
          synchronized (completionOrder) {
            completionOrder.add(r.step());
          }
        });
        futures.add(f);
      }
      double[] losses = futures.stream().mapToDouble(f -> f.join().loss()).toArray();
      assertArrayEquals(expectedLosses, losses);
      assertArrayEquals(expectedWeights, model.exportWeights());
    }
    List<Long> expectedOrder = new ArrayList<>();
    for (long s = 0; s < 16; s++) {
      expectedOrder.add(s);
    }
    assertEquals(expectedOrder, completionOrder);
  }

  @Test
  void aFailedStepFailsEveryLaterFutureWithItsCause() {
    long threads = Synthetic.liveThreads("bios-device");
    DataPlan plan = new DataPlan(DATA.size(), 32, 16, 3, 0);
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.sgd(0.1),
            ComputeOptions.cpu().withThreads(1, 1));
        BatchAssembler assembler = new BatchAssembler(model.spec(), 32);
        BatchAssembler wide = new BatchAssembler(
            ai.bios.tf.model.ModelSpec.builder(8).dense(2, ai.bios.tf.model.Activation.NONE).build(), 32)) {
      AsyncStepRunner runner = new AsyncStepRunner(model, new LocalCollective());
      CompletableFuture<StepResult> ok = runner.submit(batch(assembler, plan, 0));
      // A batch with every feature at 3e38 overflows the loss: step 1 fails.
      float[] huge = new float[32 * 8];
      java.util.Arrays.fill(huge, 3e38f);
      InMemoryRecords bad = new InMemoryRecords(huge, 8, new float[32], 1);
      CompletableFuture<StepResult> failing = runner.submit(
          assembler.assemble(bad, java.util.stream.IntStream.range(0, 32).toArray(), 0, 32, 0, 1));
      List<CompletableFuture<StepResult>> later = new ArrayList<>();
      for (long s = 2; s < 6; s++) {
        later.add(runner.submit(batch(assembler, plan, s)));
      }
      assertEquals(0, ok.join().step());
      Throwable cause = assertThrows(CompletionException.class, failing::join).getCause();
      assertEquals(BadInputException.class, cause.getClass());
      for (CompletableFuture<StepResult> f : later) {
        assertSame(cause, assertThrows(CompletionException.class, f::join).getCause());
      }
      assertSame(cause, assertThrows(CompletionException.class,
          () -> runner.submit(batch(assembler, plan, 7)).join()).getCause());
      runner.close();
      assertThrows(IllegalStateException.class, () -> runner.submit(batch(assembler, plan, 8)));
    }
    assertEquals(threads, Synthetic.liveThreads("bios-device"));
  }
}
