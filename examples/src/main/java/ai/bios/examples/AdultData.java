package ai.bios.examples;

import ai.bios.tf.input.InMemoryRecords;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The UCI Adult census data (examples/data/adult) as feature vectors: the ETL a pipeline would do,
 * in plain Java. Cleans the test file's layout (spaces after commas, labels ending in a dot),
 * keeps missing values ({@code ?}) as their own category, one-hot encodes the categorical columns
 * with the training split's vocabulary, standardises the numeric ones (log1p for capital gains and
 * losses) with the training split's statistics. Label: income {@code >50K}.
 */
final class AdultData {
  static final String[] NUMERIC = {"age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"};
  static final String[] CATEGORICAL = {"workclass", "education", "marital_status", "occupation",
      "relationship", "race", "sex", "native_country"};

  final InMemoryRecords train;
  final InMemoryRecords test;
  final float[] testLabels;
  final int features;

  private AdultData(InMemoryRecords train, InMemoryRecords test, float[] testLabels, int features) {
    this.train = train;
    this.test = test;
    this.testLabels = testLabels;
    this.features = features;
  }

  static AdultData load(Path dir) throws IOException {
    Table train = Table.read(dir.resolve("adult.csv"));
    Table test = Table.read(dir.resolve("adult.test.csv"));
    Encoder encoder = new Encoder(train);
    float[][] tr = encoder.encode(train);
    float[][] te = encoder.encode(test);
    return new AdultData(new InMemoryRecords(tr[0], encoder.width, tr[1], 1),
        new InMemoryRecords(te[0], encoder.width, te[1], 1), te[1], encoder.width);
  }

  /** Rows of cleaned string cells. */
  private record Table(List<String> header, List<String[]> rows) {
    static Table read(Path file) throws IOException {
      if (!Files.exists(file)) {
        throw new IOException(file + " not found; run from the repository root (examples/data/adult)");
      }
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      List<String> header = List.of(lines.get(0).split(","));
      List<String[]> rows = new ArrayList<>();
      for (int i = 1; i < lines.size(); i++) {
        String line = lines.get(i).strip();
        if (line.isEmpty()) {
          continue; // the test file ends with a blank line
        }
        String[] cells = line.split(",", -1);
        if (cells.length != header.size()) {
          throw new IOException(file + " line " + (i + 1) + ": " + cells.length + " cells, expected " + header.size());
        }
        for (int c = 0; c < cells.length; c++) {
          cells[c] = cells[c].strip();
        }
        String label = cells[cells.length - 1];
        if (label.endsWith(".")) {
          cells[cells.length - 1] = label.substring(0, label.length() - 1); // "<=50K." in the test file
        }
        rows.add(cells);
      }
      return new Table(header, rows);
    }

    int column(String name) {
      int i = header.indexOf(name);
      if (i < 0) {
        throw new IllegalArgumentException("column " + name + " not in " + header);
      }
      return i;
    }
  }

  private static final class Encoder {
    final Map<String, Map<String, Integer>> vocab = new LinkedHashMap<>();
    final double[] mean = new double[NUMERIC.length];
    final double[] std = new double[NUMERIC.length];
    final int width;

    Encoder(Table train) {
      int w = NUMERIC.length;
      for (String c : CATEGORICAL) {
        Map<String, Integer> v = new LinkedHashMap<>();
        int col = train.column(c);
        for (String[] row : train.rows()) {
          v.putIfAbsent(row[col], v.size());
        }
        vocab.put(c, v);
        w += v.size();
      }
      width = w;
      for (int k = 0; k < NUMERIC.length; k++) {
        int col = train.column(NUMERIC[k]);
        double sum = 0;
        double sq = 0;
        for (String[] row : train.rows()) {
          double x = numeric(k, row[col]);
          sum += x;
          sq += x * x;
        }
        int n = train.rows().size();
        mean[k] = sum / n;
        std[k] = Math.sqrt(Math.max(1e-12, sq / n - mean[k] * mean[k]));
      }
    }

    private static double numeric(int k, String cell) {
      double x = Double.parseDouble(cell);
      return NUMERIC[k].startsWith("capital") ? Math.log1p(x) : x;
    }

    /** {features, labels}. */
    float[][] encode(Table t) {
      int n = t.rows().size();
      float[] x = new float[n * width];
      float[] y = new float[n];
      int labelCol = t.column("income");
      for (int i = 0; i < n; i++) {
        String[] row = t.rows().get(i);
        int at = i * width;
        for (int k = 0; k < NUMERIC.length; k++) {
          x[at + k] = (float) ((numeric(k, row[t.column(NUMERIC[k])]) - mean[k]) / std[k]);
        }
        int offset = NUMERIC.length;
        for (String c : CATEGORICAL) {
          Map<String, Integer> v = vocab.get(c);
          Integer slot = v.get(row[t.column(c)]);
          if (slot != null) {
            x[at + offset + slot] = 1f; // unseen categories stay all-zero
          }
          offset += v.size();
        }
        y[i] = row[labelCol].equals(">50K") ? 1f : 0f;
      }
      return new float[][] {x, y};
    }
  }

  static List<String> columns() {
    List<String> all = new ArrayList<>(List.of(NUMERIC));
    all.addAll(List.of(CATEGORICAL));
    return all;
  }
}
