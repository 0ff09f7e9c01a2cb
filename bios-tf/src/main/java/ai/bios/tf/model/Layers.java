package ai.bios.tf.model;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/** Builds a {@link ModelSpec}'s layers into graph operations and draws their initial weights. */
final class Layers {
  private Layers() {}

  /** The forward pass, its variables in order, and each variable's initial value. */
  record Built(Operand<TFloat32> logits, List<Variable<TFloat32>> vars, List<float[]> initial) {
    float[] initialFlat() {
      int n = 0;
      for (float[] a : initial) {
        n += a.length;
      }
      float[] flat = new float[n];
      int at = 0;
      for (float[] a : initial) {
        System.arraycopy(a, 0, flat, at, a.length);
        at += a.length;
      }
      return flat;
    }
  }

  static Built build(Ops tf, ModelSpec spec, Operand<TFloat32> input) {
    SplittableRandom rnd = new SplittableRandom(spec.seed());
    List<Variable<TFloat32>> vars = new ArrayList<>();
    List<float[]> initial = new ArrayList<>();
    Operand<TFloat32> h = input;
    List<Integer> inShape = spec.inputShape();
    for (int i = 0; i < spec.layers().size(); i++) {
      LayerSpec layer = spec.layers().get(i);
      Ops scope = tf.withSubScope("layer" + i);
      if (layer instanceof LayerSpec.Dense d) {
        int in = inShape.get(0);
        Variable<TFloat32> w = scope.withName("kernel").variable(Shape.of(in, d.units()), TFloat32.class);
        Variable<TFloat32> b = scope.withName("bias").variable(Shape.of(d.units()), TFloat32.class);
        vars.add(w);
        vars.add(b);
        initial.add(TrainableModel.glorotUniform(rnd, in * d.units(), in, d.units()));
        initial.add(new float[d.units()]);
        h = activate(scope, scope.nn.biasAdd(scope.linalg.matMul(h, w), b), d.activation());
      } else if (layer instanceof LayerSpec.Conv2D c) {
        int cin = inShape.get(2);
        int k = c.kernel();
        Variable<TFloat32> w = scope.withName("kernel")
            .variable(Shape.of(k, k, cin, c.filters()), TFloat32.class);
        Variable<TFloat32> b = scope.withName("bias").variable(Shape.of(c.filters()), TFloat32.class);
        vars.add(w);
        vars.add(b);
        initial.add(TrainableModel.glorotUniform(rnd, k * k * cin * c.filters(),
            (long) k * k * cin, (long) k * k * c.filters()));
        initial.add(new float[c.filters()]);
        Operand<TFloat32> conv = scope.nn.conv2d(h, w,
            List.of(1L, (long) c.stride(), (long) c.stride(), 1L), c.padding().name());
        h = activate(scope, scope.nn.biasAdd(conv, b), c.activation());
      } else if (layer instanceof LayerSpec.Pool p) {
        List<Long> window = List.of(1L, (long) p.size(), (long) p.size(), 1L);
        List<Long> strides = List.of(1L, (long) p.stride(), (long) p.stride(), 1L);
        if (p.kind() == LayerSpec.PoolKind.AVG) {
          h = scope.nn.avgPool(h, window, strides, p.padding().name());
        } else {
          h = scope.nn.maxPool(h, scope.constant(new int[] {1, p.size(), p.size(), 1}),
              scope.constant(new int[] {1, p.stride(), p.stride(), 1}), p.padding().name());
        }
      } else if (layer instanceof LayerSpec.Flatten) {
        h = scope.reshape(h, scope.constant(new long[] {-1, spec.outputShape(i).get(0)}));
      }
      inShape = spec.outputShape(i);
    }
    return new Built(h, vars, initial);
  }

  private static Operand<TFloat32> activate(Ops tf, Operand<TFloat32> x, Activation activation) {
    return switch (activation) {
      case RELU -> tf.nn.relu(x);
      case TANH -> tf.math.tanh(x);
      case SIGMOID -> tf.math.sigmoid(x);
      case NONE -> x;
    };
  }
}
