/// Image resizing (not differentiable): data preparation, e.g. Fashion-MNIST 28×28 → 224×224.

/// Resizes every plane of `images` `[N, C, H, W]` to `[N, C, height, width]` by bilinear
/// interpolation, matching `torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
/// antialias=False)` (what torchvision's `Resize` does on tensors when upsampling): output pixel
/// centres map to `src = max((dst + ½)·in/out − ½, 0)` and the two nearest source pixels along
/// each axis are blended by distance. Downscaling samples the same way (no antialiasing). Not
/// recorded on the tape.
///
/// - Precondition: rank 4, non-empty input plane, `height`, `width` ≥ 1.
public func resizeBilinear(_ images: Tensor, height: Int, width: Int) -> Tensor {
    precondition(
        images.rank == 4 && images.shape[2] > 0 && images.shape[3] > 0,
        "resizeBilinear: images must be [N, C, H, W] with H, W > 0, got \(images.shape)")
    precondition(
        height >= 1 && width >= 1,
        "resizeBilinear: target size \(height)×\(width) must be positive (images \(images.shape))")
    let shape = images.shape
    let result = Tensor(uninitializedShape: [shape[0], shape[1], height, width])
    resizeBilinearKernel(
        result.pointer, images.pointer, planes: shape[0] * shape[1], inputHeight: shape[2],
        inputWidth: shape[3], outputHeight: height, outputWidth: width)
    return result
}
