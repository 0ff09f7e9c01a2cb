package ai.bios.tf.model;

import java.io.Serializable;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/**
 * Your own graph: builds the model's logits from TensorFlow Java {@code Ops} and the features, for
 * networks the {@link ModelSpec} builder cannot express. Gradients, optimizer, all-reduce,
 * checkpoints, inference and SavedModel export are the engine's, unchanged.
 *
 * <p>A spec names the function by CLASS NAME ({@link ModelSpec.Builder#modelFunction}), so it must
 * be a public class with a public no-arg constructor on the executors' classpath; it is loaded with
 * the thread context class loader. Lambdas are not supported: their names are not stable across
 * JVMs, so saved pipelines and checkpoints could not name them. An optional string config (e.g.
 * JSON) from the spec is handed to {@link #build} through {@link ModelContext#config()}.
 *
 * <p>Create weights only with {@link ModelContext#variable}: their initial values are drawn in
 * Java from the spec's seed, in call order, so every worker starts identical and runs repeat
 * bitwise. {@code build} is called once per graph and must be deterministic.
 */
public interface ModelFunction extends Serializable {
  /** The logits, shape {@code [batch, spec.outputs()]}. */
  Operand<TFloat32> build(ModelContext ctx);
}
