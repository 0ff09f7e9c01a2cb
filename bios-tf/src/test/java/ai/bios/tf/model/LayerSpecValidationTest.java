package ai.bios.tf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.InvalidSettingException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The new layers travel as JSON and Java serialisation, and a spec that cannot work is refused naming the layer. */
class LayerSpecValidationTest {
  /** Every new layer and column kind once. */
  static final ModelSpec TABULAR = ModelSpec.builder(9)
      .featureColumns(LayerSpec.numeric("age", 0, 1), LayerSpec.categorical("workclass", 1, 9, 4),
          LayerSpec.numeric("hours", 2, 6), LayerSpec.categorical("sex", 8, 3, 2))
      .dense(16, Activation.RELU).batchNorm(0.9).dropout(0.25)
      .residual(new LayerSpec.Dense(16, Activation.RELU), new LayerSpec.LayerNorm(), new LayerSpec.Dropout(0.1))
      .dense(2, Activation.NONE).seed(5).build();
  static final ModelSpec TEXT = ModelSpec.builder(20)
      .featureColumns(LayerSpec.sequence("tokens", 0, 20, 100, 8))
      .conv1d(16, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).batchNorm()
      .globalAvgPool().dense(2, Activation.NONE).seed(6).build();

  @Test
  void everyNewLayerSurvivesAJsonRoundTrip() {
    for (ModelSpec spec : List.of(TABULAR, TEXT)) {
      String json = spec.toJson();
      assertEquals(spec, ModelSpec.fromJson(json), json);
    }
    String json = TABULAR.toJson();
    for (String type : List.of("featureColumns", "batchNorm", "dropout", "residual", "layerNorm")) {
      assertTrue(json.contains("\"type\":\"" + type + "\""), type + " in " + json);
    }
    assertTrue(json.contains("{\"kind\":\"categorical\",\"name\":\"workclass\",\"index\":1,\"cardinality\":9,"
        + "\"embeddingDim\":4}"), json);
    String text = TEXT.toJson();
    for (String type : List.of("\"kind\":\"sequence\"", "\"type\":\"conv1d\"", "\"type\":\"globalAvgPool\"")) {
      assertTrue(text.contains(type), type + " in " + text);
    }
    assertEquals(List.of(7, 8), ModelSpec.fromJson(
        "{\"inputShape\":[7],\"layers\":[{\"type\":\"featureColumns\",\"columns\":[{\"kind\":\"sequence\",\"name\":\"t\","
            + "\"from\":0,\"length\":7,\"cardinality\":3,\"embeddingDim\":8}]},{\"type\":\"flatten\"},"
            + "{\"type\":\"dense\",\"units\":1,\"activation\":\"NONE\"}],\"loss\":\"MEAN_SQUARED_ERROR\",\"seed\":1}")
        .outputShape(0));
  }

  @Test
  void javaSerialisationKeepsTheNewLayers() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(TABULAR);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      assertEquals(TABULAR, in.readObject());
    }
  }

  @Test
  void shapesAreInferredThroughTheNewLayers() {
    assertEquals(List.of(1 + 4 + 6 + 2), TABULAR.outputShape(0), "numeric widths + embedding dims, in order");
    assertEquals(List.of(20, 8), TEXT.outputShape(0), "a sequence column embeds to [length, dim]");
    assertEquals(List.of(20, 16), TEXT.outputShape(1));
    assertEquals(List.of(16), TEXT.outputShape(3), "global average pooling over the time axis");
    ModelSpec image = ModelSpec.builder(6, 6, 2).conv2d(4, 3, 1, LayerSpec.Padding.VALID, Activation.RELU)
        .globalAvgPool().dense(1, Activation.NONE).build();
    assertEquals(List.of(4), image.outputShape(1), "global average pooling over height and width");
  }

  @Test
  void columnsMustCoverTheFeaturesExactlyOnce() {
    refused(() -> ModelSpec.builder(5).featureColumns(LayerSpec.numeric("a", 0, 2), LayerSpec.categorical("b", 2, 3, 2))
        .dense(1, Activation.NONE).build(), "model.layers[0].columns", "feature 3 has no column");
    refused(() -> ModelSpec.builder(3).featureColumns(LayerSpec.numeric("a", 0, 2), LayerSpec.categorical("b", 1, 3, 2))
        .dense(1, Activation.NONE).build(), "model.layers[0].columns[1]", "column 'b' reads feature 1, which column 'a'");
    refused(() -> ModelSpec.builder(3).featureColumns(LayerSpec.numeric("a", 0, 4))
        .dense(1, Activation.NONE).build(), "model.layers[0].columns[0]", "inside [0, 3)");
    refused(() -> ModelSpec.builder(3).featureColumns(LayerSpec.numeric("a", 0, 1), LayerSpec.numeric("a", 1, 2))
        .dense(1, Activation.NONE).build(), "model.layers[0].columns[1].name", "no other column has");
    refused(() -> ModelSpec.builder(3).featureColumns(LayerSpec.categorical("c", 0, 0, 2), LayerSpec.numeric("n", 1, 2))
        .dense(1, Activation.NONE).build(), "model.layers[0].columns[0].cardinality", ">= 1");
    refused(() -> ModelSpec.builder(4).featureColumns(LayerSpec.sequence("s", 0, 3, 5, 2), LayerSpec.numeric("n", 3, 1))
        .flatten().dense(1, Activation.NONE).build(), "model.layers[0].columns[0]", "must be the only column");
    refused(() -> ModelSpec.builder(3).dense(3, Activation.RELU).featureColumns(LayerSpec.numeric("a", 0, 3))
        .dense(1, Activation.NONE).build(), "model.layers[1]", "must be the model's first layer");
  }

  @Test
  void layersRefuseShapesAndSettingsTheyCannotUse() {
    refused(() -> ModelSpec.builder(4).dense(3, Activation.RELU).residual(new LayerSpec.Dense(5, Activation.RELU))
        .dense(1, Activation.NONE).build(), "model.layers[1]", "input [3], inner output [5]");
    refused(() -> ModelSpec.builder(4).residual(new LayerSpec.Conv1D(2, 2, 1, LayerSpec.Padding.SAME, Activation.RELU))
        .dense(1, Activation.NONE).build(), "model.layers[0].layers[0]", "needs a sequence input");
    refused(() -> ModelSpec.builder(4).conv1d(2, 2, 1, LayerSpec.Padding.SAME, Activation.RELU)
        .dense(1, Activation.NONE).build(), "model.layers[0]", "needs a sequence input [length, channels]");
    refused(() -> ModelSpec.builder(4).globalAvgPool().dense(1, Activation.NONE).build(), "model.layers[0]",
        "needs an image");
    refused(() -> ModelSpec.builder(4).dropout(1.0).dense(1, Activation.NONE).build(), "model.layers[0].rate",
        "[0, 1)");
    refused(() -> ModelSpec.builder(4).batchNorm(1.5).dense(1, Activation.NONE).build(), "model.layers[0].momentum",
        "[0, 1)");
    refused(() -> ModelSpec.builder(4).residual().dense(1, Activation.NONE).build(), "model.layers[0].layers",
        "at least one layer");
    refused(() -> ModelSpec.builder(6).featureColumns(LayerSpec.sequence("s", 0, 6, 5, 2))
        .conv1d(2, 7, 1, LayerSpec.Padding.VALID, Activation.RELU).flatten().dense(1, Activation.NONE).build(),
        "model.layers[1]", "leaves no output");
  }

  private static void refused(Executable build, String setting, String says) {
    InvalidSettingException e = assertThrows(InvalidSettingException.class, build);
    assertEquals(setting, e.setting(), e.getMessage());
    assertTrue(e.getMessage().contains(says), e.getMessage());
  }
}
