package ai.bios.tf.model;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * The optimizer's update, built on TensorFlow's fused training kernels, with state variables this
 * class creates: {@link #state()} lists every one of them, so checkpoints hold the whole optimizer.
 * The learning rate is a scalar placeholder fed at every apply (the schedule's value at that step).
 *
 * <p>The gradient is prepared first ({@link OptimizerSpec}: L2 on kernels, then clipping to the
 * global norm), all in the graph, so every worker that applies the same sums does the same maths;
 * every update runs after the whole prepared gradient exists, so no read of a weight (L2, the
 * decay) races its update.
 *
 * <p>State layout (the order checkpoints store): MOMENTUM: each weight's accumulator; ADAM, ADAMW:
 * each first moment, each second moment, then the two beta powers; RMSPROP: each mean square, each
 * momentum; ADAGRAD: each accumulator.
 */
record OptimizerGraph(Op apply, Placeholder<TFloat32> learningRate, List<Variable<TFloat32>> state,
    float[] initialState) {

  static OptimizerGraph build(Ops tf, OptimizerSpec spec, List<Variable<TFloat32>> vars,
      List<Operand<TFloat32>> meanGrads) {
    Ops opt = tf.withSubScope("optimizer");
    Placeholder<TFloat32> lr = opt.withName("learning_rate").placeholder(TFloat32.class,
        Placeholder.shape(Shape.scalar()));
    List<Operand<TFloat32>> grads = clip(opt, spec.clipNorm(), regularise(opt, spec.l2(), vars, meanGrads));
    List<Op> ready = new ArrayList<>();
    if (grads != meanGrads) {
      List<Operand<TFloat32>> named = new ArrayList<>();
      for (Operand<TFloat32> g : grads) {
        var prepared = opt.identity(g);
        named.add(prepared);
        ready.add(prepared);
      }
      grads = named;
    }
    Ops upd = ready.isEmpty() ? opt : opt.withControlDependencies(ready);
    State state = new State(opt);
    List<Op> updates = new ArrayList<>();
    switch (spec.kind()) {
      case SGD -> {
        for (int i = 0; i < vars.size(); i++) {
          updates.add(upd.train.applyGradientDescent(vars.get(i), lr, grads.get(i)));
        }
      }
      case MOMENTUM -> {
        Operand<TFloat32> momentum = upd.constant((float) spec.momentum());
        for (int i = 0; i < vars.size(); i++) {
          Variable<TFloat32> accum = state.slot(vars.get(i), "momentum", i, 0f);
          updates.add(upd.train.applyMomentum(vars.get(i), accum, lr, grads.get(i), momentum));
        }
      }
      case ADAM, ADAMW -> updates = adam(upd, spec, lr, vars, grads, state);
      case RMSPROP -> {
        Operand<TFloat32> rho = upd.constant((float) spec.rho());
        Operand<TFloat32> momentum = upd.constant((float) spec.momentum());
        Operand<TFloat32> epsilon = upd.constant((float) spec.epsilon());
        List<Variable<TFloat32>> ms = new ArrayList<>();
        for (int i = 0; i < vars.size(); i++) {
          ms.add(state.slot(vars.get(i), "ms", i, 0f));
        }
        for (int i = 0; i < vars.size(); i++) {
          Variable<TFloat32> mom = state.slot(vars.get(i), "mom", i, 0f);
          updates.add(upd.train.applyRmsProp(vars.get(i), ms.get(i), mom, lr, rho, momentum, epsilon, grads.get(i)));
        }
      }
      case ADAGRAD -> {
        Operand<TFloat32> epsilon = upd.constant((float) spec.epsilon());
        for (int i = 0; i < vars.size(); i++) {
          Variable<TFloat32> accum = state.slot(vars.get(i), "accumulator", i, (float) spec.initialAccumulator());
          updates.add(upd.train.applyAdagradV2(vars.get(i), accum, lr, epsilon, grads.get(i)));
        }
      }
    }
    Op apply = opt.withName("apply").withControlDependencies(updates).noOp();
    return new OptimizerGraph(apply, lr, state.vars, state.initial());
  }

  /**
   * Adam's moments for every weight (ADAMW first shrinks each kernel by {@code lr * weightDecay * w}),
   * then the beta powers, which advance once every weight has been updated with the current ones.
   */
  private static List<Op> adam(Ops upd, OptimizerSpec spec, Operand<TFloat32> lr, List<Variable<TFloat32>> vars,
      List<Operand<TFloat32>> grads, State state) {
    Operand<TFloat32> beta1 = upd.constant((float) spec.beta1());
    Operand<TFloat32> beta2 = upd.constant((float) spec.beta2());
    Operand<TFloat32> epsilon = upd.constant((float) spec.epsilon());
    List<Variable<TFloat32>> ms = new ArrayList<>();
    for (int i = 0; i < vars.size(); i++) {
      ms.add(state.slot(vars.get(i), "m", i, 0f));
    }
    List<Variable<TFloat32>> vs = new ArrayList<>();
    for (int i = 0; i < vars.size(); i++) {
      vs.add(state.slot(vars.get(i), "v", i, 0f));
    }
    Variable<TFloat32> beta1Power = state.scalar("beta1_power", (float) spec.beta1());
    Variable<TFloat32> beta2Power = state.scalar("beta2_power", (float) spec.beta2());
    Operand<TFloat32> decay = spec.weightDecay() > 0
        ? upd.math.mul(lr, upd.constant((float) spec.weightDecay())) : null;
    List<Op> updates = new ArrayList<>();
    for (int i = 0; i < vars.size(); i++) {
      Variable<TFloat32> w = vars.get(i);
      Ops step = upd;
      if (decay != null && isKernel(w)) {
        step = upd.withControlDependencies(List.of(upd.assignSub(w, upd.math.mul(decay, w))));
      }
      updates.add(step.train.applyAdam(w, ms.get(i), vs.get(i), beta1Power, beta2Power, lr, beta1, beta2,
          epsilon, grads.get(i)));
    }
    Ops after = upd.withControlDependencies(updates);
    return List.of(
        after.assign(beta1Power, after.math.mul(beta1Power, beta1)),
        after.assign(beta2Power, after.math.mul(beta2Power, beta2)));
  }

  /** {@code g + l2 * w} for kernels, {@code g} for the rest; the gradient as is when {@code l2} is 0. */
  private static List<Operand<TFloat32>> regularise(Ops tf, double l2, List<Variable<TFloat32>> vars,
      List<Operand<TFloat32>> grads) {
    if (l2 == 0) {
      return grads;
    }
    Operand<TFloat32> c = tf.constant((float) l2);
    List<Operand<TFloat32>> out = new ArrayList<>();
    for (int i = 0; i < vars.size(); i++) {
      out.add(isKernel(vars.get(i)) ? tf.math.add(grads.get(i), tf.math.mul(c, vars.get(i))) : grads.get(i));
    }
    return out;
  }

  /**
   * The gradient scaled by {@code min(1, clipNorm / ||g||)}, the norm over every weight (summed in
   * variable order); as is when {@code clipNorm} is 0. A zero gradient stays zero (the ratio is +inf).
   */
  private static List<Operand<TFloat32>> clip(Ops tf, double clipNorm, List<Operand<TFloat32>> grads) {
    if (clipNorm == 0) {
      return grads;
    }
    Operand<TFloat32> squares = null;
    for (Operand<TFloat32> g : grads) {
      Operand<TFloat32> s = tf.sum(tf.math.square(tf.reshape(g, tf.constant(new long[] {-1}))), tf.constant(0));
      squares = squares == null ? s : tf.math.add(squares, s);
    }
    Operand<TFloat32> norm = tf.withName("gradient_norm").math.sqrt(squares);
    Operand<TFloat32> scale = tf.math.minimum(tf.constant(1f), tf.math.div(tf.constant((float) clipNorm), norm));
    List<Operand<TFloat32>> out = new ArrayList<>();
    for (Operand<TFloat32> g : grads) {
      out.add(tf.math.mul(g, scale));
    }
    return out;
  }

  /** A kernel: a weight with two or more dimensions (dense and convolution kernels), not a bias. */
  static boolean isKernel(Variable<TFloat32> var) {
    return var.shape().numDimensions() >= 2;
  }

  /** The optimizer's state variables, in creation order, and the value each starts at. */
  private static final class State {
    private final Ops tf;
    private final List<Variable<TFloat32>> vars = new ArrayList<>();
    private final List<Float> starts = new ArrayList<>();

    State(Ops tf) {
      this.tf = tf;
    }

    Variable<TFloat32> slot(Variable<TFloat32> var, String name, int index, float start) {
      return add(tf.withName(name + "_" + index).variable(var.shape(), TFloat32.class), start);
    }

    Variable<TFloat32> scalar(String name, float start) {
      return add(tf.withName(name).variable(Shape.scalar(), TFloat32.class), start);
    }

    private Variable<TFloat32> add(Variable<TFloat32> v, float start) {
      vars.add(v);
      starts.add(start);
      return v;
    }

    float[] initial() {
      long n = 0;
      for (Variable<TFloat32> v : vars) {
        n += v.shape().size();
      }
      float[] init = new float[(int) n];
      int at = 0;
      for (int i = 0; i < vars.size(); i++) {
        int size = (int) vars.get(i).shape().size();
        java.util.Arrays.fill(init, at, at + size, starts.get(i));
        at += size;
      }
      return init;
    }
  }
}
