package ai.bios.tf;

/**
 * Base of every error Bios raises on purpose. Unchecked; the message always says what was wrong
 * (the setting, record, column or step, and the bad value) and what to change.
 */
public class BiosException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public BiosException(String message) {
    super(message);
  }

  public BiosException(String message, Throwable cause) {
    super(message, cause);
  }
}
