package ai.bios.tf.model;

import ai.bios.tf.InvalidSettingException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Shape inference and validation of a {@link ModelSpec}'s layers: the per-record output shape of
 * each layer, or an {@link InvalidSettingException} naming the layer ({@code model.layers[2]},
 * {@code model.layers[3].layers[0]} inside a residual block), what it got and the fix.
 */
final class Shapes {
  private Shapes() {}

  /** Output shape of each layer of {@code layers} applied to {@code input}; {@code at} names the list. */
  static List<List<Integer>> infer(List<Integer> input, List<LayerSpec> layers, String at) {
    List<List<Integer>> shapes = new ArrayList<>();
    List<Integer> cur = input;
    for (int i = 0; i < layers.size(); i++) {
      String where = at + "[" + i + "]";
      LayerSpec layer = Objects.requireNonNull(layers.get(i), where);
      if (layer instanceof LayerSpec.FeatureColumns f && (i > 0 || !at.equals("model.layers"))) {
        throw new InvalidSettingException(where, layer, "must be the model's first layer (it reads the feature vector)");
      }
      cur = outputOf(where, layer, cur);
      shapes.add(List.copyOf(cur));
    }
    return List.copyOf(shapes);
  }

  private static List<Integer> outputOf(String where, LayerSpec layer, List<Integer> cur) {
    if (layer instanceof LayerSpec.Dense d) {
      if (cur.size() != 1) {
        throw new InvalidSettingException(where, layer, "needs a flat input but gets " + cur
            + "; put flatten() or globalAvgPool() before it");
      }
      InvalidSettingException.atLeast(where + ".units", d.units(), 1);
      Objects.requireNonNull(d.activation(), where + ".activation");
      return List.of(d.units());
    } else if (layer instanceof LayerSpec.Conv2D c) {
      requireRank(where, layer, cur, 3, "an image input [height, width, channels]");
      checkConvolution(where, c.filters(), c.kernel(), c.stride(), c.activation());
      return List.of(
          windowOut(where, cur.get(0), c.kernel(), c.stride(), c.padding()),
          windowOut(where, cur.get(1), c.kernel(), c.stride(), c.padding()),
          c.filters());
    } else if (layer instanceof LayerSpec.Pool p) {
      requireRank(where, layer, cur, 3, "an image input [height, width, channels]");
      Objects.requireNonNull(p.kind(), where + ".kind");
      InvalidSettingException.atLeast(where + ".size", p.size(), 1);
      InvalidSettingException.atLeast(where + ".stride", p.stride(), 1);
      return List.of(
          windowOut(where, cur.get(0), p.size(), p.stride(), p.padding()),
          windowOut(where, cur.get(1), p.size(), p.stride(), p.padding()),
          cur.get(2));
    } else if (layer instanceof LayerSpec.Flatten) {
      return List.of(cur.stream().reduce(1, (a, b) -> a * b));
    } else if (layer instanceof LayerSpec.FeatureColumns f) {
      return featureColumns(where, f, cur);
    } else if (layer instanceof LayerSpec.LayerNorm) {
      return cur;
    } else if (layer instanceof LayerSpec.Dropout d) {
      if (!(d.rate() >= 0 && d.rate() < 1)) {
        throw new InvalidSettingException(where + ".rate", d.rate(), "must be in [0, 1) (the fraction of values dropped)");
      }
      return cur;
    } else if (layer instanceof LayerSpec.BatchNorm b) {
      if (!(b.momentum() >= 0 && b.momentum() < 1)) {
        throw new InvalidSettingException(where + ".momentum", b.momentum(),
            "must be in [0, 1) (the moving statistics' decay per step, e.g. 0.99)");
      }
      return cur;
    } else if (layer instanceof LayerSpec.Residual r) {
      if (r.layers() == null || r.layers().isEmpty()) {
        throw new InvalidSettingException(where + ".layers", r.layers(), "must hold at least one layer");
      }
      List<List<Integer>> inner = infer(cur, r.layers(), where + ".layers");
      List<Integer> out = inner.get(inner.size() - 1);
      if (!out.equals(cur)) {
        throw new InvalidSettingException(where, "input " + cur + ", inner output " + out,
            "must give its inner layers' output the shape of its input (they are added); "
                + "change the last inner layer's units or filters to match");
      }
      return cur;
    } else if (layer instanceof LayerSpec.GlobalAvgPool) {
      if (cur.size() == 1) {
        throw new InvalidSettingException(where, layer, "needs an image [height, width, channels] or a sequence "
            + "[length, channels] but gets " + cur);
      }
      return List.of(cur.get(cur.size() - 1));
    } else if (layer instanceof LayerSpec.Conv1D c) {
      requireRank(where, layer, cur, 2, "a sequence input [length, channels] (e.g. a sequence column's embeddings)");
      checkConvolution(where, c.filters(), c.kernel(), c.stride(), c.activation());
      return List.of(windowOut(where, cur.get(0), c.kernel(), c.stride(), c.padding()), c.filters());
    }
    throw new IllegalStateException("unknown layer " + layer);
  }

  private static List<Integer> featureColumns(String where, LayerSpec.FeatureColumns f, List<Integer> input) {
    if (input.size() != 1) {
      throw new InvalidSettingException(where, f, "needs a flat input [features] but gets " + input);
    }
    List<LayerSpec.Column> columns = f.columns();
    if (columns == null || columns.isEmpty()) {
      throw new InvalidSettingException(where + ".columns", columns, "must hold at least one column");
    }
    int features = input.get(0);
    String[] owner = new String[features];
    Set<String> names = new HashSet<>();
    int width = 0;
    List<Integer> sequenceShape = null;
    for (int c = 0; c < columns.size(); c++) {
      LayerSpec.Column col = Objects.requireNonNull(columns.get(c), where + ".columns[" + c + "]");
      String at = where + ".columns[" + c + "]";
      if (col.name() == null || col.name().isBlank() || !names.add(col.name())) {
        throw new InvalidSettingException(at + ".name", col.name(), "must be a non-empty name no other column has");
      }
      String named = "column '" + col.name() + "'";
      if (col.first() < 0 || col.width() < 1 || col.first() + col.width() > features) {
        throw new InvalidSettingException(at, col, named + " must read features inside [0, " + features
            + ") (the model's input size); it reads [" + col.first() + ", " + (col.first() + col.width()) + ")");
      }
      for (int i = col.first(); i < col.first() + col.width(); i++) {
        if (owner[i] != null) {
          throw new InvalidSettingException(at, col, named + " reads feature " + i + ", which column '" + owner[i]
              + "' reads too; each feature belongs to one column");
        }
        owner[i] = col.name();
      }
      if (col instanceof LayerSpec.Numeric) {
        width += col.width();
      } else if (col instanceof LayerSpec.Categorical k) {
        InvalidSettingException.atLeast(at + ".cardinality", k.cardinality(), 1);
        InvalidSettingException.atLeast(at + ".embeddingDim", k.embeddingDim(), 1);
        width += k.embeddingDim();
      } else if (col instanceof LayerSpec.Sequence s) {
        InvalidSettingException.atLeast(at + ".cardinality", s.cardinality(), 1);
        InvalidSettingException.atLeast(at + ".embeddingDim", s.embeddingDim(), 1);
        if (columns.size() != 1) {
          throw new InvalidSettingException(at, col, named + " is a sequence ([length, dim]) and must be the only column");
        }
        sequenceShape = List.of(s.length(), s.embeddingDim());
      }
    }
    for (int i = 0; i < features; i++) {
      if (owner[i] == null) {
        int covered = 0;
        for (String o : owner) {
          covered += o == null ? 0 : 1;
        }
        throw new InvalidSettingException(where + ".columns", "columns covering " + covered + " of " + features
            + " features", "must cover every feature of the input exactly once; feature " + i
            + " has no column (declare it, or make the input shape the columns' total size)");
      }
    }
    return sequenceShape != null ? sequenceShape : List.of(width);
  }

  private static void checkConvolution(String where, int filters, int kernel, int stride, Activation activation) {
    InvalidSettingException.atLeast(where + ".filters", filters, 1);
    InvalidSettingException.atLeast(where + ".kernel", kernel, 1);
    InvalidSettingException.atLeast(where + ".stride", stride, 1);
    Objects.requireNonNull(activation, where + ".activation");
  }

  private static void requireRank(String where, LayerSpec layer, List<Integer> shape, int rank, String what) {
    if (shape.size() != rank) {
      throw new InvalidSettingException(where, layer, "needs " + what + " but gets " + shape);
    }
  }

  private static int windowOut(String where, int in, int window, int stride, LayerSpec.Padding padding) {
    Objects.requireNonNull(padding, where + ".padding");
    int out = padding == LayerSpec.Padding.SAME ? (in + stride - 1) / stride : (in - window) / stride + 1;
    if (out < 1) {
      throw new InvalidSettingException(where, "window " + window + " on size " + in,
          "leaves no output; use a smaller window or SAME padding");
    }
    return out;
  }
}
