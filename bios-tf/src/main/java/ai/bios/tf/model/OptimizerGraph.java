package ai.bios.tf.model;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * The optimizer's update, built on TensorFlow's fused training kernels, with state variables this
 * class creates: {@link #state()} lists every one of them, so checkpoints hold the whole optimizer.
 */
record OptimizerGraph(Op apply, List<Variable<TFloat32>> state, float[] initialState) {

  static OptimizerGraph build(Ops tf, OptimizerSpec spec, List<Variable<TFloat32>> vars,
      List<Operand<TFloat32>> grads) {
    Ops opt = tf.withSubScope("optimizer");
    Operand<TFloat32> lr = opt.constant((float) spec.learningRate());
    List<Op> updates = new ArrayList<>();
    List<Variable<TFloat32>> state = new ArrayList<>();
    List<Float> scalarInit = new ArrayList<>();
    switch (spec.kind()) {
      case SGD -> {
        for (int i = 0; i < vars.size(); i++) {
          updates.add(opt.train.applyGradientDescent(vars.get(i), lr, grads.get(i)));
        }
      }
      case MOMENTUM -> {
        Operand<TFloat32> momentum = opt.constant((float) spec.momentum());
        for (int i = 0; i < vars.size(); i++) {
          Variable<TFloat32> accum = slot(opt, vars.get(i), "momentum", i);
          state.add(accum);
          updates.add(opt.train.applyMomentum(vars.get(i), accum, lr, grads.get(i), momentum));
        }
      }
      case ADAM -> {
        Operand<TFloat32> beta1 = opt.constant((float) spec.beta1());
        Operand<TFloat32> beta2 = opt.constant((float) spec.beta2());
        Operand<TFloat32> epsilon = opt.constant((float) spec.epsilon());
        Variable<TFloat32> beta1Power = opt.withName("beta1_power").variable(Shape.scalar(), TFloat32.class);
        Variable<TFloat32> beta2Power = opt.withName("beta2_power").variable(Shape.scalar(), TFloat32.class);
        List<Variable<TFloat32>> ms = new ArrayList<>();
        List<Variable<TFloat32>> vs = new ArrayList<>();
        for (int i = 0; i < vars.size(); i++) {
          Variable<TFloat32> m = slot(opt, vars.get(i), "m", i);
          Variable<TFloat32> v = slot(opt, vars.get(i), "v", i);
          ms.add(m);
          vs.add(v);
          updates.add(opt.train.applyAdam(vars.get(i), m, v, beta1Power, beta2Power, lr, beta1, beta2,
              epsilon, grads.get(i)));
        }
        // The beta powers advance once every variable has been updated with the current ones.
        Ops after = opt.withControlDependencies(updates);
        List<Op> powers = List.of(
            after.assign(beta1Power, after.math.mul(beta1Power, beta1)),
            after.assign(beta2Power, after.math.mul(beta2Power, beta2)));
        updates = new ArrayList<>(powers);
        state.addAll(ms);
        state.addAll(vs);
        state.add(beta1Power);
        state.add(beta2Power);
        scalarInit.add((float) spec.beta1());
        scalarInit.add((float) spec.beta2());
      }
    }
    Op apply = opt.withName("apply").withControlDependencies(updates).noOp();
    long slotValues = 0;
    for (Variable<TFloat32> v : state) {
      slotValues += v.shape().size();
    }
    float[] init = new float[(int) slotValues];
    // Slots start at zero; the scalars (Adam's beta powers) are last.
    for (int i = 0; i < scalarInit.size(); i++) {
      init[init.length - scalarInit.size() + i] = scalarInit.get(i);
    }
    return new OptimizerGraph(apply, state, init);
  }

  private static Variable<TFloat32> slot(Ops tf, Variable<TFloat32> var, String name, int index) {
    return tf.withName(name + "_" + index).variable(var.shape(), TFloat32.class);
  }
}
