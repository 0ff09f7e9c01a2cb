package ai.bios.tf;

/**
 * A training record, or the training itself, produced a value Bios refuses to train on: a feature
 * vector of the wrong length, a missing value, NaN or infinity, a label outside its range, or a
 * non-finite loss. The message names the record (or step), the expected and actual value, and the
 * fix.
 */
public final class BadInputException extends BiosException {
  private static final long serialVersionUID = 1L;

  public BadInputException(String message) {
    super(message);
  }

  /** The same error, raised again where the user sees it first, with how it got there as cause. */
  public BadInputException(String message, Throwable cause) {
    super(message, cause);
  }
}
