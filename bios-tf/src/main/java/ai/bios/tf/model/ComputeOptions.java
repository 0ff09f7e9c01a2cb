package ai.bios.tf.model;

import ai.bios.tf.InvalidSettingException;
import java.io.Serializable;
import java.util.Optional;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GPUOptions;

/**
 * Where and with how many threads TensorFlow runs one model: pinned to one GPU (by the address
 * Spark's resource scheduling assigned) or to the CPU, and the sizes of TF's intra-op and inter-op
 * thread pools (0 lets TensorFlow choose).
 */
public record ComputeOptions(String gpuAddress, int intraOpThreads, int interOpThreads)
    implements Serializable {

  public ComputeOptions {
    if (gpuAddress != null && !gpuAddress.matches("\\d+")) {
      throw new InvalidSettingException("gpuAddress", "\"" + gpuAddress + "\"",
          "must be a CUDA device ordinal such as 0 or 3 (as Spark's GPU discovery script reports it)");
    }
    InvalidSettingException.atLeast("intraOpThreads", intraOpThreads, 0);
    InvalidSettingException.atLeast("interOpThreads", interOpThreads, 0);
  }

  /** CPU only, TF chooses its thread pools. */
  public static ComputeOptions cpu() {
    return new ComputeOptions(null, 0, 0);
  }

  /** Pinned to the GPU with this address; TF chooses its CPU thread pools. */
  public static ComputeOptions gpu(String address) {
    return new ComputeOptions(address, 0, 0);
  }

  public ComputeOptions withThreads(int intraOp, int interOp) {
    return new ComputeOptions(gpuAddress, intraOp, interOp);
  }

  public Optional<String> gpu() {
    return Optional.ofNullable(gpuAddress);
  }

  /**
   * The session config: a GPU run sees only its own device ({@code gpu_options.visible_device_list},
   * so the model lands on it as {@code /device:GPU:0}) and grows its memory as needed; a CPU run
   * sees no GPU at all.
   */
  public ConfigProto toConfigProto() {
    ConfigProto.Builder config = ConfigProto.newBuilder()
        .setIntraOpParallelismThreads(intraOpThreads)
        .setInterOpParallelismThreads(interOpThreads)
        .setAllowSoftPlacement(true);
    if (gpuAddress == null) {
      config.putDeviceCount("GPU", 0);
    } else {
      config.setGpuOptions(GPUOptions.newBuilder()
          .setVisibleDeviceList(gpuAddress)
          .setAllowGrowth(true)
          .build());
    }
    return config.build();
  }
}
