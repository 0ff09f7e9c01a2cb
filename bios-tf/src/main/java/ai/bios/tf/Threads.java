package ai.bios.tf;

/** Thread helpers shared by the engine's components (for Bios's own use). */
public final class Threads {
  private Threads() {}

  /**
   * Waits until {@code t} has ended, even if the caller is interrupted meanwhile, and returns
   * whether it was, so the caller can restore its interrupt flag once it is done. With
   * {@code passInterrupts}, each interrupt of the caller is passed on to {@code t} so it stops sooner.
   */
  public static boolean joinUninterruptibly(Thread t, boolean passInterrupts) {
    boolean interrupted = false;
    while (t.isAlive()) {
      try {
        t.join();
      } catch (InterruptedException e) {
        interrupted = true;
        if (passInterrupts) {
          t.interrupt();
        }
      }
    }
    return interrupted;
  }
}
