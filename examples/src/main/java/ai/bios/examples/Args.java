package ai.bios.examples;

import java.util.LinkedHashMap;
import java.util.Map;

/** {@code --key value} command-line arguments; unknown keys are an error naming them. */
final class Args {
  private final Map<String, String> values = new LinkedHashMap<>();

  Args(String[] args) {
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --key value pairs, got: " + String.join(" ", args));
      }
      values.put(args[i].substring(2), args[++i]);
    }
  }

  String get(String key, String fallback) {
    String v = values.remove(key);
    return v == null ? fallback : v;
  }

  void requireConsumed() {
    if (!values.isEmpty()) {
      throw new IllegalArgumentException("unknown option(s): " + values.keySet());
    }
  }
}
