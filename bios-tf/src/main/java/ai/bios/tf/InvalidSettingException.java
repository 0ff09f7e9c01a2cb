package ai.bios.tf;

/** A setting (parameter, config key) has a value Bios cannot use. Raised at construction time. */
public final class InvalidSettingException extends BiosException {
  private static final long serialVersionUID = 1L;

  private final String setting;

  public InvalidSettingException(String setting, Object value, String requirement) {
    super("`" + setting + "` " + requirement + ", was " + value);
    this.setting = setting;
  }

  /** The name of the setting, as the user wrote it. */
  public String setting() {
    return setting;
  }

  /** Throws unless {@code value >= min}. */
  public static int atLeast(String setting, int value, int min) {
    if (value < min) {
      throw new InvalidSettingException(setting, value, "must be >= " + min);
    }
    return value;
  }

  /** Throws unless {@code value} is finite and strictly positive. */
  public static double positive(String setting, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw new InvalidSettingException(setting, value, "must be a finite number > 0");
    }
    return value;
  }
}
