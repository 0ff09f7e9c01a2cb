package ai.bios.tf.model;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * A list of variables seen as one flat float vector: one fetch reads them all, one feed writes them
 * all. Used for the weights (whose layout is also the gradient buffer's) and the optimizer state.
 */
final class StateVector {
  private final List<Shape> shapes = new ArrayList<>();
  private final long[] sizes;
  private final int size;
  private final List<Variable<TFloat32>> vars;
  private final Placeholder<TFloat32> input;
  private final Op write;

  StateVector(Ops tf, String name, List<Variable<TFloat32>> vars) {
    sizes = new long[vars.size()];
    long total = 0;
    for (int i = 0; i < vars.size(); i++) {
      Shape shape = vars.get(i).shape();
      shapes.add(shape);
      sizes[i] = shape.size();
      total += sizes[i];
    }
    if (total > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(name + " has " + total + " values; at most 2^31-1 are supported");
    }
    size = (int) total;
    this.vars = List.copyOf(vars);
    if (vars.isEmpty()) {
      input = null;
      write = null;
      return;
    }
    input = tf.withName(name + "_input").placeholder(TFloat32.class, Placeholder.shape(Shape.of(size)));
    List<Operand<TFloat32>> parts = split(tf, input);
    List<Op> assigns = new ArrayList<>();
    for (int i = 0; i < vars.size(); i++) {
      assigns.add(tf.assign(vars.get(i), parts.get(i)));
    }
    write = tf.withName(name + "_write").withControlDependencies(assigns).noOp();
  }

  int size() {
    return size;
  }

  /** Splits a flat vector of {@link #size()} values into tensors shaped like the variables. */
  List<Operand<TFloat32>> split(Ops tf, Operand<TFloat32> flat) {
    List<Operand<TFloat32>> parts = new ArrayList<>();
    if (shapes.size() == 1) {
      parts.add(tf.reshape(flat, tf.constant(shapes.get(0).asArray())));
      return parts;
    }
    var pieces = tf.splitV(flat, tf.constant(sizes), tf.constant(0), (long) shapes.size());
    for (int i = 0; i < shapes.size(); i++) {
      @SuppressWarnings("unchecked")
      Operand<TFloat32> piece = (Operand<TFloat32>) pieces.output().get(i);
      parts.add(tf.reshape(piece, tf.constant(shapes.get(i).asArray())));
    }
    return parts;
  }

  /** Concatenates tensors, each flattened, into one vector. */
  static Operand<TFloat32> flatten(Ops tf, List<Operand<TFloat32>> tensors) {
    List<Operand<TFloat32>> flat = new ArrayList<>();
    for (Operand<TFloat32> t : tensors) {
      flat.add(tf.reshape(t, tf.constant(new long[] {-1})));
    }
    return flat.size() == 1 ? tf.identity(flat.get(0)) : tf.concat(flat, tf.constant(0));
  }

  /** Reads every variable in one run, copying each straight into its slice of the result. */
  float[] read(Session session) {
    float[] out = new float[size];
    Session.Runner runner = session.runner();
    for (Variable<TFloat32> v : vars) {
      runner.fetch(v);
    }
    try (var r = runner.run()) {
      int at = 0;
      for (int i = 0; i < vars.size(); i++) {
        ((TFloat32) r.get(i)).asRawTensor().data().asFloats().read(out, at, (int) sizes[i]);
        at += (int) sizes[i];
      }
    }
    return out;
  }

  void write(Session session, float[] values) {
    try (TFloat32 t = TFloat32.tensorOf(Shape.of(size))) {
      t.asRawTensor().data().asFloats().write(values);
      session.runner().feed(input, t).addTarget(write).run().close();
    }
  }
}
